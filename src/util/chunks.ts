/** Byte-stream helpers. */

/**
 * Gathers a stream's chunks into chunks of `size` bytes (the last one shorter), copying small ones together;
 * a chunk of `size` or more that arrives alone passes as it is. A socket hands a request body over in pieces of at
 * most 64 KiB: gathered, every step after this (tar parsing, digests, writes, the unpack threads) runs once per
 * `size` bytes instead of once per piece.
 */
export async function* coalesce(source: AsyncIterable<Uint8Array>, size = 1 << 20): AsyncGenerator<Buffer> {
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
        yield buf;
        buf = undefined;
        len = 0;
      }
    }
  }
  if (len > 0) yield buf!.subarray(0, len);
}
