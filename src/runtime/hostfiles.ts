/** Files outside the driver's own directories that it writes or removes: conmon's control fifo, unified cgroups. */
import { constants as fsConstants } from 'node:fs';
import { open, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, errorMessage, InvalidArgumentError, isErrno } from '../util/errors.ts';
import type { TerminalSize } from './types.ts';

/** The unified hierarchy of a hybrid cgroup host, which runtime-ns hides from the runtime. */
export const UNIFIED_ROOT = '/sys/fs/cgroup/unified';

/**
 * Removes a container's cgroup of the unified hierarchy (runtime-ns made it), once the container is gone: an
 * rmdir, which the kernel refuses while a process is in it (told, and left for the start-up sweep).
 */
export async function removeUnified(cgroup: string, warn: ((m: string) => void) | undefined): Promise<void> {
  try {
    await rmdir(join(UNIFIED_ROOT, cgroup));
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) warn?.(`cannot remove cgroup ${join(UNIFIED_ROOT, cgroup)}: ${errorMessage(e)}`);
  }
}

/** Writes a resize request (`1 <height> <width>`) to conmon's control fifo. */
export async function writeControl(path: string, size: TerminalSize, what: string): Promise<void> {
  for (const [k, v] of Object.entries(size)) {
    if (!Number.isInteger(v) || v < 0 || v > 65535)
      throw new InvalidArgumentError(`terminal ${k} ${String(v)} is not in 0..65535`);
  }
  let fh;
  try {
    fh = await open(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    // ENXIO: a fifo nobody reads (conmon is gone); ENOENT: it never was.
    if (isErrno(e, 'ENXIO') || isErrno(e, 'ENOENT'))
      throw new ConflictError(`cannot resize ${what}: it is not running`);
    throw e;
  }
  try {
    await fh.write(`1 ${size.height} ${size.width}\n`);
  } finally {
    await fh.close();
  }
}
