import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { ComposeFileError, dotted, type KeyPath } from './errors.ts';
import { quickHash } from './quick-hash.ts';
import type { Positions } from './source.ts';

/**
 * Validation against the Compose Specification's JSON Schema (vendor/compose-spec/compose-spec.json) with ajv.
 * Compiling the schema costs ~250 ms here, so the compiled validator is kept as ajv "standalone" code in
 * `node_modules/.cache/berth/` (keyed by the schema's and ajv's versions) and required from there (~10 ms);
 * when that directory cannot be written the schema is compiled in memory every time.
 */

const require = createRequire(import.meta.url);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SCHEMA_PATH = join(ROOT, 'vendor', 'compose-spec', 'compose-spec.json');
const CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'berth');

type Validate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
let compiled: Validate | undefined;

function validator(): Validate {
  if (compiled !== undefined) return compiled;
  const text = readFileSync(SCHEMA_PATH, 'utf8');
  const ajvVersion = (require('ajv/package.json') as { version: string }).version;
  const key = quickHash(text, ajvVersion);
  const cached = join(CACHE_DIR, `compose-spec-${key}.cjs`);
  try {
    compiled = require(cached) as Validate;
    return compiled;
  } catch {
    // Not cached yet: compile below.
  }
  const schema = JSON.parse(text) as Record<string, unknown>;
  // ajv knows draft-07 as http://json-schema.org/draft-07/schema#; the file names it over https.
  delete schema.$schema;
  const { Ajv } = require('ajv') as typeof import('ajv');
  const ajv = new Ajv({ strict: false, allErrors: true, code: { source: true } });
  const fn = ajv.compile(schema) as Validate;
  try {
    const standalone = (require('ajv/dist/standalone') as { default: (a: unknown, f: unknown) => string }).default;
    mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, standalone(ajv, fn));
    renameSync(tmp, cached);
  } catch {
    // A read-only install: validation still works, only slower to start.
  }
  compiled = fn;
  return fn;
}

/** Validates one (interpolated) document; the first error is located through `positions`. */
export function validateSchema(doc: unknown, positions: Positions): ComposeFileError | undefined {
  const validate = validator();
  if (validate(doc)) return undefined;
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
