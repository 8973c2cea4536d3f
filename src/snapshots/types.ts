import type { Compression } from '../util/compression.ts';
import type { TarEntry } from '../util/tar/index.ts';
import type { FetchedBlob, LayerSource, StoredTar, UnpackedTar } from './apply.ts';

export type { TarEntry };

/**
 * A mount to perform, as mount(8) would take it: `type` is the filesystem type ('overlay', 'bind'), `options`
 * are mount(8)-style options (flags such as 'ro', 'rbind' and fs data such as 'lowerdir=...'). The snapshotter
 * only describes mounts; `mountAll()` (mount.ts) or an OCI runtime performs them.
 */
export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

export type SnapshotKind = 'active' | 'committed' | 'view';

export interface SnapshotInfo {
  key: string;
  /** The committed snapshot this one is based on, or null for a base layer. */
  parent: string | null;
  kind: SnapshotKind;
  /** Milliseconds since the epoch. */
  created: number;
  labels: Record<string, string>;
}

/** Disk use of one snapshot's own directory (not its parents'): bytes allocated and distinct inodes. */
export interface Usage {
  size: number;
  inodes: number;
}

/**
 * A snapshotter keeps a tree of filesystem snapshots, after containerd's (core/snapshots/snapshotter.go).
 *
 * A snapshot is *committed* (read-only, a layer, usable as a parent), *active* (writable; becomes committed
 * by `commit`) or a *view* (read-only, never committed). Keys name snapshots; a key names one snapshot at a
 * time, of any kind.
 *
 * Unpacking an image's layers, where a layer's *chain id* names the stack of layers up to it:
 * ```
 *   try { await s.stat(chainId); continue }   // already unpacked (maybe by another image): reuse it
 *   catch (e) { if (!(e instanceof NotFoundError)) throw e }
 *   await s.prepare(`extract-${random} ${chainId}`, parentChainId, { labels: { [TRANSIENT_LABEL]: 'true' } });
 *   const { diffId } = await s.applyBlob(`extract-${random} ${chainId}`, { file: blobPath }, { compression });
 *   if (diffId !== expected) { await s.remove(`extract-${random} ${chainId}`); throw … }
 *   await s.commit(chainId, `extract-${random} ${chainId}`);
 * ```
 * A container's root filesystem is then `prepare(containerId, topChainId)` and mounting what it returns.
 *
 * The snapshotter returns mount descriptions and mounts nothing itself.
 */
export interface Snapshotter {
  readonly name: string;
  /**
   * Creates an active snapshot `key` on the committed snapshot `parent` (or empty) and returns the mounts
   * of its writable merged view. AlreadyExistsError if `key` exists; NotFoundError if `parent` does not;
   * InvalidArgumentError if `parent` is not committed.
   */
  prepare(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<Mount[]>;
  /** Like `prepare`, but a read-only view that can never be committed. */
  view(key: string, parent?: string): Promise<Mount[]>;
  /** The mounts of an active snapshot or a view. FailedPreconditionError for a committed one. */
  mounts(key: string): Promise<Mount[]>;
  /**
   * Turns the active snapshot `key` into the committed snapshot `name` (`key` no longer exists).
   * NotFoundError if `key` does not exist, FailedPreconditionError if it is not active, AlreadyExistsError if
   * `name` exists. `opts.parent` (only where `layersIndependent`) sets the parent of a snapshot prepared
   * without one: InvalidArgumentError otherwise, NotFoundError if the parent does not exist.
   */
  commit(name: string, key: string, opts?: { parent?: string }): Promise<void>;
  /**
   * `commit` of several snapshots, in order, as one change: a crash or a failure (of a commit or of `each`, called
   * after each commit, inside the same database transaction) leaves none of them committed.
   */
  commitAll(commits: { name: string; key: string; parent?: string }[], each?: (i: number) => void): Promise<void>;
  /**
   * True when a layer's unpacked content does not depend on its parent's (overlay: each layer is its own
   * directory). Then layers of one image may be unpacked in parallel, each into a snapshot prepared with no
   * parent, and given their parent at `commit(name, key, { parent })`. False for the copy snapshotter, where a
   * layer starts as a copy of its parent.
   */
  readonly layersIndependent: boolean;
  /** Removes a snapshot and its directory. NotFoundError; FailedPreconditionError if it has children. */
  remove(key: string): Promise<void>;
  /** NotFoundError `snapshot "k" not found`. */
  stat(key: string): Promise<SnapshotInfo>;
  walk(): AsyncIterable<SnapshotInfo>;
  usage(key: string): Promise<Usage>;
  /**
   * Unpacks a layer tar into the active snapshot `key` (prepared on the layer's parent). Whiteouts are
   * converted to this snapshotter's form. Returns the uncompressed tar's size.
   */
  applyLayer(key: string, layer: AsyncIterable<TarEntry>, opts?: { signal?: AbortSignal }): Promise<{ size: number }>;
  /**
   * Unpacks a layer blob into the active snapshot `key`: its bytes as stored (plain, gzip or zstd), from a file or as
   * they arrive, decompressed, hashed and written off the main thread (`unpackTar`). Resolves with the diff ID (the
   * digest of the uncompressed tar; not computed with `hash: false`), which the caller checks before committing,
   * the tar's size, its files' bytes and the blob's bytes read. `onRead` hears of the blob's bytes read now and then.
   */
  applyBlob(
    key: string,
    source: LayerSource,
    opts?: { compression?: Compression; hash?: boolean; signal?: AbortSignal; onRead?: (bytes: number) => void },
  ): Promise<UnpackedTar>;
  /**
   * `applyBlob` on bytes as they arrive that also stores them as it goes (`storeAndUnpackTar`): written to the new
   * file `blobPath`, synced and hashed on the unpack thread, for the content store to adopt. An unpack that fails
   * does not stop the storing; its error is in the answer. A `FetchedBlob` is downloaded by the unpack thread itself.
   */
  storeAndApplyBlob(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | FetchedBlob,
    blobPath: string,
    opts?: {
      compression?: Compression;
      hash?: boolean;
      signal?: AbortSignal;
      onRead?: (bytes: number) => void;
      onStored?: (blob: StoredTar['blob']) => void;
      /** The source's chunks are freed as they are copied on (see `TarOptions.releaseChunks`). */
      releaseChunks?: boolean;
      /** The blob's size, when known: a small layer may share its unpack thread (see `TarOptions.blobSize`). */
      blobSize?: number;
    },
  ): Promise<StoredTar>;
  /**
   * Removes directories that have no record (left by a crash) and active snapshots labelled
   * TRANSIENT_LABEL (an unpack that a crash interrupted); called at daemon start, before any other use.
   */
  repair(): Promise<{ removed: string[] }>;
  close(): Promise<void>;
}

/**
 * The label marking an active snapshot that only lives until it is committed (a layer being unpacked).
 * `repair()` removes such snapshots: a crash interrupted them. Active snapshots without it (containers'
 * root filesystems) survive a restart.
 */
export const TRANSIENT_LABEL = 'berth.snapshot/transient';
