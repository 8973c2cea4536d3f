import { DataLossError, InvalidArgumentError } from '../errors.ts';
import { AbortWatch } from './abort.ts';
import {
  BLOCK_SIZE,
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
  padding,
  parseNumeric,
  parsePaxNumber,
  parsePaxRecords,
  parseString,
  verifyChecksum,
  type PaxRecords,
} from './format.ts';
import { ChunkReader, truncated } from './reader.ts';
import type { TarEntry, TarHeader } from './types.ts';

/** Extended headers (PAX 'x', GNU 'L'/'K') larger than this are refused, as Go's archive/tar does. */
const MAX_EXTENDED_HEADER = 1 << 20;

const SCHILY_XATTR = 'SCHILY.xattr.';
const LIBARCHIVE_XATTR = 'LIBARCHIVE.xattr.';

/**
 * Reads a tar stream entry by entry. Each entry's body is a stream of subarrays of the source's chunks; a
 * caller may leave it unread or half-read: asking for the next entry discards the rest. A body must be read
 * before asking for the next entry (reading it later throws).
 *
 * Formats: ustar (with prefix), star, old GNU and v7 headers; PAX local ('x') and global ('g') records; GNU
 * long names ('L') and long links ('K'); base-256 numbers; checksums summed as unsigned or signed bytes.
 *
 * End of archive: the first all-zero block ends it, as GNU tar does (a second zero block is expected but
 * not required, and input may end inside the first one). End of input at a block boundary where a header
 * would start also ends it, without the marker (GNU tar and Go's archive/tar accept that too). Bytes after
 * the end are read and ignored, so a digest computed over the source sees the whole blob.
 *
 * Bodies are subarrays of the source's chunks, so a source must not reuse a chunk's memory after yielding
 * it (Node streams do not). Names are decoded as UTF-8; bytes that are not UTF-8 do not survive.
 *
 * Errors: DataLossError for input that ends inside a header, an extended header, a body or its padding,
 * and for a bad checksum or malformed field (the message names the archive offset); InvalidArgumentError
 * for entry types Berth does not handle (GNU sparse files, volume labels, unknown flags); CanceledError when
 * `signal` aborts.
 */
export async function* extract(
  source: AsyncIterable<Uint8Array>,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<TarEntry> {
  const watch = new AbortWatch(options.signal, 'tar extraction');
  const reader = new ChunkReader(source, watch);
  const globals: PaxRecords = new Map();
  try {
    for (;;) {
      const header = await readHeader(reader, globals);
      if (header === null) break;
      const body = new EntryBody(reader, header.name, header.size);
      yield { header, body };
      const left = await body.detach();
      const pad = padding(header.size);
      if (left + pad > 0) {
        const end = reader.offset + left + pad;
        await reader.skip(left + pad, () => `the body of "${header.name}" and its padding run to offset ${end}`);
      }
    }
    await reader.drain();
  } finally {
    reader.close();
    watch.dispose();
  }
}

/**
 * A body being read: hands out subarrays of the source until `size` bytes have gone. Calls to next() are
 * queued, so a caller that does not await one before the next still gets the bytes in order.
 */
class EntryBody implements AsyncIterableIterator<Buffer> {
  readonly #reader: ChunkReader;
  readonly #name: string;
  readonly #size: number;
  #left: number;
  #detached = false;
  #tail: Promise<unknown> | undefined;

  constructor(reader: ChunkReader, name: string, size: number) {
    this.#reader = reader;
    this.#name = name;
    this.#size = size;
    this.#left = size;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Buffer, undefined>> {
    const p = this.#tail === undefined ? this.#read() : this.#tail.then(this.#readNext, this.#readNext);
    this.#tail = p;
    const clear = (): void => {
      if (this.#tail === p) this.#tail = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /** Leaving a for-await loop early leaves the rest of the body to be discarded with the next entry. */
  return(): Promise<IteratorResult<Buffer, undefined>> {
    return Promise.resolve({ done: true, value: undefined });
  }

  /** Waits for reads under way, ends the body, and says how many of its bytes were not read. */
  async detach(): Promise<number> {
    this.#detached = true;
    if (this.#tail !== undefined) await this.#tail.catch(() => {});
    return this.#left;
  }

  readonly #readNext = (): Promise<IteratorResult<Buffer, undefined>> => this.#read();

  async #read(): Promise<IteratorResult<Buffer, undefined>> {
    if (this.#left === 0) return { done: true, value: undefined };
    if (this.#detached)
      throw new Error(`the body of tar entry "${this.#name}" was read after moving to the next entry`);
    const chunk = await this.#reader.take(this.#left);
    if (chunk === null) {
      throw truncated(
        this.#reader.offset,
        `the body of "${this.#name}" has ${this.#size - this.#left} of its ${this.#size} bytes`,
      );
    }
    this.#left -= chunk.length;
    return { done: false, value: chunk };
  }
}

interface Pending {
  local: PaxRecords | undefined;
  longName: string | undefined;
  longLink: string | undefined;
}

/** Reads header blocks until a real entry's header (applying extended headers on the way) or the end. */
async function readHeader(reader: ChunkReader, globals: PaxRecords): Promise<TarHeader | null> {
  const pending: Pending = { local: undefined, longName: undefined, longLink: undefined };
  let hasPending = false;
  for (;;) {
    const at = reader.offset;
    const block = await reader.readBlock();
    if (block.length < BLOCK_SIZE) {
      // input ending at a block boundary, or inside the end marker's first block, leaves no entry cut short
      if (!hasPending && block.every((b) => b === 0)) return null;
      throw truncated(
        at + block.length,
        block.length === 0
          ? `the entry after the extended header before offset ${at} is missing`
          : `the header at offset ${at} is cut short`,
      );
    }
    if (isZeroBlock(block, 0)) {
      if (hasPending)
        throw new DataLossError(`tar extended header before offset ${at} is followed by the end-of-archive marker`);
      return null;
    }
    const sum = verifyChecksum(block, 0);
    if (!sum.ok) {
      throw new DataLossError(
        `tar header checksum mismatch at offset ${at}: stored ${Number.isNaN(sum.stored) ? 'unreadable' : sum.stored}, computed ${sum.computed}`,
      );
    }
    const flag = block[TYPEFLAG]!;
    if (
      flag === FLAG_PAX_LOCAL ||
      flag === FLAG_PAX_GLOBAL ||
      flag === FLAG_GNU_LONGNAME ||
      flag === FLAG_GNU_LONGLINK
    ) {
      const data = await readExtended(reader, block, at);
      if (flag === FLAG_PAX_GLOBAL) {
        mergePax(globals, parsePax(data, at));
        continue;
      }
      hasPending = true;
      if (flag === FLAG_PAX_LOCAL) {
        // empty values are kept here: they delete global records when the two are merged
        pending.local ??= new Map();
        for (const [k, v] of parsePax(data, at)) pending.local.set(k, v);
      } else {
        const nul = data.indexOf(0);
        const value = data.toString('utf8', 0, nul === -1 ? data.length : nul);
        if (flag === FLAG_GNU_LONGNAME) pending.longName = value;
        else pending.longLink = value;
      }
      continue;
    }
    return decodeHeader(block, at, globals, pending);
  }
}

/** The body of an extended header ('x', 'g', 'L', 'K'), with its padding consumed. */
async function readExtended(reader: ChunkReader, block: Buffer, at: number): Promise<Buffer> {
  const size = numeric(block, SIZE, SIZE_LEN, 'size', at);
  if (size > MAX_EXTENDED_HEADER) {
    throw new InvalidArgumentError(
      `tar extended header at offset ${at} is ${size} bytes, more than the ${MAX_EXTENDED_HEADER}-byte limit`,
    );
  }
  const data = await reader.readExact(size, () => `the extended header at offset ${at} is cut short`);
  // readExact's result is only valid until the next read: copy before skipping the padding
  const copy = Buffer.from(data);
  const pad = padding(size);
  if (pad > 0) await reader.skip(pad, () => `the padding of the extended header at offset ${at} is cut short`);
  return copy;
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

function decodeHeader(block: Buffer, at: number, globals: PaxRecords, pending: Pending): TarHeader {
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
