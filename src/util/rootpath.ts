/**
 * A path inside a root filesystem (a container's, an image's, a build stage's) resolved to its host path as the
 * kernel would resolve it with that root as `/`: moby's `FollowSymlinkInScope` and BuildKit's `RootPath`. The path
 * is cleaned first (`..` cannot climb above `/`); then each component that is a symbolic link is replaced by its
 * target, an absolute target starting again from the root, so neither a link nor a `..` in one ever leads out of it.
 * A component that does not exist is taken as written. Used by `docker cp` and the container's mounts, the
 * builder's COPY, RUN --mount and WORKDIR, and the SBOM reader.
 */
import { lstat, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidArgumentError } from './errors.ts';

/** How many links one resolution follows before it gives up (moby's and BuildKit's limit). */
const MAX_LINKS = 255;

/**
 * The host path under `root` of `path`. A link in the last component is followed unless `followLast` is false
 * (`docker cp` copies a link itself, and reads the directory part only). More than 255 links, as a cycle makes, is
 * an InvalidArgumentError `too many levels of symbolic links in "…"`.
 */
export async function resolveInRoot(root: string, path: string, opts: { followLast?: boolean } = {}): Promise<string> {
  const todo = posix
    .normalize(`/${path}`)
    .split('/')
    .filter((p) => p !== '');
  const last = opts.followLast === false ? todo.pop() : undefined;
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    const st = await lstat(host).catch(() => undefined);
    if (!st?.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw new InvalidArgumentError(`too many levels of symbolic links in "${path}"`);
    const target = await readlink(host);
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...target.split('/').filter((p) => p !== ''));
  }
  return join(root, ...done, ...(last !== undefined ? [last] : []));
}
