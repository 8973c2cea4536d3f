import type { ContainerCreateRequest, HealthConfig, HostConfig } from '../../client/index.ts';
import type { FlagValues } from '../flags.ts';
import { parseGoDuration, ramInBytes } from '../../util/units.ts';
import { memSwapBytes, parseCPUs } from './numbers.ts';
import { parseDevice, parseMount, splitVolumes } from './mountspecs.ts';
import { goErrnoText } from '../../util/errors.ts';
import { kvToMap, parseEnvFileText, parseRestartPolicy, parseSecurityOpts, parseUlimit } from './values.ts';
import { networkingFromFlags } from '../network/endpoints.ts';

/**
 * docker/cli `container/opts.go` `parse`: turns the parsed `run`/`create` flags into the create request.
 * Errors are thrown with docker's messages; the command reports them as `berth: <message>` with exit 125.
 */

/** What the request builder needs from the outside world. */
export interface BuildEnvironment {
  cwd: string;
  lookupEnv: (key: string) => string | undefined;
  /** Reads a text file (env files, label files, seccomp profiles); throws node:fs errors. */
  readFile: (path: string) => string;
}

export interface BuiltRequest {
  body: ContainerCreateRequest;
  /** Attaching at all (any of stdin/stdout/stderr). */
  attach: boolean;
  autoRemove: boolean;
}

function readKVFiles(
  files: readonly string[],
  envir: BuildEnvironment,
  lookup: ((k: string) => string | undefined) | undefined,
): string[] {
  const out: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = envir.readFile(file);
    } catch (err) {
      throw new RangeError(goErrnoText(err, file));
    }
    try {
      out.push(...parseEnvFileText(text, lookup));
    } catch (err) {
      throw new RangeError(`invalid env file (${file}): ${(err as Error).message}`);
    }
  }
  return out;
}

const int = (text: string): number => (text === '' ? 0 : Number(text));

/** Ports as docker's `nat.ParsePortSpecs` reads them: `[ip:][hostPort:]containerPort[/proto]`, ranges allowed. */
export function parsePortSpecs(specs: readonly string[]): {
  exposed: Record<string, Record<string, never>>;
  bindings: Record<string, { HostIp: string; HostPort: string }[]>;
} {
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const raw of specs) {
    let rest = raw;
    let proto = 'tcp';
    const slash = rest.lastIndexOf('/');
    if (slash >= 0) {
      proto = rest.slice(slash + 1).toLowerCase();
      rest = rest.slice(0, slash);
    }
    let ip = '';
    let hostPort = '';
    let containerPort = rest;
    const v6 = /^\[([^\]]*)\]:(.*)$/.exec(rest);
    if (v6 !== null) {
      ip = v6[1] as string;
      const parts = (v6[2] as string).split(':');
      hostPort = parts.length > 1 ? (parts[0] as string) : '';
      containerPort = parts[parts.length - 1] as string;
    } else {
      const parts = rest.split(':');
      if (parts.length === 2) [hostPort, containerPort] = parts as [string, string];
      else if (parts.length === 3) [ip, hostPort, containerPort] = parts as [string, string, string];
      else if (parts.length > 3) throw new RangeError(`invalid port specification: ${JSON.stringify(raw)}`);
    }
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new RangeError(`invalid proto: ${proto}`);
    const range = (text: string, what: string): [number, number] => {
      const m = /^(\d+)(?:-(\d+))?$/.exec(text);
      if (m === null) throw new RangeError(`invalid ${what}: ${text}`);
      const a = Number(m[1]);
      const b = m[2] === undefined ? a : Number(m[2]);
      if (a > 65535 || b > 65535 || b < a) throw new RangeError(`invalid ${what}: ${text}`);
      return [a, b];
    };
    const [c0, c1] = range(containerPort, 'containerPort');
    const hostRange = hostPort === '' ? undefined : range(hostPort, 'hostPort');
    if (hostRange !== undefined && hostRange[1] - hostRange[0] !== c1 - c0 && hostRange[0] !== hostRange[1]) {
      throw new RangeError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
    }
    for (let p = c0; p <= c1; p++) {
      const key = `${p}/${proto}`;
      exposed[key] = {};
      let hp = '';
      if (hostRange !== undefined)
        hp = hostRange[0] === hostRange[1] && c0 !== c1 ? `${hostRange[0]}` : `${hostRange[0] + (p - c0)}`;
      (bindings[key] ??= []).push({ HostIp: ip, HostPort: hp });
    }
  }
  return { exposed, bindings };
}

function validMode(mode: string, extra: (rest: string) => boolean): boolean {
  return mode === '' || mode === 'host' || extra(mode);
}

/** Builds the create request from `run`/`create` flags, image and command (docker's `parse`). */
export function buildCreateRequest(
  flags: FlagValues,
  image: string,
  args: readonly string[],
  envir: BuildEnvironment,
): BuiltRequest {
  const attachList = flags.list('attach');
  let attachStdin = attachList.includes('stdin');
  let attachStdout = attachList.includes('stdout');
  let attachStderr = attachList.includes('stderr');
  if (flags.bool('interactive')) attachStdin = true;
  if (attachList.length === 0) {
    attachStdout = true;
    attachStderr = true;
  }

  const swappiness = flags.int('memory-swappiness');
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw new RangeError(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
  }

  const { binds, volumes } = splitVolumes(flags.list('volume'), envir.cwd);

  const tmpfs: Record<string, string> = {};
  for (const t of flags.list('tmpfs')) {
    const colon = t.indexOf(':');
    tmpfs[colon < 0 ? t : t.slice(0, colon)] = colon < 0 ? '' : t.slice(colon + 1);
  }

  let entrypoint: string[] | undefined;
  if (flags.string('entrypoint') !== '') entrypoint = [flags.string('entrypoint')];
  else if (flags.has('entrypoint')) entrypoint = [''];

  const { exposed, bindings } = parsePortSpecs(flags.list('publish'));
  for (const e of flags.list('expose')) {
    if (e.includes(':')) throw new RangeError(`invalid port format for --expose: ${e}`);
    const slash = e.indexOf('/');
    const proto = slash < 0 ? 'tcp' : e.slice(slash + 1);
    const port = slash < 0 ? e : e.slice(0, slash);
    const m = /^(\d+)(?:-(\d+))?$/.exec(port);
    if (m === null)
      throw new RangeError(
        `invalid range format for --expose: ${e}, error: invalid start port '${port}': invalid syntax`,
      );
    for (let p = Number(m[1]); p <= Number(m[2] ?? m[1]); p++) exposed[`${p}/${proto}`] ??= {};
  }

  const devices = flags.list('device').map(parseDevice);
  const envVars = [...readKVFiles(flags.list('env-file'), envir, envir.lookupEnv), ...flags.list('env')];
  const labels = [...readKVFiles(flags.list('label-file'), envir, undefined), ...flags.list('label')];

  const pid = flags.string('pid');
  if (!validMode(pid, (m) => m.startsWith('container:') && m.length > 'container:'.length))
    throw new RangeError('--pid: invalid PID mode');
  if (!validMode(flags.string('uts'), () => false)) throw new RangeError('--uts: invalid UTS mode');
  if (!validMode(flags.string('userns'), () => false)) throw new RangeError('--userns: invalid USER mode');
  if (!['', 'host', 'private'].includes(flags.string('cgroupns')))
    throw new RangeError('--cgroupns: invalid CGROUP mode');

  const restartPolicy = parseRestartPolicy(flags.string('restart'));

  const logDriver = flags.string('log-driver');
  const logOpts = flags.list('log-opt');
  if (logDriver === 'none' && logOpts.length > 0) throw new RangeError(`invalid logging opts for driver ${logDriver}`);

  let securityOpts = parseSecurityOpts(flags.list('security-opt'), envir.readFile);
  let maskedPaths: string[] | undefined;
  let readonlyPaths: string[] | undefined;
  if (securityOpts.includes('systempaths=unconfined')) {
    maskedPaths = [];
    readonlyPaths = [];
    securityOpts = securityOpts.filter((o) => o !== 'systempaths=unconfined');
  }

  const storageOpts: Record<string, string> = {};
  for (const o of flags.list('storage-opt')) {
    const eq = o.indexOf('=');
    if (eq < 0) throw new RangeError('invalid storage option');
    storageOpts[o.slice(0, eq)] = o.slice(eq + 1);
  }

  let healthcheck: HealthConfig | undefined;
  const dur = (name: string): number => (flags.string(name) === '' ? 0 : parseGoDuration(flags.string(name)));
  const interval = dur('health-interval');
  const timeout = dur('health-timeout');
  const startPeriod = dur('health-start-period');
  const startInterval = dur('health-start-interval');
  const retries = flags.int('health-retries');
  const haveHealth =
    flags.string('health-cmd') !== '' ||
    interval !== 0 ||
    timeout !== 0 ||
    startPeriod !== 0 ||
    retries !== 0 ||
    startInterval !== 0;
  if (flags.bool('no-healthcheck')) {
    if (haveHealth) throw new RangeError('--no-healthcheck conflicts with --health-* options');
    healthcheck = { Test: ['NONE'] };
  } else if (haveHealth) {
    if (interval < 0) throw new RangeError('--health-interval cannot be negative');
    if (timeout < 0) throw new RangeError('--health-timeout cannot be negative');
    if (retries < 0) throw new RangeError('--health-retries cannot be negative');
    if (startPeriod < 0) throw new RangeError('--health-start-period cannot be negative');
    if (startInterval < 0) throw new RangeError('--health-start-interval cannot be negative');
    healthcheck = {
      ...(flags.string('health-cmd') !== '' ? { Test: ['CMD-SHELL', flags.string('health-cmd')] } : {}),
      Interval: interval,
      Timeout: timeout,
      StartPeriod: startPeriod,
      ...(startInterval !== 0 ? { StartInterval: startInterval } : {}),
      Retries: retries,
    };
  }

  const bytesOf = (name: string): number => (flags.string(name) === '' ? 0 : ramInBytes(flags.string(name)));
  const networking = networkingFromFlags([...flags.list('network'), ...flags.list('net')], {
    aliases: [...flags.list('network-alias'), ...flags.list('net-alias')],
    links: flags.list('link'),
    ipv4: flags.string('ip'),
    ipv6: flags.string('ip6'),
    mac: flags.string('mac-address'),
    linkLocalIPs: flags.list('link-local-ip'),
  });
  const networkMode = networking.mode;
  const tty = flags.bool('tty');
  const openStdin = flags.bool('interactive');
  const autoRemove = flags.bool('rm');

  const hostConfig: HostConfig = {
    Binds: binds.length > 0 ? binds : null,
    ContainerIDFile: flags.string('cidfile'),
    LogConfig: { Type: logDriver, Config: kvToMap(logOpts) },
    NetworkMode: networkMode,
    PortBindings: bindings,
    RestartPolicy: restartPolicy,
    AutoRemove: autoRemove,
    VolumeDriver: flags.string('volume-driver'),
    VolumesFrom: flags.list('volumes-from'),
    ConsoleSize: [0, 0],
    CapAdd: normalizeCaps(flags.list('cap-add')),
    CapDrop: normalizeCaps(flags.list('cap-drop')),
    CgroupnsMode: flags.string('cgroupns'),
    Dns: flags.list('dns'),
    DnsOptions: [...flags.list('dns-option'), ...flags.list('dns-opt')],
    DnsSearch: flags.list('dns-search'),
    ExtraHosts: flags.list('add-host'),
    GroupAdd: flags.list('group-add'),
    IpcMode: flags.string('ipc'),
    Links: flags.list('link'),
    OomScoreAdj: flags.int('oom-score-adj'),
    PidMode: pid,
    Privileged: flags.bool('privileged'),
    PublishAllPorts: flags.bool('publish-all'),
    ReadonlyRootfs: flags.bool('read-only'),
    SecurityOpt: securityOpts.length > 0 ? securityOpts : null,
    StorageOpt: Object.keys(storageOpts).length > 0 ? storageOpts : null,
    Tmpfs: Object.keys(tmpfs).length > 0 ? tmpfs : null,
    UTSMode: flags.string('uts'),
    UsernsMode: flags.string('userns'),
    ShmSize: bytesOf('shm-size'),
    Sysctls: flags.list('sysctl').length > 0 ? kvToMap(flags.list('sysctl')) : null,
    Runtime: flags.string('runtime'),
    Isolation: flags.string('isolation'),
    ...(maskedPaths !== undefined ? { MaskedPaths: maskedPaths, ReadonlyPaths: readonlyPaths ?? [] } : {}),
    ...(flags.list('annotation').length > 0 ? { Annotations: kvToMap(flags.list('annotation')) } : {}),
    // Resources
    CgroupParent: flags.string('cgroup-parent'),
    Memory: bytesOf('memory'),
    MemoryReservation: bytesOf('memory-reservation'),
    MemorySwap: flags.string('memory-swap') === '' ? 0 : memSwapBytes(flags.string('memory-swap')),
    MemorySwappiness: swappiness,
    KernelMemory: 0,
    OomKillDisable: flags.bool('oom-kill-disable'),
    NanoCpus: flags.string('cpus') === '' ? 0 : parseCPUs(flags.string('cpus')),
    CpuShares: int(flags.string('cpu-shares')),
    CpuPeriod: int(flags.string('cpu-period')),
    CpuQuota: int(flags.string('cpu-quota')),
    CpuRealtimePeriod: int(flags.string('cpu-rt-period')),
    CpuRealtimeRuntime: int(flags.string('cpu-rt-runtime')),
    CpusetCpus: flags.string('cpuset-cpus'),
    CpusetMems: flags.string('cpuset-mems'),
    PidsLimit: int(flags.string('pids-limit')),
    BlkioWeight: int(flags.string('blkio-weight')),
    Ulimits: flags.list('ulimit').map(parseUlimit),
    DeviceCgroupRules: flags.list('device-cgroup-rule'),
    Devices: devices,
    Mounts: flags.list('mount').map((m) => parseMount(m, envir.cwd)),
  };
  if (autoRemove && restartPolicy.Name !== '' && restartPolicy.Name !== 'no') {
    throw new RangeError('conflicting options: cannot specify both --restart and --rm');
  }
  if (flags.has('init')) hostConfig.Init = flags.bool('init');

  const body: ContainerCreateRequest = {
    Hostname: flags.string('hostname'),
    Domainname: flags.string('domainname'),
    User: flags.string('user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ...(Object.keys(exposed).length > 0 ? { ExposedPorts: exposed } : {}),
    Tty: tty,
    OpenStdin: openStdin,
    StdinOnce: openStdin && attachStdin,
    Env: envVars,
    Cmd: args.length > 0 ? [...args] : null,
    ...(healthcheck !== undefined ? { Healthcheck: healthcheck } : {}),
    Image: image,
    Volumes: Object.keys(volumes).length > 0 ? volumes : null,
    WorkingDir: flags.string('workdir'),
    Entrypoint: entrypoint ?? null,
    Labels: kvToMap(labels),
    ...(flags.string('stop-signal') !== '' ? { StopSignal: flags.string('stop-signal') } : {}),
    ...(flags.has('stop-timeout') ? { StopTimeout: flags.int('stop-timeout') } : {}),
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: networking.endpoints },
  };
  return { body, attach: attachStdin || attachStdout || attachStderr, autoRemove };
}

/** docker's client upper-cases capabilities, adds `CAP_` (except ALL), dedupes and sorts them. */
export function normalizeCaps(caps: readonly string[]): string[] | null {
  const set = new Set<string>();
  for (const c of caps) {
    const up = c.toUpperCase();
    set.add(up === 'ALL' || up.startsWith('CAP_') ? up : `CAP_${up}`);
  }
  return set.size === 0 ? null : [...set].sort();
}
