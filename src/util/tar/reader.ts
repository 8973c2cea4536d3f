import { DataLossError } from '../errors.ts';
import type { AbortWatch } from './abort.ts';
import { BLOCK_SIZE } from './format.ts';

const EMPTY = Buffer.alloc(0);

function asBuffer(chunk: Uint8Array): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (!(chunk instanceof Uint8Array)) throw new TypeError(`tar source yielded ${typeof chunk}, not a Uint8Array`);
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export function truncated(offset: number, what: string): DataLossError {
  return new DataLossError(`unexpected end of tar archive at offset ${offset}: ${what}`);
}

/**
 * Pulls chunks from a byte source and hands them out as blocks, exact runs, or subarrays, without copying
 * unless a run spans chunks. Chunks must not be changed by the source after they are yielded (Node streams
 * never do), since subarrays of them are passed on. One operation at a time.
 */
export class ChunkReader {
  readonly #it: AsyncIterator<Uint8Array>;
  readonly #watch: AbortWatch;
  #chunk: Buffer = EMPTY;
  #pos = 0;
  /** Archive offset of #chunk[0]. */
  #base = 0;
  #eof = false;
  #closed = false;
  readonly #block = Buffer.allocUnsafe(BLOCK_SIZE);

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, watch: AbortWatch) {
    this.#it =
      Symbol.asyncIterator in source
        ? source[Symbol.asyncIterator]()
        : ((source as Iterable<Uint8Array>)[Symbol.iterator]() as unknown as AsyncIterator<Uint8Array>);
    this.#watch = watch;
  }

  /** Offset in the archive of the next unread byte. */
  get offset(): number {
    return this.#base + this.#pos;
  }

  /** Replaces the spent chunk with the next non-empty one; false at end of input. */
  async #pull(): Promise<boolean> {
    if (this.#closed) throw new Error('tar archive read after extraction ended');
    while (!this.#eof) {
      const r = await this.#watch.wait(Promise.resolve(this.#it.next()));
      this.#base += this.#chunk.length;
      this.#chunk = EMPTY;
      this.#pos = 0;
      if (r.done) {
        this.#eof = true;
        break;
      }
      if (r.value.length === 0) continue;
      this.#chunk = asBuffer(r.value);
      return true;
    }
    return false;
  }

  /**
   * The next 512-byte block, valid until the next call (a subarray of the input, or a copy when it spans
   * chunks). Shorter only at end of input: then it holds the bytes that were left (none at a boundary).
   */
  async readBlock(): Promise<Buffer> {
    this.#watch.check();
    const avail = this.#chunk.length - this.#pos;
    if (avail >= BLOCK_SIZE) {
      const start = this.#pos;
      this.#pos += BLOCK_SIZE;
      return this.#chunk.subarray(start, this.#pos);
    }
    let got = 0;
    while (got < BLOCK_SIZE) {
      if (this.#pos === this.#chunk.length && !(await this.#pull())) return this.#block.subarray(0, got);
      const n = Math.min(BLOCK_SIZE - got, this.#chunk.length - this.#pos);
      this.#chunk.copy(this.#block, got, this.#pos, this.#pos + n);
      this.#pos += n;
      got += n;
    }
    return this.#block;
  }

  /** Exactly `n` bytes, valid until the next call; DataLossError naming `what` if the input ends first. */
  async readExact(n: number, what: () => string): Promise<Buffer> {
    this.#watch.check();
    if (this.#chunk.length - this.#pos >= n) {
      const start = this.#pos;
      this.#pos += n;
      return this.#chunk.subarray(start, this.#pos);
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      if (this.#pos === this.#chunk.length && !(await this.#pull())) throw truncated(this.offset, what());
      const k = Math.min(n - got, this.#chunk.length - this.#pos);
      this.#chunk.copy(out, got, this.#pos, this.#pos + k);
      this.#pos += k;
      got += k;
    }
    return out;
  }

  /** Up to `max` (> 0) bytes as a subarray of the input; null at end of input. */
  async take(max: number): Promise<Buffer | null> {
    this.#watch.check();
    if (this.#pos === this.#chunk.length && !(await this.#pull())) return null;
    const start = this.#pos;
    const end = Math.min(this.#chunk.length, start + max);
    if (start === 0 && end === this.#chunk.length) {
      // Handed out whole, the chunk is forgotten here at once (nothing here reads it again), so its taker may free
      // its memory (util/chunks.ts `releaseChunk`) without changing what this reader counts.
      const whole = this.#chunk;
      this.#base += whole.length;
      this.#chunk = EMPTY;
      this.#pos = 0;
      return whole;
    }
    this.#pos = end;
    return this.#chunk.subarray(start, end);
  }

  /** Discards `n` bytes; DataLossError naming `what` if the input ends first. */
  async skip(n: number, what: () => string): Promise<void> {
    let left = n;
    while (left > 0) {
      this.#watch.check();
      if (this.#pos === this.#chunk.length && !(await this.#pull())) throw truncated(this.offset, what());
      const k = Math.min(left, this.#chunk.length - this.#pos);
      this.#pos += k;
      left -= k;
    }
  }

  /** Skips up to `n` bytes; false when the input ends first. */
  async skipUpTo(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      this.#watch.check();
      if (this.#pos === this.#chunk.length && !(await this.#pull())) return false;
      const k = Math.min(left, this.#chunk.length - this.#pos);
      this.#pos += k;
      left -= k;
    }
    return true;
  }

  /** Reads and discards everything left in the input. */
  async drain(): Promise<void> {
    this.#pos = this.#chunk.length;
    while (await this.#pull()) this.#pos = this.#chunk.length;
  }

  /** Ends reading; a source not read to its end is told to stop (its return() is called, not awaited). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#chunk = EMPTY;
    this.#pos = 0;
    if (!this.#eof) {
      try {
        Promise.resolve(this.#it.return?.()).catch(() => {});
      } catch {
        // a source whose return() throws has nothing more to release
      }
    }
  }
}
