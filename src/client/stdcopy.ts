import type { Writable } from 'node:stream';

/**
 * The Engine API's multiplexed stream format (moby `pkg/stdcopy`), used by attach, exec and logs when the
 * container has no TTY: each frame is an 8-byte header `[stream, 0, 0, 0, size (uint32 BE)]` and `size`
 * bytes. Stream 0 (stdin) and 1 go to stdout, 2 to stderr, 3 is an error from the engine.
 */

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEMERR = 3;

const HEADER = 8;

/** Encodes one frame (for tests and fake engines). */
export function frame(stream: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const head = Buffer.alloc(HEADER);
  head[0] = stream;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

/** A demultiplexed piece: which stream, and its bytes. */
export interface StreamChunk {
  stream: typeof STDOUT | typeof STDERR;
  data: Buffer;
}

/**
 * Splits a multiplexed byte stream into its frames, as they complete. A truncated last frame ends the
 * stream quietly (as docker's StdCopy does); a stream-3 frame throws "error from daemon in stream: …";
 * an unknown stream byte throws "Unrecognized input header: N".
 */
export async function* demultiplex(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<StreamChunk> {
  let buf = Buffer.alloc(0);
  for await (const chunk of source) {
    buf = buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf, Buffer.from(chunk)]);
    while (buf.length >= HEADER) {
      const type = buf[0] as number;
      if (type > SYSTEMERR) throw new Error(`Unrecognized input header: ${type}`);
      const size = buf.readUInt32BE(4);
      if (buf.length < HEADER + size) break;
      const data = buf.subarray(HEADER, HEADER + size);
      buf = buf.subarray(HEADER + size);
      if (type === SYSTEMERR) throw new Error(`error from daemon in stream: ${data.toString('utf8')}`);
      yield { stream: type === STDERR ? STDERR : STDOUT, data: Buffer.from(data) };
    }
  }
}

/** Writes and waits for 'drain' when the stream asks for it. */
export function writeWithBackpressure(dest: Writable, data: Uint8Array): Promise<void> {
  if (dest.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      dest.off('error', onError);
      resolve();
    };
    const onError = (err: Error): void => {
      dest.off('drain', onDrain);
      reject(err);
    };
    dest.once('drain', onDrain);
    dest.once('error', onError);
  });
}

/**
 * docker's `StdCopy`: demultiplexes `source` into `stdout` and `stderr` (either may be undefined to drop
 * that stream), honouring backpressure. Resolves with the number of payload bytes written.
 */
export async function stdCopy(
  source: AsyncIterable<Uint8Array | string>,
  stdout: Writable | undefined,
  stderr: Writable | undefined,
): Promise<number> {
  let written = 0;
  for await (const { stream, data } of demultiplex(source)) {
    const dest = stream === STDERR ? stderr : stdout;
    if (dest === undefined) continue;
    await writeWithBackpressure(dest, data);
    written += data.length;
  }
  return written;
}
