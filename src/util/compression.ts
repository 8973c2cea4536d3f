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
