import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/** The first executable `name` in `extraDirs`, then in `$PATH`'s directories; undefined when there is none. */
export function findExecutable(
  name: string,
  extraDirs: readonly string[] = [],
  path = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
): string | undefined {
  for (const dir of [...extraDirs, ...path.split(':').filter(Boolean)]) {
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

export function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
