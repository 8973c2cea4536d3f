import { mkdirSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomicSync } from './atomic.ts';

/**
 * Files of on-disk caches (compose's validator and parsed files, the compose command line's bundle): written whole
 * or not at all, only the current key of each cache kept (`dropStale`), and bounded in count and size
 * (`boundCache`, least recently used first). Callers clean up when they write something new, never on a hit.
 */

/** Writes a cache file through a temporary one and a rename; throws when the directory cannot be written. */
export function writeCacheFile(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomicSync(path, data, { tmp: `${path}.${process.pid}.tmp` });
}

function names(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Removes the entries of `dir` (files or directories) whose names start with `prefix`, except those in `keep`:
 * the keys of one cache that are no longer the current one. A temporary file of a write in progress (`….tmp`) is
 * left alone unless it is an hour old (a writer that died). Returns the names removed.
 */
export function dropStale(dir: string, prefix: string, keep: readonly string[]): string[] {
  const removed: string[] = [];
  const hourAgo = Date.now() - 3_600_000;
  for (const name of names(dir)) {
    if (!name.startsWith(prefix) || keep.includes(name)) continue;
    try {
      if (name.endsWith('.tmp') && statSync(join(dir, name)).mtimeMs > hourAgo) continue;
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // Gone already (another process cleaning up too).
    }
  }
  return removed;
}

export interface CacheLimits {
  maxEntries: number;
  maxBytes: number;
}

/**
 * Keeps the files of `dir` within `limits`: the least recently used go first (the oldest modification time; a
 * cache hit renews it, see `touch`). Returns the names removed.
 */
export function boundCache(dir: string, limits: CacheLimits): string[] {
  const entries: { name: string; size: number; used: number }[] = [];
  for (const name of names(dir)) {
    if (name.endsWith('.tmp')) continue;
    try {
      const st = statSync(join(dir, name));
      if (st.isFile()) entries.push({ name, size: st.size, used: st.mtimeMs });
    } catch {
      // Removed meanwhile.
    }
  }
  let bytes = entries.reduce((sum, e) => sum + e.size, 0);
  let count = entries.length;
  if (count <= limits.maxEntries && bytes <= limits.maxBytes) return [];
  entries.sort((a, b) => a.used - b.used || (a.name < b.name ? -1 : 1));
  const removed: string[] = [];
  for (const e of entries) {
    if (count <= limits.maxEntries && bytes <= limits.maxBytes) break;
    rmSync(join(dir, e.name), { force: true });
    removed.push(e.name);
    count--;
    bytes -= e.size;
  }
  return removed;
}

/** Marks a cache file as just used (for `boundCache`'s order); a failure only makes it look older. */
export function touch(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // A read-only install.
  }
}
