/**
 * The tar header format: field offsets, numeric and string fields, checksums and PAX records.
 * Everything here is synchronous and works on one 512-byte block or one extended-header body.
 */
import type { TarEntryType } from './types.ts';

export const BLOCK_SIZE = 512;

/** Field offsets and widths of a ustar header (old GNU and v7 headers share the first 257 bytes). */
export const NAME = 0,
  NAME_LEN = 100;
export const MODE = 100,
  MODE_LEN = 8;
export const UID = 108,
  UID_LEN = 8;
export const GID = 116,
  GID_LEN = 8;
export const SIZE = 124,
  SIZE_LEN = 12;
export const MTIME = 136,
  MTIME_LEN = 12;
export const CHKSUM = 148,
  CHKSUM_LEN = 8;
export const TYPEFLAG = 156;
export const LINKNAME = 157,
  LINKNAME_LEN = 100;
export const MAGIC = 257;
export const UNAME = 265,
  UNAME_LEN = 32;
export const GNAME = 297,
  GNAME_LEN = 32;
export const DEVMAJOR = 329,
  DEVMAJOR_LEN = 8;
export const DEVMINOR = 337,
  DEVMINOR_LEN = 8;
export const PREFIX = 345,
  PREFIX_LEN = 155;
/** star (Schily) headers keep a 131-byte prefix followed by atime/ctime, and "tar\0" at 508. */
export const STAR_PREFIX_LEN = 131;

/** Type flags with a meaning of their own in the reader. */
export const FLAG_PAX_LOCAL = 0x78; // 'x'
export const FLAG_PAX_GLOBAL = 0x67; // 'g'
export const FLAG_GNU_LONGNAME = 0x4c; // 'L'
export const FLAG_GNU_LONGLINK = 0x4b; // 'K'
export const FLAG_GNU_SPARSE = 0x53; // 'S'

/** Type flag byte → entry type. '\0' is resolved by the reader (a trailing '/' makes it a directory). */
export const TYPE_BY_FLAG: ReadonlyMap<number, TarEntryType> = new Map<number, TarEntryType>([
  [0x30, 'file'],
  [0x00, 'file'],
  [0x37, 'file'],
  [0x31, 'link'],
  [0x32, 'symlink'],
  [0x33, 'character-device'],
  [0x34, 'block-device'],
  [0x35, 'directory'],
  [0x36, 'fifo'],
]);

export const FLAG_BY_TYPE: Readonly<Record<TarEntryType, number>> = {
  file: 0x30,
  link: 0x31,
  symlink: 0x32,
  'character-device': 0x33,
  'block-device': 0x34,
  directory: 0x35,
  fifo: 0x36,
};

export type HeaderFormat = 'ustar' | 'star' | 'gnu' | 'v7';

/** Which dialect a header block is in, by its magic (and star's trailer). */
export function headerFormat(b: Uint8Array, off: number): HeaderFormat {
  const m = off + MAGIC;
  // "ustar" in both ustar ("ustar\0" "00") and old GNU ("ustar " " \0")
  if (b[m] !== 0x75 || b[m + 1] !== 0x73 || b[m + 2] !== 0x74 || b[m + 3] !== 0x61 || b[m + 4] !== 0x72) return 'v7';
  if (b[m + 5] === 0x20) return 'gnu';
  if (b[m + 5] !== 0) return 'v7';
  const t = off + 508;
  return b[t] === 0x74 && b[t + 1] === 0x61 && b[t + 2] === 0x72 && b[t + 3] === 0 ? 'star' : 'ustar';
}

/** Zero bytes needed after a body of `size` bytes to reach a block boundary. */
export function padding(size: number): number {
  const r = size % BLOCK_SIZE;
  return r === 0 ? 0 : BLOCK_SIZE - r;
}

export function isZeroBlock(b: Uint8Array, off: number): boolean {
  for (let i = off, end = off + BLOCK_SIZE; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * A numeric field: octal text (leading and trailing spaces and NULs ignored; empty is 0) or GNU base-256
 * (high bit of the first byte set; two's complement when the next bit is set too). NaN when malformed or
 * beyond Number.MAX_SAFE_INTEGER.
 */
export function parseNumeric(b: Uint8Array, off: number, len: number): number {
  const first = b[off]!;
  if (first & 0x80) return parseBase256(b, off, len);
  const end = off + len;
  let i = off;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
  }
  for (; i < end; i++) if (b[i] !== 0x20 && b[i] !== 0) return NaN;
  return v;
}

function parseBase256(b: Uint8Array, off: number, len: number): number {
  const inv = b[off]! & 0x40 ? 0xff : 0;
  let v = 0;
  for (let i = 0; i < len; i++) {
    let c = b[off + i]! ^ inv;
    if (i === 0) c &= 0x7f;
    if (v > (Number.MAX_SAFE_INTEGER - c) / 256) return NaN;
    v = v * 256 + c;
  }
  return inv ? -v - 1 : v;
}

/** A NUL-terminated (or field-filling) string field, decoded as UTF-8. */
export function parseString(b: Buffer, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && b[end] !== 0) end++;
  return end === off ? '' : b.toString('utf8', off, end);
}

/** The header checksum both ways tar writers have computed it: bytes as unsigned and as signed. */
export function headerChecksums(b: Uint8Array, off: number): { unsigned: number; signed: number } {
  let sum = 0;
  let high = 0; // bytes >= 0x80, which count 256 less when summed as signed
  for (let i = off, end = off + CHKSUM; i < end; i++) {
    const c = b[i]!;
    sum += c;
    if (c & 0x80) high++;
  }
  for (let i = off + CHKSUM + CHKSUM_LEN, end = off + BLOCK_SIZE; i < end; i++) {
    const c = b[i]!;
    sum += c;
    if (c & 0x80) high++;
  }
  sum += 0x20 * CHKSUM_LEN; // the checksum field itself counts as spaces
  return { unsigned: sum, signed: sum - 256 * high };
}

/** True when the header's stored checksum matches either way of summing it. */
export function verifyChecksum(b: Uint8Array, off: number): { ok: boolean; stored: number; computed: number } {
  const stored = parseNumeric(b, off + CHKSUM, CHKSUM_LEN);
  const { unsigned, signed } = headerChecksums(b, off);
  return { ok: stored === unsigned || stored === signed, stored, computed: unsigned };
}

/** Largest value an octal field of `len` bytes holds with a terminating NUL. */
export function maxOctal(len: number): number {
  return len === 8 ? 0o7777777 : len === 12 ? 0o77777777777 : 8 ** (len - 1) - 1;
}

/** Writes `value` as zero-padded octal digits followed by a NUL (fails if it does not fit: check first). */
export function writeOctal(b: Buffer, off: number, len: number, value: number): void {
  const digits = value.toString(8);
  const width = len - 1;
  let i = off;
  for (let pad = width - digits.length; pad > 0; pad--) b[i++] = 0x30;
  b.write(digits, i, 'latin1');
  b[off + width] = 0;
}

/** Writes an integer as GNU base-256 (big-endian two's complement with the high bit set). */
export function writeBase256(b: Buffer, off: number, len: number, value: number): void {
  let v = BigInt(value);
  if (v < 0n) v += 1n << BigInt(8 * len);
  for (let i = off + len - 1; i >= off; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  b[off] = b[off]! | 0x80;
}

/** Writes an integer field in octal when it fits, else in base-256. */
export function writeNumeric(b: Buffer, off: number, len: number, value: number): void {
  if (value >= 0 && value <= maxOctal(len)) writeOctal(b, off, len, value);
  else writeBase256(b, off, len, value);
}

/** Stores the checksum of a header whose checksum field is still blank: six octal digits, NUL, space. */
export function writeChecksum(b: Buffer, off: number): void {
  b.fill(0x20, off + CHKSUM, off + CHKSUM + CHKSUM_LEN);
  const { unsigned } = headerChecksums(b, off);
  writeOctal(b, off + CHKSUM, 7, unsigned);
  b[off + CHKSUM + 7] = 0x20;
}

/** PAX records as read: key → raw value bytes (a copy, safe to keep). */
export type PaxRecords = Map<string, Buffer>;

/**
 * Parses an extended header body: records "<len> <key>=<value>\n", where len counts the whole record.
 * Returns an error message instead of records when the body is malformed. Trailing NULs are ignored.
 */
export function parsePaxRecords(data: Buffer): PaxRecords | string {
  const records: PaxRecords = new Map();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) {
      for (let i = pos; i < data.length; i++) if (data[i] !== 0) return `unexpected NUL at byte ${i}`;
      break;
    }
    let len = 0;
    let i = pos;
    for (; i < data.length && data[i]! >= 0x30 && data[i]! <= 0x39; i++) {
      len = len * 10 + (data[i]! - 0x30);
      if (len > data.length) break;
    }
    if (i === pos || data[i] !== 0x20) return `bad length at byte ${pos}`;
    const end = pos + len;
    if (len > data.length - pos || data[end - 1] !== 0x0a) return `record at byte ${pos} overruns or lacks its newline`;
    const eq = data.indexOf(0x3d, i + 1);
    if (eq === -1 || eq >= end - 1 || eq === i + 1) return `record at byte ${pos} has no key=value`;
    const key = data.toString('utf8', i + 1, eq);
    records.set(key, Buffer.from(data.subarray(eq + 1, end - 1)));
    pos = end;
  }
  return records;
}

/** Encodes PAX records: each "<len> <key>=<value>\n" with len counting its own digits. */
export function encodePaxRecords(records: ReadonlyArray<readonly [string, Uint8Array | string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const k = Buffer.from(key, 'utf8');
    const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    const base = k.length + v.length + 3; // ' ', '=', '\n'
    let len = base + String(base).length;
    if (String(len).length !== String(base).length) len++;
    parts.push(Buffer.from(`${len} `, 'latin1'), k, Buffer.from('='), Buffer.from(v), Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** A PAX number: decimal, optionally signed and fractional ("1700000000.123456789"). NaN when malformed. */
export function parsePaxNumber(value: string, allowFraction: boolean): number {
  const re = allowFraction ? /^[+-]?(\d+(\.\d*)?|\.\d+)$/ : /^\d+$/;
  if (!re.test(value)) return NaN;
  const n = Number(value);
  return allowFraction || Number.isSafeInteger(n) ? n : NaN;
}

/** A PAX mtime: shortest exact decimal, never in exponent notation. */
export function formatPaxTime(t: number): string {
  const s = String(t);
  if (!/e/i.test(s)) return s;
  return t.toFixed(9).replace(/\.?0+$/, '');
}

/** Percent-decoding of LIBARCHIVE.xattr names (libarchive escapes '%', '=' and non-printables). */
export function decodeLibarchiveName(encoded: string): string {
  if (!encoded.includes('%')) return encoded;
  const bytes: number[] = [];
  const raw = Buffer.from(encoded, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x25 && i + 2 < raw.length && /^[0-9a-fA-F]{2}$/.test(raw.toString('latin1', i + 1, i + 3))) {
      bytes.push(parseInt(raw.toString('latin1', i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
