import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR as CACHE_ROOT, ROOT, writeCacheFile } from './cache-dir.ts';
import { quickHash } from './quick-hash.ts';

/**
 * Parsed compose files kept by the hash of their text, in `node_modules/.cache/berth/compose-yaml/`: a first parse
 * of a large file costs tens of milliseconds of cold YAML code (and loading the `yaml` package), reading its JSON
 * back costs well under one. What is kept is the parse alone (the documents before interpolation, and where each
 * key was written), so the environment, `.env` files and flags still apply on every run. The key covers the text,
 * the `yaml` package's version and FORMAT (raised whenever the parse changes); the text is kept too, and must match.
 * At most MAX_ENTRIES files are kept; the oldest go first. An unwritable cache directory only means parsing every time.
 */

const CACHE_DIR = join(CACHE_ROOT, 'compose-yaml');
const FORMAT = 1;
const MAX_ENTRIES = 200;

export interface CachedParse {
  /** The file's text, compared on reading (the key is a short hash). */
  text?: string;
  documents: Record<string, unknown>[];
  /** Key positions: JSON pointer, line, column. */
  rows: [string, number, number][];
}

let yamlVersion: string | undefined;

function keyOf(text: string): string {
  yamlVersion ??= (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', 'yaml', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  return quickHash(`${FORMAT}\0${yamlVersion}`, text);
}

export function readParsed(text: string): CachedParse | undefined {
  try {
    const entry = JSON.parse(readFileSync(join(CACHE_DIR, `${keyOf(text)}.json`), 'utf8')) as CachedParse;
    return entry.text === text ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** Whether JSON keeps the value as it is (no .inf or .nan, which JSON would turn into null). */
function lossless(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(lossless);
  if (v !== null && typeof v === 'object') return Object.values(v).every(lossless);
  return true;
}

export function writeParsed(text: string, parse: CachedParse): void {
  if (!lossless(parse.documents)) return;
  try {
    writeCacheFile(join(CACHE_DIR, `${keyOf(text)}.json`), JSON.stringify({ ...parse, text }));
    const names = readdirSync(CACHE_DIR).filter((n) => n.endsWith('.json'));
    if (names.length > MAX_ENTRIES) {
      const byAge = names
        .map((n) => ({ n, t: statSync(join(CACHE_DIR, n)).mtimeMs }))
        .sort((a, b) => a.t - b.t)
        .slice(0, names.length - MAX_ENTRIES);
      for (const { n } of byAge) rmSync(join(CACHE_DIR, n), { force: true });
    }
  } catch {
    // A read-only install: files are parsed every time.
  }
}
