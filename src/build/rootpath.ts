import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The host path of a path in the root, symbolic links followed but never out of it. */
export async function inRoot(root: string, path: string): Promise<string> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const out: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const c = parts.shift()!;
    if (c === '..') {
      out.pop();
      continue;
    }
    const host = join(root, ...out, c);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isSymbolicLink() && links++ < 40) {
      const target = await readlink(host);
      if (target.startsWith('/')) out.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    out.push(c);
  }
  return join(root, ...out);
}
