/**
 * Blob writes off the calling thread. Where a process receives blobs on its main thread (a registry's uploads), the
 * writes of each piece (a thread-pool round trip each), its hashing, and each blob's open, fsyncs and rename take
 * that thread's turns from the next request. `IngestThread` is one worker thread that does that work for the
 * partial blobs it holds open (ingest-worker.ts): the calling thread copies a piece into a free slot of memory
 * shared with the thread and posts where it is; the thread writes it at the file's end, hashes it, and answers
 * once both are done, so a piece is on file when its write resolves (what a resumable upload's recorded progress
 * relies on). Slots are shared by every open file: up to SLOTS pieces are in flight at once.
 *
 * The thread starts on first use and stops after IDLE_MS with no file open. If it dies, every request under way
 * fails, and the files it held are gone with it: their writers fail (UnavailableError) until reopened.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import type { Digest } from '../util/digest.ts';
import { DataLossError, NotFoundError, UnavailableError, isErrno } from '../util/errors.ts';
import { startThread } from '../util/thread.ts';
import type { FromIngest, IngestRequest } from './ingest-worker.ts';
import type { BlobInfo, Expected } from './store.ts';
import { type IngestWriter, checkLimit, checkRef, verifyCommit } from './writer.ts';

/**
 * Bytes of one slot: a piece larger than this goes in several writes. Each write is a message each way, which costs
 * the calling thread more than the copy into the slot: pieces of 1 MiB make a 1 MiB blob three round trips (open,
 * write, finish; the open of a new file is not waited for).
 */
const SLOT = 1 << 20;
const SLOTS = 8;
/** The thread stops after this long with no file open and nothing asked. */
const IDLE_MS = 30_000;
/** Its heap stays small: the bytes go through shared memory, not the heap. */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 };

export class IngestThread {
  readonly #view = new Uint8Array(new SharedArrayBuffer(SLOTS * SLOT));
  readonly #free = Array.from({ length: SLOTS }, (_, i) => i);
  readonly #room: ((slot: number) => void)[] = [];
  #worker: Worker | undefined;
  /** Changes whenever a thread stops or starts: files opened before are not open in the current one. */
  #generation = 0;
  readonly #pending = new Map<number, { resolve: (m: FromIngest) => void; reject: (err: Error) => void }>();
  #req = 0;
  #nextId = 0;
  /** Files open in the current thread. */
  #open = 0;
  #idle: NodeJS.Timeout | undefined;

  get generation(): number {
    return this.#generation;
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

  /** Writes `chunk` at the end of file `id` and hashes it: resolves once both are done. */
  async write(id: number, chunk: Uint8Array): Promise<void> {
    for (let off = 0; off < chunk.byteLength; ) {
      const slot = this.#free.pop() ?? (await new Promise<number>((r) => this.#room.push(r)));
      const n = Math.min(SLOT, chunk.byteLength - off);
      try {
        this.#view.set(chunk.subarray(off, off + n), slot * SLOT);
        await this.call({ t: 'write', id, at: slot * SLOT, len: n });
      } finally {
        const next = this.#room.shift();
        if (next) next(slot);
        else this.#free.push(slot);
      }
      off += n;
    }
  }

  call(m: IngestRequest): Promise<FromIngest> {
    const req = ++this.#req;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) (this.#worker ?? this.#start()).ref();
      this.#pending.set(req, { resolve, reject });
      this.#post(m, req);
    });
  }

  /** Posts a request whose answer nobody waits for (`req` 0), or whose answer `call` waits for. */
  #post(m: IngestRequest, req = 0): void {
    clearTimeout(this.#idle);
    this.#idle = undefined;
    (this.#worker ?? this.#start()).postMessage({ ...m, req });
  }

  /** Stops the thread now, closing the files it holds; requests under way fail. */
  async close(): Promise<void> {
    clearTimeout(this.#idle);
    if (this.#worker && this.#open > 0) await this.call({ t: 'closeAll' }).catch(() => {});
    const w = this.#worker;
    this.#stopped(new UnavailableError('the ingest thread was stopped'));
    await w?.terminate();
  }

  #start(): Worker {
    const w = startThread(new URL('./ingest-worker.ts', import.meta.url), {
      resourceLimits: RESOURCE_LIMITS,
      name: 'ingest',
    });
    this.#generation++;
    this.#worker = w;
    w.on('message', (m: FromIngest) => this.#answer(m));
    w.on('error', (err) => {
      if (this.#worker === w) this.#stopped(new UnavailableError(`the ingest thread failed: ${err.message}`));
    });
    w.on('exit', (code) => {
      if (this.#worker === w) this.#stopped(new UnavailableError(`the ingest thread exited with code ${code}`));
    });
    // Answered with req 0, which nothing waits for; the requests after it find the slots in place. The thread keeps
    // the process alive only while an answer is awaited.
    w.postMessage({ t: 'init', slots: this.#view.buffer as SharedArrayBuffer, req: 0 });
    w.unref();
    return w;
  }

  #answer(m: FromIngest): void {
    const p = this.#pending.get(m.req);
    if (!p) return;
    this.#pending.delete(m.req);
    if (this.#pending.size === 0) {
      this.#worker?.unref();
      this.#idleLater();
    }
    if (m.error) p.reject(Object.assign(new Error(m.error.message), m.error));
    else p.resolve(m);
  }

  #idleLater(): void {
    if (this.#open > 0 || this.#pending.size > 0 || !this.#worker || this.#idle) return;
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#open > 0 || this.#pending.size > 0) return;
      const w = this.#worker;
      this.#stopped(new UnavailableError('the ingest thread stopped'));
      void w?.terminate();
    }, IDLE_MS);
    this.#idle.unref();
  }

  #stopped(err: Error): void {
    this.#worker = undefined;
    this.#generation++;
    this.#open = 0;
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

  async #call(m: IngestRequest): Promise<FromIngest> {
    this.#live();
    return this.#thread.call(m);
  }

  #closed(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#thread.closed(this.#generation);
  }

  async append(
    source: AsyncIterable<Uint8Array> | Readable,
    opts: { signal?: AbortSignal; maxSize?: number } = {},
  ): Promise<number> {
    const start = this.#size;
    let pos = start;
    try {
      for await (const chunk of source as AsyncIterable<Uint8Array>) {
        opts.signal?.throwIfAborted();
        checkLimit(opts.maxSize, pos + chunk.byteLength);
        this.#live();
        await this.#thread.write(this.#id, chunk);
        pos += chunk.byteLength;
      }
      opts.signal?.throwIfAborted();
    } catch (err) {
      // Cut back to where the append started (the thread computes the hash from the file again).
      await this.#call({ t: 'truncate', id: this.#id, size: start }).catch(() => {});
      throw err;
    }
    this.#size = pos;
    return pos;
  }

  /** One request: the thread hashes, compares, and on a match syncs and renames (see `finish` in the worker). */
  async commit(expected: Expected): Promise<BlobInfo & { created: boolean }> {
    let created = false;
    const info = await verifyCommit(
      this.#algorithm,
      expected,
      async () => {
        try {
          const r = await this.#call({
            t: 'finish',
            id: this.#id,
            digest: expected.digest,
            size: expected.size,
            blobs: this.#blobs,
          });
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
    if (!this.#open) return;
    await this.#call({ t: 'close', id: this.#id }).catch(() => {});
    this.#closed();
  }
}
