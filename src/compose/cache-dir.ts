import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the compose loader keeps what it need not redo on every run (the compiled schema, parsed files): under
 * `node_modules/.cache/berth/` of the install. A cache file is written whole or not at all.
 */

/** The install's root (beside `node_modules/` and `vendor/`). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'berth');

/** Writes a cache file through a temporary one and a rename; throws when the directory cannot be written. */
export function writeCacheFile(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
