/** Byte-stream helpers. */

import type { Writable } from 'node:stream';

/**
 * Gathers a stream's chunks into chunks of `size` bytes (the last one shorter), copying small ones together;
 * a chunk of `size` or more that arrives alone passes as it is. For a consumer whose cost is per chunk, such as the
 * content store's writes (each a thread-pool round trip) or a tar writer's small pieces.
 *
 * Each gathered chunk is a new buffer, unless `reuse`: then one buffer is filled again once the consumer asks for
 * the next chunk, for a consumer done with each chunk by then (one that writes or copies it before asking), which
 * spares the garbage collector a buffer per chunk. Without it, on a stream that is copied on anyway (a layer on its
 * way to an unpack thread) the gathering only adds garbage.
 */
export async function* coalesce(
  source: AsyncIterable<Uint8Array>,
  size = 1 << 20,
  opts: { reuse?: boolean } = {},
): AsyncGenerator<Buffer> {
  let buf: Buffer | undefined;
  let len = 0;
  for await (const chunk of source) {
    if (len === 0 && chunk.length >= size) {
      yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      continue;
    }
    for (let off = 0; off < chunk.length; ) {
      buf ??= Buffer.allocUnsafe(size);
      const n = Math.min(size - len, chunk.length - off);
      buf.set(chunk.subarray(off, off + n), len);
      len += n;
      off += n;
      if (len === size) {
        len = 0;
        yield buf;
        if (!opts.reuse) buf = undefined;
      }
    }
  }
  if (len > 0) yield buf!.subarray(0, len);
}

/**
 * Waits until `w` takes more data after a `write` returned false: true on 'drain', false when it closed or failed
 * first (the reader went away). A writer that stops on false lets its source finish (a generator's `finally` closes
 * its files); one that waited for a 'drain' that never comes would leave them to the garbage collector.
 */
export function drained(w: Writable): Promise<boolean> {
  if (w.destroyed || w.writableEnded) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      w.off('drain', onDrain);
      w.off('close', onClose);
      w.off('error', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    w.once('drain', onDrain);
    w.once('close', onClose);
    w.once('error', onClose);
  });
}

/** Below this a buffer may be one of Node's pooled small buffers' slab, or not worth a detach. */
const RELEASE_MIN = 16 << 10;

/**
 * Frees a chunk's memory now, for a consumer that owns it and is done with it (it copied the bytes on): when the
 * chunk is the whole of an ordinary ArrayBuffer, the buffer is detached (`transfer(0)`), which frees its backing
 * store at once instead of at V8's next collection; every view of it then has length 0. A chunk that is part of a
 * larger buffer (a slice of the pooled slab, or of a buffer other chunks come from) is left alone. Returns whether
 * it was freed.
 *
 * Why: node:http hands each piece of a request body (up to 64 KiB) over as a malloc'd copy, dead once its bytes are
 * in an unpack ring but freed only when the main thread's young generation fills, which on a big `docker load` took
 * hundreds of pieces: tens of MiB of the daemon's peak RSS (bench/README.md, "Data path").
 */
export function releaseChunk(chunk: Uint8Array): boolean {
  const ab = chunk.buffer;
  if (!(ab instanceof ArrayBuffer) || ab.detached || ab.resizable) return false;
  if (chunk.byteOffset !== 0 || chunk.byteLength !== ab.byteLength || ab.byteLength < RELEASE_MIN) return false;
  try {
    ab.transfer(0);
    return true;
  } catch {
    return false; // a buffer its owner made non-detachable
  }
}
