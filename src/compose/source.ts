import { createRequire } from 'node:module';
import type { Document, Node, ScalarTag } from 'yaml';
import { ComposeFileError, dotted, type KeyPath, type SourcePos } from './errors.ts';
import { readParsed, writeParsed } from './parse-cache.ts';

/**
 * A compose file parsed from YAML with the position of every key kept, so that any later error (schema,
 * interpolation, a dependency on an unknown service) can name the file, line and key. YAML 1.2 (the `yaml`
 * package's core schema, as go-yaml v3 reads compose files), anchors and aliases, `<<` merge keys, several
 * documents in one file (each merged over the one before, as Docker Compose does).
 *
 * A file's parse (its documents and key positions) is cached by the hash of its text (parse-cache.ts): the `yaml`
 * package is loaded, and the text parsed, only when that text has not been seen before.
 */

const require = createRequire(import.meta.url);
let yamlModule: typeof import('yaml') | undefined;
const yaml = (): typeof import('yaml') => (yamlModule ??= require('yaml') as typeof import('yaml'));

/** Key paths written as JSON pointers (`/services/web/ports/0`), as ajv reports them. */
export function pointer(path: KeyPath): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/**
 * Where each key of one or more files was written; the last file to set a path wins. Positions are only read when
 * an error is reported, so rows from the parse cache and positions absorbed from other files are applied on the
 * first read, not when they arrive.
 */
export class Positions {
  readonly #map = new Map<string, SourcePos>();
  #pending: (() => void)[] = [];

  #settle(): Map<string, SourcePos> {
    if (this.#pending.length > 0) {
      const pending = this.#pending;
      this.#pending = [];
      for (const apply of pending) apply();
    }
    return this.#map;
  }

  set(path: KeyPath, pos: SourcePos): void {
    this.#settle().set(pointer(path), pos);
  }

  get(path: KeyPath): SourcePos | undefined {
    return this.#settle().get(pointer(path));
  }

  /** The position of the path, else of its nearest ancestor that has one. */
  find(path: KeyPath): SourcePos | undefined {
    const map = this.#settle();
    for (let n = path.length; n >= 0; n--) {
      const pos = map.get(pointer(path.slice(0, n)));
      if (pos !== undefined) return pos;
    }
    return undefined;
  }

  /** Copies another file's positions in (under `prefix`), overriding what is there. */
  absorb(other: Positions, prefix: KeyPath = [], from: KeyPath = []): void {
    const fromKey = pointer(from);
    const toKey = pointer(prefix);
    this.#pending.push(() => {
      for (const [key, pos] of other.#settle()) {
        if (key === fromKey || key.startsWith(`${fromKey}/`)) this.#map.set(toKey + key.slice(fromKey.length), pos);
      }
    });
  }

  /** The positions as rows (pointer, line, column), all in `file`; undefined when some are in another file. */
  rows(file: string): [string, number, number][] | undefined {
    const out: [string, number, number][] = [];
    for (const [key, pos] of this.#settle()) {
      if (pos.file !== file) return undefined;
      out.push([key, pos.line, pos.column]);
    }
    return out;
  }

  static fromRows(file: string, rows: readonly [string, number, number][]): Positions {
    const p = new Positions();
    p.#pending.push(() => {
      for (const [key, line, column] of rows) p.#map.set(key, { file, line, column });
    });
    return p;
  }

  /** An error at `path`, located by the nearest known position. */
  error(path: KeyPath, reason: string, options?: { cause?: unknown }): ComposeFileError {
    return new ComposeFileError(this.find(path), dotted(path), reason, options);
  }
}

export interface ParsedFile {
  file: string;
  /** One mapping per YAML document (usually one). */
  documents: Record<string, unknown>[];
  positions: Positions;
}

/**
 * Plain integers with a leading zero are octal (`mode: 0440`), as go-yaml reads them for Docker Compose; the YAML
 * 1.2 core schema alone would read 0440 as four hundred and forty.
 */
const LEGACY_OCTAL: ScalarTag = {
  identify: () => false,
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^0[0-7]+$/,
  resolve: (text: string) => Number.parseInt(text, 8),
};

/** Parses a compose file's text. Syntax errors, duplicate keys and a non-mapping top level are ComposeFileErrors. */
export function parseComposeYaml(file: string, text: string): ParsedFile {
  const cached = readParsed(text);
  if (cached !== undefined) {
    return { file, documents: cached.documents, positions: Positions.fromRows(file, cached.rows) };
  }
  const parsed = parseFresh(file, text);
  const rows = parsed.positions.rows(file);
  if (rows !== undefined) writeParsed(text, { documents: parsed.documents, rows });
  return parsed;
}

function parseFresh(file: string, text: string): ParsedFile {
  const { LineCounter, parseAllDocuments, isMap } = yaml();
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter,
    merge: true,
    uniqueKeys: true,
    prettyErrors: false,
    customTags: (tags) => [LEGACY_OCTAL, ...tags],
  });
  const positions = new Positions();
  const at = (offset: number): SourcePos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  const documents: Record<string, unknown>[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    const problem = doc.errors[0];
    if (problem !== undefined) {
      const pos = at(problem.pos[0]);
      throw new ComposeFileError(pos, '', `invalid YAML: ${firstLine(problem.message)}`);
    }
    if (doc.contents === null) continue;
    if (!isMap(doc.contents)) {
      throw new ComposeFileError(at(doc.contents.range?.[0] ?? 0), '', 'top-level object must be a mapping');
    }
    index(doc, doc.contents, [], positions, at, 0);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100_000 });
    } catch (err) {
      throw new ComposeFileError({ file }, '', `invalid YAML: ${(err as Error).message}`);
    }
    documents.push(value as Record<string, unknown>);
  }
  return { file, documents, positions };
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** Records the position of every key under `node`. */
function index(
  doc: Document,
  node: Node | null,
  path: (string | number)[],
  positions: Positions,
  at: (offset: number) => SourcePos,
  depth: number,
): void {
  const { isAlias, isMap, isScalar, isSeq } = yaml();
  if (node === null || depth > 64) return;
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (target !== undefined) index(doc, target as Node, path, positions, at, depth + 1);
    return;
  }
  if (isMap(node)) {
    const merges: Node[] = [];
    const explicit = new Set<string>();
    for (const pair of node.items) {
      const key = pair.key as Node | null;
      if (isScalar(key) && typeof key.value === 'symbol') {
        if (pair.value !== null) merges.push(pair.value as Node);
        continue;
      }
      const name = isScalar(key) ? String(key.value) : String(key);
      explicit.add(name);
      const child = [...path, name];
      const offset = key?.range?.[0];
      if (offset !== undefined) positions.set(child, at(offset));
      index(doc, pair.value as Node | null, child, positions, at, depth + 1);
    }
    // Keys merged in with `<<` are located where the anchored mapping wrote them, unless written here too.
    for (const m of merges) {
      const sources = isSeq(m) ? (m.items as Node[]) : [m];
      for (const src of sources) {
        const target = isAlias(src) ? (src.resolve(doc) as Node | undefined) : src;
        if (target === undefined || !isMap(target)) continue;
        for (const pair of target.items) {
          const key = pair.key as Node | null;
          const name = isScalar(key) ? String(key.value) : String(key);
          if (explicit.has(name)) continue;
          explicit.add(name);
          const child = [...path, name];
          const offset = key?.range?.[0];
          if (offset !== undefined) positions.set(child, at(offset));
          index(doc, pair.value as Node | null, child, positions, at, depth + 1);
        }
      }
    }
    return;
  }
  if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const n = item as Node | null;
      const offset = n?.range?.[0];
      if (offset !== undefined) positions.set([...path, i], at(offset));
      index(doc, n, [...path, i], positions, at, depth + 1);
    });
  }
}
