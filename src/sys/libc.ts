import { koffi, libcFunctions } from './koffi.ts';
import { getSystemErrorMessage, getSystemErrorName } from 'node:util';

/**
 * The libc functions Node lacks, bound through koffi. libc is loaded on first use, so importing this module
 * costs nothing on systems (or in tests) that never call it. Every wrapper is synchronous: each call is one
 * short syscall, and koffi's errno is only reliable for calls made on this thread.
 */

const load = libcFunctions({
  mount: 'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  umount2: 'int umount2(const char *target, int flags)',
  mknod: 'int mknod(const char *path, uint32_t mode, uint64_t dev)',
  lsetxattr: 'int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)',
  lgetxattr: 'long lgetxattr(const char *path, const char *name, void *value, size_t size)',
  llistxattr: 'long llistxattr(const char *path, void *list, size_t size)',
  lremovexattr: 'int lremovexattr(const char *path, const char *name)',
  setns: 'int setns(int fd, int nstype)',
});

/** An error shaped like node:fs's: `code` ('ENOENT'), negative `errno`, `syscall`, and `path` when there is one. */
export interface SystemError extends Error {
  errno: number;
  code: string;
  syscall: string;
  path?: string;
  dest?: string;
}

/** The SystemError for the libc call just made on this thread (koffi's errno), from `syscall` on `path`. */
export function systemError(syscall: string, path?: string, dest?: string): SystemError {
  return errnoError(koffi().errno(), syscall, path, dest);
}

/** The SystemError for `errno` (positive, as libc sets it) from `syscall`, on `path` (and `dest`). */
export function errnoError(errno: number, syscall: string, path?: string, dest?: string): SystemError {
  const code = getSystemErrorName(-errno);
  let message = `${code}: ${getSystemErrorMessage(-errno)}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  if (dest !== undefined) message += ` -> '${dest}'`;
  const err = new Error(message) as SystemError;
  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  if (dest !== undefined) err.dest = dest;
  Error.captureStackTrace(err, errnoError);
  return err;
}

const ENODATA = 61;
const ERANGE = 34;

// mount(2) flags (linux/mount.h).
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_MANDLOCK = 0x40;
export const MS_DIRSYNC = 0x80;
export const MS_NOSYMFOLLOW = 0x100;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_SILENT = 0x8000;
export const MS_UNBINDABLE = 0x20000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_RELATIME = 0x200000;
export const MS_STRICTATIME = 0x1000000;
export const MS_LAZYTIME = 0x2000000;

// umount2(2) flags.
export const MNT_FORCE = 0x1;
export const MNT_DETACH = 0x2;
export const MNT_EXPIRE = 0x4;
export const UMOUNT_NOFOLLOW = 0x8;

// File type bits of st_mode, for mknod(2).
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

// *xattr(2) flags.
export const XATTR_CREATE = 0x1;
export const XATTR_REPLACE = 0x2;

// setns(2) namespace types (CLONE_NEW*); 0 accepts any.
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_NEWTIME = 0x00000080;

/**
 * mount(2). `data` is the filesystem's option string (at most one page, 4096 bytes with its NUL, on Linux);
 * `null` passes none. Throws a SystemError (code, syscall 'mount', path = source, dest = target).
 */
export function mount(
  source: string,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  if (data !== null && Buffer.byteLength(data) >= 4096) {
    throw new RangeError(
      `mount data for '${target}' is ${Buffer.byteLength(data)} bytes; the kernel takes at most 4095`,
    );
  }
  if (load().mount(source, target, fstype, flags, data) !== 0) throw systemError('mount', source, target);
}

/** umount2(2): `flags` is 0 or MNT_DETACH / MNT_FORCE / UMOUNT_NOFOLLOW. */
export function umount2(target: string, flags = 0): void {
  if (load().umount2(target, flags) !== 0) throw systemError('umount2', target);
}

/**
 * umount2(2) that returns its errno (positive; 0 when it unmounted) instead of throwing: for callers that expect a
 * failure (EINVAL once nothing is left mounted), which then build no error object (its message, its stack).
 */
export function umount2Errno(target: string, flags = 0): number {
  return load().umount2(target, flags) === 0 ? 0 : koffi().errno();
}

/** The device number for `major:minor`, as glibc's makedev() encodes it. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** mknod(2): `mode` holds the file type (S_IFCHR, S_IFBLK, S_IFIFO, ...) and permission bits (umask applies). */
export function mknod(path: string, mode: number, dev: bigint | number = 0n): void {
  if (load().mknod(path, mode, BigInt(dev)) !== 0) throw systemError('mknod', path);
}

/** lsetxattr(2): sets `name` on `path` itself (a symlink is not followed). */
export function lsetxattr(path: string, name: string, value: Uint8Array, flags = 0): void {
  if (load().lsetxattr(path, name, value, value.byteLength, flags) !== 0) throw systemError('lsetxattr', path);
}

/** lgetxattr(2): the value of `name` on `path`, or undefined when it has none (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const c = load();
  for (;;) {
    const size = Number(c.lgetxattr(path, name, null, 0));
    if (size < 0) {
      if (koffi().errno() === ENODATA) return undefined;
      throw systemError('lgetxattr', path);
    }
    const buf = Buffer.alloc(size);
    const got = size === 0 ? 0 : Number(c.lgetxattr(path, name, buf, size));
    if (got >= 0) return buf.subarray(0, got);
    const errno = koffi().errno();
    if (errno === ENODATA) return undefined;
    if (errno !== ERANGE) throw systemError('lgetxattr', path); // ERANGE: it grew between the calls; ask again
  }
}

/** llistxattr(2): the names of the extended attributes on `path` itself. */
export function llistxattr(path: string): string[] {
  const c = load();
  for (;;) {
    const size = Number(c.llistxattr(path, null, 0));
    if (size < 0) throw systemError('llistxattr', path);
    if (size === 0) return [];
    const buf = Buffer.alloc(size);
    const got = Number(c.llistxattr(path, buf, size));
    if (got < 0) {
      if (koffi().errno() === ERANGE) continue;
      throw systemError('llistxattr', path);
    }
    return buf
      .subarray(0, got)
      .toString('utf8')
      .split('\0')
      .filter((n) => n !== '');
  }
}

/** lremovexattr(2). Throws ENODATA when `path` has no attribute `name`. */
export function lremovexattr(path: string, name: string): void {
  if (load().lremovexattr(path, name) !== 0) throw systemError('lremovexattr', path);
}

/**
 * setns(2): moves the calling thread into the namespace `fd` refers to. In Node only safe in a process or
 * worker made for it (the event loop's thread changes namespace).
 */
export function setns(fd: number, nstype = 0): void {
  if (load().setns(fd, nstype) !== 0) throw systemError('setns');
}
