/**
 * Network namespaces as files: a bind mount of a new namespace on an empty file under the exec root, made in
 * process (the main thread unshares, binds /proc/thread-self/ns/net on the file, brings loopback up through
 * rtnetlink and moves back: no `unshare --net=FILE` child, which cost ~10 ms a start), and removed by a lazy
 * unmount and unlink.
 */
import { mkdir, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MNT_DETACH, RtNetlink, newNetns, umount2 } from '../sys/index.ts';
import { UnavailableError, errorMessage, isErrno } from '../util/errors.ts';

/** Creates a new network namespace bound at `path` (an empty file is made first), loopback up. */
export async function createNetns(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await (await open(path, 'w', 0o600)).close();
  try {
    newNetns(path, () => {
      const nl = new RtNetlink();
      try {
        nl.setUp('lo');
      } finally {
        nl.close();
      }
    });
  } catch (err) {
    try {
      umount2(path, MNT_DETACH);
    } catch {
      // not mounted
    }
    await rm(path, { force: true });
    throw new UnavailableError(`cannot create network namespace ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Unmounts and deletes a namespace file; a file that is gone or not mounted is fine. */
export async function removeNetns(path: string): Promise<void> {
  try {
    umount2(path, MNT_DETACH);
  } catch (err) {
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOENT')) throw err;
  }
  await rm(path, { force: true });
}
