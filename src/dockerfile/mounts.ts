/**
 * `RUN --mount=type=cache|bind|tmpfs|secret|ssh,key=value,...`: parsing and validation with BuildKit's rules and
 * messages. The values may hold build variables, so a spec is parsed in full once it is expanded; the instruction
 * parser checks the specs with no `$` at once, so that a typo fails before anything runs.
 */
import { csvRecord } from '../util/csv.ts';
import { goParseBool } from '../util/strconv.ts';
import { ramInBytes } from '../util/units.ts';
import { LineParseError } from './line-parsers.ts';
import { suggestion } from './flags.ts';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface Mount {
  type: MountType;
  /** A stage name or index, or an image, to mount from ('' for the build context, or an empty dir for a cache). */
  from: string;
  source: string;
  target: string;
  readOnly: boolean;
  /** tmpfs size in bytes (0: the runtime's default). */
  sizeLimit: number;
  /** cache id (defaults to the target for caches), or secret/ssh id. */
  id: string;
  /** cache sharing ('' when not given: shared). */
  sharing: CacheSharing | '';
  /** secret/ssh: fail when the secret is not provided. */
  required: boolean;
  /** secret: the environment variable to expose it as. */
  env?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING: readonly CacheSharing[] = ['shared', 'private', 'locked'];
const KEYS = [
  'type',
  'from',
  'source',
  'target',
  'readonly',
  'id',
  'sharing',
  'required',
  'size',
  'mode',
  'uid',
  'gid',
  'src',
  'dst',
  'destination',
  'ro',
  'rw',
  'readwrite',
  'env',
];

/** Parses one `--mount` value; `expand` substitutes build variables in each value. Throws LineParseError. */
export function parseMount(spec: string, expand: (word: string) => string = (w) => w): Mount {
  const m: Mount = {
    type: 'bind',
    from: '',
    source: '',
    target: '',
    readOnly: false,
    sizeLimit: 0,
    id: '',
    sharing: '',
    required: false,
  };
  let roAuto = true;
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') {
        m.readOnly = true;
        roAuto = false;
      } else if (key === 'readwrite' || key === 'rw') {
        m.readOnly = false;
        roAuto = false;
      } else if (key === 'required') {
        if (m.type !== 'secret' && m.type !== 'ssh') {
          throw new LineParseError(`unexpected key '${key}' for mount type '${m.type}'`);
        }
        m.required = true;
      } else {
        throw new LineParseError(`invalid field '${field}' must be a key=value pair`);
      }
      continue;
    }
    const value = expand(field.slice(eq + 1));
    switch (key) {
      case 'type': {
        const t = value.toLowerCase() as MountType;
        if (!MOUNT_TYPES.includes(t)) {
          throw new LineParseError(`unsupported mount type "${value}"${suggestion(value, MOUNT_TYPES, true)}`);
        }
        m.type = t;
        break;
      }
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = parseBool(key, value);
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readOnly = !parseBool(key, value);
        roAuto = false;
        break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') {
          throw new LineParseError(`unexpected key '${key}' for mount type '${m.type}'`);
        }
        m.required = parseBool(key, value);
        break;
      case 'size':
        if (m.type !== 'tmpfs') throw new LineParseError(`unexpected key '${key}' for mount type '${m.type}'`);
        m.sizeLimit = sizeValue(value, key);
        break;
      case 'id':
        m.id = value;
        break;
      case 'sharing': {
        const s = value.toLowerCase() as CacheSharing;
        if (!SHARING.includes(s)) {
          throw new LineParseError(`unsupported sharing value "${value}"${suggestion(value, SHARING, true)}`);
        }
        m.sharing = s;
        break;
      }
      case 'mode':
        m.mode = parseUint(value, 8, 'mode');
        break;
      case 'uid':
        m.uid = parseUint(value, 10, 'uid');
        break;
      case 'gid':
        m.gid = parseUint(value, 10, 'gid');
        break;
      case 'env':
        m.env = value;
        break;
      default:
        throw new LineParseError(`unexpected key '${key}' in '${field}'${suggestion(key, KEYS, true)}`);
    }
  }
  if (m.type !== 'secret' && m.type !== 'ssh' && m.type !== 'cache') {
    for (const k of ['mode', 'uid', 'gid'] as const) {
      if (m[k] !== undefined) throw new LineParseError(`${k} not allowed for "${m.type}" type mounts`);
    }
  }
  if (roAuto) m.readOnly = m.type !== 'cache' && m.type !== 'tmpfs';
  if (m.type === 'secret') {
    if (m.from !== '') throw new LineParseError('secret mount should not have a from');
    if (m.sharing !== '') throw new LineParseError('secret mount should not define sharing');
    if (m.source === '' && m.target === '' && m.id === '') {
      throw new LineParseError('invalid secret mount. one of source, target required');
    }
    if (m.source !== '' && m.id !== '') throw new LineParseError("both source and id can't be set");
  }
  if (m.sharing !== '' && m.type !== 'cache') throw new LineParseError(`invalid cache sharing set for ${m.type} mount`);
  return m;
}

/** A `from=` value may not hold a variable (BuildKit needs the stage graph before expansion). */
export function checkMountFrom(spec: string): void {
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=');
    if (eq < 0 || field.slice(0, eq).toLowerCase() !== 'from') continue;
    const value = field.slice(eq + 1);
    const i = value.indexOf('$');
    if (i !== -1 && i !== value.length - 1) {
      throw new LineParseError("'from' doesn't support variable expansion, define alias stage instead");
    }
  }
}

/** The fields of a `--mount` spec: one record of CSV as Go reads it, errors worded as BuildKit's. */
export function csvFields(line: string): string[] {
  try {
    return csvRecord(line);
  } catch (err) {
    throw new LineParseError(`failed to parse csv mounts: ${(err as Error).message}`);
  }
}

/** Go's strconv.ParseBool, refused in BuildKit's words. */
function parseBool(key: string, value: string): boolean {
  try {
    return goParseBool(value);
  } catch {
    throw new LineParseError(`invalid value for ${key}: ${value}`);
  }
}

function parseUint(value: string, base: 8 | 10, key: string): number {
  const re = base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  const n = re.test(value) ? Number.parseInt(value, base) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) throw new LineParseError(`invalid value ${value} for ${key}`);
  return n;
}

/** A size (go-units RAMInBytes: `64m`, `1.5GiB`, `512` bytes), refused as `invalid value for KEY: VALUE`. */
function sizeValue(value: string, key: string): number {
  try {
    return ramInBytes(value);
  } catch {
    throw new LineParseError(`invalid value for ${key}: ${value}`);
  }
}
