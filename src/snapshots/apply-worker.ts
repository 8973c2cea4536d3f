/**
 * The worker thread behind `unpackLayer` (apply.ts): applies the tar entries it is sent to a directory with
 * `SyncUnpacker`, off berthd's main thread. One job at a time; a worker is kept for the next job when one ends well.
 *
 * Messages in: `{ t: 'start', root, mode, ring }`, `{ t: 'ops', ops, bytes }` batches (see UnpackOp), `{ t: 'end' }`.
 * Messages out: `{ t: 'ack', bytes }` per batch once applied (its ring bytes may be reused), then
 * `{ t: 'done', size }` or `{ t: 'error', … }`.
 */
import { parentPort } from 'node:worker_threads';
import { SyncUnpacker } from './unpacker.ts';
import type { PortableHeader, WhiteoutMode } from './unpacker.ts';

/**
 * One step of a batch: an entry's header, a piece of the current file's body (`n` bytes at offset `d` of the
 * shared ring), or the end of that body.
 */
export type UnpackOp = { h: PortableHeader } | { d: number; n: number } | { e: true };

/** What the main thread sends. */
export type ToWorker =
  | { t: 'start'; root: string; mode: WhiteoutMode; ring: SharedArrayBuffer }
  | { t: 'ops'; ops: UnpackOp[]; bytes: number }
  | { t: 'end' };

/** What the worker answers; an error keeps what the main thread needs to rebuild it. */
export type FromWorker =
  | { t: 'ack'; bytes: number }
  | { t: 'done'; size: number }
  | { t: 'error'; name: string; message: string; code?: string; errno?: number; syscall?: string; path?: string };

const port = parentPort;
if (port !== null) {
  let u: SyncUnpacker | undefined;
  let ring: Uint8Array = new Uint8Array(0);
  /** The current entry's body is wanted (a regular file) or to be dropped (whiteout, root, after a failure). */
  let keep = false;
  let failed = false;
  const fail = (err: unknown): void => {
    failed = true;
    u?.close();
    const e = err as NodeJS.ErrnoException;
    const out: FromWorker = { t: 'error', name: e?.name ?? 'Error', message: e?.message ?? String(err) };
    if (typeof e?.code === 'string') out.code = e.code;
    if (typeof e?.errno === 'number') out.errno = e.errno;
    if (typeof e?.syscall === 'string') out.syscall = e.syscall;
    if (typeof e?.path === 'string') out.path = e.path;
    port.postMessage(out);
  };
  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'start':
        u = new SyncUnpacker(m.root, m.mode);
        ring = new Uint8Array(m.ring);
        keep = false;
        failed = false;
        return;
      case 'ops':
        try {
          for (const op of m.ops) {
            if (failed) break;
            if ('h' in op) keep = u!.begin(op.h);
            else if ('d' in op) {
              if (keep) u!.write([ring.subarray(op.d, op.d + op.n)]);
            } else if (keep) {
              keep = false;
              u!.endFile();
            }
          }
        } catch (err) {
          fail(err);
        }
        port.postMessage({ t: 'ack', bytes: m.bytes } satisfies FromWorker);
        return;
      case 'end':
        if (failed) return;
        try {
          u!.finish();
          port.postMessage({ t: 'done', size: u!.size } satisfies FromWorker);
        } catch (err) {
          fail(err);
        }
        u = undefined;
        return;
    }
  });
}
