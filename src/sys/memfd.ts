import { closeSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { koffi, libcFunctions } from './koffi.ts';
import { systemError } from './libc.ts';

/**
 * A program copied into a fully sealed memfd, run through `/proc/<berthd>/fd/<n>`.
 *
 * runc 1.1's init (libcontainer/nsenter/cloned_binary.c) protects the host's runc binary from a container
 * (CVE-2019-5736): unless `/proc/self/exe` is already a memfd carrying all four seals (seal, shrink, grow, write),
 * each `runc init` makes a safe copy of itself before it goes on: Debian's 1.1.5 creates a temporary file in the
 * container's state directory, bind-mounts `/proc/self/exe` on it read-only, opens it, unmounts it, unlinks it and
 * execs itself again through the opened file. runc's source names the other way: a runc that already runs from a
 * sealed memfd is not copied again, since nothing can write to one. A runc started from such a memfd passes it on to
 * its init (`/proc/self/exe`), which then skips the copy: one inode allocation, two mounts and an unmount in the host's
 * mount namespace, an unlink and an exec less on every container's start.
 */

const load = libcFunctions({
  memfdCreate: 'int memfd_create(const char *name, unsigned int flags)',
  fcntl: 'int fcntl(int fd, int cmd, int arg)',
});

// <linux/memfd.h>, <fcntl.h>
const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
/** Executable, said outright (Linux 6.3+; `vm.memfd_noexec` may make a memfd without it non-executable). */
const MFD_EXEC = 0x10;
const EINVAL = 22;
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
/** F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE: what runc checks for. */
export const ALL_SEALS = 0x1 | 0x2 | 0x4 | 0x8;

/** A sealed in-memory copy of a program: `path` runs it (while this process lives), `close()` frees it. */
export interface SealedProgram {
  path: string;
  fd: number;
  close(): void;
}

/**
 * Copies the program at `path` into a memfd named `name`, sealed so that nothing can change it; the copy is made on
 * libuv's pool. The fd is close-on-exec: children run the copy by its /proc path, never inherit it.
 */
export async function sealedCopy(path: string, name: string): Promise<SealedProgram> {
  const c = load();
  let fd = c.memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC) as number;
  // Kernels before 6.3 know no MFD_EXEC (their memfds are executable).
  if (fd < 0 && koffi().errno() === EINVAL) fd = c.memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING) as number;
  if (fd < 0) throw systemError('memfd_create', name);
  try {
    // Copied by the kernel (libuv's copyfile: sendfile) into the memfd reopened through /proc, so that the program's
    // bytes never pass through berthd's heap.
    await copyFile(path, `/proc/self/fd/${fd}`);
    if ((c.fcntl(fd, F_ADD_SEALS, ALL_SEALS) as number) !== 0) throw systemError('fcntl(F_ADD_SEALS)', path);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return {
    path: `/proc/${process.pid}/fd/${fd}`,
    fd,
    close: () => closeSync(fd),
  };
}

/** The seals on `fd` (F_GET_SEALS). */
export function sealsOf(fd: number): number {
  const r = load().fcntl(fd, F_GET_SEALS, 0) as number;
  if (r < 0) throw systemError('fcntl(F_GET_SEALS)');
  return r;
}
