import type { ContainerCreateRequest, EndpointSettings, HostConfig, Mount } from '../client/index.ts';
import { serviceHash } from './hash.ts';
import * as L from './labels.ts';
import type { Project, Service, ServiceNetwork } from './model.ts';
import { parseDuration } from './units.ts';

/**
 * A service (one container of it) as an Engine API create request: a pure function of the model, tested field by
 * field. Networks: the highest-priority one is in the request; the others too at API ≥ 1.44, else they are
 * connected after create (`extraNetworks`), as Docker Compose does.
 */

export interface CreateInput {
  project: Project;
  service: Service;
  /** The replica number (`container-number`); one-off containers have none. */
  number?: number;
  /** The container's name. */
  name: string;
  /** The negotiated API version. */
  apiVersion: string;
  /** The image's ID, recorded so that a new image recreates the container. */
  imageId?: string;
  oneoff?: boolean;
  /** Anonymous volumes of the container being replaced, by target: reused, as Docker Compose does. */
  anonymousVolumes?: Record<string, string>;
  labels?: Record<string, string>;
  /** `run`: the command, entrypoint, environment, ports and so on that replace the service's. */
  override?: Partial<
    Pick<ContainerCreateRequest, 'Cmd' | 'Entrypoint' | 'Tty' | 'OpenStdin' | 'AttachStdin' | 'User' | 'WorkingDir'>
  > & {
    env?: string[];
    noPorts?: boolean;
    ports?: string[];
    autoRemove?: boolean;
  };
}

export interface CreatePlan {
  body: ContainerCreateRequest;
  /** Networks to connect after create (before start). */
  extraNetworks: { network: string; endpoint: EndpointSettings }[];
}

const ns = (d: string | undefined): number | undefined =>
  d === undefined ? undefined : Math.round(parseDuration(d) * 1e6);

function versionAtLeast(v: string, min: string): boolean {
  const [a = 0, b = 0] = v.split('.').map(Number);
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a !== c ? a > c : b >= d;
}

/** The service's networks, highest `priority` first, then by name. */
export function networksByPriority(s: Service): string[] {
  return Object.keys(s.networks).sort((a, b) => {
    const pa = s.networks[a]?.priority ?? 0;
    const pb = s.networks[b]?.priority ?? 0;
    return pb - pa || (a < b ? -1 : a > b ? 1 : 0);
  });
}

export function containerLabels(input: CreateInput): Record<string, string> {
  const { project, service: s } = input;
  const labels: Record<string, string> = { ...s.labels, ...(input.labels ?? {}) };
  labels[L.PROJECT] = project.name;
  labels[L.SERVICE] = s.name;
  labels[L.ONEOFF] = input.oneoff ? 'True' : 'False';
  labels[L.CONFIG_HASH] = serviceHash(s);
  if (input.number !== undefined) labels[L.NUMBER] = String(input.number);
  labels[L.WORKING_DIR] = project.workingDir;
  labels[L.CONFIG_FILES] = project.configFiles.join(',');
  if (project.envFiles.length > 0) labels[L.ENV_FILE] = project.envFiles.join(',');
  labels[L.DEPENDS_ON] = Object.entries(s.depends_on)
    .map(([n, d]) => `${n}:${d.condition}:${d.restart}`)
    .join(',');
  labels[L.VERSION] = L.COMPOSE_VERSION;
  if (input.imageId !== undefined) labels[L.IMAGE] = input.imageId;
  return labels;
}

function endpoint(input: CreateInput, key: string, cfg: ServiceNetwork | null): EndpointSettings {
  const s = input.service;
  const aliases = [input.name];
  if (!input.oneoff) aliases.push(s.name, ...(cfg?.aliases ?? []));
  const ep: EndpointSettings = { Aliases: aliases };
  if (cfg?.ipv4_address !== undefined || cfg?.ipv6_address !== undefined) {
    ep.IPAMConfig = {};
    if (cfg.ipv4_address !== undefined) ep.IPAMConfig.IPv4Address = cfg.ipv4_address;
    if (cfg.ipv6_address !== undefined) ep.IPAMConfig.IPv6Address = cfg.ipv6_address;
  }
  if (cfg?.mac_address !== undefined) ep.MacAddress = cfg.mac_address;
  if (cfg?.driver_opts !== undefined) ep.DriverOpts = cfg.driver_opts;
  if (cfg?.priority !== undefined) ep.GwPriority = cfg.priority;
  void key;
  return ep;
}

function restartPolicy(s: Service): HostConfig['RestartPolicy'] | undefined {
  if (s.restart !== undefined) {
    const [name = 'no', max] = s.restart.split(':');
    return { Name: name, MaximumRetryCount: max === undefined ? 0 : Number(max) };
  }
  const rp = s.deploy?.restart_policy;
  if (rp?.condition !== undefined) {
    const name = rp.condition === 'none' ? 'no' : rp.condition === 'any' ? 'always' : rp.condition;
    return { Name: name, MaximumRetryCount: rp.max_attempts ?? 0 };
  }
  return undefined;
}

function mounts(input: CreateInput): { binds: string[]; mounts: Mount[] } {
  const { project, service: s } = input;
  const binds: string[] = [];
  const out: Mount[] = [];
  for (const v of s.volumes) {
    if (v.type === 'bind') {
      const simple =
        v.bind?.create_host_path !== false && v.bind?.propagation === undefined && v.bind?.selinux === undefined;
      if (simple) {
        // Binds create a missing host directory, as the short syntax promises; Mounts do not.
        binds.push(`${v.source}:${v.target}${v.read_only ? ':ro' : ':rw'}`);
        continue;
      }
      const m: Mount = { Type: 'bind', Source: v.source!, Target: v.target };
      if (v.read_only) m.ReadOnly = true;
      if (v.bind?.propagation !== undefined) m.BindOptions = { Propagation: v.bind.propagation };
      if (v.bind?.create_host_path === false) m.BindOptions = { ...m.BindOptions };
      out.push(m);
    } else if (v.type === 'volume') {
      const m: Mount = { Type: 'volume', Target: v.target };
      const anon = input.anonymousVolumes?.[v.target];
      if (v.source !== undefined) m.Source = project.volumes[v.source]?.name ?? v.source;
      else if (anon !== undefined) m.Source = anon;
      if (v.read_only) m.ReadOnly = true;
      if (v.volume?.nocopy || v.volume?.subpath !== undefined) {
        m.VolumeOptions = {};
        if (v.volume.nocopy) m.VolumeOptions.NoCopy = true;
        if (v.volume.subpath !== undefined) m.VolumeOptions.Subpath = v.volume.subpath;
      }
      out.push(m);
    } else if (v.type === 'tmpfs') {
      const m: Mount = { Type: 'tmpfs', Target: v.target };
      if (v.tmpfs?.size !== undefined || v.tmpfs?.mode !== undefined) {
        m.TmpfsOptions = {};
        if (v.tmpfs.size !== undefined) m.TmpfsOptions.SizeBytes = v.tmpfs.size;
        if (v.tmpfs.mode !== undefined) m.TmpfsOptions.Mode = v.tmpfs.mode;
      }
      out.push(m);
    } else {
      out.push({ Type: v.type, Target: v.target, ...(v.source !== undefined ? { Source: v.source } : {}) });
    }
  }
  // Secrets and configs read from files are bind-mounted read-only (others are copied in before start).
  for (const kind of ['secrets', 'configs'] as const) {
    for (const ref of s[kind]) {
      const def = project[kind][ref.source];
      if (def?.file === undefined) continue;
      binds.push(`${def.file}:${fileTarget(kind, ref.source, ref.target)}:ro`);
    }
  }
  return { binds, mounts: out };
}

/** Where a secret (`/run/secrets/<name>`) or config (`/<name>`) lands in the container. */
export function fileTarget(kind: 'secrets' | 'configs', source: string, target: string | undefined): string {
  if (target?.startsWith('/')) return target;
  if (kind === 'secrets') return `/run/secrets/${target ?? source}`;
  return `/${target ?? source}`;
}

function portKey(target: number, protocol: string): string {
  return `${target}/${protocol}`;
}

export function containerCreateRequest(input: CreateInput): CreatePlan {
  const { project, service: s } = input;
  const o = input.override ?? {};
  const env = Object.entries(s.environment)
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([k, v]) => `${k}=${v}`);
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const e of s.expose) {
    const [port, proto = 'tcp'] = e.split('/');
    exposed[`${port}/${proto}`] = {};
  }
  if (!o.noPorts) {
    for (const p of s.ports) {
      const key = portKey(p.target, p.protocol);
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: p.host_ip ?? '', HostPort: p.published ?? '' });
    }
  }
  const { binds, mounts: mountList } = mounts(input);
  const host: HostConfig = {
    Binds: binds.length > 0 ? binds : null,
    Mounts: mountList.length > 0 ? mountList : null,
    PortBindings: Object.keys(bindings).length > 0 ? bindings : null,
    CapAdd: s.cap_add.length > 0 ? s.cap_add : null,
    CapDrop: s.cap_drop.length > 0 ? s.cap_drop : null,
    Dns: s.dns.length > 0 ? s.dns : null,
    DnsSearch: s.dns_search.length > 0 ? s.dns_search : null,
    DnsOptions: s.dns_opt.length > 0 ? s.dns_opt : null,
    ExtraHosts: s.extra_hosts.length > 0 ? s.extra_hosts : null,
    SecurityOpt: s.security_opt.length > 0 ? s.security_opt : null,
    GroupAdd: s.group_add.length > 0 ? s.group_add : null,
    Links: s.links.length > 0 ? s.links : null,
    VolumesFrom: s.volumes_from.length > 0 ? s.volumes_from : null,
  };
  const rp = restartPolicy(s);
  if (rp !== undefined) host.RestartPolicy = rp;
  if (s.privileged !== undefined) host.Privileged = s.privileged;
  if (s.read_only !== undefined) host.ReadonlyRootfs = s.read_only;
  if (s.init !== undefined) host.Init = s.init;
  if (s.tmpfs.length > 0) {
    host.Tmpfs = Object.fromEntries(
      s.tmpfs.map((t) => {
        const i = t.indexOf(':');
        return i < 0 ? [t, ''] : [t.slice(0, i), t.slice(i + 1)];
      }),
    );
  }
  if (s.logging?.driver !== undefined || s.logging?.options !== undefined) {
    host.LogConfig = { Type: s.logging.driver ?? '', Config: s.logging.options ?? null };
  }
  if (Object.keys(s.ulimits).length > 0) {
    host.Ulimits = Object.entries(s.ulimits).map(([Name, u]) => ({ Name, Soft: u.soft, Hard: u.hard }));
  }
  if (Object.keys(s.sysctls).length > 0) host.Sysctls = s.sysctls;
  if (s.devices.length > 0) {
    host.Devices = s.devices.map((d) => ({
      PathOnHost: d.source,
      PathInContainer: d.target,
      CgroupPermissions: d.permissions,
    }));
  }
  if (s.shm_size !== undefined) host.ShmSize = s.shm_size;
  if (s.pid !== undefined) host.PidMode = s.pid;
  if (s.ipc !== undefined) host.IpcMode = s.ipc;
  if (s.cgroup !== undefined) host.CgroupnsMode = s.cgroup;
  if (s.cgroup_parent !== undefined) host.CgroupParent = s.cgroup_parent;
  if (s.runtime !== undefined) host.Runtime = s.runtime;
  if (s.oom_score_adj !== undefined) host.OomScoreAdj = s.oom_score_adj;
  if (s.cpu_shares !== undefined) host.CpuShares = s.cpu_shares;
  if (s.cpuset !== undefined) host.CpusetCpus = s.cpuset;
  const limits = s.deploy?.resources?.limits;
  const memory = limits?.memory ?? s.mem_limit;
  if (memory !== undefined) host.Memory = memory;
  const cpus = limits?.cpus ?? s.cpus;
  if (cpus !== undefined) host.NanoCpus = Math.round(cpus * 1e9);
  const pids = limits?.pids ?? s.pids_limit;
  if (pids !== undefined) host.PidsLimit = pids;
  const reservation = s.deploy?.resources?.reservations?.memory ?? s.mem_reservation;
  if (reservation !== undefined) host.MemoryReservation = reservation;
  if (s.memswap_limit !== undefined) host.MemorySwap = s.memswap_limit;
  if (o.autoRemove) host.AutoRemove = true;
  if (o.ports !== undefined) {
    for (const spec of o.ports) {
      const parts = spec.split(':');
      const [target, proto = 'tcp'] = parts.at(-1)!.split('/');
      const key = `${target}/${proto}`;
      exposed[key] = {};
      const hostPort = parts.length >= 2 ? parts.at(-2)! : '';
      const hostIp = parts.length === 3 ? parts[0]! : '';
      (host.PortBindings ??= {})[key] = [...(host.PortBindings[key] ?? []), { HostIp: hostIp, HostPort: hostPort }];
    }
  }

  const body: ContainerCreateRequest = {
    Image: s.image ?? `${project.name}-${s.name}`,
    Labels: containerLabels(input),
    Env: o.env !== undefined ? [...env, ...o.env] : env,
    ExposedPorts: Object.keys(exposed).length > 0 ? exposed : null,
    AttachStdin: o.AttachStdin ?? false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: o.Tty ?? s.tty ?? false,
    OpenStdin: o.OpenStdin ?? s.stdin_open ?? false,
    StdinOnce: false,
    HostConfig: host,
  };
  const cmd = o.Cmd !== undefined ? o.Cmd : s.command;
  if (cmd !== undefined && cmd !== null) body.Cmd = cmd;
  const ep = o.Entrypoint !== undefined ? o.Entrypoint : s.entrypoint;
  if (ep !== undefined && ep !== null) body.Entrypoint = ep;
  if (s.hostname !== undefined) body.Hostname = s.hostname;
  if (s.domainname !== undefined) body.Domainname = s.domainname;
  const user = o.User ?? s.user;
  if (user !== undefined) body.User = user;
  const wd = o.WorkingDir ?? s.working_dir;
  if (wd !== undefined) body.WorkingDir = wd;
  if (s.stop_signal !== undefined) body.StopSignal = s.stop_signal;
  if (s.stop_grace_period !== undefined) body.StopTimeout = Math.ceil(parseDuration(s.stop_grace_period) / 1000);
  if (s.mac_address !== undefined) body.MacAddress = s.mac_address;
  if (s.healthcheck !== undefined) {
    const h = s.healthcheck;
    body.Healthcheck = {};
    if (h.test !== undefined) body.Healthcheck.Test = h.test;
    const fields = [
      ['Interval', h.interval],
      ['Timeout', h.timeout],
      ['StartPeriod', h.start_period],
      ['StartInterval', h.start_interval],
    ] as const;
    for (const [k, d] of fields) {
      const n = ns(d);
      if (n !== undefined) body.Healthcheck[k] = n;
    }
    if (h.retries !== undefined) body.Healthcheck.Retries = h.retries;
  }

  const extraNetworks: CreatePlan['extraNetworks'] = [];
  if (s.network_mode !== undefined) {
    host.NetworkMode = s.network_mode;
  } else {
    const keys = networksByPriority(s);
    const endpoints: Record<string, EndpointSettings> = {};
    keys.forEach((key, i) => {
      const name = project.networks[key]?.name ?? key;
      const ep = endpoint(input, key, s.networks[key] ?? null);
      if (i === 0) {
        host.NetworkMode = name;
        endpoints[name] = ep;
      } else if (versionAtLeast(input.apiVersion, '1.44')) {
        endpoints[name] = ep;
      } else {
        extraNetworks.push({ network: name, endpoint: ep });
      }
    });
    body.NetworkingConfig = { EndpointsConfig: endpoints };
  }
  return { body, extraNetworks };
}
