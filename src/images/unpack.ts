/**
 * Layer unpacking: turns an image's layer blobs into committed snapshots keyed by chain ID, each distinct layer
 * once, verifying every layer's diff ID on its uncompressed stream. Needs only the content store's Provider role
 * (to read blobs) and a snapshotter; what it unpacked is reported through `onUnpacked`.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Provider } from '../content/index.ts';
import { layerCompression } from '../oci/mediatypes.ts';
import type { Compression } from '../util/compression.ts';
import type { Descriptor, ImageConfig, Manifest } from '../oci/types.ts';
import { type FetchedBlob, type Snapshotter, type StoredTar, TRANSIENT_LABEL } from '../snapshots/index.ts';
import type { Digest } from '../util/digest.ts';
import { CanceledError, DataLossError, isBerthError, NotFoundError } from '../util/errors.ts';
import { KeyedMutex, mapLimit } from '../util/lock.ts';
import { chainIds } from './chain.ts';

/** Layers of one image unpacked at once (gunzip and the file writes of each use about one core). */
const UNPACK_PARALLELISM = 3;

/** A layer unpacked and verified: its chain ID, diff ID, parent chain ID and the bytes of its regular files. */
export interface UnpackedLayer {
  chainId: Digest;
  diffId: Digest;
  parent: Digest | null;
  size: number;
}

export interface LayerUnpackerDeps {
  content: Provider;
  snapshotter: Snapshotter;
  /** Called for each layer unpacked and verified, just before its snapshot is committed. */
  onUnpacked?: (layer: UnpackedLayer) => void;
}

/** Options of one unpack. */
export interface LayerOptions {
  signal?: AbortSignal;
  /** Called as each layer unpacks: bytes read of its (possibly compressed) blob. */
  onLayerProgress?: (layer: Descriptor, current: number) => void;
}

/** `unpack`'s options: also the layers already unpacked by `unpackLayerFrom`. */
export interface UnpackOptions extends LayerOptions {
  /**
   * Layers unpacked ahead (while they downloaded) by `unpackLayerFrom`: chain ID → the key it returned. `unpack`
   * takes every one of them over: it commits those still missing in chain order and removes the rest (a
   * concurrent operation committed that layer first), whether it succeeds or fails.
   */
  prepared?: ReadonlyMap<string, string>;
}

export class LayerUnpacker {
  readonly #content: Provider;
  readonly #snapshotter: Snapshotter;
  readonly #onUnpacked: (layer: UnpackedLayer) => void;
  readonly #locks = new KeyedMutex();
  /** The file bytes of each layer unpacked ahead by `unpackLayerFrom` and not yet committed or discarded. */
  readonly #aheadSizes = new Map<string, number>();

  constructor(deps: LayerUnpackerDeps) {
    this.#content = deps.content;
    this.#snapshotter = deps.snapshotter;
    this.#onUnpacked = deps.onUnpacked ?? (() => {});
  }

  /**
   * Unpacks each layer not yet unpacked; returns the chain IDs. Holds the unpack lock of every chain ID of the
   * image, taken in chain order (a chain ID always sits at the same depth, so every caller takes them in one
   * global order), so two loads of images sharing layers unpack each shared layer once. Where the snapshotter's
   * layers do not depend on their parents (overlay), the missing layers unpack in parallel and get their parents
   * at commit. Layers in `opts.prepared` (unpacked ahead by `unpackLayerFrom`) are committed instead of unpacked
   * again.
   */
  async unpack(manifest: Manifest, config: ImageConfig, opts: UnpackOptions = {}): Promise<Digest[]> {
    const diffIds = config.rootfs.diff_ids;
    const chain = chainIds(diffIds);
    // Taken over from the caller: each key leaves this map when committed or handed to `keys`.
    const prepared = new Map(opts.prepared ?? []);
    const locked = async (i: number): Promise<void> => {
      if (i < chain.length) return this.#locks.run(chain[i]!, () => locked(i + 1));
      // A committed snapshot implies its parents are committed: the missing layers are a suffix.
      let first = chain.length;
      while (first > 0 && !(await this.#hasSnapshot(chain[first - 1]!))) first--;
      const missing = [...Array(chain.length - first).keys()].map((k) => k + first);
      if (missing.length === 0) return;
      if (this.#snapshotter.layersIndependent && (missing.length > 1 || prepared.size > 0)) {
        await this.#unpackIndependent(manifest, diffIds, chain, missing, prepared, opts);
        return;
      }
      for (const i of missing) {
        const parent = i > 0 ? chain[i - 1]! : undefined;
        const { key, size } = await this.#extract(manifest.layers[i]!, diffIds[i]!, chain[i]!, parent, opts);
        try {
          this.#onUnpacked({ chainId: chain[i]!, diffId: diffIds[i]!, parent: parent ?? null, size });
          await this.#snapshotter.commit(chain[i]!, key);
        } catch (err) {
          await this.#snapshotter.remove(key).catch(() => {});
          throw err;
        }
      }
    };
    try {
      await locked(0);
    } finally {
      // Layers unpacked ahead that another operation committed meanwhile (or that a failure left unused).
      for (const key of prepared.values()) await this.discardLayer(key).catch(() => {});
    }
    return chain;
  }

  /** The missing layers unpacked in parallel, each without a parent, then committed in chain order. */
  async #unpackIndependent(
    manifest: Manifest,
    diffIds: readonly Digest[],
    chain: Digest[],
    missing: number[],
    prepared: Map<string, string>,
    opts: LayerOptions,
  ): Promise<void> {
    const keys = new Map<number, { key: string; size: number }>();
    for (const i of missing) {
      const key = prepared.get(chain[i]!);
      if (key === undefined) continue;
      keys.set(i, { key, size: this.#aheadSizes.get(key) ?? 0 });
      prepared.delete(chain[i]!);
    }
    try {
      await mapLimit(
        missing.filter((i) => !keys.has(i)),
        UNPACK_PARALLELISM,
        async (i) => {
          keys.set(i, await this.#extract(manifest.layers[i]!, diffIds[i]!, chain[i]!, undefined, opts));
        },
      );
      // All in one transaction: the layer records and the commits, in chain order (a failure commits none).
      await this.#snapshotter.commitAll(
        missing.map((i) => ({ name: chain[i]!, key: keys.get(i)!.key, ...(i > 0 ? { parent: chain[i - 1]! } : {}) })),
        (n) => {
          const i = missing[n]!;
          const size = keys.get(i)!.size;
          this.#onUnpacked({ chainId: chain[i]!, diffId: diffIds[i]!, parent: i > 0 ? chain[i - 1]! : null, size });
        },
      );
      for (const i of missing) {
        this.#aheadSizes.delete(keys.get(i)!.key);
        keys.delete(i);
      }
    } finally {
      for (const { key } of keys.values()) await this.discardLayer(key).catch(() => {});
    }
  }

  /**
   * Unpacks one layer from `source` — its blob's bytes as they arrive, e.g. while they download, or (undefined) its
   * blob in the store — into a new transient snapshot with no parent, verifying the diff ID on the uncompressed
   * stream. Resolves with the snapshot's key, which the caller hands to `unpack(…, { prepared })` (that commits it
   * in chain order, under the unpack locks) or to `discardLayer` (its blob turned out bad). Nothing is committed
   * here, so nothing is visible until the blob is verified too; nothing is left behind on failure. Only where
   * `snapshotter.layersIndependent` (overlay): elsewhere a layer needs its parent's content first, and this throws
   * a TypeError.
   */
  async unpackLayerFrom(
    layer: Descriptor,
    diffId: Digest,
    chainId: Digest,
    source: Readable | AsyncIterable<Uint8Array> | undefined,
    opts: LayerOptions = {},
  ): Promise<string> {
    if (!this.#snapshotter.layersIndependent)
      throw new TypeError(`the ${this.#snapshotter.name} snapshotter cannot unpack a layer before its parent`);
    const { key, size } = await this.#extract(layer, diffId, chainId, undefined, opts, source);
    this.#aheadSizes.set(key, size);
    return key;
  }

  /**
   * `unpackLayerFrom` that also stores the blob in the same pass, on the unpack thread (`storeAndApplyBlob`): its
   * bytes go to the new file `blobPath` for the content store to adopt. Resolves with the blob's digest and size and
   * either the key of the unpacked, verified snapshot (for `unpack(…, { prepared })` or `discardLayer`) or why the
   * unpack failed (its snapshot already removed): a bad layer does not keep its blob from being checked. A
   * `FetchedBlob` is downloaded by the unpack thread itself.
   */
  async storeAndUnpackLayer(
    layer: Descriptor,
    diffId: Digest,
    chainId: Digest,
    source: AsyncIterable<Uint8Array> | FetchedBlob,
    blobPath: string,
    opts: LayerOptions = {},
  ): Promise<{ blob: { digest: Digest; size: number }; key?: string; error?: Error }> {
    const compression = layerCompression(layer.mediaType) ?? 'none';
    const r = await this.#storeAndUnpack(`${chainId}`, source, compression, blobPath, layer.digest, {
      ...opts,
      onRead: (n) => opts.onLayerProgress?.(layer, n),
      blobSize: layer.size,
    });
    if (r.key === undefined || r.diffId === diffId) return r;
    await this.discardLayer(r.key);
    const error = new DataLossError(
      `layer ${layer.digest} unpacks to ${r.diffId}, but the image config says its diff ID is ${diffId}`,
    );
    return { blob: r.blob, error };
  }

  /**
   * Stores and unpacks bytes that may be a layer before it is known whether any image uses them (a load reads an
   * archive's blobs before its manifests), in one pass (see `storeAndUnpackLayer`), into a new transient snapshot with
   * no parent: resolves with the blob's digest and size and, when the bytes unpacked as a layer, the snapshot's key
   * and diff ID (for an uncompressed blob the digest of the blob). `unpack(…, { prepared })` commits it where an
   * image's layer has that diff ID, and `discardLayer` removes it otherwise. `onStored` hears of the
   * blob as soon as it is written and synced, maybe before the unpack ends.
   */
  storeAndUnpackAhead(
    source: AsyncIterable<Uint8Array>,
    compression: Compression,
    blobPath: string,
    opts: {
      signal?: AbortSignal;
      onStored?: (blob: { digest: Digest; size: number }) => void;
      /** The source's chunks are freed as they are copied on (see snapshots' `TarOptions.releaseChunks`). */
      releaseChunks?: boolean;
    } = {},
  ): Promise<{ blob: { digest: Digest; size: number }; key?: string; diffId?: Digest; error?: Error }> {
    return this.#storeAndUnpack('ahead', source, compression, blobPath, 'ahead of its image', opts);
  }

  async #storeAndUnpack(
    name: string,
    source: AsyncIterable<Uint8Array> | FetchedBlob,
    compression: Compression,
    blobPath: string,
    what: string,
    opts: {
      signal?: AbortSignal;
      onRead?: (n: number) => void;
      onStored?: (blob: { digest: Digest; size: number }) => void;
      releaseChunks?: boolean;
      blobSize?: number;
    },
  ): Promise<{ blob: { digest: Digest; size: number }; key?: string; diffId?: Digest; error?: Error }> {
    if (!this.#snapshotter.layersIndependent)
      throw new TypeError(`the ${this.#snapshotter.name} snapshotter cannot unpack a layer before its parent`);
    const key = `extract-${randomBytes(6).toString('hex')} ${name}`;
    await this.#snapshotter.prepare(key, undefined, { labels: { [TRANSIENT_LABEL]: 'true' } });
    let stored: StoredTar;
    try {
      // An uncompressed blob is its own tar: the digest of the blob as stored is the diff ID.
      stored = await this.#snapshotter.storeAndApplyBlob(key, source, blobPath, {
        compression,
        hash: compression !== 'none',
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onRead ? { onRead: opts.onRead } : {}),
        ...(opts.onStored ? { onStored: opts.onStored } : {}),
        ...(opts.releaseChunks ? { releaseChunks: true } : {}),
        ...(opts.blobSize !== undefined ? { blobSize: opts.blobSize } : {}),
      });
    } catch (err) {
      await this.#snapshotter.remove(key).catch(() => {});
      throw unpackError(err, what, opts.signal);
    }
    const u = stored.unpacked;
    if (u instanceof Error) {
      await this.#snapshotter.remove(key).catch(() => {});
      return { blob: stored.blob, error: unpackError(u, what, opts.signal) };
    }
    this.#aheadSizes.set(key, u.fileBytes);
    return { blob: stored.blob, key, diffId: u.diffId ?? stored.blob.digest };
  }

  /** Removes a layer unpacked ahead (`unpackLayerFrom`, `storeAndUnpackLayer`, `storeAndUnpackAhead`) that will not be committed. */
  async discardLayer(key: string): Promise<void> {
    this.#aheadSizes.delete(key);
    await this.#snapshotter.remove(key).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
  }

  async #hasSnapshot(key: string): Promise<boolean> {
    try {
      await this.#snapshotter.stat(key);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /**
   * Unpacks one layer into a new transient active snapshot on `parent` and verifies its diff ID; returns the
   * snapshot's key, for the caller to commit, and the bytes of its regular files. Reads the blob from the content
   * store, or from `source` when given. Nothing is left behind on failure.
   */
  async #extract(
    layer: Descriptor,
    diffId: Digest,
    chainId: Digest,
    parent: Digest | undefined,
    opts: LayerOptions,
    source?: Readable | AsyncIterable<Uint8Array>,
  ): Promise<{ key: string; size: number }> {
    const key = `extract-${randomBytes(6).toString('hex')} ${chainId}`;
    const signalOpt = opts.signal ? { signal: opts.signal } : {};
    await this.#snapshotter.prepare(key, parent, { labels: { [TRANSIENT_LABEL]: 'true' } });
    try {
      const compression = layerCompression(layer.mediaType) ?? 'none';
      // a blob in the store is there, or made now if deferred (else NotFound)
      const file = source === undefined ? await this.#content.file(layer.digest as Digest, signalOpt) : undefined;
      // An uncompressed blob is its own tar: its digest (checked as it was stored, or by the caller as it is stored)
      // is the diff ID, so the tar is not hashed again.
      const plain = compression === 'none';
      let got: Digest | undefined;
      let fileBytes: number;
      try {
        // Decompression, the diff ID's digest and the file work all run on the unpack threads; a blob in the store
        // is read there too.
        ({ diffId: got, fileBytes } = await this.#snapshotter.applyBlob(key, source ?? { file: file! }, {
          compression,
          hash: !plain,
          ...signalOpt,
          onRead: (n) => opts.onLayerProgress?.(layer, n),
        }));
      } catch (err) {
        throw unpackError(err, layer.digest, opts.signal);
      }
      if (plain) got = layer.digest as Digest;
      if (got !== diffId)
        throw new DataLossError(
          `layer ${layer.digest} unpacks to ${got}, but the image config says its diff ID is ${diffId}`,
        );
      return { key, size: fileBytes };
    } catch (err) {
      await this.#snapshotter.remove(key).catch(() => {});
      throw err;
    }
  }
}

/** An unpack's failure as a BerthError: stream and zlib errors are data loss, named after the layer. */
function unpackError(err: unknown, digest: string, signal: AbortSignal | undefined): Error {
  if (isBerthError(err)) return err;
  const e = err as { name?: string; code?: string };
  if (signal?.aborted || e?.name === 'AbortError' || e?.code === 'ABORT_ERR')
    return new CanceledError(`unpacking layer ${digest} was canceled`, { cause: err });
  return new DataLossError(`layer ${digest}: ${(err as Error).message}`, { cause: err });
}
