/**
 * The storage flags of `run`/`create` with the docker CLI's semantics and error texts: `--mount`'s CSV syntax
 * (docker/cli `opts.MountOpt`), `-v` as the compose loader splits it (`loader.ParseVolume`), and `--device`.
 * Each throws a plain Error whose message is docker's.
 */

import type { Mount, DeviceMapping } from '../../client/index.ts';
import { csvRecord } from '../../util/csv.ts';
import { goParseBool } from '../../util/strconv.ts';
import { ramInBytes } from '../../util/units.ts';

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
  const fields = csvRecord(value);
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
