/**
 * Decoding one tar header block and the extended headers (PAX 'x' and 'g', GNU 'L' and 'K') before it, with no
 * I/O: shared by the pull-based reader (`extract`) and the push-based one (`TarParser`).
 */
import { DataLossError, InvalidArgumentError } from '../errors.ts';
import {
  DEVMAJOR,
  DEVMAJOR_LEN,
  DEVMINOR,
  DEVMINOR_LEN,
  FLAG_GNU_LONGLINK,
  FLAG_GNU_LONGNAME,
  FLAG_GNU_SPARSE,
  FLAG_PAX_GLOBAL,
  FLAG_PAX_LOCAL,
  GID,
  GID_LEN,
  GNAME,
  GNAME_LEN,
  LINKNAME,
  LINKNAME_LEN,
  MODE,
  MODE_LEN,
  MTIME,
  MTIME_LEN,
  NAME,
  NAME_LEN,
  PREFIX,
  PREFIX_LEN,
  SIZE,
  SIZE_LEN,
  STAR_PREFIX_LEN,
  TYPEFLAG,
  TYPE_BY_FLAG,
  UID,
  UID_LEN,
  UNAME,
  UNAME_LEN,
  decodeLibarchiveName,
  headerFormat,
  isZeroBlock,
  parseNumeric,
  parsePaxNumber,
  parsePaxRecords,
  parseString,
  verifyChecksum,
  type PaxRecords,
} from './format.ts';
import type { TarHeader } from './types.ts';

/** Extended headers (PAX 'x', GNU 'L'/'K') larger than this are refused, as Go's archive/tar does. */
export const MAX_EXTENDED_HEADER = 1 << 20;

const SCHILY_XATTR = 'SCHILY.xattr.';
const LIBARCHIVE_XATTR = 'LIBARCHIVE.xattr.';

/** What the extended headers read so far say about the next real entry. */
export interface Pending {
  local: PaxRecords | undefined;
  longName: string | undefined;
  longLink: string | undefined;
}

export function noPending(): Pending {
  return { local: undefined, longName: undefined, longLink: undefined };
}

export function hasPending(p: Pending): boolean {
  return p.local !== undefined || p.longName !== undefined || p.longLink !== undefined;
}

/**
 * What a full 512-byte block at archive offset `at` is: the end-of-archive marker ('end'), an extended header
 * whose body of `size` bytes follows ('extended'), or a real entry's header ('entry'). A bad checksum, or a zero
 * block right after an extended header, is a DataLossError; an extended header over the limit an
 * InvalidArgumentError.
 */
export function classifyBlock(
  block: Buffer,
  at: number,
  pending: Pending,
): { kind: 'end' } | { kind: 'entry' } | { kind: 'extended'; flag: number; size: number } {
  if (isZeroBlock(block, 0)) {
    if (hasPending(pending))
      throw new DataLossError(`tar extended header before offset ${at} is followed by the end-of-archive marker`);
    return { kind: 'end' };
  }
  const sum = verifyChecksum(block, 0);
  if (!sum.ok) {
    throw new DataLossError(
      `tar header checksum mismatch at offset ${at}: stored ${Number.isNaN(sum.stored) ? 'unreadable' : sum.stored}, computed ${sum.computed}`,
    );
  }
  const flag = block[TYPEFLAG]!;
  if (flag === FLAG_PAX_LOCAL || flag === FLAG_PAX_GLOBAL || flag === FLAG_GNU_LONGNAME || flag === FLAG_GNU_LONGLINK) {
    const size = numeric(block, SIZE, SIZE_LEN, 'size', at);
    if (size > MAX_EXTENDED_HEADER) {
      throw new InvalidArgumentError(
        `tar extended header at offset ${at} is ${size} bytes, more than the ${MAX_EXTENDED_HEADER}-byte limit`,
      );
    }
    return { kind: 'extended', flag, size };
  }
  return { kind: 'entry' };
}

/** Applies an extended header's body (read whole) to the global records or to what is pending for the next entry. */
export function applyExtended(flag: number, data: Buffer, at: number, globals: PaxRecords, pending: Pending): void {
  if (flag === FLAG_PAX_GLOBAL) {
    mergePax(globals, parsePax(data, at));
    return;
  }
  if (flag === FLAG_PAX_LOCAL) {
    // empty values are kept here: they delete global records when the two are merged
    pending.local ??= new Map();
    for (const [k, v] of parsePax(data, at)) pending.local.set(k, v);
    return;
  }
  const nul = data.indexOf(0);
  const value = data.toString('utf8', 0, nul === -1 ? data.length : nul);
  if (flag === FLAG_GNU_LONGNAME) pending.longName = value;
  else pending.longLink = value;
}

function parsePax(data: Buffer, at: number): PaxRecords {
  const records = parsePaxRecords(data);
  if (typeof records === 'string') throw new DataLossError(`invalid PAX extended header at offset ${at}: ${records}`);
  return records;
}

/** Merges `records` into `into`: an empty value deletes the key (POSIX), so the header's own field applies. */
function mergePax(into: PaxRecords, records: PaxRecords): void {
  for (const [k, v] of records) {
    if (v.length === 0) into.delete(k);
    else into.set(k, v);
  }
}

function numeric(block: Buffer, off: number, len: number, field: string, at: number): number {
  const v = parseNumeric(block, off, len);
  if (Number.isNaN(v)) {
    throw new DataLossError(
      `invalid ${field} field ${JSON.stringify(block.toString('latin1', off, off + len))} in the tar header at offset ${at}`,
    );
  }
  return v;
}

/** A real entry's header block, with the global and pending extended records applied. */
export function decodeHeader(block: Buffer, at: number, globals: PaxRecords, pending: Pending): TarHeader {
  const format = headerFormat(block, 0);
  let name = parseString(block, NAME, NAME_LEN);
  if (format === 'ustar' || format === 'star') {
    const prefix = parseString(block, PREFIX, format === 'star' ? STAR_PREFIX_LEN : PREFIX_LEN);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const flag = block[TYPEFLAG]!;
  let type = TYPE_BY_FLAG.get(flag);
  const hasOwner = format !== 'v7';
  const header: TarHeader = {
    name,
    type: type ?? 'file',
    size: numeric(block, SIZE, SIZE_LEN, 'size', at),
    mode: numeric(block, MODE, MODE_LEN, 'mode', at) & 0o7777,
    uid: numeric(block, UID, UID_LEN, 'uid', at),
    gid: numeric(block, GID, GID_LEN, 'gid', at),
    uname: hasOwner ? parseString(block, UNAME, UNAME_LEN) : '',
    gname: hasOwner ? parseString(block, GNAME, GNAME_LEN) : '',
    mtime: numeric(block, MTIME, MTIME_LEN, 'mtime', at),
    linkname: parseString(block, LINKNAME, LINKNAME_LEN),
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    pax: {},
  };
  if (hasOwner && (type === 'character-device' || type === 'block-device')) {
    header.devmajor = numeric(block, DEVMAJOR, DEVMAJOR_LEN, 'devmajor', at);
    header.devminor = numeric(block, DEVMINOR, DEVMINOR_LEN, 'devminor', at);
  }

  if (globals.size > 0 || pending.local !== undefined) {
    const pax = new Map(globals);
    if (pending.local !== undefined) mergePax(pax, pending.local);
    if (pax.size > 0) applyPax(header, pax, at);
  }
  if (pending.longName !== undefined) header.name = pending.longName;
  if (pending.longLink !== undefined) header.linkname = pending.longLink;

  if (flag === FLAG_GNU_SPARSE || Object.keys(header.pax).some((k) => k.startsWith('GNU.sparse.'))) {
    throw new InvalidArgumentError(
      `unsupported tar entry type "S" for "${header.name}": GNU sparse files are not supported (at offset ${at})`,
    );
  }
  if (type === undefined) {
    throw new InvalidArgumentError(
      `unsupported tar entry type ${JSON.stringify(String.fromCharCode(flag))} for "${header.name}" (at offset ${at})`,
    );
  }
  if (flag === 0 && header.name.endsWith('/')) type = header.type = 'directory';
  if (type !== 'file') header.size = 0;
  if (type !== 'link' && type !== 'symlink') header.linkname = '';
  if (header.size < 0) throw new DataLossError(`negative size ${header.size} in the tar header at offset ${at}`);
  return header;
}

/** Applies PAX records over the header's own fields and records them in `header.pax`. */
function applyPax(header: TarHeader, records: PaxRecords, at: number): void {
  const entries: Array<[string, string]> = [];
  for (const [key, raw] of records) {
    const value = raw.toString('utf8');
    entries.push([key, value]);
    switch (key) {
      case 'path':
        header.name = value;
        break;
      case 'linkpath':
        header.linkname = value;
        break;
      case 'uname':
        header.uname = value;
        break;
      case 'gname':
        header.gname = value;
        break;
      case 'size':
      case 'uid':
      case 'gid':
      case 'mtime':
      case 'SCHILY.devmajor':
      case 'SCHILY.devminor': {
        const n = parsePaxNumber(value, key === 'mtime');
        if (Number.isNaN(n))
          throw new DataLossError(
            `invalid PAX ${key} ${JSON.stringify(value)} in the extended header before offset ${at}`,
          );
        if (key === 'SCHILY.devmajor') header.devmajor = n;
        else if (key === 'SCHILY.devminor') header.devminor = n;
        else header[key] = n;
        break;
      }
      default:
        if (key.startsWith(SCHILY_XATTR)) header.xattrs.set(key.slice(SCHILY_XATTR.length), raw);
        else if (key.startsWith(LIBARCHIVE_XATTR)) {
          header.xattrs.set(decodeLibarchiveName(key.slice(LIBARCHIVE_XATTR.length)), Buffer.from(value, 'base64'));
        }
    }
  }
  // fromEntries defines own properties, so a key such as "__proto__" is kept as data
  header.pax = Object.fromEntries(entries);
}
