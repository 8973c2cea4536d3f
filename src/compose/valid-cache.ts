import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { boundCache, CACHE_DIR, type CacheLimits, dropStale, touch, writeCacheFile } from './cache-dir.ts';
import { lossless } from './parse-cache.ts';
import { quickHash } from '../util/quick-hash.ts';

/**
 * Documents the schema found valid, kept as their JSON text in `node_modules/.cache/berth/compose-valid-<schema
 * key>/`, so that validating the same (interpolated) document again is a read and a comparison (~1 ms) instead of
 * loading the validator and running it (~13 ms of CPU for a 50-service file). Only a valid verdict is kept: an
 * invalid document is validated every time, and its error located. The whole JSON text is kept and must equal the
 * document's (the file name is a short hash of it), so a hash collision cannot pass a document the schema did not;
 * a document JSON cannot hold exactly (`.inf`, `.nan`) is not kept. The directory is named by the schema's key
 * (the schema file's size and modification time, ajv's version): a new schema or ajv starts empty and the other
 * keys' directories go. Bounded like the parse cache.
 */

export const VALID_PREFIX = 'compose-valid-';
export const LIMITS: CacheLimits = { maxEntries: 200, maxBytes: 32 * 1024 * 1024 };

export interface ValidCacheOptions {
  dir?: string;
  limits?: CacheLimits;
}

/** The JSON text a verdict is kept under, or undefined when JSON cannot hold the document exactly. */
export function verdictText(doc: unknown): string | undefined {
  return lossless(doc) ? JSON.stringify(doc) : undefined;
}

function entryPath(dir: string, schemaKey: string, text: string): string {
  return join(dir, `${VALID_PREFIX}${schemaKey}`, `${quickHash(text)}.json`);
}

/** Whether the schema with `schemaKey` found the document whose JSON is `text` valid before. */
export function knownValid(schemaKey: string, text: string, opts: ValidCacheOptions = {}): boolean {
  const path = entryPath(opts.dir ?? CACHE_DIR, schemaKey, text);
  try {
    if (readFileSync(path, 'utf8') !== text) return false;
  } catch {
    return false;
  }
  touch(path);
  return true;
}

/** Keeps the verdict that the document whose JSON is `text` is valid under the schema with `schemaKey`. */
export function keepValid(schemaKey: string, text: string, opts: ValidCacheOptions = {}): void {
  const dir = opts.dir ?? CACHE_DIR;
  try {
    writeCacheFile(entryPath(dir, schemaKey, text), text);
    dropStale(dir, VALID_PREFIX, [`${VALID_PREFIX}${schemaKey}`]);
    boundCache(join(dir, `${VALID_PREFIX}${schemaKey}`), opts.limits ?? LIMITS);
  } catch {
    // A read-only install: the document is validated every time.
  }
}
