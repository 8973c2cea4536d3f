import { createGunzip, createZstdDecompress, createGzip, constants as zc } from 'node:zlib';
import { PassThrough, type Duplex } from 'node:stream';

export type Compression = 'none' | 'gzip' | 'zstd';

/** Sniffs compression from a blob's first bytes. */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** A transform that decompresses the given format (a pass-through for 'none'). */
export function decompressor(c: Compression): Duplex {
  switch (c) {
    case 'gzip':
      return createGunzip({ chunkSize: 1 << 18 });
    case 'zstd':
      return createZstdDecompress({ chunkSize: 1 << 18 });
    case 'none':
      return new PassThrough({ highWaterMark: 1 << 20 });
  }
}

export function gzipCompressor(level = zc.Z_DEFAULT_COMPRESSION): Duplex {
  return createGzip({ level, chunkSize: 1 << 18 });
}

/**
 * Reads the first bytes of a stream to sniff its compression, then yields the whole stream decompressed.
 * Used where the media type does not say (docker-archive layer files, `import`).
 */
export async function* autoDecompress(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLen = 0;
  let done = false;
  while (headLen < 4) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    head.push(b);
    headLen += b.length;
  }
  const first = Buffer.concat(head);
  const c = detectCompression(first);
  async function* rest(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
  }
  if (c === 'none') {
    yield* rest();
    return;
  }
  const d = decompressor(c);
  const feeding = (async () => {
    try {
      for await (const chunk of rest()) {
        if (!d.write(chunk)) await new Promise<void>((resolve) => d.once('drain', resolve));
      }
      d.end();
    } catch (err) {
      d.destroy(err as Error);
    }
  })();
  for await (const chunk of d) yield chunk as Buffer;
  await feeding;
}

/**
 * A decompressor driven synchronously on the calling thread, for a worker that owns its input (the unpack reader):
 * no round trip through libuv's pool per piece, and its output goes into one buffer reused for every piece.
 */
export interface SyncDecompressor {
  /**
   * Decompresses `input`, handing each piece of output to `out`: a view of the reused buffer, valid only during
   * the call. Throws the codec's error (its `code`, e.g. Z_DATA_ERROR) for corrupt input. Input after the end of
   * the compressed stream is ignored, as node:zlib's streams ignore it.
   */
  write(input: Uint8Array, out: (piece: Buffer) => void): void;
  /** The input ended: hands over what is left; throws ("unexpected end of file") for a stream cut short. */
  end(out: (piece: Buffer) => void): void;
  /** True once the compressed stream ended (more input, if any, is not part of it). */
  readonly ended: boolean;
  /**
   * Stops the stream where it is (a `write` under way returns after the piece `out` is taking): nothing more is
   * decompressed until `reset`. The codec is kept.
   */
  halt(): void;
  /**
   * Makes ready for a new stream on the same codec and buffer (zlib's inflateReset, zstd's session reset): a thread
   * decompressing one layer after another sets up neither again. False, and the codec closed, if it failed since
   * the last reset: node:zlib's zstd codec keeps its error through a reset, so none is reused after one.
   */
  reset(): boolean;
  /** Frees the codec's memory (also after an error). */
  close(): void;
}

/** What node:zlib's gzip and zstd decompressors keep of their native codec (the fields its own sync calls use). */
interface CodecHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  onerror: (message: string, errno: number, code: string) => void;
  reset(): void;
  close(): void;
}
interface CodecStream {
  _handle?: CodecHandle;
  _writeState?: Uint32Array;
  _defaultFlushFlag?: number;
  _finishFlushFlag?: number;
}

/**
 * A synchronous decompressor over node:zlib's own codec for 'gzip' or 'zstd' (the native calls `zlib.gunzipSync`
 * makes, but kept open across pieces: Node offers no public streaming form of them), with `outSize` bytes of output
 * buffer. Undefined if this Node's zlib does not have the fields it drives: there is no fallback on the thread that
 * asks (the unpack reader fails the layer, naming the compression), since Node 24's zlib has them and
 * compression.test.ts fails on a Node that does not.
 */
export function syncDecompressor(c: 'gzip' | 'zstd', outSize = 1 << 18): SyncDecompressor | undefined {
  const stream = (c === 'gzip' ? createGunzip() : createZstdDecompress()) as unknown as CodecStream;
  const h = stream._handle;
  const state = stream._writeState;
  const flush = stream._defaultFlushFlag;
  const finish = stream._finishFlushFlag;
  if (
    typeof h?.writeSync !== 'function' ||
    typeof h.reset !== 'function' ||
    !(state instanceof Uint32Array) ||
    typeof flush !== 'number' ||
    typeof finish !== 'number'
  ) {
    (stream as unknown as Duplex).destroy();
    return undefined;
  }
  let failure: Error | undefined;
  // The codec reports an error through this callback, during writeSync.
  h.onerror = (message, errno, code) => {
    failure = Object.assign(new Error(message), { errno, code });
  };
  const buf = Buffer.allocUnsafe(outSize);
  // zstd's decoder returns at the end of each frame; the frames that follow are the same stream, as zstd's own
  // tools read them (gzip's members are read on by node:zlib itself).
  const multiFrame = c === 'zstd';
  let ended = false;
  let closed = false;
  let halted = false;
  const run = (input: Uint8Array, mode: number, out: (piece: Buffer) => void): void => {
    if (closed) throw new Error('decompressor closed');
    if (halted) throw new Error('decompressor halted');
    let off = 0;
    let avail = input.length;
    for (;;) {
      h.writeSync(mode, input, off, avail, buf, 0, outSize);
      if (failure !== undefined) throw failure;
      const room = state[0]!;
      const progress = room < outSize || state[1]! < avail;
      off += avail - state[1]!;
      avail = state[1]!;
      if (room < outSize) {
        out(buf.subarray(0, outSize - room));
        if (halted) return; // halted or closed by `out` (the consumer stopped)
      }
      if (room === 0 || (multiFrame && avail > 0 && progress)) continue; // the output filled up, or a frame ended
      // Room left but input not taken: the stream ended before it (what follows is not part of it).
      if (avail > 0) ended = true;
      return;
    }
  };
  return {
    get ended() {
      return ended;
    },
    write(input, out) {
      if (!ended) run(input, flush, out);
    },
    end(out) {
      if (!ended) run(Buffer.alloc(0), finish, out);
      ended = true;
    },
    halt() {
      halted = true;
    },
    reset() {
      if (closed) throw new Error('decompressor closed');
      if (failure !== undefined) {
        closed = halted = true;
        h.close();
        return false;
      }
      h.reset();
      ended = false;
      halted = false;
      return true;
    },
    close() {
      if (closed) return;
      closed = halted = true;
      h.close();
    },
  };
}
