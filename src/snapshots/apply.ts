import type { FetchSource } from '../util/blob-fetch.ts';
import { releaseChunk } from '../util/chunks.ts';
import type { Compression } from '../util/compression.ts';
import type { Digest } from '../util/digest.ts';
import { CanceledError } from '../util/errors.ts';
import { copyToShared } from '../util/shared-copy.ts';
import { pack } from '../util/tar/index.ts';
import type { PackEntry, TarEntry } from '../util/tar/index.ts';
import { archivedSize, type PortableHeader, type WhiteoutMode } from './layer-rules.ts';
import { type Reader, UnpackPool, type UnpackThreads } from './pool.ts';
import { CTL_ABORT, type FromReader, INPUT_RING, rebuildError } from './unpack-protocol.ts';

export type { WhiteoutMode } from './layer-rules.ts';
export { isAbsoluteEntry, normalise } from './layer-rules.ts';

export interface UnpackOptions {
  whiteouts: WhiteoutMode;
  signal?: AbortSignal | undefined;
}

/** A layer blob to unpack: a file the reader thread reads itself, or its bytes as they arrive. */
export type LayerSource = { file: string } | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Why a reader's own download failed: its HTTP status, or the network error's code (util/blob-fetch.ts). */
export type FetchFailed = Error & { status?: number; code?: string };

/**
 * A blob the reader thread downloads itself (util/blob-fetch.ts: a GET over HTTP(S), on a connection of the
 * thread's own), so that none of its bytes passes through this thread. If that download fails after `from` bytes
 * (any HTTP status but 200, a redirect over plain HTTP, the network), `rest(from, failure)` gives the bytes from
 * there on and they go through the input ring as any other source's: the caller decides what to retry or report.
 */
export interface FetchedBlob {
  fetch: FetchSource;
  /** The blob's size: a longer answer fails the thread's download. */
  size: number;
  /** The bytes received so far, now and then (about every 100 ms) and at the last byte. */
  onBytes?: (n: number) => void;
  /** The thread's download received its last byte (not called when `rest` took over). */
  onReceived?: () => void;
  rest(from: number, failure: FetchFailed): AsyncIterable<Uint8Array>;
}

export interface TarOptions extends UnpackOptions {
  /** How the blob is compressed (default 'none'). */
  compression?: Compression;
  /** Called now and then with the blob's bytes read so far. */
  onRead?: (bytes: number) => void;
  /**
   * False: the tar's digest is not computed, and `diffId` is undefined. For a caller that knows it: an uncompressed
   * blob is its own tar, so its verified blob digest is the diff ID.
   */
  hash?: boolean;
  /** The threads to use (default: the process's pool). */
  pool?: UnpackPool;
  /** The blob's size, when known before it is read: a small layer may share its reader thread (UnpackPool.take). */
  blobSize?: number;
  /**
   * The source's chunks are the caller's to give up: each is freed once its bytes are in the ring
   * (`releaseChunk`: a chunk that is the whole of its ArrayBuffer is detached, its memory freed at once instead of
   * at the main thread's next young collection). For a request body nothing else holds (a load's, an import's).
   */
  releaseChunks?: boolean;
}

/** What unpacking a layer blob found: the tar's digest (the diff ID), its size, its files' bytes, the blob's bytes. */
export interface UnpackedTar {
  /** Undefined when asked not to hash (`hash: false`). */
  diffId: Digest | undefined;
  size: number;
  fileBytes: number;
  read: number;
}

/**
 * The process's unpack threads: one pool, as there is one set of CPUs and one disk (the one module-level instance
 * in the tree; the daemon sizes it from its configuration with `configureUnpackThreads`).
 */
const defaultPool = new UnpackPool();

/** Sizes the process's unpack threads (see pool.ts). */
export function configureUnpackThreads(threads: UnpackThreads): void {
  void defaultPool.configure(threads);
}

/** Starts the process's unpack threads ahead of a pull or load, if none runs (see UnpackPool.warm). */
export function warmUnpackThreads(opts: { appliers?: boolean } = {}): void {
  defaultPool.warm(opts);
}

/** Stops the process's unpack threads (they start again when needed). */
export function stopUnpackThreads(): Promise<void> {
  return defaultPool.close();
}

/**
 * Unpacks a layer blob into `root`: decompressed (gzip, zstd), hashed and parsed on a reader thread, the files
 * written by the applier threads, several at once where order allows, with Docker's rules:
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
 * Resolves, once every thread is done with the layer, with the diff ID (the digest of the whole uncompressed
 * stream, bytes after the end-of-archive marker included), the archive's size as its blocks add up (each entry's
 * header, its PAX extended header and its padded body, plus the two end blocks: exact for the ustar + PAX archives
 * that Docker, BuildKit and Go's archive/tar write), the bytes of its regular files and symlink targets and the
 * blob's bytes read. The
 * caller compares the diff ID with what it expects. On failure or cancel (CanceledError) it rejects only after the
 * threads have stopped working on `root`, so nothing is written there afterwards. Errors: InvalidArgumentError for
 * a refused entry, DataLossError for a truncated or corrupt tar or compressed stream, errno errors from the file
 * system.
 */
export async function unpackTar(root: string, source: LayerSource, opts: TarOptions): Promise<UnpackedTar> {
  const pool = opts.pool ?? defaultPool;
  const r = await pool.take(opts.blobSize !== undefined ? { blobSize: opts.blobSize } : {});
  try {
    return unpacked(await run(r, root, source, opts));
  } finally {
    pool.give(r);
  }
}

/** `storeAndUnpackTar`'s answer: the blob as stored, and the unpack's outcome (its result, or why it failed). */
export interface StoredTar {
  blob: { digest: Digest; size: number };
  unpacked: UnpackedTar | Error;
}

/**
 * `unpackTar` on bytes as they arrive that also stores them, in the same pass on the same thread: written to the
 * new file `blobPath` (created here, synced at the end) and hashed, for the content store to `adopt`. The unpack
 * failing does not stop the storing (a load cannot tell a layer from other files until it has read them all): the
 * answer then carries the unpack's error. `onStored` hears as soon as the blob is written and synced, maybe before
 * the unpack ends (a load goes on reading its archive meanwhile). Rejects (and leaves `blobPath` for the caller to
 * remove) when the storing fails, the source fails, or on cancel, once nothing more is written to `root`.
 */
export async function storeAndUnpackTar(
  root: string,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | FetchedBlob,
  blobPath: string,
  opts: TarOptions & {
    onStored?: (blob: { digest: Digest; size: number }) => void;
    /**
     * False: the blob is not hashed here (its digest in the answer is ''), for a caller that hashes the same bytes
     * itself as it sends them (a build's COPY layer, whose hash keeps states for the next layer).
     */
    hashBlob?: boolean;
  },
): Promise<StoredTar> {
  const pool = opts.pool ?? defaultPool;
  const r = await pool.take(opts.blobSize !== undefined ? { blobSize: opts.blobSize } : {});
  try {
    const m = await run(r, root, source, { ...opts, blob: blobPath });
    const blob = { digest: m.blob!.digest as Digest, size: m.blob!.size };
    return { blob, unpacked: m.unpackError ? rebuildError(m.unpackError) : unpacked(m) };
  } finally {
    pool.give(r);
  }
}

/**
 * Unpacks a layer given as tar entries (`extract()`'s, or any others) into `root`, with `unpackTar`'s rules: the
 * entries are written out as a tar again for the threads. Resolves with the archive's size as its blocks add up
 * (see unpackTar), counted over the entries as given.
 */
export async function unpackLayer(
  root: string,
  layer: AsyncIterable<TarEntry>,
  opts: UnpackOptions,
): Promise<{ size: number }> {
  let size = 1024;
  async function* sized(): AsyncGenerator<PackEntry> {
    for await (const e of layer) {
      size += archivedSize(e.header as PortableHeader);
      yield e;
    }
  }
  await unpackTar(root, pack(sized(), opts.signal ? { signal: opts.signal } : {}), opts);
  return { size };
}

type Done = Extract<FromReader, { t: 'done' }>;

/**
 * Pieces handed over through the ring are posted to the reader once this many bytes are waiting, or at the end:
 * a quarter of the ring, so the reader has the next piece waiting while it takes one in, and each message (a
 * wake-up of the reader and an acknowledgement back) carries 512 KiB (bench/README.md, "Data path").
 */
const POST_BYTES = INPUT_RING / 4;

/**
 * One unpack on a reader: feeds it (unless it reads a file) and settles with its answer. Small chunks (a socket's,
 * up to 64 KiB) are copied into the ring back to back and handed over together, one message per POST_BYTES.
 */
async function run(
  r: Reader,
  root: string,
  source: LayerSource | FetchedBlob,
  opts: TarOptions & {
    blob?: string;
    hashBlob?: boolean;
    onStored?: (blob: { digest: Digest; size: number }) => void;
  },
): Promise<Done> {
  let settle!: { resolve: (v: Done) => void; reject: (e: Error) => void };
  const answer = new Promise<Done>((resolve, reject) => (settle = { resolve, reject }));
  let over = false;
  /** Bytes of the input ring in use, and a waiter for room. */
  let used = 0;
  let room: (() => void) | undefined;
  const wake = (): void => {
    const w = room;
    room = undefined;
    w?.();
  };
  const fetched = 'fetch' in source ? source : undefined;
  /** A download by the reader: settled when it failed (with where), or undefined once the job is over. */
  let handBack: ((m: Extract<FromReader, { t: 'fetchFailed' }> | undefined) => void) | undefined;
  const handedBack = new Promise<Extract<FromReader, { t: 'fetchFailed' }> | undefined>((resolve) => {
    handBack = resolve;
  });
  r.onMessage = (m: FromReader) => {
    switch (m.t) {
      case 'ack':
        used -= m.bytes;
        wake();
        return;
      case 'progress':
        opts.onRead?.(m.read);
        fetched?.onBytes?.(m.read);
        return;
      case 'fetched':
        fetched?.onBytes?.(m.read);
        fetched?.onReceived?.();
        return;
      case 'fetchFailed':
        handBack?.(m);
        return;
      case 'stored':
        opts.onStored?.({ digest: m.blob.digest as Digest, size: m.blob.size });
        return;
      case 'done':
        over = true;
        handBack?.(undefined);
        wake();
        opts.onRead?.(m.read);
        settle.resolve(m);
        return;
      case 'error':
        over = true;
        handBack?.(undefined);
        wake();
        settle.reject(
          m.name === 'CanceledError' || opts.signal?.aborted
            ? new CanceledError(`unpack into "${root}" canceled`, { cause: opts.signal?.reason })
            : rebuildError(m),
        );
    }
  };
  r.onDeath = (err) => {
    over = true;
    handBack?.(undefined);
    wake();
    settle.reject(err);
  };
  const cancel = (): void => {
    if (over) return;
    // The flag, for a reader busy in its own waits; the message, for one waiting for input.
    Atomics.store(r.ctl, CTL_ABORT, 1);
    r.post({ t: 'abort' });
  };
  if (opts.signal?.aborted) throw new CanceledError(`unpack into "${root}" canceled`, { cause: opts.signal.reason });
  Atomics.store(r.ctl, CTL_ABORT, 0);
  opts.signal?.addEventListener('abort', cancel, { once: true });
  try {
    const job = Math.floor(Math.random() * 0x7fffffff);
    const compression = opts.compression ?? 'none';
    const hash = opts.hash ?? true;
    // A small layer on a thread that may serve others does its file work there (UnpackPool.take).
    const local = r.small ? { local: true as const } : {};
    const spec = { t: 'job', job, root, mode: opts.whiteouts, compression, hash, ...local } as const;
    if ('file' in source) {
      r.post({ ...spec, file: source.file });
      return await answer;
    }
    r.post({
      ...spec,
      ...(opts.blob !== undefined ? { blob: opts.blob, ...(opts.hashBlob === false ? { blobHash: false } : {}) } : {}),
      ...(fetched ? { fetch: { source: fetched.fetch, max: fetched.size } } : {}),
    });
    answer.catch(() => {}); // awaited below, after the feeding stops
    let input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
    let read = 0;
    if (fetched) {
      const failed = await handedBack;
      if (failed === undefined) return await answer;
      const e = failed.error;
      read = failed.read;
      input = fetched.rest(read, Object.assign(rebuildError(e), e.status !== undefined ? { status: e.status } : {}));
    } else input = source as AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
    /** Where the next bytes go in the ring, and where the bytes not yet posted start. */
    let head = 0;
    let posted = 0;
    const post = (): void => {
      if (head === posted) return;
      r.post({ t: 'data', off: posted, len: head - posted });
      posted = head;
    };
    for await (const chunk of input) {
      for (let off = 0; off < chunk.length && !over; ) {
        if (head === INPUT_RING) {
          post();
          head = posted = 0;
        }
        const len = Math.min(chunk.length - off, INPUT_RING - head, INPUT_RING / 4);
        if (used + len > INPUT_RING) {
          post();
          while (used + len > INPUT_RING && !over) await new Promise<void>((resolve) => (room = resolve));
          if (over) break;
        }
        copyToShared(r.input, head, chunk, off, len);
        used += len;
        head += len;
        off += len;
        if (head - posted >= POST_BYTES) post();
      }
      read += chunk.length;
      opts.onRead?.(read);
      if (opts.releaseChunks) releaseChunk(chunk);
      if (over) break;
    }
    if (!over) {
      post();
      r.post({ t: 'eof' });
    }
    return await answer;
  } catch (err) {
    if (!over) {
      // The source failed: stop the reader, and wait until it has stopped writing.
      cancel();
      await answer.catch(() => {});
    }
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', cancel);
  }
}

function unpacked(m: Done): UnpackedTar {
  return {
    diffId: m.diffId === '' ? undefined : (m.diffId as Digest),
    size: m.size,
    fileBytes: m.fileBytes,
    read: m.read,
  };
}
