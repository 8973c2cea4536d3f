import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  boundCache,
  CACHE_DIR as CACHE_ROOT,
  type CacheLimits,
  dropStale,
  ROOT,
  touch,
  writeCacheFile,
} from './cache-dir.ts';
import { quickHash } from '../util/quick-hash.ts';

/**
 * Parsed compose files kept by the hash of their text, in `node_modules/.cache/berth/compose-yaml/<format>/`: a
 * first parse of a large file costs tens of milliseconds of cold YAML code (and loading the `yaml` package),
 * reading its JSON back costs well under one. What is kept is the parse alone (the documents before interpolation,
 * and where each key was written), so the environment, `.env` files and flags still apply on every run. The
 * format directory is named by FORMAT (raised whenever the parse changes) and the `yaml` package's version; the
 * key is the text's hash, and the text is kept too, and must match. Bounded: when an entry is written, the
 * directories of other formats go, and the least recently used entries beyond LIMITS (a hit renews an entry).
 * An unwritable cache directory only means parsing every time.
 */

const CACHE_DIR = join(CACHE_ROOT, 'compose-yaml');
const FORMAT = 2;
export const LIMITS: CacheLimits = { maxEntries: 200, maxBytes: 32 * 1024 * 1024 };

export interface CachedParse {
  /** The file's text, compared on reading (the key is a short hash). */
  text?: string;
  documents: Record<string, unknown>[];
  /** Key positions: JSON pointer, line, column. */
  rows: [string, number, number][];
}

/** Where the entries are kept and how many; tests give their own. */
export interface ParseCacheOptions {
  dir?: string;
  limits?: CacheLimits;
}

let yamlVersion: string | undefined;

/** The directory of the current format, below `dir`. */
function formatDir(): string {
  yamlVersion ??= (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', 'yaml', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  return `v${FORMAT}-yaml-${yamlVersion}`;
}

function entryPath(dir: string, text: string): string {
  return join(dir, formatDir(), `${quickHash(text)}.json`);
}

export function readParsed(text: string, opts: ParseCacheOptions = {}): CachedParse | undefined {
  const path = entryPath(opts.dir ?? CACHE_DIR, text);
  try {
    const entry = JSON.parse(readFileSync(path, 'utf8')) as CachedParse;
    if (entry.text !== text) return undefined;
    touch(path);
    return entry;
  } catch {
    return undefined;
  }
}

/** Whether JSON keeps the value as it is (no .inf or .nan, which JSON would turn into null). */
export function lossless(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(lossless);
  if (v !== null && typeof v === 'object') return Object.values(v).every(lossless);
  return true;
}

export function writeParsed(text: string, parse: CachedParse, opts: ParseCacheOptions = {}): void {
  if (!lossless(parse.documents)) return;
  const dir = opts.dir ?? CACHE_DIR;
  try {
    writeCacheFile(entryPath(dir, text), JSON.stringify({ ...parse, text }));
    // Older formats (and the flat files of the first one) are of no use to this install any more.
    dropStale(dir, '', [formatDir()]);
    boundCache(join(dir, formatDir()), opts.limits ?? LIMITS);
  } catch {
    // A read-only install: files are parsed every time.
  }
}
