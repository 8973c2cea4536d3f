import { Worker } from 'node:worker_threads';
import { CanceledError, InvalidArgumentError } from '../util/errors.ts';
import { Limit } from '../util/lock.ts';
import type { TarEntry, TarHeader } from '../util/tar/index.ts';
import type { FromWorker, ToWorker, UnpackOp } from './apply-worker.ts';
import type { WhiteoutMode } from './unpacker.ts';

export type { WhiteoutMode } from './unpacker.ts';
export { isAbsoluteEntry, normalise } from './unpacker.ts';

export interface UnpackOptions {
  whiteouts: WhiteoutMode;
  signal?: AbortSignal | undefined;
}

/** Entries are sent to the worker in batches of about this many body bytes, or this many steps. */
const BATCH_BYTES = 1 << 20;
const BATCH_OPS = 256;
/**
 * File bodies go through a ring buffer shared with the worker, of this size: a body's bytes are copied in once and
 * written to disk straight from it, so an unpack allocates no buffer per chunk (transferred buffers were counted
 * against this thread until its next GC: a 256 MiB load grew by ~100 MiB). It is also the backpressure: the tar
 * waits while the ring is full. Pieces of a chunk are at most a quarter of it.
 */
const RING = 8 << 20;
const MAX_PIECE = RING / 4;
/** Batches sent and not yet applied, above which the tar waits (bounds a flood of empty entries). */
const MAX_BATCHES = 16;
/**
 * Worker threads at most, busy or idle: starting one costs 50–250 ms of CPU here (module loading, koffi), so a
 * pull of many small layers reuses a few instead of starting one per layer; an unpack beyond them waits its turn.
 */
const MAX_WORKERS = 3;
/** An idle worker is stopped after this long, giving its memory back. */
const IDLE_MS = 10_000;

/**
 * Unpacks a layer tar into `root`, with Docker's rules:
 * - Names are relative to `root` and normalised; an absolute name ('/etc/x'; the root entry '/' alone is
 *   allowed) or a name or hard-link target that leaves `root` ('../x', 'a/../../x') is an InvalidArgumentError
 *   naming the entry. Docker strips a leading '/'; Berth refuses it, since no layer tool writes one and an
 *   archive that does is malformed or crafted. Nothing is ever written through a symlink: every parent
 *   component is checked with lstat, and a symlink there is an InvalidArgumentError (Docker's breakoutError).
 *   Symlinks themselves may point anywhere; they are never followed.
 * - An entry replaces an existing entry of another type (removing a directory with its contents); a
 *   directory entry over an existing directory keeps its contents and updates its metadata.
 * - Metadata: lchown, then the mode (setuid/setgid survive, since chmod comes after chown), xattrs, then
 *   times; directories' times are set last, after their contents. Xattrs named `trusted.overlay.*` are
 *   skipped: a layer must not forge overlayfs's own metadata (opaque dirs, redirects). Xattrs the filesystem
 *   does not support (ENOTSUP) are skipped, as Docker does.
 * - A hard link's target must already exist under `root` (written by this layer, or for 'delete' mode also
 *   present in the lower content copied there) and not be a directory.
 *
 * The file system work runs in a worker thread (apply-worker.ts, `SyncUnpacker`) with synchronous calls: file
 * creation and metadata wait on ext4's journal while data is being written, and on the main thread that wait
 * held up berthd's event loop (HTTP, digests, gunzip) for 1.5–1.9 s of a 257 MiB pull; through the libuv pool
 * it queued gunzip and the content store behind it. This thread parses the tar and posts the entries in batches,
 * file bodies through a ring buffer shared with the worker (8 MiB: the backpressure). On failure or cancel the
 * worker is stopped before this returns, so nothing is written into `root` afterwards.
 *
 * Returns the tar's size as the archive's blocks add up: each entry's header, its PAX extended header (from
 * the records that applied to it) and its padded body, plus the two end blocks. That is exact for the ustar
 * + PAX archives that Docker, BuildKit and Go's archive/tar write; GNU long-name records, PAX global headers
 * and the zero padding GNU tar adds up to its 10 KiB record size are not visible here. A caller that needs
 * the exact byte count counts the stream it gives to `extract`.
 */
export async function unpackLayer(
  root: string,
  layer: AsyncIterable<TarEntry>,
  opts: UnpackOptions,
): Promise<{ size: number }> {
  const job = new Job(await takeWorker());
  let ok = false;
  try {
    job.start(root, opts.whiteouts);
    for await (const { header, body } of layer) {
      if (opts.signal?.aborted)
        throw new CanceledError(`unpack into "${root}" canceled`, { cause: opts.signal.reason });
      job.throwIfFailed();
      job.header(header);
      if (header.type === 'file') {
        for await (const chunk of body) await job.data(chunk);
        job.endFile();
      } else {
        for await (const _ of body) {
          // none expected; discard
        }
      }
      await job.maybeFlush();
    }
    const size = await job.end();
    ok = true;
    return { size: size + 1024 };
  } finally {
    await job.close(ok);
  }
}

/**
 * The worker threads, process-wide: a cache of threads that hold no state between jobs. An unpack holds one of
 * MAX_WORKERS slots while it has a worker and takes an idle thread before starting a new one, so there are never
 * more than MAX_WORKERS threads, busy and idle together.
 */
const slots = new Limit(MAX_WORKERS);
const idle: { w: Thread; timer: NodeJS.Timeout }[] = [];

/** A worker thread and the ring buffer it shares with this thread. */
interface Thread {
  worker: Worker;
  ring: SharedArrayBuffer;
}

/** Waits for a slot, then hands out an idle worker or a new one. */
async function takeWorker(): Promise<Thread> {
  await slots.take();
  const spare = idle.pop();
  if (spare !== undefined) {
    clearTimeout(spare.timer);
    spare.w.worker.ref();
    return spare.w;
  }
  let fresh: Thread;
  try {
    fresh = { worker: new Worker(new URL('./apply-worker.ts', import.meta.url)), ring: new SharedArrayBuffer(RING) };
  } catch (err) {
    slots.release();
    throw err;
  }
  fresh.worker.on('exit', () => {
    // An idle worker that exited (its idle time ran out) leaves the cache; a busy one's job fails and gives
    // its slot back.
    const i = idle.findIndex((x) => x.w === fresh);
    if (i >= 0) idle.splice(i, 1)[0]!.timer.close();
  });
  fresh.worker.on('error', () => {}); // a crash: 'exit' follows; a busy worker's is its job's failure
  return fresh;
}

/** Keeps a worker that finished a job well idle for a while (the next unpack takes it), and frees its slot. */
function releaseWorker(w: Thread): void {
  w.worker.unref();
  const timer = setTimeout(() => void w.worker.terminate(), IDLE_MS);
  timer.unref();
  idle.push({ w, timer });
  slots.release();
}

/** One unpack's conversation with its worker: batches of ops, file bodies through the ring. */
class Job {
  readonly #t: Thread;
  readonly #ring: Uint8Array;
  /** Where the next body bytes go in the ring, and how many bytes there the worker has not yet applied. */
  #head = 0;
  #ringUsed = 0;
  #ops: UnpackOp[] = [];
  #batchBytes = 0;
  #batches = 0;
  #failure: Error | undefined;
  #size: number | undefined;
  #wake: (() => void) | undefined;
  readonly #onMessage = (m: FromWorker): void => {
    if (m.t === 'ack') {
      this.#ringUsed -= m.bytes;
      this.#batches--;
    } else if (m.t === 'done') this.#size = m.size;
    else this.#failure ??= rebuild(m);
    this.#notify();
  };
  readonly #onError = (err: Error): void => {
    this.#failure ??= err;
    this.#notify();
  };
  readonly #onExit = (code: number): void => {
    this.#failure ??= new Error(`the unpack worker exited with code ${code}`);
    this.#notify();
  };

  constructor(t: Thread) {
    this.#t = t;
    this.#ring = new Uint8Array(t.ring);
    t.worker.on('message', this.#onMessage);
    t.worker.on('error', this.#onError);
    t.worker.on('exit', this.#onExit);
  }

  start(root: string, mode: WhiteoutMode): void {
    this.#post({ t: 'start', root, mode, ring: this.#t.ring });
  }

  header(h: TarHeader): void {
    this.#ops.push({ h });
  }

  /** Copies a piece of the current file's body into the ring, waiting for room there. */
  async data(chunk: Uint8Array): Promise<void> {
    for (let off = 0; off < chunk.length; ) {
      const len = Math.min(chunk.length - off, RING - this.#head, MAX_PIECE);
      if (this.#ringUsed + len > RING) {
        await this.flush();
        while (this.#ringUsed + len > RING && this.#failure === undefined) await this.#next();
        this.throwIfFailed();
      }
      this.#ring.set(chunk.subarray(off, off + len), this.#head);
      this.#ops.push({ d: this.#head, n: len });
      this.#head = (this.#head + len) % RING;
      this.#ringUsed += len;
      this.#batchBytes += len;
      off += len;
      if (this.#batchBytes >= BATCH_BYTES) await this.flush();
    }
  }

  endFile(): void {
    this.#ops.push({ e: true });
  }

  async maybeFlush(): Promise<void> {
    if (this.#batchBytes >= BATCH_BYTES || this.#ops.length >= BATCH_OPS) await this.flush();
  }

  /** Sends the ops gathered so far; waits while too many batches are in flight. */
  async flush(): Promise<void> {
    if (this.#ops.length > 0) {
      this.#post({ t: 'ops', ops: this.#ops, bytes: this.#batchBytes });
      this.#batches++;
      this.#ops = [];
      this.#batchBytes = 0;
    }
    while (this.#batches > MAX_BATCHES && this.#failure === undefined) await this.#next();
    this.throwIfFailed();
  }

  throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Sends what is left and ends the job; resolves with the archive's size as the worker counted it. */
  async end(): Promise<number> {
    await this.flush();
    this.#post({ t: 'end' });
    while (this.#size === undefined && this.#failure === undefined) await this.#next();
    this.throwIfFailed();
    return this.#size!;
  }

  /** Returns the worker to the cache after a job that ended well, else stops it (and waits until it has). */
  async close(ok: boolean): Promise<void> {
    const w = this.#t.worker;
    w.off('message', this.#onMessage);
    w.off('error', this.#onError);
    w.off('exit', this.#onExit);
    if (ok) releaseWorker(this.#t);
    else {
      await w.terminate();
      slots.release();
    }
  }

  #post(m: ToWorker): void {
    this.#t.worker.postMessage(m);
  }

  #next(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** The worker's error as the class the caller expects: Berth's InvalidArgumentError, or an errno error. */
function rebuild(m: Extract<FromWorker, { t: 'error' }>): Error {
  if (m.name === 'InvalidArgumentError') return new InvalidArgumentError(m.message);
  const err: NodeJS.ErrnoException = new Error(m.message);
  if (m.name !== 'Error') err.name = m.name;
  if (m.code !== undefined) err.code = m.code;
  if (m.errno !== undefined) err.errno = m.errno;
  if (m.syscall !== undefined) err.syscall = m.syscall;
  if (m.path !== undefined) err.path = m.path;
  return err;
}
