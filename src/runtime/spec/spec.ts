/**
 * The spec builder: a pure function from a container's configuration to its OCI config.json, with Docker's
 * defaults and semantics. It does no I/O: whatever needs the host (device numbers, the host's rlimits and
 * capabilities, the init binary's path) is resolved by the caller and passed in.
 */
import { InvalidArgumentError } from '../../util/errors.ts';
import { resolveCapabilities } from './capabilities.ts';
import { buildMounts, DEFAULT_SHM_SIZE, defaultMounts, type MountInput } from './mounts.ts';
import {
  OCI_VERSION,
  type NamespaceType,
  type RuntimeSpec,
  type SpecDevice,
  type SpecDeviceCgroup,
  type SpecLinux,
  type SpecProcess,
} from './oci.ts';
import { parseDeviceCgroupRule, resolveResources, type ResourcesInput } from './resources.ts';
import { resolveRlimits, type HostLimits, type Ulimit } from './rlimits.ts';
import { toOciSeccomp, type SeccompProfile } from './seccomp.ts';
import { defaultSeccompProfile } from './seccomp-default.ts';
import { validateSysctls } from './sysctls.ts';

/** A namespace of the container's own, the host's, or one to join (a /proc/<pid>/ns/… or bind-mounted path). */
export type NamespaceMode = 'private' | 'host' | { path: string };
/** `none`: a new network namespace with only loopback; `host`: the host's; a path: one prepared by the network driver. */
export type NetworkMode = 'none' | 'host' | { path: string };

export interface SpecInput {
  /** The container id: names the cgroup by default. */
  id: string;
  /** The root filesystem: absolute, or relative to the bundle directory. */
  rootfs: string;
  readonlyRootfs?: boolean;
  process: ProcessInput;
  /** Set in the container's UTS namespace; not allowed with `uts: 'host'`. */
  hostname?: string;
  domainname?: string;
  /** Binds (host paths, volumes, /etc/hosts, /etc/hostname, /etc/resolv.conf) and tmpfs, prepared by the caller. */
  mounts?: MountInput[];
  /** Bytes of /dev/shm (--shm-size); default 64 MiB. */
  shmSize?: number;
  /** `--ipc none`: no /dev/shm at all. */
  noShm?: boolean;
  resources?: ResourcesInput;
  capAdd?: string[];
  capDrop?: string[];
  /** All capabilities and devices, /sys and cgroups writable, no seccomp, nothing masked. */
  privileged?: boolean;
  /** Paths masked and made read-only when not privileged (`HostConfig.MaskedPaths`/`ReadonlyPaths`); default Docker's. */
  maskedPaths?: readonly string[];
  readonlyPaths?: readonly string[];
  /** `default` (Berth's profile, the default), `unconfined`, or a profile in Docker's JSON format. */
  seccomp?: 'default' | 'unconfined' | SeccompProfile;
  /** --device: the caller has resolved type and numbers by stat. */
  devices?: DeviceInput[];
  /** --sysctl; only namespaced ones are accepted. */
  sysctls?: Record<string, string>;
  /** --ulimit; -1 is unlimited. */
  ulimits?: Ulimit[];
  namespaces?: NamespacesInput;
  /** Default `/berth/<id>` (cgroupfs driver). */
  cgroupsPath?: string;
  /**
   * Host path of a small init (catatonit or tini). It is bound read-only at /sbin/docker-init and becomes
   * process 1 as `/sbin/docker-init -- <args>`, as Docker's --init does.
   */
  init?: string;
  /** --group-add, already resolved to numbers; joins process.user.additionalGids. */
  groupAdd?: number[];
  annotations?: Record<string, string>;
  host: HostFacts;
}

export interface ProcessInput {
  args: string[];
  /**
   * `KEY=value` entries, image's then user's (the later wins). Added like Docker when absent: PATH, HOSTNAME
   * (from the hostname) and, with a terminal, TERM=xterm. An entry without `=` removes the variable.
   */
  env?: string[];
  /** Absolute; default `/`. */
  cwd?: string;
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  /** Default root (0:0). */
  user?: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  noNewPrivileges?: boolean;
  /** An AppArmor profile name; absent = none. */
  apparmorProfile?: string;
  oomScoreAdj?: number;
}

export interface DeviceInput {
  /** Path in the container. */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Cgroup access, a subset of `rwm`; default `rwm`. */
  permissions?: string;
  /** Default 0o660 (pass the host node's mode to keep it). */
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface NamespacesInput {
  network?: NetworkMode;
  ipc?: NamespaceMode;
  pid?: NamespaceMode;
  uts?: 'private' | 'host';
  /** Default: private on a cgroup v2 host (Docker's default), host's elsewhere. */
  cgroup?: 'private' | 'host';
}

/** What the spec depends on that only the host knows. The caller gathers these once at start. */
export interface HostFacts {
  /** `process.arch`. */
  arch: string;
  /** `os.release()`; used for the seccomp profile's minimum-kernel rules. */
  kernel?: string;
  /** The host has only the unified cgroup v2 hierarchy (not v1, not hybrid). */
  cgroupV2: boolean;
  /** Hard rlimits of the runtime (`parseProcLimits` of /proc/self/limits). */
  limits: HostLimits;
  /** The runtime's bounding capability set (`capabilitiesFromMask` of CapBnd); absent = all. */
  capabilities?: string[];
  /** Whether the memory cgroup accounts swap; default true. */
  swapAccounting?: boolean;
  /** Online CPUs, to bound --cpus. */
  cpuCount?: number;
  /** The block I/O controller takes a weight (blkio.weight on v1, the io controller on v2); default true. */
  blkioWeight?: boolean;
  /** The memory controller can disable the OOM killer (memory.oom_control, cgroup v1 only); default true. */
  oomKillDisable?: boolean;
}

/** Where --init puts the init binary in the container, and the first argument of process.args. */
export const INIT_PATH = '/sbin/docker-init';

/** Docker's PATH when the image sets none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's masked paths (moby oci/defaults.go); not with --privileged. */
export const MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Docker's read-only paths; not with --privileged. */
export const READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/** The device nodes every container gets (mode 0666, root-owned). */
export const DEFAULT_DEVICES: readonly SpecDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** The device cgroup: deny everything, then allow mknod of any node and use of the standard ones. */
export const DEFAULT_DEVICE_RULES: readonly SpecDeviceCgroup[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

/**
 * Builds the OCI runtime spec. Throws InvalidArgumentError, naming the value, for anything Docker would refuse
 * (a host-wide sysctl, a --ulimit above the host's hard limit, --memory below 6MB, an unknown capability, …).
 */
export function buildSpec(input: SpecInput): RuntimeSpec {
  if (!input.id) throw new InvalidArgumentError('container id is empty');
  if (!input.rootfs) throw new InvalidArgumentError('rootfs path is empty');
  const privileged = input.privileged ?? false;
  const ns = input.namespaces ?? {};
  const network = ns.network ?? 'none';
  const ipc = ns.ipc ?? 'private';
  const pid = ns.pid ?? 'private';
  const uts = ns.uts ?? 'private';
  const cgroupNs = ns.cgroup ?? (input.host.cgroupV2 ? 'private' : 'host');

  if (uts === 'host' && (input.hostname || input.domainname)) {
    throw new InvalidArgumentError(
      `hostname "${input.hostname ?? input.domainname}" cannot be set with the host's UTS namespace`,
    );
  }

  const capabilities = resolveCapabilities({
    capAdd: input.capAdd ?? [],
    capDrop: input.capDrop ?? [],
    privileged,
    ...(input.host.capabilities ? { available: input.host.capabilities } : {}),
  });

  const spec: RuntimeSpec = {
    ociVersion: OCI_VERSION,
    process: buildProcess(input, capabilities),
    root: { path: input.rootfs, readonly: input.readonlyRootfs ?? false },
    mounts: [],
    linux: { namespaces: [] },
  };
  if (uts === 'private' && input.hostname) spec.hostname = input.hostname;
  if (uts === 'private' && input.domainname) spec.domainname = input.domainname;

  const extraMounts = [...(input.mounts ?? [])];
  if (input.init !== undefined) {
    extraMounts.push({ type: 'bind', source: input.init, destination: INIT_PATH, readonly: true, recursive: false });
  }
  const shmSize = input.shmSize ?? DEFAULT_SHM_SIZE;
  if (!Number.isSafeInteger(shmSize) || shmSize <= 0) throw new InvalidArgumentError(`invalid shm size ${shmSize}`);
  spec.mounts = buildMounts(
    defaultMounts({ privileged, shmSize, hostIpc: ipc === 'host', noShm: input.noShm ?? false }),
    extraMounts,
  );

  const linux: SpecLinux = spec.linux;
  linux.namespaces = namespaces({ pid, network, ipc, uts, cgroupNs });
  linux.cgroupsPath = input.cgroupsPath ?? `/berth/${input.id}`;

  const resources = resolveResources(input.resources ?? {}, {
    swapAccounting: input.host.swapAccounting ?? true,
    ...(input.host.cpuCount !== undefined ? { cpuCount: input.host.cpuCount } : {}),
  });
  const { devices, rules } = buildDevices(input.devices ?? [], privileged);
  resources.devices = [...rules, ...(input.resources?.deviceCgroupRules ?? []).map(parseDeviceCgroupRule)];
  linux.resources = resources;
  linux.devices = devices;

  const propagation = rootfsPropagation(extraMounts);
  if (propagation) linux.rootfsPropagation = propagation;

  const seccomp = input.seccomp ?? 'default';
  if (!privileged && seccomp !== 'unconfined') {
    const profile = seccomp === 'default' ? (defaultProfile ??= defaultSeccompProfile()) : seccomp;
    linux.seccomp = toOciSeccomp(profile, {
      capabilities,
      arch: input.host.arch,
      ...(input.host.kernel !== undefined ? { kernel: input.host.kernel } : {}),
    });
  }

  if (input.sysctls && Object.keys(input.sysctls).length > 0) {
    linux.sysctl = validateSysctls(input.sysctls, { privateIpc: ipc !== 'host', privateNetwork: network !== 'host' });
  }
  if (!privileged) {
    linux.maskedPaths = [...(input.maskedPaths ?? MASKED_PATHS)];
    linux.readonlyPaths = [...(input.readonlyPaths ?? READONLY_PATHS)];
  }
  if (input.annotations && Object.keys(input.annotations).length > 0) spec.annotations = { ...input.annotations };
  return spec;
}

/** Berth's default seccomp profile, built once: `toOciSeccomp` only reads a profile (it copies what it keeps). */
let defaultProfile: SeccompProfile | undefined;

function buildProcess(input: SpecInput, capabilities: string[]): SpecProcess {
  const p = input.process;
  if (!Array.isArray(p.args) || p.args.length === 0 || p.args[0] === '') {
    throw new InvalidArgumentError('no command: process args are empty');
  }
  const cwd = p.cwd ?? '/';
  if (!cwd.startsWith('/')) throw new InvalidArgumentError(`working directory "${cwd}" is not an absolute path`);
  const terminal = p.terminal ?? false;
  const u = p.user ?? { uid: 0, gid: 0 };
  for (const [what, id] of [
    ['uid', u.uid],
    ['gid', u.gid],
  ] as const) {
    if (!isId(id)) throw new InvalidArgumentError(`invalid ${what} ${id}`);
  }
  const groups = [...new Set([...(u.additionalGids ?? []), ...(input.groupAdd ?? [])])];
  for (const g of groups) if (!isId(g)) throw new InvalidArgumentError(`invalid additional group id ${g}`);
  const user: SpecProcess['user'] = { uid: u.uid, gid: u.gid };
  if (groups.length > 0) user.additionalGids = groups;
  if (u.umask !== undefined) {
    if (!Number.isInteger(u.umask) || u.umask < 0 || u.umask > 0o777)
      throw new InvalidArgumentError(`invalid umask ${u.umask}`);
    user.umask = u.umask;
  }
  const args = input.init !== undefined ? [INIT_PATH, '--', ...p.args] : [...p.args];
  const process: SpecProcess = {
    terminal,
    user,
    args,
    env: buildEnv(p.env ?? [], input.namespaces?.uts === 'host' ? undefined : input.hostname, terminal),
    cwd,
    capabilities: { bounding: [...capabilities], effective: [...capabilities], permitted: [...capabilities] },
    rlimits: resolveRlimits(input.ulimits ?? [], input.host.limits),
    noNewPrivileges: p.noNewPrivileges ?? false,
  };
  if (terminal && p.consoleSize) process.consoleSize = { height: p.consoleSize.height, width: p.consoleSize.width };
  if (p.apparmorProfile && !input.privileged) process.apparmorProfile = p.apparmorProfile;
  if (p.oomScoreAdj !== undefined) {
    if (!Number.isInteger(p.oomScoreAdj) || p.oomScoreAdj < -1000 || p.oomScoreAdj > 1000) {
      throw new InvalidArgumentError(`invalid oom score adjustment ${p.oomScoreAdj}: it is -1000 to 1000`);
    }
    process.oomScoreAdj = p.oomScoreAdj;
  }
  return process;
}

/**
 * The process environment as Docker composes it: PATH, HOSTNAME and (with a terminal) TERM first, then the
 * given entries, each replacing an earlier one of the same name in place; `NAME` alone removes NAME.
 */
export function buildEnv(env: readonly string[], hostname: string | undefined, terminal: boolean): string[] {
  const base = [`PATH=${DEFAULT_PATH}`];
  if (hostname) base.push(`HOSTNAME=${hostname}`);
  if (terminal) base.push('TERM=xterm');
  const out = new Map<string, string>();
  for (const entry of [...base, ...env]) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (name === '') throw new InvalidArgumentError(`invalid environment variable "${entry}"`);
    if (eq < 0) out.delete(name);
    else out.set(name, entry);
  }
  return [...out.values()];
}

function namespaces(m: {
  pid: NamespaceMode;
  network: NetworkMode;
  ipc: NamespaceMode;
  uts: 'private' | 'host';
  cgroupNs: 'private' | 'host';
}): SpecLinux['namespaces'] {
  const out: SpecLinux['namespaces'] = [];
  const add = (type: NamespaceType, mode: NamespaceMode | NetworkMode) => {
    if (mode === 'host') return;
    if (typeof mode === 'object') {
      if (!mode.path.startsWith('/'))
        throw new InvalidArgumentError(`${type} namespace path "${mode.path}" is not absolute`);
      out.push({ type, path: mode.path });
    } else {
      out.push({ type });
    }
  };
  add('pid', m.pid);
  add('network', m.network);
  add('ipc', m.ipc);
  add('uts', m.uts);
  add('mount', 'private');
  add('cgroup', m.cgroupNs);
  return out;
}

function buildDevices(
  inputs: readonly DeviceInput[],
  privileged: boolean,
): { devices: SpecDevice[]; rules: SpecDeviceCgroup[] } {
  const byPath = new Map<string, SpecDevice>(DEFAULT_DEVICES.map((d) => [d.path, { ...d }]));
  const rules: SpecDeviceCgroup[] = privileged
    ? [{ allow: true, access: 'rwm' }]
    : DEFAULT_DEVICE_RULES.map((r) => ({ ...r }));
  for (const d of inputs) {
    const perms = d.permissions ?? 'rwm';
    if (!/^[rwm]{1,3}$/.test(perms) || new Set(perms).size !== perms.length) {
      throw new InvalidArgumentError(`invalid device permissions "${perms}" for ${d.path}: a subset of "rwm"`);
    }
    if (!d.path.startsWith('/dev/')) throw new InvalidArgumentError(`device path "${d.path}" is not under /dev`);
    if (d.type !== 'c' && d.type !== 'b')
      throw new InvalidArgumentError(`device ${d.path} is neither a character nor a block device`);
    if (!isId(d.major) || !isId(d.minor))
      throw new InvalidArgumentError(`invalid device numbers ${d.major}:${d.minor} for ${d.path}`);
    byPath.set(d.path, {
      path: d.path,
      type: d.type,
      major: d.major,
      minor: d.minor,
      fileMode: d.fileMode ?? 0o660,
      uid: d.uid ?? 0,
      gid: d.gid ?? 0,
    });
    if (!privileged) rules.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: perms });
  }
  return { devices: [...byPath.values()], rules };
}

/** Docker makes the root rshared when a bind asks for shared propagation, rslave when one asks for slave. */
function rootfsPropagation(mounts: readonly MountInput[]): string | undefined {
  let result: string | undefined;
  for (const m of mounts) {
    if (m.type !== 'bind' || !m.propagation) continue;
    if (m.propagation === 'shared' || m.propagation === 'rshared') return 'rshared';
    if (m.propagation === 'slave' || m.propagation === 'rslave') result = 'rslave';
  }
  return result;
}

function isId(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}
