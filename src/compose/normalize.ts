import { isAbsolute, join, resolve } from 'node:path';
import type { KeyPath } from './errors.ts';
import { splitVolumeShort } from './merge.ts';
import type {
  BuildConfig,
  Dependency,
  DependencyCondition,
  Deploy,
  DeviceMapping,
  Healthcheck,
  Hook,
  PortConfig,
  Resources,
  Service,
  ServiceFileRef,
  ServiceNetwork,
  ServiceVolume,
  Ulimit,
  WatchRule,
} from './model.ts';
import { parseBytes, parseDuration, shellSplit } from './units.ts';

/**
 * Short syntaxes to long ones, one service at a time, as a pure function of the merged (interpolated,
 * validated) mapping: ports, volumes, depends_on, networks, environment, labels, healthcheck, sizes and
 * booleans written as strings. Relative paths become absolute against the project directory.
 */

type Dict = Record<string, unknown>;

export interface NormalizeContext {
  workingDir: string;
  /** For `~` in paths. */
  home: string;
  /** An error at a key path of the merged document (located by the caller). */
  error: (path: KeyPath, reason: string) => Error;
}

const isDict = (v: unknown): v is Dict => v !== null && typeof v === 'object' && !Array.isArray(v);

function str(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/** A list-or-dict (`environment`, `labels`, `args`, `sysctls`…) as a mapping; `KEY` alone maps to null. */
export function listOrDict(v: unknown, sep = '='): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = str(item);
      const i = s.indexOf(sep);
      if (i < 0) out[s] = null;
      else out[s.slice(0, i)] = s.slice(i + 1);
    }
  } else if (isDict(v)) {
    for (const [k, x] of Object.entries(v)) out[k] = x === null || x === undefined ? null : str(x);
  }
  return out;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(listOrDict(v))) out[k] = x ?? '';
  return out;
}

function stringList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v.map(str) : [str(v)];
}

export function toBool(v: unknown, path: KeyPath, ctx: NormalizeContext): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  const s = str(v).toLowerCase();
  if (s === 'true' || s === 'yes' || s === 'y' || s === 'on') return true;
  if (s === 'false' || s === 'no' || s === 'n' || s === 'off') return false;
  throw ctx.error(path, `invalid boolean "${str(v)}"`);
}

export function toInt(v: unknown, path: KeyPath, ctx: NormalizeContext): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : Number(str(v).trim());
  if (!Number.isInteger(n) || str(v).trim() === '') throw ctx.error(path, `invalid integer "${str(v)}"`);
  return n;
}

function toNumber(v: unknown, path: KeyPath, ctx: NormalizeContext): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : Number(str(v).trim());
  if (!Number.isFinite(n)) throw ctx.error(path, `invalid number "${str(v)}"`);
  return n;
}

function toBytes(v: unknown, path: KeyPath, ctx: NormalizeContext): number | undefined {
  if (v === undefined || v === null) return undefined;
  try {
    return parseBytes(v as string | number);
  } catch (err) {
    throw ctx.error(path, (err as Error).message);
  }
}

function toDuration(v: unknown, path: KeyPath, ctx: NormalizeContext): string | undefined {
  if (v === undefined || v === null) return undefined;
  try {
    parseDuration(v as string | number);
  } catch (err) {
    throw ctx.error(path, (err as Error).message);
  }
  return typeof v === 'number' ? `${v}s` : v.toString();
}

/** A relative path against the project directory; `~` is the home directory. */
export function absPath(p: string, ctx: { workingDir: string; home: string }): string {
  if (p === '~') return ctx.home;
  if (p.startsWith('~/')) return join(ctx.home, p.slice(2));
  return isAbsolute(p) ? p : resolve(ctx.workingDir, p);
}

function isRemote(p: string): boolean {
  return /^(https?:\/\/|git@|git:\/\/|github\.com\/|[a-z]+:\/\/)/.test(p) || p.endsWith('.git');
}

function command(v: unknown, path: KeyPath, ctx: NormalizeContext): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map(str);
  try {
    return shellSplit(str(v));
  } catch (err) {
    throw ctx.error(path, (err as Error).message);
  }
}

// ---- ports ----

function parseRange(s: string, path: KeyPath, ctx: NormalizeContext): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (m === null) throw ctx.error(path, `invalid port "${s}"`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 0 || b > 65535 || b < a) throw ctx.error(path, `invalid port range "${s}"`);
  return [a, b];
}

/** `[IP:][HOST[-RANGE]:]CONTAINER[-RANGE][/PROTO]`, expanded to one entry per container port. */
export function parsePortShort(spec: string | number, path: KeyPath, ctx: NormalizeContext): PortConfig[] {
  let text = str(spec).trim();
  let protocol = 'tcp';
  const slash = text.lastIndexOf('/');
  if (slash >= 0) {
    protocol = text.slice(slash + 1);
    text = text.slice(0, slash);
  }
  let hostIp: string | undefined;
  let rest = text;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw ctx.error(path, `invalid port "${str(spec)}"`);
    hostIp = rest.slice(1, close);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(':');
  if (parts.length > 3) throw ctx.error(path, `invalid port "${str(spec)}"`);
  if (parts.length === 3) hostIp = parts.shift()!;
  const [host, container] = parts.length === 2 ? [parts[0]!, parts[1]!] : [undefined, parts[0]!];
  const [c0, c1] = parseRange(container, path, ctx);
  const out: PortConfig[] = [];
  const count = c1 - c0 + 1;
  let h: [number, number] | undefined;
  if (host !== undefined && host !== '') {
    h = parseRange(host, path, ctx);
    const hostCount = h[1] - h[0] + 1;
    if (hostCount !== count && count !== 1) throw ctx.error(path, `invalid port range "${str(spec)}"`);
  }
  for (let i = 0; i < count; i++) {
    const p: PortConfig = { mode: 'ingress', target: c0 + i, protocol };
    if (hostIp !== undefined && hostIp !== '') p.host_ip = hostIp;
    if (h !== undefined) p.published = count === 1 && h[0] !== h[1] ? `${h[0]}-${h[1]}` : String(h[0] + i);
    out.push(p);
  }
  return out;
}

function ports(v: unknown, path: KeyPath, ctx: NormalizeContext): PortConfig[] {
  const out: PortConfig[] = [];
  for (const [i, item] of (Array.isArray(v) ? v : []).entries()) {
    if (!isDict(item)) {
      out.push(...parsePortShort(item as string, [...path, i], ctx));
      continue;
    }
    const p: PortConfig = {
      mode: item.mode === undefined ? 'ingress' : str(item.mode),
      target: toInt(item.target, [...path, i, 'target'], ctx) ?? 0,
      protocol: item.protocol === undefined ? 'tcp' : str(item.protocol),
    };
    if (item.host_ip !== undefined) p.host_ip = str(item.host_ip);
    if (item.published !== undefined && item.published !== null && str(item.published) !== '')
      p.published = str(item.published);
    if (item.app_protocol !== undefined) p.app_protocol = str(item.app_protocol);
    if (item.name !== undefined) p.name = str(item.name);
    out.push(p);
  }
  return out;
}

// ---- volumes ----

function isPathLike(s: string): boolean {
  return s.startsWith('.') || s.startsWith('/') || s.startsWith('~') || /^[A-Za-z]:[\\/]/.test(s);
}

/** `[SOURCE:]TARGET[:MODE]`: a bind when the source is a path, else a named volume; no source: anonymous. */
export function parseVolumeShort(spec: string, path: KeyPath, ctx: NormalizeContext): ServiceVolume {
  const parts = splitVolumeShort(spec);
  if (parts.length > 3 || parts.some((p) => p === '')) throw ctx.error(path, `invalid volume "${spec}"`);
  if (parts.length === 1) return { type: 'volume', target: parts[0]! };
  const [source, target, mode] = parts as [string, string, string | undefined];
  const v: ServiceVolume = isPathLike(source)
    ? { type: 'bind', source: absPath(source, ctx), target, bind: { create_host_path: true } }
    : { type: 'volume', source, target, volume: {} };
  for (const opt of (mode ?? '').split(',').filter((o) => o !== '')) {
    if (opt === 'ro') v.read_only = true;
    else if (opt === 'rw') v.read_only = false;
    else if (opt === 'z' || opt === 'Z') v.bind = { ...v.bind, selinux: opt };
    else if (opt === 'nocopy') v.volume = { ...v.volume, nocopy: true };
    else if (/^r?(shared|slave|private)$/.test(opt)) v.bind = { ...v.bind, propagation: opt };
    else if (opt === 'consistent' || opt === 'cached' || opt === 'delegated') v.consistency = opt;
    else throw ctx.error(path, `invalid mode "${opt}" in volume "${spec}"`);
  }
  if (v.type === 'volume' && v.volume !== undefined && Object.keys(v.volume).length === 0) delete v.volume;
  return v;
}

function volumes(v: unknown, path: KeyPath, ctx: NormalizeContext): ServiceVolume[] {
  const out: ServiceVolume[] = [];
  for (const [i, item] of (Array.isArray(v) ? v : []).entries()) {
    const at = [...path, i];
    if (!isDict(item)) {
      out.push(parseVolumeShort(str(item), at, ctx));
      continue;
    }
    const type = str(item.type) as ServiceVolume['type'];
    const vol: ServiceVolume = { type, target: str(item.target ?? '') };
    if (vol.target === '' && type !== 'npipe') throw ctx.error(at, 'a mount needs a "target"');
    if (item.source !== undefined && item.source !== null && str(item.source) !== '') {
      vol.source = type === 'bind' ? absPath(str(item.source), ctx) : str(item.source);
    } else if (type === 'bind') {
      throw ctx.error(at, 'a bind mount needs a "source"');
    }
    const ro = toBool(item.read_only, [...at, 'read_only'], ctx);
    if (ro !== undefined) vol.read_only = ro;
    if (item.consistency !== undefined) vol.consistency = str(item.consistency);
    if (isDict(item.bind)) {
      const b = item.bind;
      vol.bind = {};
      if (b.propagation !== undefined) vol.bind.propagation = str(b.propagation);
      const chp = toBool(b.create_host_path, [...at, 'bind', 'create_host_path'], ctx);
      if (chp !== undefined) vol.bind.create_host_path = chp;
      if (b.selinux !== undefined) vol.bind.selinux = str(b.selinux);
    }
    if (isDict(item.volume)) {
      vol.volume = {};
      const nc = toBool(item.volume.nocopy, [...at, 'volume', 'nocopy'], ctx);
      if (nc !== undefined) vol.volume.nocopy = nc;
      if (item.volume.subpath !== undefined) vol.volume.subpath = str(item.volume.subpath);
    }
    if (isDict(item.tmpfs)) {
      vol.tmpfs = {};
      const size = toBytes(item.tmpfs.size, [...at, 'tmpfs', 'size'], ctx);
      if (size !== undefined) vol.tmpfs.size = size;
      const mode = item.tmpfs.mode;
      if (mode !== undefined) vol.tmpfs.mode = typeof mode === 'number' ? mode : Number.parseInt(str(mode), 8);
    }
    out.push(vol);
  }
  return out;
}

// ---- the rest ----

function dependsOn(v: unknown, path: KeyPath, ctx: NormalizeContext): Record<string, Dependency> {
  const out: Record<string, Dependency> = {};
  if (Array.isArray(v)) {
    for (const name of v) out[str(name)] = { condition: 'service_started', restart: false, required: true };
  } else if (isDict(v)) {
    for (const [name, d] of Object.entries(v)) {
      const dd = isDict(d) ? d : {};
      out[name] = {
        condition: (dd.condition === undefined ? 'service_started' : str(dd.condition)) as DependencyCondition,
        restart: toBool(dd.restart, [...path, name, 'restart'], ctx) ?? false,
        required: toBool(dd.required, [...path, name, 'required'], ctx) ?? true,
      };
    }
  }
  return out;
}

function serviceNetworks(v: unknown, path: KeyPath, ctx: NormalizeContext): Record<string, ServiceNetwork | null> {
  const out: Record<string, ServiceNetwork | null> = {};
  if (Array.isArray(v)) {
    for (const n of v) out[str(n)] = null;
    return out;
  }
  if (!isDict(v)) return out;
  for (const [name, cfg] of Object.entries(v)) {
    if (!isDict(cfg)) {
      out[name] = null;
      continue;
    }
    const n: ServiceNetwork = {};
    if (cfg.aliases !== undefined) n.aliases = stringList(cfg.aliases);
    if (cfg.ipv4_address !== undefined) n.ipv4_address = str(cfg.ipv4_address);
    if (cfg.ipv6_address !== undefined) n.ipv6_address = str(cfg.ipv6_address);
    const priority = toInt(cfg.priority, [...path, name, 'priority'], ctx);
    if (priority !== undefined) n.priority = priority;
    if (cfg.mac_address !== undefined) n.mac_address = str(cfg.mac_address);
    if (cfg.link_local_ips !== undefined) n.link_local_ips = stringList(cfg.link_local_ips);
    if (cfg.driver_opts !== undefined) n.driver_opts = stringMap(cfg.driver_opts);
    out[name] = n;
  }
  return out;
}

function healthcheck(v: unknown, path: KeyPath, ctx: NormalizeContext): Healthcheck | undefined {
  if (!isDict(v)) return undefined;
  const h: Healthcheck = {};
  if (toBool(v.disable, [...path, 'disable'], ctx) === true) return { test: ['NONE'] };
  if (v.test !== undefined) h.test = typeof v.test === 'string' ? ['CMD-SHELL', v.test] : stringList(v.test);
  for (const k of ['interval', 'timeout', 'start_period', 'start_interval'] as const) {
    const d = toDuration(v[k], [...path, k], ctx);
    if (d !== undefined) h[k] = d;
  }
  const retries = toInt(v.retries, [...path, 'retries'], ctx);
  if (retries !== undefined) h.retries = retries;
  return h;
}

function resources(v: unknown, path: KeyPath, ctx: NormalizeContext): Resources | undefined {
  if (!isDict(v)) return undefined;
  const r: Resources = {};
  const cpus = toNumber(v.cpus, [...path, 'cpus'], ctx);
  if (cpus !== undefined) r.cpus = cpus;
  const memory = toBytes(v.memory, [...path, 'memory'], ctx);
  if (memory !== undefined) r.memory = memory;
  const pids = toInt(v.pids, [...path, 'pids'], ctx);
  if (pids !== undefined) r.pids = pids;
  return r;
}

function deploy(v: unknown, path: KeyPath, ctx: NormalizeContext): Deploy | undefined {
  if (!isDict(v)) return undefined;
  const d: Deploy = {};
  if (v.mode !== undefined) d.mode = str(v.mode);
  const replicas = toInt(v.replicas, [...path, 'replicas'], ctx);
  if (replicas !== undefined) d.replicas = replicas;
  if (v.labels !== undefined) d.labels = stringMap(v.labels);
  if (isDict(v.resources)) {
    d.resources = {};
    const limits = resources(v.resources.limits, [...path, 'resources', 'limits'], ctx);
    if (limits !== undefined) d.resources.limits = limits;
    const reservations = resources(v.resources.reservations, [...path, 'resources', 'reservations'], ctx);
    if (reservations !== undefined) d.resources.reservations = reservations;
  }
  if (isDict(v.restart_policy)) {
    const rp = v.restart_policy;
    d.restart_policy = {};
    if (rp.condition !== undefined) d.restart_policy.condition = str(rp.condition);
    const delay = toDuration(rp.delay, [...path, 'restart_policy', 'delay'], ctx);
    if (delay !== undefined) d.restart_policy.delay = delay;
    const max = toInt(rp.max_attempts, [...path, 'restart_policy', 'max_attempts'], ctx);
    if (max !== undefined) d.restart_policy.max_attempts = max;
  }
  return d;
}

function fileRefs(v: unknown): ServiceFileRef[] {
  return (Array.isArray(v) ? v : []).map((item) => {
    if (!isDict(item)) return { source: str(item) };
    const r: ServiceFileRef = { source: str(item.source) };
    if (item.target !== undefined) r.target = str(item.target);
    if (item.uid !== undefined) r.uid = str(item.uid);
    if (item.gid !== undefined) r.gid = str(item.gid);
    if (item.mode !== undefined)
      r.mode = typeof item.mode === 'number' ? item.mode : Number.parseInt(str(item.mode), 8);
    return r;
  });
}

function devices(v: unknown): DeviceMapping[] {
  return (Array.isArray(v) ? v : []).map((item) => {
    if (isDict(item)) {
      const source = str(item.source);
      return {
        source,
        target: item.target === undefined ? source : str(item.target),
        permissions: item.permissions === undefined ? 'rwm' : str(item.permissions),
      };
    }
    const [source = '', target, permissions] = str(item).split(':');
    return { source, target: target ?? source, permissions: permissions ?? 'rwm' };
  });
}

function ulimits(v: unknown, path: KeyPath, ctx: NormalizeContext): Record<string, Ulimit> {
  const out: Record<string, Ulimit> = {};
  if (!isDict(v)) return out;
  for (const [name, u] of Object.entries(v)) {
    if (isDict(u)) {
      out[name] = {
        soft: toInt(u.soft, [...path, name, 'soft'], ctx) ?? 0,
        hard: toInt(u.hard, [...path, name, 'hard'], ctx) ?? 0,
      };
    } else {
      const n = toInt(u, [...path, name], ctx) ?? 0;
      out[name] = { soft: n, hard: n };
    }
  }
  return out;
}

/** A `service_hook`: a lifecycle hook, or the command of a `sync+exec` watch rule. */
function hook(h: unknown, path: KeyPath, ctx: NormalizeContext): Hook {
  const d = isDict(h) ? h : {};
  const out: Hook = { command: command(d.command, [...path, 'command'], ctx) ?? [] };
  if (d.user !== undefined) out.user = str(d.user);
  const priv = toBool(d.privileged, [...path, 'privileged'], ctx);
  if (priv !== undefined) out.privileged = priv;
  if (d.working_dir !== undefined) out.working_dir = str(d.working_dir);
  if (d.environment !== undefined) out.environment = listOrDict(d.environment);
  return out;
}

function hooks(v: unknown, path: KeyPath, ctx: NormalizeContext): Hook[] {
  return (Array.isArray(v) ? v : []).map((h, i) => hook(h, [...path, i], ctx));
}

function build(v: unknown, path: KeyPath, ctx: NormalizeContext): BuildConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const d: Dict = typeof v === 'string' ? { context: v } : isDict(v) ? v : {};
  const context = d.context === undefined ? '.' : str(d.context);
  const b: BuildConfig = {
    context: isRemote(context) ? context : absPath(context, ctx),
    args: listOrDict(d.args),
    labels: stringMap(d.labels),
    cache_from: stringList(d.cache_from),
    secrets: fileRefs(d.secrets),
    extra_hosts: extraHosts(d.extra_hosts),
    tags: stringList(d.tags),
    platforms: stringList(d.platforms),
  };
  if (d.dockerfile_inline !== undefined) b.dockerfile_inline = str(d.dockerfile_inline);
  else b.dockerfile = d.dockerfile === undefined ? 'Dockerfile' : str(d.dockerfile);
  if (d.target !== undefined) b.target = str(d.target);
  if (d.network !== undefined) b.network = str(d.network);
  const noCache = toBool(d.no_cache, [...path, 'no_cache'], ctx);
  if (noCache !== undefined) b.no_cache = noCache;
  const pull = toBool(d.pull, [...path, 'pull'], ctx);
  if (pull !== undefined) b.pull = pull;
  const shm = toBytes(d.shm_size, [...path, 'shm_size'], ctx);
  if (shm !== undefined) b.shm_size = shm;
  return b;
}

/** `extra_hosts` as `host:ip` entries (list with `:` or `=`, or a mapping). */
function extraHosts(v: unknown): string[] {
  if (isDict(v)) {
    return Object.entries(v).flatMap(([h, ip]) => (Array.isArray(ip) ? ip : [ip]).map((x) => `${h}:${str(x)}`));
  }
  return stringList(v).map((e) => {
    const eq = e.indexOf('=');
    return eq >= 0 ? `${e.slice(0, eq)}:${e.slice(eq + 1)}` : e;
  });
}

function watch(v: unknown, path: KeyPath, ctx: NormalizeContext): { watch: WatchRule[] } | undefined {
  if (!isDict(v) || !Array.isArray(v.watch)) return undefined;
  const rules = v.watch;
  return {
    watch: rules.filter(isDict).map((w) => {
      const rule: WatchRule = {
        path: absPath(str(w.path), ctx),
        action: str(w.action) as WatchRule['action'],
        ignore: stringList(w.ignore),
      };
      if (w.target !== undefined) rule.target = str(w.target);
      if (w.exec !== undefined) rule.exec = hook(w.exec, [...path, 'watch', rules.indexOf(w), 'exec'], ctx);
      if (typeof w.initial_sync === 'boolean') rule.initial_sync = w.initial_sync;
      return rule;
    }),
  };
}

const STRINGS = [
  'image',
  'restart',
  'container_name',
  'hostname',
  'domainname',
  'mac_address',
  'user',
  'working_dir',
  'stop_signal',
  'pull_policy',
  'cpuset',
  'pid',
  'ipc',
  'cgroup',
  'cgroup_parent',
  'platform',
  'runtime',
  'isolation',
  'network_mode',
] as const;

/** One service's merged mapping in the model's long form. */
export function normalizeService(name: string, raw: Dict, ctx: NormalizeContext): Service {
  const p = (k: string): KeyPath => ['services', name, k];
  const s: Service = {
    name,
    environment: listOrDict(raw.environment),
    env_file: (Array.isArray(raw.env_file) ? raw.env_file : raw.env_file === undefined ? [] : [raw.env_file]).map(
      (e, i) =>
        isDict(e)
          ? {
              path: absPath(str(e.path), ctx),
              required: toBool(e.required, [...p('env_file'), i, 'required'], ctx) ?? true,
            }
          : { path: absPath(str(e), ctx), required: true },
    ),
    ports: ports(raw.ports, p('ports'), ctx),
    expose: stringList(raw.expose),
    volumes: volumes(raw.volumes, p('volumes'), ctx),
    volumes_from: stringList(raw.volumes_from),
    networks: raw.network_mode === undefined ? serviceNetworks(raw.networks, p('networks'), ctx) : {},
    depends_on: dependsOn(raw.depends_on, p('depends_on'), ctx),
    links: stringList(raw.links),
    external_links: stringList(raw.external_links),
    labels: stringMap(raw.labels),
    annotations: stringMap(raw.annotations),
    cap_add: stringList(raw.cap_add),
    cap_drop: stringList(raw.cap_drop),
    tmpfs: stringList(raw.tmpfs),
    extra_hosts: extraHosts(raw.extra_hosts),
    dns: stringList(raw.dns),
    dns_search: stringList(raw.dns_search),
    dns_opt: stringList(raw.dns_opt),
    secrets: fileRefs(raw.secrets),
    configs: fileRefs(raw.configs),
    profiles: stringList(raw.profiles),
    ulimits: ulimits(raw.ulimits, p('ulimits'), ctx),
    sysctls: stringMap(raw.sysctls),
    devices: devices(raw.devices),
    group_add: stringList(raw.group_add),
    security_opt: stringList(raw.security_opt),
    post_start: hooks(raw.post_start, p('post_start'), ctx),
    pre_stop: hooks(raw.pre_stop, p('pre_stop'), ctx),
    extensions: {},
  };
  if (raw.network_mode === undefined && Object.keys(s.networks).length === 0) s.networks = { default: null };
  for (const k of STRINGS) if (raw[k] !== undefined && raw[k] !== null) s[k] = str(raw[k]);
  const b = build(raw.build, p('build'), ctx);
  if (b !== undefined) s.build = b;
  const cmd = command(raw.command, p('command'), ctx);
  if (cmd !== undefined) s.command = cmd;
  const ep = command(raw.entrypoint, p('entrypoint'), ctx);
  if (ep !== undefined) s.entrypoint = ep;
  const hc = healthcheck(raw.healthcheck, p('healthcheck'), ctx);
  if (hc !== undefined) s.healthcheck = hc;
  const dep = deploy(raw.deploy, p('deploy'), ctx);
  if (dep !== undefined) s.deploy = dep;
  const dev = watch(raw.develop, p('develop'), ctx);
  if (dev !== undefined) s.develop = dev;
  if (raw.logging !== undefined && isDict(raw.logging)) {
    s.logging = {};
    if (raw.logging.driver !== undefined) s.logging.driver = str(raw.logging.driver);
    if (raw.logging.options !== undefined) s.logging.options = stringMap(raw.logging.options);
  }
  const ints = { scale: toInt, pids_limit: toInt, oom_score_adj: toInt, cpu_shares: toInt, cpus: toNumber } as const;
  for (const [k, fn] of Object.entries(ints)) {
    const n = fn(raw[k], p(k), ctx);
    if (n !== undefined) s[k as keyof typeof ints] = n;
  }
  for (const k of ['shm_size', 'mem_limit', 'mem_reservation', 'memswap_limit'] as const) {
    const n = k === 'memswap_limit' && raw[k] === -1 ? -1 : toBytes(raw[k], p(k), ctx);
    if (n !== undefined) s[k] = n;
  }
  for (const k of ['privileged', 'read_only', 'stdin_open', 'tty', 'init', 'attach'] as const) {
    const v = toBool(raw[k], p(k), ctx);
    if (v !== undefined) s[k] = v;
  }
  const grace = toDuration(raw.stop_grace_period, p('stop_grace_period'), ctx);
  if (grace !== undefined) s.stop_grace_period = grace;
  for (const [k, v] of Object.entries(raw)) if (k.startsWith('x-')) s.extensions[k] = v;
  return s;
}
