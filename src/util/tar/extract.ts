import { AbortWatch } from './abort.ts';
import { BLOCK_SIZE, padding, type PaxRecords } from './format.ts';
import { applyExtended, classifyBlock, decodeHeader, hasPending, noPending } from './header.ts';
import { ChunkReader, truncated } from './reader.ts';
import type { TarEntry, TarHeader } from './types.ts';

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
 * With `endInPadding`, input that ends in the padding after a whole body ends the archive too: the docker CLI
 * sends such a context when it adds a Dockerfile from outside it (its tar rewriter closes the pipe before the tar
 * writer has written the last padding and the end marker).
 *
 * Errors: DataLossError for input that ends inside a header, an extended header, a body or its padding,
 * and for a bad checksum or malformed field (the message names the archive offset); InvalidArgumentError
 * for entry types Berth does not handle (GNU sparse files, volume labels, unknown flags); CanceledError when
 * `signal` aborts.
 */
export async function* extract(
  source: AsyncIterable<Uint8Array>,
  options: { signal?: AbortSignal; endInPadding?: boolean } = {},
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
      if (left === 0 && pad > 0 && options.endInPadding) {
        if (!(await reader.skipUpTo(pad))) break;
      } else if (left + pad > 0) {
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

/** Reads header blocks until a real entry's header (applying extended headers on the way) or the end. */
async function readHeader(reader: ChunkReader, globals: PaxRecords): Promise<TarHeader | null> {
  const pending = noPending();
  for (;;) {
    const at = reader.offset;
    const block = await reader.readBlock();
    if (block.length < BLOCK_SIZE) {
      // input ending at a block boundary, or inside the end marker's first block, leaves no entry cut short
      if (!hasPending(pending) && block.every((b) => b === 0)) return null;
      throw truncated(
        at + block.length,
        block.length === 0
          ? `the entry after the extended header before offset ${at} is missing`
          : `the header at offset ${at} is cut short`,
      );
    }
    const kind = classifyBlock(block, at, pending);
    if (kind.kind === 'end') return null;
    if (kind.kind === 'entry') return decodeHeader(block, at, globals, pending);
    const data = await reader.readExact(kind.size, () => `the extended header at offset ${at} is cut short`);
    // readExact's result is only valid until the next read: copy before skipping the padding
    const copy = Buffer.from(data);
    const pad = padding(kind.size);
    if (pad > 0) await reader.skip(pad, () => `the padding of the extended header at offset ${at} is cut short`);
    applyExtended(kind.flag, copy, at, globals, pending);
  }
}
