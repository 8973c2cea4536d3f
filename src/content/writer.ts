import { createReadStream } from 'node:fs';
import { type FileHandle, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { type Digest, Digester, digestAlgorithm, mismatch } from '../util/digest.ts';
import { DataLossError, InvalidArgumentError, NotFoundError, isErrno } from '../util/errors.ts';
import type { DirSyncs } from './dirsyncs.ts';
import type { FetchSource } from '../util/blob-fetch.ts';
import type { BlobInfo, Expected } from './store.ts';

/**
 * Writes one blob over several calls, such as a registry's chunked upload: each `append` adds a chunk, `commit`
 * verifies size and digest and makes the blob visible. A partial blob survives a restart of the process; the
 * caller says how many bytes it acknowledged, and anything past that (a chunk cut by a crash) is dropped.
 */
export interface ResumableIngester {
  /**
   * Opens the partial blob `ref` positioned at `size` bytes (the bytes acknowledged so far; 0 creates it).
   * A partial shorter than `size` (lost by a crash before it reached the disk) is DataLoss; one longer is cut back.
   */
  writer(ref: string, opts: { size: number; algorithm?: 'sha256' | 'sha512' }): Promise<IngestWriter>;
  /** Removes a partial blob; nothing happens when it is gone. */
  abort(ref: string): Promise<void>;
  /** The partial blobs, with their size and last write (ms since the epoch), for clean-up of abandoned ones. */
  partials(): AsyncIterable<{ ref: string; size: number; updatedAt: number }>;
}

export interface AppendOptions {
  signal?: AbortSignal | undefined;
  /** The most bytes the blob may have in all. */
  maxSize?: number | undefined;
  /**
   * Called, and awaited, as bytes reach the file: `size` is the file's size with every byte before it written. A
   * writer may read ahead of what it wrote, so what it took from the source says nothing of that. (A writer whose
   * bytes reach storage only at the end of an append, such as S3's, need not call it.)
   */
  onWritten?: ((size: number) => Promise<void> | void) | undefined;
  /**
   * No append follows: the caller commits next, or gives the blob up. A writer may then keep the last piece and
   * write it with the commit (the ingest thread's: one message instead of two each way); `onWritten` does not hear
   * of it, and a `close` instead of the commit leaves the file without it.
   */
  last?: boolean | undefined;
}

export interface IngestWriter {
  readonly ref: string;
  /** Bytes written so far. */
  readonly size: number;
  /**
   * Whether `append` gathers small chunks into larger writes itself (copying them once): a caller then passes
   * chunks as they come rather than gather them first.
   */
  readonly gathers?: boolean;
  /**
   * Appends `source`. All or nothing: a failed, aborted or too large append (more than `maxSize` bytes in all) is
   * cut back to where it started, and the error is passed on.
   */
  append(source: AsyncIterable<Uint8Array> | Readable, opts?: AppendOptions): Promise<number>;
  /**
   * Appends the body of a GET of `source` (at most `maxSize` bytes in all), fetched and written by the writer's own
   * thread so that the bytes never pass through the caller's; resolves with the blob's size. All or nothing, as
   * `append`. Only writers that work on another thread have it (the ingest thread's): others take the bytes from
   * the caller, through `append`.
   */
  fetch?(
    source: FetchSource,
    opts?: { signal?: AbortSignal | undefined; maxSize?: number | undefined },
  ): Promise<number>;
  /**
   * Verifies the whole blob against `expected` and moves it into the store; the partial is gone afterwards,
   * also on a mismatch (DataLossError), since bytes that hash wrong cannot become right by appending more.
   */
  commit(expected: Expected): Promise<BlobInfo & { created: boolean }>;
  /** Lets the file go; the partial stays for a later writer. */
  close(): Promise<void>;
}

const REF_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkRef(ref: string): void {
  if (!REF_RE.test(ref)) throw new InvalidArgumentError(`invalid ingest reference "${ref}"`);
}

/** An append's limit: `end`, the size the blob would reach with the next chunk, may not pass `maxSize`. */
export function checkLimit(maxSize: number | undefined, end: number): void {
  if (maxSize !== undefined && end > maxSize)
    throw new InvalidArgumentError(`blob is larger than the ${maxSize} bytes allowed`);
}

/**
 * What every `IngestWriter.commit` checks before the blob becomes visible, wherever its bytes are: `expected`'s
 * digest uses the upload's algorithm (else InvalidArgument, the partial kept), and the bytes written, `written()`,
 * have the expected size and digest (else the partial is discarded and the DataLossError thrown). The caller then
 * makes the blob visible in one step (a rename, a copy to its final key), so a blob is never seen unverified.
 */
export async function verifyCommit(
  algorithm: 'sha256' | 'sha512',
  expected: Expected,
  written: () => Promise<BlobInfo>,
  discard: () => Promise<void>,
): Promise<BlobInfo> {
  if (expected.digest !== undefined && digestAlgorithm(expected.digest) !== algorithm)
    throw new InvalidArgumentError(`digest ${expected.digest} does not use this upload's ${algorithm}`);
  const got = await written();
  const wrong = mismatch(got, expected);
  if (wrong) {
    await discard();
    throw wrong;
  }
  return got;
}

/** The file-backed writer of `FileContentStore`: the partial is `<root>/ingest/<ref>`. */
export class FileIngestWriter implements IngestWriter {
  readonly ref: string;
  #size: number;
  readonly #file: string;
  readonly #fh: FileHandle;
  readonly #algorithm: 'sha256' | 'sha512';
  /** The running digest of bytes [0, size), or undefined when it must be recomputed from the file. */
  #digester: Digester | undefined;
  readonly #place: Place;

  private constructor(
    ref: string,
    file: string,
    fh: FileHandle,
    size: number,
    algorithm: 'sha256' | 'sha512',
    place: Place,
  ) {
    this.ref = ref;
    this.#file = file;
    this.#fh = fh;
    this.#size = size;
    this.#algorithm = algorithm;
    this.#digester = size === 0 ? new Digester(algorithm) : undefined;
    this.#place = place;
  }

  /** `place` renames the verified file into the store (see `Place`). */
  static async open(
    dir: string,
    ref: string,
    opts: { size: number; algorithm?: 'sha256' | 'sha512' },
    place: Place,
  ): Promise<FileIngestWriter> {
    checkRef(ref);
    const file = join(dir, ref);
    let fh: FileHandle;
    try {
      fh = await open(file, opts.size === 0 ? 'a+' : 'r+');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new NotFoundError(`partial blob "${ref}" not found`);
      throw err;
    }
    const st = await fh.stat();
    if (st.size < opts.size) {
      await fh.close();
      throw new DataLossError(`partial blob "${ref}" has ${st.size} bytes, ${opts.size} were acknowledged`);
    }
    if (st.size > opts.size) await fh.truncate(opts.size);
    return new FileIngestWriter(ref, file, fh, opts.size, opts.algorithm ?? 'sha256', place);
  }

  get size(): number {
    return this.#size;
  }

  async #hasher(): Promise<Digester> {
    if (this.#digester) return this.#digester;
    const d = new Digester(this.#algorithm);
    if (this.#size > 0) {
      for await (const chunk of createReadStream(this.#file, { start: 0, end: this.#size - 1, highWaterMark: 1 << 20 }))
        d.update(chunk as Buffer);
    }
    this.#digester = d;
    return d;
  }

  async append(source: AsyncIterable<Uint8Array> | Readable, opts: AppendOptions = {}): Promise<number> {
    const start = this.#size;
    const digester = await this.#hasher();
    let pos = start;
    try {
      for await (const chunk of source) {
        opts.signal?.throwIfAborted();
        checkLimit(opts.maxSize, pos + chunk.byteLength);
        let off = 0;
        while (off < chunk.byteLength) {
          const { bytesWritten } = await this.#fh.write(chunk, off, chunk.byteLength - off, pos);
          off += bytesWritten;
          pos += bytesWritten;
        }
        digester.update(chunk);
        await opts.onWritten?.(pos);
      }
      opts.signal?.throwIfAborted();
    } catch (err) {
      // The hash has seen bytes that are now cut off: it is rebuilt from the file when next needed.
      this.#digester = undefined;
      await this.#fh.truncate(start).catch(() => {});
      throw err;
    }
    this.#size = pos;
    return pos;
  }

  async commit(expected: Expected): Promise<BlobInfo & { created: boolean }> {
    const { digest, size } = await verifyCommit(
      this.#algorithm,
      expected,
      async () => {
        const digest = (await this.#hasher()).digest();
        // The digester is final now; a failed commit must not let later appends use it.
        this.#digester = undefined;
        return { digest, size: this.#size };
      },
      () => this.#discard(),
    );
    let created: boolean;
    try {
      created = await this.#place(this.#file, digest, () => this.#fh.sync());
    } catch (err) {
      await this.#fh.close().catch(() => {});
      await rm(this.#file, { force: true });
      throw err;
    }
    await this.#fh.close();
    return { digest, size, created };
  }

  async #discard(): Promise<void> {
    await this.#fh.close().catch(() => {});
    await rm(this.#file, { force: true });
  }

  async close(): Promise<void> {
    await this.#fh.close().catch(() => {});
  }
}

/** The partial blobs under `dir`. */
export async function* listPartials(dir: string): AsyncIterable<{ ref: string; size: number; updatedAt: number }> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  for (const ref of names) {
    if (!REF_RE.test(ref)) continue;
    try {
      const st = await stat(join(dir, ref));
      yield { ref, size: st.size, updatedAt: st.mtimeMs };
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
}

/**
 * How a verified partial `tmp` becomes blob `digest`: unless the blob is there already (then false, and `tmp` goes),
 * `sync()` makes its bytes durable, and it is renamed into the store durably. A blob already stored is not synced
 * again.
 */
export type Place = (tmp: string, digest: Digest, sync: () => Promise<void>) => Promise<boolean>;

/**
 * `Place` to `final`, its directory synced through `syncs`. A blob found there already may have been renamed by a
 * commit whose directory sync is still under way: that sync is waited for, so that no caller hears of a blob before
 * its name is durable.
 */
export async function placeFile(
  tmp: string,
  final: string,
  sync: () => Promise<void>,
  syncs: DirSyncs,
): Promise<boolean> {
  try {
    await stat(final);
    await rm(tmp, { force: true });
    await syncs.settled(dirname(final));
    return false;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  await sync();
  await rename(tmp, final);
  await syncs.sync(dirname(final));
  return true;
}
