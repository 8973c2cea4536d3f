import { drained } from '../util/chunks.ts';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../util/errors.ts';
import { frame, STDERR, STDOUT, SYSTEMERR } from './stdcopy.ts';

/** What a hijacked attach or exec start streams: conmon's attach session (src/runtime's AttachSession). */
export interface StdioSession {
  output: AsyncIterable<unknown>;
  stdin: NodeJS.WritableStream & { end(): void; once(e: 'drain', f: () => void): unknown };
  close(): void;
}

export interface PipeOptions {
  /** Frame stdout/stderr with stdcopy headers (no TTY). */
  multiplexed: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Copy the client's bytes to the process's stdin; the client's half-close becomes the process's EOF. */
  stdin: boolean;
  /** Bytes that detach the client (ctrl-p ctrl-q by default), honoured with a TTY as docker does. */
  detachKeys: number[];
  /** Awaited after the output ended and before the connection closes (exec: the exit code must be known). */
  beforeEnd?: () => Promise<unknown>;
}

/**
 * Joins a hijacked client connection to a process's stdio until the output ends: stdin in (half-close kept, so
 * the process still gets to answer after the client's EOF), stdout/stderr out, framed when there is no TTY.
 */
export async function pipeSession(session: StdioSession, stream: Duplex, o: PipeOptions): Promise<void> {
  let detached = false;
  if (o.stdin) {
    let matched = 0;
    stream.on('data', (chunk: Buffer) => {
      if (o.detachKeys.length && !o.multiplexed) {
        for (const b of chunk) {
          matched = b === o.detachKeys[matched] ? matched + 1 : b === o.detachKeys[0] ? 1 : 0;
          if (matched === o.detachKeys.length) {
            detached = true;
            session.close();
            stream.end();
            return;
          }
        }
      }
      if (!session.stdin.write(chunk)) {
        stream.pause();
        session.stdin.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => {
      if (!detached) session.stdin.end();
    });
  } else {
    stream.resume();
  }
  stream.on('error', () => session.close());
  stream.on('close', () => {
    if (!detached) session.close();
  });
  try {
    for await (const f of session.output as AsyncIterable<{ stream: 'stdout' | 'stderr'; data: Buffer }>) {
      if (detached) break;
      if (f.stream === 'stdout' && !o.stdout) continue;
      if (f.stream === 'stderr' && !o.stderr) continue;
      const chunk = o.multiplexed ? frame(f.stream === 'stdout' ? STDOUT : STDERR, f.data) : f.data;
      if (!stream.write(chunk) && !(await drained(stream))) break;
    }
  } catch (err) {
    // The output failed (e.g. it never reached us): the client is told, in the stream's error frame, rather than
    // given an end that reads as a process that wrote nothing. A raw (TTY) stream has no such frame.
    session.close();
    if (!stream.writableEnded && !stream.destroyed) {
      stream.end(o.multiplexed ? frame(SYSTEMERR, Buffer.from(`${errorMessage(err)}\n`)) : undefined);
    }
    return;
  }
  if (o.beforeEnd && !detached) await o.beforeEnd();
  if (!stream.writableEnded) stream.end();
}

/** Docker's detach-key syntax: `ctrl-p,ctrl-q`, `ctrl-@`, single characters. */
export function parseDetachKeys(spec: string): number[] {
  if (spec === '') return [];
  return spec.split(',').map((k) => {
    const m = /^ctrl-(.)$/.exec(k);
    if (m) {
      const c = m[1]!;
      if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 96;
      const special: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };
      if (c in special) return special[c]!;
    }
    if (k.length === 1) return k.charCodeAt(0);
    throw new RangeError(`Invalid detach keys (${spec}) provided`);
  });
}
