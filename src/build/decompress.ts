/**
 * Archives the builder reads may come compressed (a context body, a local file ADD extracts): gzip and zstd
 * through node:zlib, bzip2 and xz through Debian's `bzip2` and `xz` programs (Node has neither codec).
 */
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompressor } from '../util/compression.ts';
import { DataLossError } from '../util/errors.ts';

export type ArchiveCompression = 'none' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

/** The compression of a stream from its first bytes (at least 6 for xz). */
export function sniffCompression(head: Uint8Array): ArchiveCompression {
  const at = (i: number, ...bytes: number[]) => bytes.every((b, j) => head[i + j] === b);
  if (at(0, 0x1f, 0x8b)) return 'gzip';
  if (at(0, 0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  if (at(0, 0x42, 0x5a, 0x68)) return 'bzip2';
  if (at(0, 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  return 'none';
}

/** Whether a block looks like the start of a tar archive (ustar magic, or a v7 header whose checksum holds). */
export function looksLikeTar(head: Uint8Array): boolean {
  if (head.length < 512) return false;
  const magic = Buffer.from(head.buffer, head.byteOffset + 257, 5).toString('latin1');
  if (magic === 'ustar') return true;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : head[i]!;
  const stored = Number.parseInt(
    Buffer.from(head.buffer, head.byteOffset + 148, 8)
      .toString('latin1')
      .trim(),
    8,
  );
  return sum > 8 * 0x20 && stored === sum;
}

/**
 * A stream with its first `n` bytes read ahead (fewer when it is shorter), and the whole stream to read on. The
 * stream is an iterator of its own, not a generator: the head, then the source's chunks handed on as they come
 * (each layer of async generators cost every chunk a few promises and result objects, ~1 MiB of garbage per
 * layer for the docker CLI's ~1,550-piece upload of a 20 MiB context).
 */
export async function peek(
  source: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ head: Buffer; stream: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = asBuffer(r.value);
    chunks.push(b);
    len += b.length;
  }
  const head = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  let first = head.length > 0;
  const stream: AsyncIterableIterator<Buffer> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next(): Promise<IteratorResult<Buffer, undefined>> {
      if (first) {
        first = false;
        return { done: false, value: head };
      }
      if (done) return { done: true, value: undefined };
      const r = await it.next();
      if (r.done) {
        done = true;
        return { done: true, value: undefined };
      }
      return { done: false, value: asBuffer(r.value) };
    },
    // stopping early leaves the source as it is (as a generator over it would): the build's request body is
    // drained, not destroyed, when its context is refused, so that the client gets the error
    async return(): Promise<IteratorResult<Buffer, undefined>> {
      done = true;
      return { done: true, value: undefined };
    },
  };
  return { head: head.subarray(0, n), stream };
}

/** A chunk as a Buffer: itself when it is one (no new view per chunk). */
function asBuffer(c: Uint8Array): Buffer {
  return Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/** The stream decompressed as `c` says. */
export async function* decompress(source: AsyncIterable<Uint8Array>, c: ArchiveCompression): AsyncGenerator<Buffer> {
  if (c === 'none') {
    for await (const chunk of source) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    return;
  }
  if (c === 'gzip' || c === 'zstd') {
    const d = decompressor(c);
    const piped = pipeline(Readable.from(source), d);
    piped.catch(() => {});
    try {
      for await (const chunk of d) yield chunk as Buffer;
    } finally {
      d.destroy();
    }
    await piped;
    return;
  }
  const program = c === 'bzip2' ? 'bzip2' : 'xz';
  const child = spawn(program, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new DataLossError(`cannot decompress ${c}: ${program}: ${err.message}`)));
  });
  await spawned;
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (!child.stdin.write(chunk)) await new Promise<void>((r) => child.stdin.once('drain', r));
      }
    } catch {
      // the reader stopped: the child's input ends
    } finally {
      child.stdin.end();
    }
  })();
  child.stdin.on('error', () => {});
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  await feeding;
  const code = await exited;
  if (code !== 0)
    throw new DataLossError(`cannot decompress ${c}: ${stderr.trim() || `${program} exited with ${code}`}`);
}

/** Sniffs and decompresses; `head` is the decompressed stream's start (512 bytes when it has them). */
export async function openArchive(
  source: AsyncIterable<Uint8Array>,
): Promise<{ compression: ArchiveCompression; head: Buffer; stream: AsyncIterable<Buffer> }> {
  const raw = await peek(source, 512);
  const compression = sniffCompression(raw.head);
  // an uncompressed body is handed on as it is read, with no layer between
  if (compression === 'none') return { compression, head: raw.head, stream: raw.stream };
  const plain = await peek(decompress(raw.stream, compression), 512);
  return { compression, head: plain.head, stream: plain.stream };
}
