import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import type { ErrorObject } from 'ajv';
import { ComposeFileError, dotted, type KeyPath } from './errors.ts';
import type { Positions } from './source.ts';
import { CACHE_DIR, dropStale, ROOT, writeCacheFile } from './cache-dir.ts';
import { keepValid, knownValid, verdictText } from './valid-cache.ts';

/**
 * Validation against the Compose Specification's JSON Schema (vendor/compose-spec/compose-spec.json) with ajv.
 * Compiling the schema costs ~250 ms here, so the compiled validator is kept as ajv "standalone" code in
 * `node_modules/.cache/berth/` (keyed by the schema file's size and modification time and ajv's version) and run
 * from there; when that directory cannot be written the schema is compiled in memory every time. The standalone
 * code is ~400 KB of functions that V8 compiles on their first call (~20 ms of every run, which Node's compile
 * cache does not keep: it is made before the code runs), so V8's code cache of it is also kept, made after the
 * first validation, when it holds the compiled validators. Only the current key's files are kept: writing a new
 * validator or code cache removes the `compose-spec-*` files of other keys (an older schema, ajv or Node).
 */

/** The names in the cache directory that belong to the validator (`dropStale`'s family). */
export const VALIDATOR_PREFIX = 'compose-spec-';

const require = createRequire(import.meta.url);
export const SCHEMA_PATH = join(ROOT, 'vendor', 'compose-spec', 'compose-spec.json');

type Validate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
let compiled: Validate | undefined;
/** Writes V8's code cache of the standalone validator, once it has run (see `standalone`). */
let keepCodeCache: (() => void) | undefined;

/**
 * The standalone validator at `path`, run through node:vm with V8's code cache of it when there is one; undefined
 * when there is no such file. Without a usable code cache, `keepCodeCache` writes one after the first validation.
 */
function standalone(path: string): Validate | undefined {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const codePath = `${path}.${process.version}.v8`;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(codePath);
  } catch {
    // Not made yet.
  }
  const vm = process.getBuiltinModule('node:vm');
  let script: import('node:vm').Script;
  const mod = { exports: {} as unknown };
  try {
    script = new vm.Script(`(function (exports, require, module) {${source}\n})`, {
      filename: path,
      ...(cachedData !== undefined ? { cachedData } : {}),
    });
    (script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: { exports: unknown }) => void)(
      mod.exports,
      require,
      mod,
    );
  } catch {
    // A damaged file: compiled again (and rewritten) by the caller.
    return undefined;
  }
  if (typeof mod.exports !== 'function') return undefined;
  if (cachedData === undefined || script.cachedDataRejected) {
    keepCodeCache = () => {
      try {
        writeCacheFile(codePath, script.createCachedData());
        dropStale(CACHE_DIR, VALIDATOR_PREFIX, [basename(path), basename(codePath)]);
      } catch {
        // A read-only install: the validator is compiled on each run.
      }
    };
  }
  return mod.exports as Validate;
}

let key: string | undefined;

/** What the compiled validator and its verdicts are kept under: the schema file's size and time, ajv's version. */
function schemaKey(): string {
  if (key !== undefined) return key;
  const st = statSync(SCHEMA_PATH);
  const ajvVersion = (require('ajv/package.json') as { version: string }).version;
  key = `${st.size}-${Math.trunc(st.mtimeMs)}-${ajvVersion}`;
  return key;
}

function validator(): Validate {
  if (compiled !== undefined) return compiled;
  const cached = join(CACHE_DIR, `${VALIDATOR_PREFIX}${schemaKey()}.cjs`);
  compiled = standalone(cached);
  if (compiled !== undefined) return compiled;
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
  // ajv knows draft-07 as http://json-schema.org/draft-07/schema#; the file names it over https.
  delete schema.$schema;
  const { Ajv } = require('ajv') as typeof import('ajv');
  const ajv = new Ajv({ strict: false, allErrors: true, code: { source: true } });
  const fn = ajv.compile(schema) as Validate;
  try {
    const code = (require('ajv/dist/standalone') as { default: (a: unknown, f: unknown) => string }).default;
    writeCacheFile(cached, code(ajv, fn));
    dropStale(CACHE_DIR, VALIDATOR_PREFIX, [basename(cached)]);
  } catch {
    // A read-only install: validation still works, only slower to start.
  }
  compiled = fn;
  return fn;
}

/**
 * Validates one (interpolated) document; the first error is located through `positions`. A document found valid
 * before under the same schema is not validated again (valid-cache.ts).
 */
export function validateSchema(doc: unknown, positions: Positions): ComposeFileError | undefined {
  const text = verdictText(doc);
  if (text !== undefined && knownValid(schemaKey(), text)) return undefined;
  const validate = validator();
  const valid = validate(doc);
  if (keepCodeCache !== undefined) {
    keepCodeCache();
    keepCodeCache = undefined;
  }
  if (valid) {
    if (text !== undefined) keepValid(schemaKey(), text);
    return undefined;
  }
  const err = pickError(validate.errors ?? []);
  if (err === undefined) return positions.error([], 'does not match the Compose Specification');
  return describe(err, positions);
}

function decodePath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

const RANK: Record<string, number> = { additionalProperties: 0, required: 1, enum: 2, const: 2, type: 3 };

/** The most telling error: the deepest one, preferring unknown keys, then missing ones, then wrong types. */
function pickError(errors: ErrorObject[]): ErrorObject | undefined {
  const useful = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  const pool = useful.length > 0 ? useful : errors;
  const depth = (e: ErrorObject): number =>
    decodePath(e.instancePath).length + (e.keyword === 'additionalProperties' ? 1 : 0);
  return [...pool].sort((a, b) => depth(b) - depth(a) || (RANK[a.keyword] ?? 9) - (RANK[b.keyword] ?? 9))[0];
}

function typeName(t: string): string {
  return t === 'integer' ? 'an integer' : t === 'array' ? 'a list' : t === 'object' ? 'a mapping' : `a ${t}`;
}

function describe(err: ErrorObject, positions: Positions): ComposeFileError {
  const path: KeyPath = decodePath(err.instancePath);
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const where = [...path, key];
      const what =
        path.length === 1 && ['services', 'networks', 'volumes', 'secrets', 'configs'].includes(String(path[0]))
          ? `invalid name "${key}": only [a-zA-Z0-9._-] are allowed`
          : `additional property "${key}" is not allowed`;
      return new ComposeFileError(positions.find(where), dotted(path), what);
    }
    case 'required':
      return positions.error(path, `property "${String(p.missingProperty)}" is required`);
    case 'type': {
      const types = Array.isArray(p.type) ? (p.type as string[]) : String(p.type).split(',');
      return positions.error(path, `must be ${types.map(typeName).join(' or ')}`);
    }
    case 'enum':
      return positions.error(
        path,
        `must be one of ${((p.allowedValues as unknown[]) ?? []).map((v) => JSON.stringify(v)).join(', ')}`,
      );
    case 'uniqueItems': {
      const [a, b] = [Number(p.i), Number(p.j)].sort((x, y) => x - y);
      return positions.error(path, `has duplicate items (items ${a} and ${b} are the same)`);
    }
    case 'pattern':
      return positions.error(path, `must match the pattern ${String(p.pattern)}`);
    default:
      return positions.error(path, err.message ?? 'is not valid');
  }
}
