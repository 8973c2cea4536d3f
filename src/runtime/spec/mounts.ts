/** The container's mounts: Docker's defaults, then the caller's binds and tmpfs, parents before children. */
import { posix } from 'node:path';
import { InvalidArgumentError } from '../../util/errors.ts';
import type { SpecMountEntry } from './oci.ts';

export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';

/**
 * A mount the caller prepared: a bind (host directories, named volumes' `_data`, and the /etc/hosts,
 * /etc/hostname and /etc/resolv.conf files), or a tmpfs.
 */
export type MountInput = BindMountInput | TmpfsMountInput;

export interface BindMountInput {
  type: 'bind';
  /** Absolute host path. */
  source: string;
  /** Absolute path in the container. */
  destination: string;
  readonly?: boolean;
  /** Default rprivate, as Docker. */
  propagation?: Propagation;
  /** rbind (default, as Docker) or a plain bind without submounts. */
  recursive?: boolean;
  /** More mount options (nosuid, nodev, noexec…), appended. */
  options?: string[];
}

export interface TmpfsMountInput {
  type: 'tmpfs';
  destination: string;
  /** Bytes; absent = the kernel's default (half of RAM). */
  size?: number;
  /** File mode of the root, e.g. 0o1777. */
  mode?: number;
  /** Options as --tmpfs takes them (`rw,exec,size=64m,uid=1000`); later ones win over the defaults. */
  options?: string[];
  readonly?: boolean;
}

/** Docker's size of /dev/shm when --shm-size is not given: 64 MiB. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

export interface DefaultMountsOptions {
  privileged: boolean;
  shmSize: number;
  /**
   * The container shares the host's IPC namespace: the host's /dev/shm is bound in (the mqueue filesystem, mounted
   * in the host's IPC namespace, is the host's: dockerd binds only /dev/shm, and many hosts have no /dev/mqueue).
   */
  hostIpc: boolean;
  /** `--ipc none`: a private IPC namespace without /dev/shm. */
  noShm?: boolean;
}

/** Docker's default mounts (moby oci/defaults.go and daemon/oci_linux.go), in order. */
export function defaultMounts(o: DefaultMountsOptions): SpecMountEntry[] {
  const sysAccess = o.privileged ? 'rw' : 'ro';
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', sysAccess] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: [sysAccess, 'nosuid', 'noexec', 'nodev'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    ...(o.noShm
      ? []
      : o.hostIpc
        ? [
            {
              destination: '/dev/shm',
              type: 'bind',
              source: '/dev/shm',
              options: ['rbind', 'nosuid', 'noexec', 'nodev'],
            },
          ]
        : [
            {
              destination: '/dev/shm',
              type: 'tmpfs',
              source: 'shm',
              options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${o.shmSize}`],
            },
          ]),
  ];
}

/**
 * The whole mount list. A default is dropped when the caller mounts something on its destination (and all of
 * /dev's when the caller mounts /dev). The caller's mounts follow, ordered by path depth so that a parent is
 * mounted before what is inside it; mounts of equal depth keep the caller's order.
 */
export function buildMounts(defaults: SpecMountEntry[], extra: readonly MountInput[]): SpecMountEntry[] {
  const user = extra.map(toSpecMount);
  const taken = new Set<string>();
  for (const m of user) {
    if (taken.has(m.destination)) throw new InvalidArgumentError(`duplicate mount point "${m.destination}"`);
    taken.add(m.destination);
  }
  const overDev = taken.has('/dev');
  const kept = defaults.filter((d) => !taken.has(d.destination) && !(overDev && d.destination.startsWith('/dev/')));
  const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1);
  const sorted = user
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i);
  return [...kept, ...sorted.map((x) => x.m)];
}

/** One caller mount as a spec entry. */
export function toSpecMount(m: MountInput): SpecMountEntry {
  const destination = absolute(m.destination, 'mount destination');
  if (m.type === 'bind') {
    const source = absolute(m.source, 'bind source');
    const options = [m.recursive === false ? 'bind' : 'rbind', m.propagation ?? 'rprivate'];
    if (m.readonly) options.push('ro');
    options.push(...(m.options ?? []));
    return { destination, type: 'bind', source, options };
  }
  if (m.type === 'tmpfs') {
    const extra: string[] = [];
    if (m.readonly) extra.push('ro');
    if (m.size !== undefined) {
      if (!Number.isSafeInteger(m.size) || m.size < 0) throw new InvalidArgumentError(`invalid tmpfs size ${m.size}`);
      extra.push(`size=${m.size}`);
    }
    if (m.mode !== undefined) {
      if (!Number.isInteger(m.mode) || m.mode < 0 || m.mode > 0o7777)
        throw new InvalidArgumentError(`invalid tmpfs mode ${m.mode}`);
      extra.push(`mode=${m.mode.toString(8).padStart(4, '0')}`);
    }
    const options = mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...extra, ...(m.options ?? [])]);
    return { destination, type: 'tmpfs', source: 'tmpfs', options };
  }
  throw new InvalidArgumentError(`unknown mount type "${(m as { type: unknown }).type}"`);
}

/** Flags that cancel each other: the later one wins. */
const OPPOSITES: Record<string, string> = {
  ro: 'rw',
  rw: 'ro',
  exec: 'noexec',
  noexec: 'exec',
  suid: 'nosuid',
  nosuid: 'suid',
  dev: 'nodev',
  nodev: 'dev',
  atime: 'noatime',
  noatime: 'atime',
  diratime: 'nodiratime',
  nodiratime: 'diratime',
  sync: 'async',
  async: 'sync',
};
const PROPAGATIONS: ReadonlySet<string> = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const TMPFS_KEYS: ReadonlySet<string> = new Set([
  'size',
  'mode',
  'uid',
  'gid',
  'nr_inodes',
  'nr_blocks',
  'huge',
  'mpol',
]);
const TMPFS_FLAGS: ReadonlySet<string> = new Set([
  ...Object.keys(OPPOSITES),
  ...PROPAGATIONS,
  'relatime',
  'norelatime',
  'strictatime',
  'nostrictatime',
  'tmpcopyup',
  'noswap',
]);

/**
 * Merges tmpfs options as Docker's MergeTmpfsOptions does: a flag replaces its opposite, a `key=value`
 * replaces the same key, a propagation replaces the propagation; the survivors keep their first position.
 */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of options) {
    const opt = raw.trim();
    if (opt === '') continue;
    const eq = opt.indexOf('=');
    if (eq >= 0) {
      const key = opt.slice(0, eq);
      if (!TMPFS_KEYS.has(key)) throw new InvalidArgumentError(`invalid tmpfs option "${raw}"`);
      const at = out.findIndex((o) => o.startsWith(`${key}=`));
      if (at >= 0) out[at] = opt;
      else out.push(opt);
      continue;
    }
    if (!TMPFS_FLAGS.has(opt)) throw new InvalidArgumentError(`invalid tmpfs option "${raw}"`);
    const rival = PROPAGATIONS.has(opt)
      ? out.findIndex((o) => PROPAGATIONS.has(o))
      : out.findIndex((o) => o === opt || o === OPPOSITES[opt]);
    if (rival >= 0) out[rival] = opt;
    else out.push(opt);
  }
  return out;
}

function absolute(p: string, what: string): string {
  if (typeof p !== 'string' || !p.startsWith('/') || p.includes('\0')) {
    throw new InvalidArgumentError(`${what} "${p}" is not an absolute path`);
  }
  return posix.normalize(p).replace(/(.)\/$/, '$1');
}
