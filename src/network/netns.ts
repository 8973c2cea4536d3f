/**
 * Network namespaces as files: a bind mount of a new namespace on an empty file under the exec root, made by
 * util-linux's `unshare --net=FILE` (a thread of Node cannot unshare on its own without moving the daemon), and
 * removed by a lazy unmount and unlink.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MNT_DETACH, umount2 } from '../sys/index.ts';
import { UnavailableError, isErrno } from '../util/errors.ts';

/** Creates a new network namespace bound at `path` (an empty file is made first). */
export async function createNetns(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await (await open(path, 'w', 0o600)).close();
  const msg = await new Promise<string | undefined>((resolve) => {
    const child = spawn('unshare', [`--net=${path}`, 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', (e) => resolve(e.message));
    child.once('close', (code) => resolve(code === 0 ? undefined : err.trim() || `exit ${code}`));
  });
  if (msg !== undefined) {
    await rm(path, { force: true });
    throw new UnavailableError(`cannot create network namespace ${path}: ${msg}`);
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
