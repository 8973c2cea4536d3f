import { readFile } from 'node:fs/promises';
import { phase, phaseSync } from '../util/trace.ts';
import {
  mount,
  umount2,
  umount2Errno,
  errnoError,
  MNT_DETACH,
  UMOUNT_NOFOLLOW,
  MS_BIND,
  MS_DIRSYNC,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_REMOUNT,
  MS_SHARED,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE,
} from '../sys/index.ts';
import type { Mount } from './types.ts';

const ENOENT = 2;
const EINVAL = 22;

/** mount(8) option words that are flags: [flags to set, flags to clear]. */
const FLAGS: Record<string, [number, number]> = {
  ro: [MS_RDONLY, 0],
  rw: [0, MS_RDONLY],
  bind: [MS_BIND, 0],
  rbind: [MS_BIND | MS_REC, 0],
  nosuid: [MS_NOSUID, 0],
  suid: [0, MS_NOSUID],
  nodev: [MS_NODEV, 0],
  dev: [0, MS_NODEV],
  noexec: [MS_NOEXEC, 0],
  exec: [0, MS_NOEXEC],
  sync: [MS_SYNCHRONOUS, 0],
  async: [0, MS_SYNCHRONOUS],
  dirsync: [MS_DIRSYNC, 0],
  noatime: [MS_NOATIME, 0],
  atime: [0, MS_NOATIME],
  nodiratime: [MS_NODIRATIME, 0],
  diratime: [0, MS_NODIRATIME],
  relatime: [MS_RELATIME, 0],
  norelatime: [0, MS_RELATIME],
  strictatime: [MS_STRICTATIME, 0],
};

const PROPAGATION: Record<string, number> = {
  private: MS_PRIVATE,
  rprivate: MS_PRIVATE | MS_REC,
  slave: MS_SLAVE,
  rslave: MS_SLAVE | MS_REC,
  shared: MS_SHARED,
  rshared: MS_SHARED | MS_REC,
  unbindable: MS_UNBINDABLE,
  runbindable: MS_UNBINDABLE | MS_REC,
};

/** The flags, propagation changes and filesystem data that a mount's options stand for. */
export function parseMountOptions(options: readonly string[]): { flags: number; propagation: number[]; data: string } {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const o of options) {
    const f = FLAGS[o];
    const p = PROPAGATION[o];
    if (f) flags = (flags | f[0]) & ~f[1];
    else if (p !== undefined) propagation.push(p);
    else data.push(o);
  }
  return { flags, propagation, data: data.join(',') };
}

/**
 * Performs `mounts` in order on `target` (each stacks on the one before), as containerd's mount.All does.
 * A bind mount with per-mount flags ('ro', 'nosuid', ...) is made, then remounted with them, since the kernel
 * ignores those flags on the first bind call. Throws the SystemError of the first mount that fails, after
 * undoing the ones made.
 */
export function mountAll(mounts: readonly Mount[], target: string): void {
  phaseSync('mount', target, () => mountAllNow(mounts, target));
}

function mountAllNow(mounts: readonly Mount[], target: string): void {
  let done = 0;
  try {
    for (const m of mounts) {
      const { flags, propagation, data } = parseMountOptions(m.options);
      const bind = m.type === 'bind' || (flags & MS_BIND) !== 0;
      if (bind) {
        mount(m.source, target, null, MS_BIND | (flags & MS_REC), null);
        done++;
        const perMount = flags & ~(MS_BIND | MS_REC);
        if (perMount !== 0) mount('', target, null, MS_REMOUNT | MS_BIND | perMount, null);
      } else {
        mount(m.source, target, m.type, flags, data === '' ? null : data);
        done++;
      }
      for (const p of propagation) mount('', target, null, p, null);
    }
  } catch (err) {
    for (; done > 0; done--) umount2(target, MNT_DETACH);
    throw err;
  }
}

/** Unmounts everything mounted on `target` (stacked mounts too); returns how many were unmounted. */
export function unmountAll(target: string, opts: { detach?: boolean } = {}): Promise<number> {
  return phase('unmount', target, async () => {
    // umount2 says EINVAL once nothing is mounted on the target (ENOENT when it is gone): no need to read
    // /proc/self/mountinfo, which grows with every running container, before each call.
    // The errno, not an error thrown: every call ends with EINVAL, and building its error object cost more than
    // the syscall.
    let n = 0;
    for (;;) {
      const errno = umount2Errno(target, (opts.detach ? MNT_DETACH : 0) | UMOUNT_NOFOLLOW);
      if (errno === EINVAL || errno === ENOENT) return n;
      if (errno !== 0) throw errnoError(errno, 'umount2', target);
      n++;
    }
  });
}

/** Whether something is mounted on `path` (an exact, already-resolved path) in this mount namespace. */
export async function isMountPoint(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  for (const line of info.split('\n')) {
    if (unescapeMountPath(line.split(' ')[4] ?? '') === path) return true;
  }
  return false;
}

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
