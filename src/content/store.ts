import { createReadStream, renameSync, statSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PassThrough, Readable } from 'node:stream';
import { type Digest, digestAlgorithm, digestHex, isDigest, mismatch, VerifyingStream } from '../util/digest.ts';
import { syncDir, writeFileAtomic } from '../util/atomic.ts';
import { DataLossError, InvalidArgumentError, NotFoundError, isErrno } from '../util/errors.ts';
import { IngestThread, ThreadIngestWriter } from './ingest-thread.ts';
import { DirSyncs } from './dirsyncs.ts';
import {
  FileIngestWriter,
  type IngestWriter,
  type ResumableIngester,
  checkRef,
  listPartials,
  placeFile,
} from './writer.ts';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface Expected {
  digest?: Digest | undefined;
  size?: number | undefined;
}

/** Reads blobs. */
export interface Provider {
  info(digest: Digest): Promise<BlobInfo>;
  has(digest: Digest): Promise<boolean>;
  /** A stream of the blob's bytes from `start` to `end` (inclusive; for resumed and range reads). */
  read(digest: Digest, opts?: { start?: number; end?: number; signal?: AbortSignal }): Readable;
  /** The whole blob, for small JSON documents; refuses blobs above maxSize. */
  readAll(digest: Digest, maxSize?: number): Promise<Buffer>;
  /**
   * The blob's path on disk, for consumers that want to open it themselves (e.g. to read it twice): a deferred
   * blob (see `Deferrer`) is there only after `file`.
   */
  path(digest: Digest): string;
  /** The blob's path on disk once it is there: a deferred blob (see `Deferrer`) is made first. */
  file(digest: Digest, opts?: { signal?: AbortSignal }): Promise<string>;
}

/**
 * A deferred blob: one whose bytes can be made again from a committed snapshot (a layer a build made by linking
 * files), recorded with the digest and size it had when it was made. The store answers `has`, `info` and `walk`
 * for it as for a stored blob, and `read`, `readAll` and `file` make its bytes (the producer the daemon
 * registers), checked against that digest and size before they are stored like any ingested blob.
 */
export interface DeferredBlob {
  digest: Digest;
  size: number;
  /** The committed snapshot (a chain ID) its bytes are made from; a collection keeps it while the blob is kept. */
  snapshot: string;
}

/** Records deferred blobs and makes them real on demand. */
export interface Deferrer {
  /**
   * Records `blob` as deferred, unless a blob of that digest is stored. The record is durable (synced) when this
   * resolves.
   */
  defer(blob: DeferredBlob): Promise<void>;
  /** Sets what makes a deferred blob's bytes. */
  setProducer(producer: (blob: DeferredBlob, signal?: AbortSignal) => AsyncIterable<Uint8Array>): void;
  /** Every deferred blob not yet stored. */
  deferred(): Promise<DeferredBlob[]>;
}

/** Writes blobs: nothing is visible until its size and digest are verified and it is renamed into place. */
export interface Ingester {
  /**
   * Streams `source` into the store. With an expected digest, a mismatch is a DataLossError and nothing is kept.
   * The blob's content is on disk before its name appears; with `syncDir: false` the new name itself is made
   * durable later, by `syncBlobs()` (one directory sync for many blobs, before anything refers to them).
   */
  ingest(
    source: AsyncIterable<Uint8Array> | Readable,
    expected?: Expected,
    opts?: { signal?: AbortSignal; syncDir?: boolean },
  ): Promise<BlobInfo & { created: boolean }>;
  /** Stores bytes already in memory. */
  put(data: Uint8Array, expected?: Expected, opts?: { syncDir?: boolean }): Promise<BlobInfo & { created: boolean }>;
  /** Makes the names of blobs stored with `syncDir: false` durable. */
  syncBlobs(): Promise<void>;
  /**
   * A new path under the store's ingest directory, for a writer elsewhere (an unpack thread storing a layer's blob as
   * it unpacks it) to create, fill, hash and sync; then `adopt` it. Left there by a crash, `repair` removes it.
   */
  ingestPath(): string;
  /**
   * Takes in a file made at an `ingestPath()`, whose writer synced it and reports its digest and size: checked
   * against `expected` (a DataLossError if they differ, and the file is removed), then renamed into place as
   * `ingest` places a blob. The file is removed in every case but success, except a path outside the ingest
   * directory, which is refused and left alone.
   */
  adopt(
    tmp: string,
    got: { digest: Digest; size: number },
    expected?: Expected,
    opts?: { syncDir?: boolean },
  ): Promise<BlobInfo & { created: boolean }>;
}

/** Lists and deletes blobs. */
export interface Manager {
  walk(): AsyncIterable<BlobInfo>;
  /** The digests `walk` yields, without their sizes: a listing, no read or stat of each blob. */
  digests(): AsyncIterable<Digest>;
  delete(digest: Digest): Promise<void>;
  /** Removes unfinished ingests (left by a crash); called at daemon start. */
  repair(): Promise<{ removed: number }>;
}

export type ContentStore = Provider & Ingester & Manager & Partial<Deferrer>;

export type { IngestWriter, ResumableIngester } from './writer.ts';

/**
 * Content-addressed blob store in OCI image layout: `<root>/blobs/<alg>/<hex>`, with partial writes under
 * `<root>/ingest/`. A blob appears only by rename after a verified, fsynced write, so a reader never sees a
 * partial or wrong blob, and a crash leaves only ingest files, which `repair()` removes.
 */
export class FileContentStore implements ContentStore, ResumableIngester, Deferrer {
  readonly root: string;
  #producer: ((blob: DeferredBlob, signal?: AbortSignal) => AsyncIterable<Uint8Array>) | undefined;
  /** Materializations under way, one per digest. */
  readonly #making = new Map<string, Promise<void>>();

  /** Where `writer`'s partial blobs are written and hashed, when not on the calling thread (see ingest-thread.ts). */
  readonly #thread: IngestThread | undefined;
  /** The syncs of the blobs' directories, shared by the commits on this thread. */
  readonly #syncs = new DirSyncs(syncDir);
  /** Writers open on this thread while the ingest thread is not up. */
  #writing = 0;
  /** An append's bytes are on file as each piece is written: a cut append keeps what came before the cut. */
  readonly appendsInPlace = true;

  /**
   * `ingestThread`: a resumable ingest's file work (writes, hashing, the commit's fsyncs and rename) is done on a
   * thread of the store's own, for a process whose main thread serves many uploads (a registry); `close` stops it.
   */
  constructor(root: string, opts: { ingestThread?: boolean } = {}) {
    this.root = root;
    this.#thread = opts.ingestThread ? new IngestThread() : undefined;
  }

  /** Starts the ingest thread, if there is one, for uploads to come; resolves once it is up. */
  async warm(): Promise<void> {
    await this.#thread?.warm();
  }

  /** Stops the ingest thread, if any. */
  async close(): Promise<void> {
    await this.#thread?.close();
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
    await mkdir(join(this.root, 'ingest'), { recursive: true });
  }

  #deferredPath(digest: Digest): string {
    if (!isDigest(digest)) throw new InvalidArgumentError(`invalid digest "${digest}"`);
    return join(this.root, 'deferred', digestAlgorithm(digest), digestHex(digest));
  }

  async #deferredRecord(digest: Digest): Promise<DeferredBlob | undefined> {
    try {
      const r = JSON.parse(await readFile(this.#deferredPath(digest), 'utf8')) as DeferredBlob;
      return { digest, size: r.size, snapshot: r.snapshot };
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async defer(blob: DeferredBlob): Promise<void> {
    if (!Number.isSafeInteger(blob.size) || blob.size < 0)
      throw new InvalidArgumentError(`invalid size ${blob.size} for blob ${blob.digest}`);
    const path = this.#deferredPath(blob.digest);
    if (await this.#stored(blob.digest)) return;
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, JSON.stringify({ size: blob.size, snapshot: blob.snapshot }), {
      tmp: `${path}.${randomBytes(4).toString('hex')}.tmp`,
      exclusive: true,
      mode: 0o644,
      fsync: true,
      fsyncDir: true,
    });
  }

  setProducer(producer: (blob: DeferredBlob, signal?: AbortSignal) => AsyncIterable<Uint8Array>): void {
    this.#producer = producer;
  }

  async deferred(): Promise<DeferredBlob[]> {
    const out: DeferredBlob[] = [];
    for (const alg of ['sha256', 'sha512']) {
      let names: string[];
      try {
        names = await readdir(join(this.root, 'deferred', alg));
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      for (const hex of names) {
        const digest = `${alg}:${hex}` as Digest;
        if (!isDigest(digest)) continue;
        const r = await this.#deferredRecord(digest).catch(() => undefined);
        if (r && !(await this.#stored(digest))) out.push(r);
      }
    }
    return out;
  }

  async materialize(digest: Digest, opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (await this.#stored(digest)) return;
    let p = this.#making.get(digest);
    if (!p) {
      p = this.#materialize(digest, opts.signal).finally(() => this.#making.delete(digest));
      this.#making.set(digest, p);
    }
    return p;
  }

  async #materialize(digest: Digest, signal?: AbortSignal): Promise<void> {
    const rec = await this.#deferredRecord(digest);
    if (!rec) {
      if (await this.#stored(digest)) return;
      throw new NotFoundError(`blob ${digest} not found`);
    }
    if (!this.#producer) throw new NotFoundError(`blob ${digest} not found (deferred, and nothing here makes it)`);
    // checked against the digest and size it was recorded with: a mismatch stores nothing
    await this.ingest(this.#producer(rec, signal), { digest, size: rec.size }, signal ? { signal } : {});
    await rm(this.#deferredPath(digest), { force: true });
  }

  /**
   * A stat of one name in a directory the kernel has cached, made synchronously: a round trip through libuv's pool
   * and, for a blob not there (every blob a pull adopts), an ENOENT error built with its stack cost more CPU than
   * the call (bench/README.md, "Data path").
   */
  async #stored(digest: Digest): Promise<boolean> {
    return statSync(this.path(digest), { throwIfNoEntry: false }) !== undefined;
  }

  path(digest: Digest): string {
    if (!isDigest(digest)) throw new InvalidArgumentError(`invalid digest "${digest}"`);
    return join(this.root, 'blobs', digestAlgorithm(digest), digestHex(digest));
  }

  async file(digest: Digest, opts: { signal?: AbortSignal } = {}): Promise<string> {
    await this.materialize(digest, opts);
    return this.path(digest);
  }

  async info(digest: Digest): Promise<BlobInfo> {
    try {
      const st = await stat(this.path(digest));
      return { digest, size: st.size };
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      const rec = await this.#deferredRecord(digest);
      if (rec) return { digest, size: rec.size };
      throw new NotFoundError(`blob ${digest} not found`);
    }
  }

  async has(digest: Digest): Promise<boolean> {
    return (await this.#stored(digest)) || (await this.#deferredRecord(digest)) !== undefined;
  }

  read(digest: Digest, opts: { start?: number; end?: number; signal?: AbortSignal } = {}): Readable {
    // A pass-through (not Readable.wrap, which stalled gunzip near the end of large gzip layers), so that ENOENT can
    // be mapped to NotFound for the consumer, and a deferred blob made and read into it.
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    this.#readInto(digest, opts, out, true);
    return out;
  }

  /**
   * Pipes the stored blob into `out`. One that is not stored may be a deferred blob: made first (`orMake`), then read
   * like any other; so a stored blob's read costs no look for a deferred record.
   */
  #readInto(
    digest: Digest,
    opts: { start?: number; end?: number; signal?: AbortSignal },
    out: PassThrough,
    orMake: boolean,
  ): void {
    const stream = createReadStream(this.path(digest), {
      start: opts.start ?? 0,
      ...(opts.end !== undefined ? { end: opts.end } : {}),
      highWaterMark: 1 << 20,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    stream.on('error', (err) => {
      if (!isErrno(err, 'ENOENT')) return void out.destroy(err);
      if (!orMake) return void out.destroy(new NotFoundError(`blob ${digest} not found`));
      // pipe() forwards no error and ends nothing on one: `out` is still open for the made blob's read
      this.materialize(digest, opts.signal ? { signal: opts.signal } : {}).then(
        () => this.#readInto(digest, opts, out, false),
        (e: unknown) => out.destroy(e as Error),
      );
    });
    stream.pipe(out);
  }

  async readAll(digest: Digest, maxSize = 16 << 20): Promise<Buffer> {
    const info = await this.info(digest);
    if (info.size > maxSize)
      throw new InvalidArgumentError(`blob ${digest} is ${info.size} bytes, more than the ${maxSize} allowed here`);
    const data = await readFile(await this.file(digest));
    return data;
  }

  async ingest(
    source: AsyncIterable<Uint8Array> | Readable,
    expected: Expected = {},
    opts: { signal?: AbortSignal; syncDir?: boolean } = {},
  ): Promise<BlobInfo & { created: boolean }> {
    if (expected.digest !== undefined && !isDigest(expected.digest))
      throw new InvalidArgumentError(`invalid digest "${expected.digest}"`);
    const dir = join(this.root, 'ingest');
    const tmp = join(dir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const verify = new VerifyingStream(expected);
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await pipeline(
        source,
        verify,
        async (chunks: AsyncIterable<Buffer>) => {
          for await (const chunk of chunks) await fh.write(chunk);
        },
        opts.signal ? { signal: opts.signal } : {},
      );
      await fh.sync();
      await fh.close();
      const digest = verify.digester.digest();
      const size = verify.digester.size;
      const final = this.path(digest);
      if (await this.#stored(digest)) {
        await rm(tmp, { force: true });
        if (opts.syncDir ?? true) await this.#syncs.settled(dirname(final));
        return { digest, size, created: false };
      }
      await rename(tmp, final);
      if (opts.syncDir ?? true) await this.#syncs.sync(dirname(final));
      return { digest, size, created: true };
    } catch (err) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async put(
    data: Uint8Array,
    expected: Expected = {},
    opts: { syncDir?: boolean } = {},
  ): Promise<BlobInfo & { created: boolean }> {
    return this.ingest(Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)]), expected, opts);
  }

  async syncBlobs(): Promise<void> {
    const top = join(this.root, 'blobs');
    for (const alg of await readdir(top))
      if (alg === 'sha256' || alg === 'sha512') await this.#syncs.sync(join(top, alg));
  }

  ingestPath(): string {
    return join(this.root, 'ingest', `${Date.now()}-${randomBytes(8).toString('hex')}`);
  }

  async adopt(
    tmp: string,
    got: { digest: Digest; size: number },
    expected: Expected = {},
    opts: { syncDir?: boolean } = {},
  ): Promise<BlobInfo & { created: boolean }> {
    // (Checked before anything is removed: a path elsewhere is not the store's to delete.)
    if (dirname(tmp) !== join(this.root, 'ingest')) throw new InvalidArgumentError(`"${tmp}" is not an ingest path`);
    try {
      const wrong = mismatch(got, expected);
      if (wrong) throw wrong;
      const final = this.path(got.digest);
      if (await this.#stored(got.digest)) {
        await rm(tmp, { force: true });
        if (opts.syncDir ?? true) await this.#syncs.settled(dirname(final));
        return { ...got, created: false };
      }
      // Synchronous for the same reason as #stored: one rename within the store's file system.
      renameSync(tmp, final);
      if (opts.syncDir ?? true) await this.#syncs.sync(dirname(final));
      return { ...got, created: true };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Every blob under `blobs/<alg>/`, whatever the algorithm (sha256 and sha512 today), then the deferred ones not
   * yet stored; stray names are skipped.
   */
  async *walk(): AsyncIterable<BlobInfo> {
    for await (const digest of this.#storedDigests()) {
      try {
        const st = await stat(this.path(digest));
        yield { digest, size: st.size };
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    for (const d of await this.deferred()) yield { digest: d.digest, size: d.size };
  }

  async *digests(): AsyncIterable<Digest> {
    yield* this.#storedDigests();
    for (const d of await this.deferred()) yield d.digest;
  }

  /** The names under `blobs/<alg>/` that are digests, from the directory listings alone. */
  async *#storedDigests(): AsyncIterable<Digest> {
    const top = join(this.root, 'blobs');
    let algs: string[];
    try {
      algs = (await readdir(top)).sort();
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    for (const alg of algs) {
      let names: string[];
      try {
        names = await readdir(join(top, alg));
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) continue;
        throw err;
      }
      for (const hex of names) {
        const digest = `${alg}:${hex}` as Digest;
        if (isDigest(digest)) yield digest;
      }
    }
  }

  /** Deletes a blob, stored or deferred (both, when a deferred one was made meanwhile). */
  async delete(digest: Digest): Promise<void> {
    let found = false;
    for (const path of [this.path(digest), this.#deferredPath(digest)]) {
      try {
        await unlink(path);
        found = true;
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    if (!found) throw new NotFoundError(`blob ${digest} not found`);
  }

  /** A partial blob under `ingest/<ref>`, kept across restarts until committed or aborted (see `ResumableIngester`). */
  async writer(ref: string, opts: { size: number; algorithm?: 'sha256' | 'sha512' }): Promise<IngestWriter> {
    const thread = this.#thread;
    if (thread?.ready)
      return ThreadIngestWriter.open(thread, join(this.root, 'ingest'), ref, opts, join(this.root, 'blobs'));
    const w = await this.#fileWriter(ref, opts);
    if (!thread) return w;
    // Until the ingest thread is up, writers work on this thread. A second writer open at once starts it: uploads
    // one at a time (a few small blobs) are not worth a thread's memory, several at once (a client pushing layers
    // in parallel, a replication) are.
    if (++this.#writing > 1) thread.warm().catch(() => {});
    let open = true;
    const done = () => {
      if (open) this.#writing--;
      open = false;
    };
    return {
      ref: w.ref,
      get size() {
        return w.size;
      },
      append: (source, o) => w.append(source, o),
      commit: (expected) => w.commit(expected).finally(done),
      close: () => w.close().finally(done),
    };
  }

  #fileWriter(ref: string, opts: { size: number; algorithm?: 'sha256' | 'sha512' }): Promise<IngestWriter> {
    return FileIngestWriter.open(join(this.root, 'ingest'), ref, opts, async (tmp, digest, sync) => {
      const final = this.path(digest);
      await mkdir(dirname(final), { recursive: true });
      return placeFile(tmp, final, sync, this.#syncs);
    });
  }

  async abort(ref: string): Promise<void> {
    checkRef(ref);
    await rm(join(this.root, 'ingest', ref), { force: true });
  }

  partials(): AsyncIterable<{ ref: string; size: number; updatedAt: number }> {
    return listPartials(join(this.root, 'ingest'));
  }

  /** Removes every partial write; for the engine, whose ingests do not outlive the process. */
  async repair(): Promise<{ removed: number }> {
    const dir = join(this.root, 'ingest');
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    for (const n of names) await rm(join(dir, n), { recursive: true, force: true });
    return { removed: names.length };
  }
}

/** Reads and parses a JSON blob, verifying it is what it claims. */
export async function readJSONBlob<T>(provider: Provider, digest: Digest, maxSize = 4 << 20): Promise<T> {
  return parseJSONBlob<T>(digest, (await provider.readAll(digest, maxSize)).toString('utf8'));
}

/** Parses the text of JSON blob `digest`; DataLossError (naming the blob) when it is not JSON. */
export function parseJSONBlob<T>(digest: Digest, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new DataLossError(`blob ${digest} is not valid JSON: ${(err as Error).message}`);
  }
}
