/**
 * Blob writes off the calling thread. Where a process receives blobs on its main thread (a registry's uploads), the
 * writes of each piece (a thread-pool round trip each), its hashing, and each blob's open, fsyncs and rename take
 * that thread's turns from the next request. `IngestThread` is one worker thread that does that work for the
 * partial blobs it holds open (ingest-worker.ts): the calling thread copies the bytes it receives into a free slot
 * of memory shared with the thread and posts where they are once the slot is full; the thread writes them at the
 * file's end, hashes them, and answers once both are done (the writer's `onWritten`, which a resumable upload's
 * recorded progress relies on). Slots are shared by every open file: up to SLOTS pieces are in flight at once.
 *
 * The thread starts on first use and stops after IDLE_MS with no file open. If it dies, every request under way
 * fails, and the files it held are gone with it: their writers fail (UnavailableError) until reopened.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest.ts';
import {
  CanceledError,
  DataLossError,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
  isErrno,
} from '../util/errors.ts';
import type { FetchSource } from '../util/blob-fetch.ts';
import { copyToShared } from '../util/shared-copy.ts';
import { IdleTimer, OwnedThread } from '../util/thread.ts';
import type { FromIngest, IngestRequest } from './ingest-worker.ts';
import type { BlobInfo, Expected } from './store.ts';
import { type AppendOptions, type IngestWriter, checkLimit, checkRef, verifyCommit } from './writer.ts';

/**
 * Bytes of one slot. Each write is a message each way, which costs the calling thread more than the copy into the
 * slot: with pieces of 1 MiB, a new 1 MiB blob is five messages (the open, not waited for; a write and its answer;
 * the finish and its answer).
 */
const SLOT = 1 << 20;
const SLOTS = 8;
/** The thread stops after this long with no file open and nothing asked. */
const IDLE_MS = 30_000;
/** Its heap stays small: the bytes go through shared memory, not the heap. */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 };

/** A slot of the thread's shared memory, lent to one writer: `bytes` is where its piece goes. */
export interface Slot {
  /** A Buffer over the shared memory, so that pieces go in through copyToShared's one memcpy. */
  readonly bytes: Buffer;
  /** Its place in the shared memory, for the thread. */
  readonly at: number;
  readonly generation: number;
}

/** Numbers fetches under way, for their `abort`. */
let fetches = 0;

type ErrorType = new (message: string, opts: { cause: Error }) => Error;

/** The errors of the HTTP statuses a fetch's caller tells apart; any other status is Unavailable. */
const BY_STATUS = new Map<number, ErrorType>([
  [404, NotFoundError],
  [401, UnauthorizedError],
  [403, ForbiddenError],
]);

/** What a failed fetch becomes: by its status, then its cause; undefined for what is not the fetch's own failure. */
function fetchErrorType(err: Error & { status?: number; code?: string }): ErrorType | undefined {
  const byStatus = err.status === undefined ? undefined : BY_STATUS.get(err.status);
  if (byStatus) return byStatus;
  if (err.code === 'ETOOBIG') return InvalidArgumentError;
  if (err.name === 'FetchFailure' || err.status !== undefined) return UnavailableError;
  return undefined;
}

/** A failed fetch as the BerthError its cause calls for (see `ThreadIngestWriter.fetch`), with its status. */
function fetchError(err: Error & { status?: number; code?: string }): Error {
  const type = fetchErrorType(err);
  const e = type ? new type(err.message, { cause: err }) : err;
  return err.status === undefined ? e : Object.assign(e, { status: err.status });
}

/** Pieces of one writer posted and not yet answered, at most: the next is gathered while these are written. */
const AHEAD = 2;

export class IngestThread {
  /** The current thread's free slots (made with it, dropped with it: the memory goes when the thread stops). */
  #free: Slot[] = [];
  #room: { resolve: (s: Slot) => void; reject: (err: Error) => void }[] = [];
  #thread: OwnedThread | undefined;
  /** Changes whenever a thread stops or starts: files opened before are not open in the current one. */
  #generation = 0;
  readonly #pending = new Map<number, { resolve: (m: FromIngest) => void; reject: (err: Error) => void }>();
  #req = 0;
  #nextId = 0;
  /** Files open in the current thread. */
  #open = 0;
  readonly #idle = new IdleTimer(IDLE_MS, () => this.#idleStop());
  /** Whether the current thread has loaded and answered its first request; who waits for that. */
  #ready = false;
  #up: { resolve: () => void; reject: (err: Error) => void }[] = [];

  get generation(): number {
    return this.#generation;
  }

  /**
   * Whether the thread is up. Starting one takes a while (from tens to hundreds of milliseconds on a loaded
   * machine): a caller with bytes waiting writes them itself meanwhile (see `FileContentStore.writer`).
   */
  get ready(): boolean {
    return this.#ready;
  }

  /** Starts the thread, if it is not running, for uploads to come; resolves once it is up. */
  warm(): Promise<void> {
    if (!this.#thread) this.#start();
    if (this.#ready) return Promise.resolve();
    return new Promise((resolve, reject) => this.#up.push({ resolve, reject }));
  }

  /** Opens (or creates, for size 0) the partial blob `path` positioned at `size`; `short` when the file has fewer bytes. */
  async open(
    path: string,
    size: number,
    algorithm: 'sha256' | 'sha512',
  ): Promise<{ id: number; generation: number } | { short: number }> {
    const id = ++this.#nextId;
    if (size === 0) {
      // A new file: its open is not waited for; a failure comes back with the file's next request.
      this.#post({ t: 'open', id, path, size, algorithm, quiet: true });
      this.#open++;
      return { id, generation: this.#generation };
    }
    const r = await this.call({ t: 'open', id, path, size, algorithm });
    if (r.short !== undefined) return { short: r.short };
    this.#open++;
    return { id, generation: this.#generation };
  }

  /** A file opened on `generation` was closed (or committed, or discarded). */
  closed(generation: number): void {
    if (generation !== this.#generation) return;
    this.#open--;
    this.#idleLater();
  }

  /** A free slot of the current thread (waiting for one while every slot is in use). */
  slot(): Promise<Slot> {
    if (!this.#thread) this.#start();
    const s = this.#free.pop();
    if (s) return Promise.resolve(s);
    return new Promise((resolve, reject) => this.#room.push({ resolve, reject }));
  }

  /** Gives a slot back without writing it. */
  give(s: Slot): void {
    if (s.generation !== this.#generation) return;
    const next = this.#room.shift();
    if (next) next.resolve(s);
    else this.#free.push(s);
  }

  /** Writes the first `len` bytes of `s` at the end of file `id` and hashes them; resolves once both are done. */
  async write(id: number, s: Slot, len: number): Promise<void> {
    try {
      if (s.generation !== this.#generation) throw new UnavailableError('the ingest thread stopped');
      await this.call({ t: 'write', id, at: s.at, len });
    } finally {
      this.give(s);
    }
  }

  /** Tells the thread something whose answer nobody waits for. */
  tell(m: IngestRequest): void {
    if (this.#thread) this.#post(m);
  }

  /** Asks the thread; `transfer`: buffers of `m` moved to the thread rather than copied. */
  call(m: IngestRequest, transfer: ArrayBuffer[] = []): Promise<FromIngest> {
    const req = ++this.#req;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) (this.#thread ?? this.#start()).worker.ref();
      this.#pending.set(req, { resolve, reject });
      this.#post(m, req, transfer);
    });
  }

  /** Posts a request whose answer nobody waits for (`req` 0), or whose answer `call` waits for. */
  #post(m: IngestRequest, req = 0, transfer: ArrayBuffer[] = []): void {
    this.#idle.disarm();
    (this.#thread ?? this.#start()).worker.postMessage({ ...m, req }, transfer);
  }

  /** Stops the thread now, closing the files it holds; requests under way fail. */
  async close(): Promise<void> {
    this.#idle.disarm();
    if (this.#thread && this.#open > 0) await this.call({ t: 'closeAll' }).catch(() => {});
    await this.#stop(new UnavailableError('the ingest thread was stopped'));
  }

  #start(): OwnedThread {
    const t = new OwnedThread(
      new URL('./ingest-worker.ts', import.meta.url),
      { resourceLimits: RESOURCE_LIMITS, name: 'ingest' },
      'the ingest thread',
      (err) => this.#stopped(err),
    );
    const w = t.worker;
    this.#generation++;
    this.#thread = t;
    const memory = new SharedArrayBuffer(SLOTS * SLOT);
    this.#free = Array.from({ length: SLOTS }, (_, i) => ({
      bytes: Buffer.from(memory, i * SLOT, SLOT),
      at: i * SLOT,
      generation: this.#generation,
    }));
    w.on('message', (m: FromIngest) => {
      if (m.req !== 0) this.#answer(m);
      else if (this.#thread === t) {
        this.#ready = true;
        const up = this.#up;
        this.#up = [];
        for (const u of up) u.resolve();
        this.#idleLater();
      }
    });
    // Answered with req 0 once the thread is up; the requests after it find the slots in place. The thread keeps
    // the process alive only while an answer is awaited.
    w.postMessage({ t: 'init', slots: memory, req: 0 });
    w.unref();
    return t;
  }

  #answer(m: FromIngest): void {
    const p = this.#pending.get(m.req);
    if (!p) return;
    this.#pending.delete(m.req);
    if (this.#pending.size === 0) {
      this.#thread?.worker.unref();
      this.#idleLater();
    }
    if (m.error) p.reject(Object.assign(new Error(m.error.message), m.error));
    else p.resolve(m);
  }

  #idleLater(): void {
    if (this.#open > 0 || this.#pending.size > 0 || !this.#thread) return;
    this.#idle.arm();
  }

  #idleStop(): void {
    if (this.#open > 0 || this.#pending.size > 0) return;
    void this.#stop(new UnavailableError('the ingest thread stopped'));
  }

  /** Stops the current thread on purpose: what waits on it fails with `err`. */
  async #stop(err: Error): Promise<void> {
    const t = this.#thread;
    this.#stopped(err);
    await t?.stop();
  }

  /** The current thread is gone (stopped or dead): nothing it held is open any more. */
  #stopped(err: Error): void {
    this.#thread = undefined;
    this.#idle.disarm();
    this.#ready = false;
    this.#generation++;
    this.#open = 0;
    this.#free = [];
    const waiting = [...this.#room, ...this.#up];
    this.#room = [];
    this.#up = [];
    for (const r of waiting) r.reject(err);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }
}

/**
 * `FileIngestWriter`'s contract (writer.ts) with the file work done on an `IngestThread`: the partial is
 * `<dir>/<ref>`, and a verified blob is renamed to `<blobs>/<alg>/<hex>` by the thread.
 */
export class ThreadIngestWriter implements IngestWriter {
  readonly ref: string;
  #size: number;
  readonly #thread: IngestThread;
  readonly #id: number;
  readonly #generation: number;
  readonly #algorithm: 'sha256' | 'sha512';
  /** Where verified blobs go: `<blobs>/<alg>/<hex>`. */
  readonly #blobs: string;
  #open = true;
  /**
   * The last piece of an append with `last`, written with the commit: copied out of its slot, so that the slot
   * goes back at once rather than after the commit's syncs, and moved to the thread with the commit's message.
   */
  #tail: Uint8Array | undefined;

  private constructor(
    thread: IngestThread,
    ref: string,
    opened: { id: number; generation: number },
    size: number,
    algorithm: 'sha256' | 'sha512',
    blobs: string,
  ) {
    this.#thread = thread;
    this.ref = ref;
    this.#id = opened.id;
    this.#generation = opened.generation;
    this.#size = size;
    this.#algorithm = algorithm;
    this.#blobs = blobs;
  }

  static async open(
    thread: IngestThread,
    dir: string,
    ref: string,
    opts: { size: number; algorithm?: 'sha256' | 'sha512' },
    blobs: string,
  ): Promise<ThreadIngestWriter> {
    checkRef(ref);
    const algorithm = opts.algorithm ?? 'sha256';
    let r: Awaited<ReturnType<IngestThread['open']>>;
    try {
      r = await thread.open(join(dir, ref), opts.size, algorithm);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new NotFoundError(`partial blob "${ref}" not found`);
      throw err;
    }
    if ('short' in r)
      throw new DataLossError(`partial blob "${ref}" has ${r.short} bytes, ${opts.size} were acknowledged`);
    return new ThreadIngestWriter(thread, ref, r, opts.size, algorithm, blobs);
  }

  get size(): number {
    return this.#size;
  }

  /** Throws unless the file is still open in the thread. */
  #live(): void {
    if (!this.#open) throw new UnavailableError(`partial blob "${this.ref}" is closed`);
    if (this.#thread.generation !== this.#generation)
      throw new UnavailableError(`partial blob "${this.ref}" was open on an ingest thread that stopped`);
  }

  async #call(m: IngestRequest, transfer: ArrayBuffer[] = []): Promise<FromIngest> {
    this.#live();
    return this.#thread.call(m, transfer);
  }

  #closed(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#thread.closed(this.#generation);
  }

  /**
   * Copies the source's chunks into slots of the thread's memory and posts each full one (and the last), up to
   * AHEAD of them at once: the next piece is gathered while the earlier ones are written. `onWritten` hears the
   * file's size each time a piece is written.
   */
  async append(source: AsyncIterable<Uint8Array> | Readable, opts: AppendOptions = {}): Promise<number> {
    const start = this.#size;
    let pos = start;
    let slot: Slot | undefined;
    let filled = 0;
    const posted: { written: Promise<void>; end: number }[] = [];
    const post = () => {
      const written = this.#thread.write(this.#id, slot!, filled);
      written.catch(() => {}); // awaited in turn below; a failure must not go unhandled meanwhile
      posted.push({ written, end: pos });
      slot = undefined;
      filled = 0;
    };
    const settle = async () => {
      const p = posted.shift()!;
      await p.written;
      await opts.onWritten?.(p.end);
    };
    try {
      for await (const chunk of source as AsyncIterable<Uint8Array>) {
        opts.signal?.throwIfAborted();
        checkLimit(opts.maxSize, pos + chunk.byteLength);
        for (let off = 0; off < chunk.byteLength; ) {
          if (slot === undefined) {
            this.#live();
            slot = await this.#thread.slot();
          }
          const n = Math.min(slot.bytes.length - filled, chunk.byteLength - off);
          copyToShared(slot.bytes, filled, chunk, off, n);
          filled += n;
          off += n;
          pos += n;
          if (filled === slot.bytes.length) {
            post();
            if (posted.length >= AHEAD) await settle();
          }
        }
      }
      opts.signal?.throwIfAborted();
      if (filled > 0 && opts.last) {
        this.#tail = new Uint8Array(slot!.bytes.subarray(0, filled)); // a copy: the slot goes back
        this.#thread.give(slot!);
        slot = undefined;
      } else if (filled > 0) post();
      while (posted.length > 0) await settle();
    } catch (err) {
      if (slot !== undefined) this.#thread.give(slot);
      // A last piece kept before a write failed is not the file's end any more: the commit must not write it.
      this.#tail = undefined;
      // The writes under way end first; then the file is cut back to where the append started (the thread
      // computes the hash from the file again).
      await Promise.allSettled(posted.map((p) => p.written));
      await this.#call({ t: 'truncate', id: this.#id, size: start }).catch(() => {});
      throw err;
    }
    this.#size = pos;
    return pos;
  }

  /**
   * The thread fetches the body itself (util/blob-fetch.ts): no byte of it passes through this thread, which only
   * hears the size at the end. An HTTP status other than 200 fails as NotFound (404), Unauthorized (401),
   * Forbidden (403) or Unavailable, with the status in the error's `status`; a body longer than `maxSize` as
   * InvalidArgument; the network as Unavailable.
   */
  async fetch(source: FetchSource, opts: { signal?: AbortSignal | undefined; maxSize?: number | undefined } = {}) {
    const { signal } = opts;
    signal?.throwIfAborted();
    const fetch = ++fetches;
    const max = opts.maxSize === undefined ? Number.MAX_SAFE_INTEGER : opts.maxSize - this.#size;
    const onAbort = () => this.#thread.tell({ t: 'abort', fetch, reason: `GET ${source.url} was canceled` });
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await this.#call({ t: 'fetch', id: this.#id, fetch, source, max });
      this.#size += r.written ?? 0;
      return this.#size;
    } catch (err) {
      if (signal?.aborted) throw new CanceledError(`GET ${source.url} was canceled`, { cause: err });
      throw fetchError(err as Error & { status?: number; code?: string });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The thread gathers: a source's chunks are copied once, into its memory. */
  readonly gathers = true;

  /** One request: the thread hashes, compares, and on a match syncs and renames (see `finish` in the worker). */
  async commit(expected: Expected): Promise<BlobInfo & { created: boolean }> {
    let created = false;
    const info = await verifyCommit(
      this.#algorithm,
      expected,
      async () => {
        const tail = this.#tail;
        this.#tail = undefined;
        try {
          const r = await this.#call(
            {
              t: 'finish',
              id: this.#id,
              digest: expected.digest,
              size: expected.size,
              blobs: this.#blobs,
              ...(tail ? { tail } : {}),
            },
            tail ? [tail.buffer as ArrayBuffer] : [],
          );
          created = r.created === true;
          return { digest: r.digest as Digest, size: this.#size };
        } finally {
          // Stored, refused or failed, the thread let the file go.
          this.#closed();
        }
      },
      // On a mismatch the thread removed the partial already.
      async () => {},
    );
    return { ...info, created };
  }

  async close(): Promise<void> {
    this.#tail = undefined;
    if (!this.#open) return;
    await this.#call({ t: 'close', id: this.#id }).catch(() => {});
    this.#closed();
  }
}
