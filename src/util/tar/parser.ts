/**
 * A push-based tar reader: bytes go in by `push(chunk)` and entries come out through a sink, synchronously, during
 * the call. For a thread that owns its input and wants no promise per chunk (the unpack workers); `extract` is the
 * pull-based reader for everything else. Both read the same formats with the same rules and errors (header.ts).
 */
import { BLOCK_SIZE, padding, type PaxRecords } from './format.ts';
import { applyExtended, classifyBlock, decodeHeader, hasPending, noPending, type Pending } from './header.ts';
import { truncated } from './reader.ts';
import type { TarHeader } from './types.ts';

export interface TarSink {
  /** A real entry's header; for a regular file its `header.size` bytes of body follow through `data`. */
  entry(header: TarHeader): void;
  /** A piece of the current entry's body: a subarray of the chunk being pushed, valid only during the call. */
  data(piece: Buffer): void;
  /** The current entry's body is complete (called for every entry, after its last `data`). */
  entryEnd(): void;
}

type State = 'header' | 'extended' | 'body' | 'pad' | 'end';

/**
 * Feeds a tar archive through `push` and `end`. The end-of-archive marker, a missing marker at a block boundary and
 * bytes after the marker are treated as `extract` treats them; `end()` throws DataLossError for an archive cut
 * short (the message names the offset where the input ended and what was cut). Errors thrown by the sink, and the
 * reader's own (checksums, malformed fields, unsupported types), propagate out of `push`; after one, the parser
 * must not be used again.
 */
export class TarParser {
  readonly #sink: TarSink;
  readonly #globals: PaxRecords = new Map();
  #pending: Pending = noPending();
  #state: State = 'header';
  /** A header block being gathered across chunks. */
  readonly #block = Buffer.alloc(BLOCK_SIZE);
  #blockLen = 0;
  /** Offset of the block or extended header being read. */
  #at = 0;
  /** An extended header's body being gathered, and its flag. */
  #ext: Buffer = Buffer.alloc(0);
  #extLen = 0;
  #extFlag = 0;
  /** Bytes left of the current body or padding. */
  #left = 0;
  #padLeft = 0;
  #entry: { name: string; size: number } | undefined;
  /** Bytes pushed so far. */
  #offset = 0;

  constructor(sink: TarSink) {
    this.#sink = sink;
  }

  /** Bytes pushed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** True once the end-of-archive marker was read (later bytes are ignored). */
  get ended(): boolean {
    return this.#state === 'end';
  }

  push(input: Uint8Array): void {
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    let pos = 0;
    while (pos < chunk.length) {
      const avail = chunk.length - pos;
      switch (this.#state) {
        case 'end':
          this.#offset += avail;
          return;
        case 'header': {
          if (this.#blockLen === 0 && avail >= BLOCK_SIZE) {
            this.#at = this.#offset;
            this.#offset += BLOCK_SIZE;
            this.#onBlock(chunk.subarray(pos, pos + BLOCK_SIZE));
            pos += BLOCK_SIZE;
            break;
          }
          if (this.#blockLen === 0) this.#at = this.#offset;
          const n = Math.min(BLOCK_SIZE - this.#blockLen, avail);
          chunk.copy(this.#block, this.#blockLen, pos, pos + n);
          this.#blockLen += n;
          this.#offset += n;
          pos += n;
          if (this.#blockLen === BLOCK_SIZE) {
            this.#blockLen = 0;
            this.#onBlock(this.#block);
          }
          break;
        }
        case 'extended': {
          const n = Math.min(this.#ext.length - this.#extLen, avail);
          chunk.copy(this.#ext, this.#extLen, pos, pos + n);
          this.#extLen += n;
          this.#offset += n;
          pos += n;
          if (this.#extLen === this.#ext.length) {
            this.#padLeft = padding(this.#ext.length);
            this.#state = 'pad';
            if (this.#padLeft === 0) this.#afterPad();
          }
          break;
        }
        case 'body': {
          const n = Math.min(this.#left, avail);
          this.#left -= n;
          this.#offset += n;
          this.#sink.data(chunk.subarray(pos, pos + n));
          pos += n;
          if (this.#left === 0) this.#endBody();
          break;
        }
        case 'pad': {
          const n = Math.min(this.#padLeft, avail);
          this.#padLeft -= n;
          this.#offset += n;
          pos += n;
          if (this.#padLeft === 0) this.#afterPad();
          break;
        }
      }
    }
  }

  /** The input has ended: DataLossError if the archive was cut short. */
  end(): void {
    switch (this.#state) {
      case 'end':
        return;
      case 'header': {
        const partial = this.#block.subarray(0, this.#blockLen);
        // input ending at a block boundary, or inside the end marker's first block, leaves no entry cut short
        if (!hasPending(this.#pending) && partial.every((b) => b === 0)) {
          this.#state = 'end';
          return;
        }
        throw truncated(
          this.#offset,
          this.#blockLen === 0
            ? `the entry after the extended header before offset ${this.#offset} is missing`
            : `the header at offset ${this.#at} is cut short`,
        );
      }
      case 'extended':
        throw truncated(this.#offset, `the extended header at offset ${this.#at} is cut short`);
      case 'body': {
        const e = this.#entry!;
        throw truncated(this.#offset, `the body of "${e.name}" has ${e.size - this.#left} of its ${e.size} bytes`);
      }
      case 'pad': {
        if (this.#entry === undefined)
          throw truncated(this.#offset, `the padding of the extended header at offset ${this.#at} is cut short`);
        const end = this.#offset + this.#padLeft;
        throw truncated(this.#offset, `the body of "${this.#entry.name}" and its padding run to offset ${end}`);
      }
    }
  }

  #onBlock(block: Buffer): void {
    const kind = classifyBlock(block, this.#at, this.#pending);
    if (kind.kind === 'end') {
      this.#state = 'end';
      return;
    }
    if (kind.kind === 'extended') {
      this.#ext = Buffer.allocUnsafe(kind.size);
      this.#extLen = 0;
      this.#extFlag = kind.flag;
      this.#entry = undefined;
      this.#state = 'extended';
      if (kind.size === 0) {
        this.#state = 'pad';
        this.#padLeft = 0;
        this.#afterPad();
      }
      return;
    }
    const header: TarHeader = decodeHeader(block, this.#at, this.#globals, this.#pending);
    this.#pending = noPending();
    this.#entry = { name: header.name, size: header.size };
    this.#left = header.size;
    this.#sink.entry(header);
    if (this.#left > 0) this.#state = 'body';
    else this.#endBody();
  }

  #endBody(): void {
    this.#sink.entryEnd();
    this.#padLeft = padding(this.#entry!.size);
    this.#state = 'pad';
    if (this.#padLeft === 0) this.#afterPad();
  }

  #afterPad(): void {
    if (this.#entry === undefined) {
      applyExtended(this.#extFlag, this.#ext, this.#at, this.#globals, this.#pending);
      this.#ext = Buffer.alloc(0);
    }
    this.#entry = undefined;
    this.#state = 'header';
  }
}
