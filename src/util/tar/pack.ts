import { InvalidArgumentError } from '../errors.ts';
import { AbortWatch } from './abort.ts';
import {
  BLOCK_SIZE,
  DEVMAJOR,
  DEVMAJOR_LEN,
  DEVMINOR,
  DEVMINOR_LEN,
  FLAG_BY_TYPE,
  FLAG_PAX_LOCAL,
  GID,
  GID_LEN,
  GNAME,
  GNAME_LEN,
  LINKNAME,
  LINKNAME_LEN,
  MAGIC,
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
  TYPEFLAG,
  UID,
  UID_LEN,
  UNAME,
  UNAME_LEN,
  encodePaxRecords,
  formatPaxTime,
  maxOctal,
  padding,
  parsePaxNumber,
  writeChecksum,
  writeNumeric,
  writeOctal,
} from './format.ts';
import type { PackEntry, TarEntryType } from './types.ts';

/**
 * Hands out zero-filled buffers carved from larger slabs, as Buffer.allocUnsafe's pool does for small sizes:
 * one allocation per many headers. A region is never handed out twice, so callers may keep what they get.
 */
class Slab {
  static readonly SIZE = 64 * 1024;
  #buf = Buffer.allocUnsafeSlow(0);
  #off = 0;
  take(n: number): Buffer {
    if (n > Slab.SIZE / 4) return Buffer.alloc(n);
    if (this.#off + n > this.#buf.length) {
      this.#buf = Buffer.allocUnsafeSlow(Slab.SIZE);
      this.#off = 0;
    }
    const out = this.#buf.subarray(this.#off, this.#off + n).fill(0);
    this.#off += n;
    return out;
  }
}

/** Bodies given as a Uint8Array up to this size go out in the same chunk as their header. */
const INLINE_BODY_MAX = 16 * 1024;

/** PAX keys pack() derives from header fields; a caller's `header.pax` values for these are ignored. */
const DERIVED_PAX_KEYS = new Set([
  'path',
  'linkpath',
  'size',
  'uid',
  'gid',
  'uname',
  'gname',
  'mtime',
  'SCHILY.devmajor',
  'SCHILY.devminor',
]);

/** A header with every field decided and checked. */
interface ResolvedHeader {
  name: string;
  type: TarEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: ReadonlyMap<string, Uint8Array>;
  pax: Readonly<Record<string, string>>;
}

/**
 * Writes a tar stream: a ustar header per entry, preceded by a PAX extended header when a name, link
 * target, user or group name is not ASCII or does not fit, a number does not fit in octal (or mtime is
 * fractional or negative), or the entry has xattrs (as 'SCHILY.xattr.<name>'); ends with two zero blocks.
 * Numbers that do not fit are also written in GNU base-256 in the ustar field (device numbers only there).
 *
 * Defaults: type 'file' ('directory' when the name ends in '/'), mode 0o644 (0o755 for directories), uid and
 * gid 0, mtime 0, size the body's length. A streamed body needs `header.size` and must yield exactly that
 * many bytes (InvalidArgumentError otherwise). Mode bits above 07777 (such as stat's file-type bits) are
 * dropped. Body chunks are passed on as they are, not copied. CanceledError when `signal` aborts.
 */
export async function* pack(
  entries: AsyncIterable<PackEntry> | Iterable<PackEntry>,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<Buffer> {
  const watch = new AbortWatch(options.signal, 'tar packing');
  const it =
    Symbol.asyncIterator in entries
      ? entries[Symbol.asyncIterator]()
      : (entries as Iterable<PackEntry>)[Symbol.iterator]();
  let done = false;
  const packer = new TarPacker();
  try {
    for (;;) {
      const r = await watch.wait(Promise.resolve(it.next()));
      if (r.done) {
        done = true;
        break;
      }
      const { header, body } = r.value;
      const { head, inline, size } = packer.head(r.value);
      yield head;
      if (body instanceof Uint8Array) {
        if (!inline) yield asBuffer(body);
      } else if (body !== undefined) yield* streamBody(body, header.name, size, watch);
    }
    yield packer.end();
  } finally {
    if (!done) stopIterator(it);
    watch.dispose();
  }
}

/**
 * `pack()` one entry at a time and synchronously, for a caller that has each body in memory (or streams it itself):
 * the bytes `pack()` writes (it packs through one), without an async step per entry. `head` gives the bytes that go
 * before an entry's body (the previous body's padding, its headers, a small body inline); when `inline` is false the
 * caller passes on the body's `size` bytes itself, and the padding after them comes with the next head or with `end`.
 */
export class TarPacker {
  #owed = 0;
  readonly #slab = new Slab();

  head(entry: PackEntry): { head: Buffer; inline: boolean; size: number } {
    const h = resolveHeader(entry);
    const body = entry.body;
    const inline = body instanceof Uint8Array && body.length <= INLINE_BODY_MAX ? body : undefined;
    const head = encodeHeaders(h, this.#owed, inline, this.#slab);
    this.#owed = inline === undefined ? padding(h.size) : 0;
    return { head, inline: inline !== undefined || h.size === 0, size: h.size };
  }

  /** The tar's last bytes: the last body's padding and two zero blocks. */
  end(): Buffer {
    const out = Buffer.alloc(this.#owed + 2 * BLOCK_SIZE);
    this.#owed = 0;
    return out;
  }
}

async function* streamBody(
  body: AsyncIterable<Uint8Array>,
  name: string,
  size: number,
  watch: AbortWatch,
): AsyncGenerator<Buffer> {
  const it = body[Symbol.asyncIterator]();
  let n = 0;
  let done = false;
  try {
    for (;;) {
      const r = await watch.wait(it.next());
      if (r.done) {
        done = true;
        break;
      }
      const chunk = r.value;
      if (!(chunk instanceof Uint8Array))
        throw new TypeError(`the body of tar entry "${name}" yielded ${typeof chunk}, not a Uint8Array`);
      n += chunk.length;
      if (n > size) {
        throw new InvalidArgumentError(`the body of tar entry "${name}" is longer than its header size ${size}`);
      }
      if (chunk.length > 0) yield asBuffer(chunk);
    }
  } finally {
    if (!done) stopIterator(it);
  }
  if (n < size) {
    throw new InvalidArgumentError(
      `the body of tar entry "${name}" ended after ${n} bytes, but its header size is ${size}`,
    );
  }
}

/**
 * Tells a source we stopped early. Not awaited: a generator stuck in an await (say, after an abort) would
 * never answer, and its cleanup failing must not hide the error that stopped packing.
 */
function stopIterator(it: Iterator<unknown> | AsyncIterator<unknown>): void {
  try {
    Promise.resolve(it.return?.()).catch(() => {});
  } catch {
    // nothing more to release
  }
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function checkInteger(name: string, field: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(`invalid ${field} ${String(value)} for tar entry "${name}"`);
  }
  return value;
}

function checkString(name: string, field: string, value: string): string {
  if (typeof value !== 'string' || value.includes('\0')) {
    throw new InvalidArgumentError(`invalid ${field} ${JSON.stringify(value)} for tar entry "${name}"`);
  }
  return value;
}

function resolveHeader(entry: PackEntry): ResolvedHeader {
  const h = entry.header;
  const name = h.name;
  if (typeof name !== 'string' || name === '' || name.includes('\0')) {
    throw new InvalidArgumentError(`invalid tar entry name ${JSON.stringify(name)}`);
  }
  const type = h.type ?? (name.endsWith('/') ? 'directory' : 'file');
  if (!Object.hasOwn(FLAG_BY_TYPE, type))
    throw new InvalidArgumentError(`invalid tar entry type "${type}" for "${name}"`);

  const body = entry.body;
  let size = 0;
  if (type === 'file') {
    if (body instanceof Uint8Array) {
      if (h.size !== undefined && h.size !== body.length) {
        throw new InvalidArgumentError(
          `tar entry "${name}" has header size ${h.size} but a body of ${body.length} bytes`,
        );
      }
      size = body.length;
    } else if (body !== undefined) {
      if (h.size === undefined)
        throw new InvalidArgumentError(`tar entry "${name}" has a streamed body but no header size`);
      size = checkInteger(name, 'size', h.size);
    } else {
      size = checkInteger(name, 'size', h.size ?? 0);
      if (size !== 0) throw new InvalidArgumentError(`tar entry "${name}" has header size ${size} but no body`);
    }
  } else if ((h.size !== undefined && h.size !== 0) || (body instanceof Uint8Array && body.length > 0)) {
    // a streamed body is allowed (extract() gives every entry one) but must turn out empty
    throw new InvalidArgumentError(`tar entry "${name}" of type ${type} cannot have a body`);
  }

  const linkname = checkString(name, 'linkname', h.linkname ?? '');
  if ((type === 'link' || type === 'symlink') && linkname === '') {
    throw new InvalidArgumentError(`tar ${type} "${name}" has no linkname`);
  }
  const mtime = h.mtime ?? 0;
  if (!Number.isFinite(mtime)) throw new InvalidArgumentError(`invalid mtime ${String(mtime)} for tar entry "${name}"`);
  const xattrs = h.xattrs ?? new Map<string, Buffer>();
  for (const [key, value] of xattrs) {
    if (key === '' || key.includes('=') || key.includes('\0') || !(value instanceof Uint8Array)) {
      throw new InvalidArgumentError(`invalid xattr ${JSON.stringify(key)} for tar entry "${name}"`);
    }
  }
  const pax = h.pax ?? {};
  for (const key of Object.keys(pax)) {
    if (key === '' || key.includes('=') || key.includes('\0') || typeof pax[key] !== 'string') {
      throw new InvalidArgumentError(`invalid PAX record ${JSON.stringify(key)} for tar entry "${name}"`);
    }
  }
  return {
    name,
    type,
    size,
    mode: checkInteger(name, 'mode', h.mode ?? (type === 'directory' ? 0o755 : 0o644)) & 0o7777,
    uid: checkInteger(name, 'uid', h.uid ?? 0),
    gid: checkInteger(name, 'gid', h.gid ?? 0),
    uname: checkString(name, 'uname', h.uname ?? ''),
    gname: checkString(name, 'gname', h.gname ?? ''),
    mtime,
    linkname: type === 'link' || type === 'symlink' ? linkname : '',
    devmajor: checkInteger(name, 'devmajor', h.devmajor ?? 0),
    devminor: checkInteger(name, 'devminor', h.devminor ?? 0),
    xattrs,
    pax,
  };
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The longest prefix of `s`'s UTF-8 bytes that fits in `max` bytes without splitting a character. */
function truncateUtf8(s: string, max: number): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return b;
  let end = max;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

/** Splits an ASCII name into ustar prefix and name fields, or returns undefined when it cannot. */
function splitName(name: string): [prefix: string, name: string] | undefined {
  if (name.length <= NAME_LEN) return ['', name];
  if (name.length > PREFIX_LEN + 1 + NAME_LEN) return undefined;
  for (
    let i = name.indexOf('/', name.length - NAME_LEN - 1);
    i !== -1 && i <= PREFIX_LEN;
    i = name.indexOf('/', i + 1)
  ) {
    if (i > 0 && i < name.length - 1) return [name.slice(0, i), name.slice(i + 1)];
  }
  return undefined;
}

/**
 * The bytes that go before an entry's body: `owed` zero bytes finishing the previous body, a PAX header
 * and its records when needed, the ustar header, and an inline body with its padding.
 */
function encodeHeaders(h: ResolvedHeader, owed: number, inline: Uint8Array | undefined, slab: Slab): Buffer {
  const records: Array<[string, Uint8Array | string]> = [];
  for (const [key, value] of Object.entries(h.pax)) {
    if (!DERIVED_PAX_KEYS.has(key) && !key.startsWith('SCHILY.xattr.') && !key.startsWith('LIBARCHIVE.xattr.')) {
      records.push([key, value]);
    }
  }

  const split = isAscii(h.name) ? splitName(h.name) : undefined;
  if (split === undefined) records.push(['path', h.name]);
  const linkFits = isAscii(h.linkname) && h.linkname.length <= LINKNAME_LEN;
  if (!linkFits) records.push(['linkpath', h.linkname]);
  const unameFits = isAscii(h.uname) && h.uname.length <= UNAME_LEN;
  if (!unameFits) records.push(['uname', h.uname]);
  const gnameFits = isAscii(h.gname) && h.gname.length <= GNAME_LEN;
  if (!gnameFits) records.push(['gname', h.gname]);
  if (h.uid > maxOctal(UID_LEN)) records.push(['uid', String(h.uid)]);
  if (h.gid > maxOctal(GID_LEN)) records.push(['gid', String(h.gid)]);
  if (h.size > maxOctal(SIZE_LEN)) records.push(['size', String(h.size)]);
  if (!Number.isInteger(h.mtime) || h.mtime < 0 || h.mtime > maxOctal(MTIME_LEN)) {
    // a record read by extract() may carry nanoseconds a number cannot: keep its text while it still agrees
    const given = h.pax.mtime;
    const exact = given !== undefined && parsePaxNumber(given, true) === h.mtime;
    records.push(['mtime', exact ? given : formatPaxTime(h.mtime)]);
  }
  for (const [key, value] of h.xattrs) records.push([`SCHILY.xattr.${key}`, value]);

  const paxData = records.length > 0 ? encodePaxRecords(records) : undefined;
  const paxLen = paxData === undefined ? 0 : BLOCK_SIZE + paxData.length + padding(paxData.length);
  const inlineLen = inline === undefined ? 0 : inline.length + padding(inline.length);
  const out = slab.take(owed + paxLen + BLOCK_SIZE + inlineLen);
  let off = owed;

  if (paxData !== undefined) {
    const base = h.name.replace(/\/+$/, '').split('/').pop() ?? '';
    writeUstar(out, off, {
      name: truncateUtf8(`PaxHeaders/${base}`, NAME_LEN),
      prefix: undefined,
      flag: FLAG_PAX_LOCAL,
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: paxData.length,
      mtime: 0,
      linkname: undefined,
      uname: undefined,
      gname: undefined,
      devmajor: 0,
      devminor: 0,
    });
    paxData.copy(out, off + BLOCK_SIZE);
    off += paxLen;
  }

  writeUstar(out, off, {
    name: split === undefined ? truncateUtf8(h.name, NAME_LEN) : split[1],
    prefix: split?.[0],
    flag: FLAG_BY_TYPE[h.type],
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime: Math.floor(h.mtime),
    linkname: linkFits ? h.linkname : truncateUtf8(h.linkname, LINKNAME_LEN),
    uname: unameFits ? h.uname : truncateUtf8(h.uname, UNAME_LEN),
    gname: gnameFits ? h.gname : truncateUtf8(h.gname, GNAME_LEN),
    devmajor: h.devmajor,
    devminor: h.devminor,
  });
  if (inline !== undefined) out.set(inline, off + BLOCK_SIZE);
  return out;
}

interface UstarFields {
  name: string | Buffer;
  prefix: string | undefined;
  flag: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string | Buffer | undefined;
  uname: string | Buffer | undefined;
  gname: string | Buffer | undefined;
  devmajor: number;
  devminor: number;
}

function putString(b: Buffer, off: number, value: string | Buffer | undefined): void {
  if (value === undefined || value.length === 0) return;
  if (typeof value === 'string') b.write(value, off, 'utf8');
  else value.copy(b, off);
}

/** Writes one ustar header block at `off` of a zero-filled buffer. Fields must already fit. */
function writeUstar(b: Buffer, off: number, f: UstarFields): void {
  putString(b, off + NAME, f.name);
  writeOctal(b, off + MODE, MODE_LEN, f.mode);
  writeNumeric(b, off + UID, UID_LEN, f.uid);
  writeNumeric(b, off + GID, GID_LEN, f.gid);
  writeNumeric(b, off + SIZE, SIZE_LEN, f.size);
  writeNumeric(b, off + MTIME, MTIME_LEN, f.mtime);
  b[off + TYPEFLAG] = f.flag;
  putString(b, off + LINKNAME, f.linkname);
  b.write('ustar\x0000', off + MAGIC, 'latin1');
  putString(b, off + UNAME, f.uname);
  putString(b, off + GNAME, f.gname);
  writeNumeric(b, off + DEVMAJOR, DEVMAJOR_LEN, f.devmajor);
  writeNumeric(b, off + DEVMINOR, DEVMINOR_LEN, f.devminor);
  putString(b, off + PREFIX, f.prefix);
  writeChecksum(b, off);
}
