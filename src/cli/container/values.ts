/**
 * Parsers for the values of `run`/`create`/`update` flags, with the docker CLI's semantics and error texts
 * (docker/go-units `RAMInBytes` and `ParseUlimit`, docker/cli `opts` and the compose volume-spec parser,
 * Go's `time.ParseDuration`). Each throws a plain Error whose message is docker's; the caller decides
 * whether that is a flag error (`invalid argument "…" for "--x" flag: …`) or a `docker: …` one.
 */

import type { Mount, RestartPolicy, Ulimit, DeviceMapping } from '../../client/index.ts';

const KiB = 1024;

/** Go's `strconv.ParseFloat(s, 64)` for the decimal forms docker accepts. */
export function parseGoFloat(text: string): number {
  if (!/^[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) && !/^[+-]?(inf|infinity|nan)$/i.test(text)) {
    throw new RangeError(`strconv.ParseFloat: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  return Number(text.replaceAll('_', '').replace(/^([+-]?)inf(inity)?$/i, '$1Infinity'));
}

/**
 * go-units `RAMInBytes`: `512m`, `1.5g`, `2GiB`, `100` (bytes), binary multiples; an optional space
 * between number and unit. Fractions are truncated toward zero, as Go's int64 conversion.
 */
export function ramInBytes(text: string): number {
  let sep = -1;
  for (let i = text.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(text[i] as string)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new RangeError(`invalid size: '${text}'`);
  const num = text[sep] !== ' ' ? text.slice(0, sep + 1) : text.slice(0, sep);
  let sfx = text.slice(sep + 1);
  let size = parseGoFloat(num);
  if (size < 0) throw new RangeError(`invalid size: '${text}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const bad = (): never => {
    throw new RangeError(`invalid suffix: '${sfx}'`);
  };
  if (sfx.length > 3) {
    sfx = sfx.toLowerCase();
    return bad();
  }
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) return bad();
    return Math.trunc(size);
  }
  const power = 'kmgtp'.indexOf(sfx[0] as string);
  if (power < 0) return bad();
  size *= KiB ** (power + 1);
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) return bad();
  return Math.trunc(size);
}

/** `--memory-swap`: like a size, or `-1` for unlimited. */
export function memSwapBytes(text: string): number {
  return text === '-1' ? -1 : ramInBytes(text);
}

/**
 * docker's `ParseCPUs`: a rational number (`1.5`, `3/2`, `1e-2`) times 1e9, which must come out whole.
 * Range checks (`--cpus -1`) are the engine's.
 */
export function parseCPUs(text: string): number {
  const rat = parseRational(text);
  if (rat === undefined) throw new RangeError(`failed to parse ${text} as a rational number`);
  const [num, den] = rat;
  const scaled = num * 1_000_000_000n;
  if (scaled % den !== 0n) throw new RangeError('value is too precise');
  return Number(scaled / den);
}

/** Go's `big.Rat.SetString`: `a/b`, or a decimal with an optional exponent, as numerator and denominator. */
function parseRational(text: string): [bigint, bigint] | undefined {
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(text);
  if (frac !== null) {
    const den = BigInt(frac[2] as string);
    if (den === 0n) return undefined;
    return [BigInt(frac[1] as string), den];
  }
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const digits = (m[2] ?? '') + (m[3] ?? '');
  let num = BigInt(digits === '' ? '0' : digits);
  if (m[1] === '-') num = -num;
  const exp = (m[4] === undefined ? 0 : Number(m[4])) - (m[3] ?? '').length;
  let den = 1n;
  if (exp > 0) num *= 10n ** BigInt(exp);
  else if (exp < 0) den = 10n ** BigInt(-exp);
  return [num, den];
}

const ULIMIT_NAMES = new Set([
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

/** go-units `ParseUlimit`: `name=soft[:hard]`, hard defaulting to soft. */
export function parseUlimit(text: string): Ulimit {
  const eq = text.indexOf('=');
  if (eq < 0) throw new RangeError(`invalid ulimit argument: ${text}`);
  const name = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (!ULIMIT_NAMES.has(name)) throw new RangeError(`invalid ulimit type: ${name}`);
  const parts = value.split(':');
  if (parts.length > 2)
    throw new RangeError(`too many limit value arguments - ${value}, can only have up to two, \`soft[:hard]\``);
  const hardPart = parts.length === 2 ? goInt64(parts[1] as string) : undefined;
  const soft = goInt64(parts[0] as string);
  const hard = hardPart ?? soft;
  if (hard !== -1) {
    if (soft === -1)
      throw new RangeError(
        `ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${hard}`,
      );
    if (soft > hard)
      throw new RangeError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  }
  return { Name: name, Hard: hard, Soft: soft };
}

/** Go's `strconv.ParseInt(s, 10, 64)`. */
export function goInt64(text: string): number {
  if (!/^[+-]?\d+$/.test(text))
    throw new RangeError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  const n = BigInt(text);
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n))
    throw new RangeError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: value out of range`);
  return Number(n);
}

/** Go's `strconv.Atoi`. */
export function goAtoi(text: string): number {
  if (!/^[+-]?\d+$/.test(text)) throw new RangeError(`strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}

/** Go's `strconv.ParseBool`. */
export function goParseBool(text: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new RangeError(`strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's `time.ParseDuration` in nanoseconds: `1h30m`, `1.5s`, `-2ms`, `0`. */
export function parseGoDuration(text: string): number {
  const invalid = (): never => {
    throw new RangeError(`time: invalid duration ${JSON.stringify(text)}`);
  };
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') invalid();
  let total = 0;
  while (s !== '') {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = num?.[1] ?? '';
    const frac = num?.[2];
    if (whole === '' && (frac === undefined || frac === '')) invalid();
    s = s.slice((num?.[0] ?? '').length);
    const unit = /^[^\d.]*/.exec(s)?.[0] ?? '';
    if (unit === '') throw new RangeError(`time: missing unit in duration ${JSON.stringify(text)}`);
    const scale = DURATION_UNITS[unit];
    if (scale === undefined)
      throw new RangeError(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`);
    s = s.slice(unit.length);
    total +=
      Number(whole === '' ? '0' : whole) * scale +
      (frac === undefined || frac === '' ? 0 : Number(`0.${frac}`) * scale);
  }
  if (total > 2 ** 63 - 1) invalid();
  return Math.round(neg ? -total : total);
}

/** docker's `ParseRestartPolicy`: `no`, `always`, `unless-stopped`, `on-failure[:N]` (names checked by the engine). */
export function parseRestartPolicy(text: string): RestartPolicy {
  if (text === '') return { Name: '', MaximumRetryCount: 0 };
  const colon = text.indexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  const count = colon < 0 ? '' : text.slice(colon + 1);
  if (colon >= 0 && name === '') throw new RangeError('invalid restart policy format: no policy provided before colon');
  let max = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count))
      throw new RangeError('invalid restart policy format: maximum retry count must be an integer');
    max = Number(count);
  }
  return { Name: name, MaximumRetryCount: max };
}

/**
 * docker's env-file format (`pkg/kvfile`): `KEY=value` lines taken literally, `KEY` alone takes the value
 * from `lookup` (and is dropped when unset), `#` comments and blank lines skipped, a UTF-8 BOM dropped.
 */
export function parseEnvFileText(text: string, lookup: ((key: string) => string | undefined) | undefined): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    let raw = (lines[i] as string).replace(/\r$/, '');
    if (i === 0) raw = raw.replace(/^\uFEFF/, '');
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === '') throw new RangeError(`no variable name on line '${line}'`);
    if (/[ \t]/.test(key)) throw new RangeError(`variable '${key}' contains whitespaces`);
    if (eq >= 0) {
      out.push(line);
      continue;
    }
    const value = lookup?.(line);
    if (value !== undefined) out.push(`${key}=${value}`);
  }
  return out;
}

/** docker's `ValidateEnv`: `KEY=value` as is; a bare `KEY` takes the value from `lookup` when set. */
export function validateEnv(value: string, lookup: (key: string) => string | undefined): string {
  const eq = value.indexOf('=');
  const key = eq < 0 ? value : value.slice(0, eq);
  if (key === '') throw new RangeError(`invalid environment variable: ${value}`);
  if (eq >= 0) return value;
  const found = lookup(key);
  return found === undefined ? value : `${key}=${found}`;
}

/** docker's `ValidateLabel`. */
export function validateLabel(value: string): string {
  const eq = value.indexOf('=');
  const key = (eq < 0 ? value : value.slice(0, eq)).replace(/^[ \t]+/, '');
  if (key === '') throw new RangeError(`invalid label '${value}': empty name`);
  if (/[ \t]/.test(key)) throw new RangeError(`label '${key}' contains whitespaces`);
  return value;
}

const SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** docker's `ValidateSysctl`: namespaced sysctls only. */
export function validateSysctl(value: string): string {
  const eq = value.indexOf('=');
  const key = eq < 0 ? '' : value.slice(0, eq);
  if (key !== '' && (SYSCTLS.has(key) || key.startsWith('net.') || key.startsWith('fs.mqueue.'))) return value;
  throw new RangeError(`sysctl '${value}' is not allowed`);
}

/** `-a`: one of stdin, stdout, stderr (any case), lower-cased. */
export function validateAttach(value: string): string {
  const s = value.toLowerCase();
  if (s === 'stdin' || s === 'stdout' || s === 'stderr') return s;
  throw new RangeError('valid streams are STDIN, STDOUT and STDERR');
}

/** Splits `a=b` pairs into a map, as docker's `ConvertKVStringsToMap`. */
export function kvToMap(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    out[eq < 0 ? v : v.slice(0, eq)] = eq < 0 ? '' : v.slice(eq + 1);
  }
  return out;
}

/** One line of CSV as Go's encoding/csv reads it (quotes with `""` escapes). */
export function parseCSVLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length)
          throw new RangeError(
            `parse error on line 1, column ${line.length + 1}: extraneous or missing " in quoted-field`,
          );
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i];
        i++;
      }
      if (i < line.length && line[i] !== ',')
        throw new RangeError(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
    } else {
      const end = line.indexOf(',', i);
      field = end < 0 ? line.slice(i) : line.slice(i, end);
      const quote = field.indexOf('"');
      if (quote >= 0)
        throw new RangeError(`parse error on line 1, column ${i + quote + 1}: bare " in non-quoted-field`);
      i = end < 0 ? line.length : end;
    }
    fields.push(field);
    if (i >= line.length) break;
    i++; // the comma
  }
  return fields;
}

/** Makes a relative `./x` path absolute against `cwd`, as docker does for bind sources. */
function absIfDotRelative(path: string, cwd: string): string {
  if (path.startsWith('/') || !path.startsWith('.')) return path;
  const parts = `${cwd}/${path}`.split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') out.pop();
    else out.push(p);
  }
  return `/${out.join('/')}`;
}

/** docker's `--mount` CSV syntax (`type=bind,source=/a,target=/b,readonly`), as `opts.MountOpt.Set`. */
export function parseMount(value: string, cwd: string): Mount {
  const fields = parseCSVLine(value);
  const mount: Mount = { Type: 'volume', Target: '' };
  let volumeOptions: NonNullable<Mount['VolumeOptions']> | undefined;
  let bindOptions: NonNullable<Mount['BindOptions']> | undefined;
  let tmpfsOptions: NonNullable<Mount['TmpfsOptions']> | undefined;
  let imageOptions: NonNullable<Mount['ImageOptions']> | undefined;
  const vol = (): NonNullable<Mount['VolumeOptions']> => {
    volumeOptions ??= { Labels: {} };
    volumeOptions.DriverConfig ??= {};
    return volumeOptions;
  };
  const bind = (): NonNullable<Mount['BindOptions']> => (bindOptions ??= {});
  const tmpfs = (): NonNullable<Mount['TmpfsOptions']> => (tmpfsOptions ??= {});
  const setOnMap = (target: Record<string, string>, v: string): void => {
    const eq = v.indexOf('=');
    const k = eq < 0 ? v : v.slice(0, eq);
    if (k !== '') target[k] = eq < 0 ? '' : v.slice(eq + 1);
  };
  const boolOf = (key: string, val: string, message = `invalid value for ${key}: ${val}`): boolean => {
    try {
      return goParseBool(val);
    } catch {
      throw new RangeError(message);
    }
  };
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') mount.ReadOnly = true;
      else if (key === 'volume-nocopy') vol().NoCopy = true;
      else if (key === 'bind-nonrecursive') bind().NonRecursive = true;
      else throw new RangeError(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type':
        mount.Type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        mount.Source = absIfDotRelative(val, cwd);
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.Target = val;
        break;
      case 'readonly':
      case 'ro':
        mount.ReadOnly = boolOf(key, val);
        break;
      case 'consistency':
        mount.Consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bind().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bind().NonRecursive = boolOf(key, val);
        break;
      case 'bind-recursive':
        if (val === 'disabled') bind().NonRecursive = true;
        else if (val === 'writable') bind().ReadOnlyNonRecursive = true;
        else if (val === 'readonly') bind().ReadOnlyForceRecursive = true;
        else if (val !== 'enabled')
          throw new RangeError(
            `invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`,
          );
        break;
      case 'volume-subpath':
        vol().Subpath = val;
        break;
      case 'volume-nocopy':
        vol().NoCopy = boolOf(key, val, `invalid value for volume-nocopy: ${val}`);
        break;
      case 'volume-label':
        setOnMap((vol().Labels ??= {}), val);
        break;
      case 'volume-driver':
        (vol().DriverConfig ??= {}).Name = val;
        break;
      case 'volume-opt': {
        const driver = (vol().DriverConfig ??= {});
        setOnMap((driver.Options ??= {}), val);
        break;
      }
      case 'image-subpath':
        (imageOptions ??= {}).Subpath = val;
        break;
      case 'tmpfs-size':
        try {
          tmpfs().SizeBytes = ramInBytes(val);
        } catch {
          throw new RangeError(`invalid value for ${key}: ${val}`);
        }
        break;
      case 'tmpfs-mode':
        if (!/^[0-7]+$/.test(val) || Number.parseInt(val, 8) > 0xffffffff)
          throw new RangeError(`invalid value for ${key}: ${val}`);
        tmpfs().Mode = Number.parseInt(val, 8);
        break;
      default:
        throw new RangeError(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (mount.Type === '') throw new RangeError('type is required');
  if (mount.Target === '') throw new RangeError('target is required');
  if (volumeOptions !== undefined && mount.Type !== 'volume')
    throw new RangeError(`cannot mix 'volume-*' options with mount type '${mount.Type}'`);
  if (imageOptions !== undefined && mount.Type !== 'image')
    throw new RangeError(`cannot mix 'image-*' options with mount type '${mount.Type}'`);
  if (bindOptions !== undefined && mount.Type !== 'bind')
    throw new RangeError(`cannot mix 'bind-*' options with mount type '${mount.Type}'`);
  if (tmpfsOptions !== undefined && mount.Type !== 'tmpfs')
    throw new RangeError(`cannot mix 'tmpfs-*' options with mount type '${mount.Type}'`);
  if (bindOptions?.ReadOnlyNonRecursive === true && mount.ReadOnly !== true) {
    throw new RangeError("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  }
  if (bindOptions?.ReadOnlyForceRecursive === true) {
    if (mount.ReadOnly !== true)
      throw new RangeError("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction");
    if (bindOptions.Propagation !== 'rprivate') {
      throw new RangeError(
        "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction",
      );
    }
  }
  if (volumeOptions !== undefined) mount.VolumeOptions = volumeOptions;
  if (bindOptions !== undefined) mount.BindOptions = bindOptions;
  if (tmpfsOptions !== undefined) mount.TmpfsOptions = tmpfsOptions;
  if (imageOptions !== undefined) mount.ImageOptions = imageOptions;
  return mount;
}

/** A `-v` spec as docker's compose loader splits it (the engine validates the rest). */
export interface VolumeSpec {
  type: 'bind' | 'volume';
  source: string;
  target: string;
  readOnly: boolean;
}

function isWindowsDrive(buffer: string, ch: string): boolean {
  return ch === ':' && [...buffer].length === 1 && /\p{L}/u.test(buffer);
}

/** docker/cli `loader.ParseVolume`: `[source:]target[:options]`. */
export function parseVolumeSpec(spec: string): VolumeSpec {
  const volume: VolumeSpec = { type: 'volume', source: '', target: '', readOnly: false };
  const chars = [...spec];
  if (chars.length === 0) throw new RangeError('invalid empty volume spec');
  if (spec.length <= 2) return { ...volume, target: spec };
  const END = '\u0000';
  let buffer = '';
  const populate = (ch: string): void => {
    if (buffer === '') throw new RangeError('empty section between colons');
    if (volume.source === '' && ch === END) {
      volume.target = buffer;
      return;
    }
    if (volume.source === '') {
      volume.source = buffer;
      return;
    }
    if (volume.target === '') {
      volume.target = buffer;
      return;
    }
    if (ch === ':') throw new RangeError('too many colons');
    for (const option of buffer.split(',')) {
      if (option === 'ro') volume.readOnly = true;
      else if (option === 'rw') volume.readOnly = false;
    }
  };
  const typeOf = (): 'bind' | 'volume' => {
    const s = volume.source;
    if (s === '') return 'volume';
    if ('./~'.includes(s[0] as string)) return 'bind';
    if ([...s].length === 1) return 'volume';
    if (s.startsWith('\\\\')) return 'bind';
    const first = [...s][0] as string;
    return isWindowsDrive(first, s[first.length] ?? '') ? 'bind' : 'volume';
  };
  for (const ch of [...chars, END]) {
    if (isWindowsDrive(buffer, ch)) {
      buffer += ch;
    } else if (ch === ':' || ch === END) {
      try {
        populate(ch);
      } catch (err) {
        throw new RangeError(`invalid spec: ${spec}: ${(err as Error).message}`);
      }
      buffer = '';
    } else {
      buffer += ch;
    }
  }
  volume.type = typeOf();
  return volume;
}

/**
 * docker's `-v` handling in `parse`: specs with a source become `Binds` (a `.`-relative bind source made
 * absolute against `cwd`); the rest stay anonymous volumes in `Config.Volumes`.
 */
export function splitVolumes(
  specs: readonly string[],
  cwd: string,
): { binds: string[]; volumes: Record<string, Record<string, never>> } {
  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const spec of specs) volumes[spec] = {};
  for (const spec of new Set(specs)) {
    const parsed = parseVolumeSpec(spec);
    if (parsed.source === '') continue;
    let bindSpec = spec;
    if (parsed.type === 'bind') {
      const colon = spec.indexOf(':');
      if (colon >= 0) bindSpec = absIfDotRelative(spec.slice(0, colon), cwd) + spec.slice(colon);
    }
    binds.push(bindSpec);
    delete volumes[spec];
  }
  return { binds, volumes };
}

function validDeviceMode(mode: string): boolean {
  if (mode === '') return false;
  const seen = new Set<string>();
  for (const c of mode) {
    if (!'rwm'.includes(c) || seen.has(c)) return false;
    seen.add(c);
  }
  return true;
}

function cleanPath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(part);
  }
  const joined = out.join('/');
  return abs ? `/${joined}` : joined === '' ? '.' : joined;
}

/** docker's `--device` check and split: `host[:container][:rwm]`. */
export function parseDevice(value: string): DeviceMapping {
  if ((value.match(/:/g) ?? []).length > 2) throw new RangeError(`bad format for path: ${value}`);
  const split = value.split(':');
  if (split[0] === '') throw new RangeError(`bad format for path: ${value}`);
  let containerPath: string;
  let checked: string;
  if (split.length === 1) {
    containerPath = split[0] as string;
    checked = cleanPath(containerPath);
  } else if (split.length === 2) {
    if (validDeviceMode(split[1] as string)) {
      containerPath = split[0] as string;
      checked = `${cleanPath(containerPath)}:${split[1]}`;
    } else {
      containerPath = split[1] as string;
      checked = `${split[0]}:${cleanPath(containerPath)}`;
    }
  } else {
    containerPath = split[1] as string;
    if (!validDeviceMode(split[2] as string)) throw new RangeError(`bad mode specified: ${split[2]}`);
    checked = value;
  }
  if (!containerPath.startsWith('/')) throw new RangeError(`${containerPath} is not an absolute path`);
  const arr = checked.split(':');
  let permissions = 'rwm';
  let dst = '';
  if (arr.length === 3) permissions = arr[2] as string;
  if (arr.length >= 2) {
    if (validDeviceMode(arr[1] as string)) permissions = arr[1] as string;
    else dst = arr[1] as string;
  }
  const src = arr[0] as string;
  return { PathOnHost: src, PathInContainer: dst === '' ? src : dst, CgroupPermissions: permissions };
}

/**
 * docker's `parseSecurityOpts`: `key=value` or `key:value`, `no-new-privileges` alone; a
 * `seccomp=FILE` profile is read (through `readFile`) and sent inline, compacted.
 */
export function parseSecurityOpts(opts: readonly string[], readFile: (path: string) => string): string[] {
  return opts.map((opt) => {
    let sep = opt.indexOf('=');
    if (sep < 0 && opt !== 'no-new-privileges') sep = opt.indexOf(':');
    const key = sep < 0 ? opt : opt.slice(0, sep);
    const value = sep < 0 ? '' : opt.slice(sep + 1);
    if ((sep < 0 || value === '') && key !== 'no-new-privileges')
      throw new RangeError(`Invalid --security-opt: ${JSON.stringify(opt)}`);
    if (key !== 'seccomp' || value === 'builtin' || value === 'unconfined') return opt;
    let text: string;
    try {
      text = readFile(value);
    } catch (err) {
      throw new RangeError(`opening seccomp profile (${value}) failed: ${goErrnoText(err, value)}`);
    }
    let compact: string;
    try {
      compact = JSON.stringify(JSON.parse(text));
    } catch (err) {
      throw new RangeError(`compacting json for seccomp profile (${value}) failed: ${(err as Error).message}`);
    }
    return `seccomp=${compact}`;
  });
}

/** How Go prints an *os.PathError for an errno from node:fs: `open /x: no such file or directory`. */
export function goErrnoText(err: unknown, path: string, op = 'open'): string {
  const code = (err as { code?: string }).code;
  const texts: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'not a directory',
  };
  const text = code !== undefined ? texts[code] : undefined;
  return text !== undefined ? `${op} ${path}: ${text}` : (err as Error).message;
}
