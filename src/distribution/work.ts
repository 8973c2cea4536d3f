import type { Readable } from 'node:stream';
import type { ContentStore, Expected } from '../content/index.ts';
import { chainIds, type ImageService, type LeaseOptions } from '../images/index.ts';
import type { BlobSourceRecords } from '../metadata/index.ts';
import type { ImageConfig, Manifest } from '../oci/types.ts';
import type { KeptPings } from './remote/types.ts';
import type { Digest } from '../util/digest.ts';
import { CanceledError, DataLossError, NotFoundError, isBerthError } from '../util/errors.ts';

/**
 * What loads, saves, imports, pulls and pushes need: the content store and the image service (built on that same
 * store), and where blobs came from (pull and push; without it a push mounts nothing from other repositories).
 */
export interface ArchiveDeps {
  content: ContentStore;
  images: ImageService;
  blobSources?: BlobSourceRecords;
  /** Hears of failures that do not fail the operation (a pull's blob sources not noted). */
  log?: { warn(m: string): void } | undefined;
  /** The endpoints that answered a pull's ping lately (pulls send their first request there without one). */
  pings?: KeptPings;
}

/**
 * One load or import in progress: the blobs it added to the content store and the layer snapshots it
 * unpacked, so that what no image ends up referencing can be removed afterwards.
 */
export class ImageWork {
  readonly images: ImageService;
  readonly content: ContentStore;
  /** Blobs this operation created (they were not in the store before). */
  readonly createdBlobs = new Set<Digest>();
  /** Chain IDs whose snapshots did not exist when this operation was about to unpack them. */
  readonly newChains = new Set<string>();
  /** Blobs referenced by the images this operation registered. */
  readonly kept = new Set<string>();
  readonly #lease: (d: string) => void;
  /** Blobs were renamed into the store whose names are not yet durable (see `durable`). */
  #unsynced = false;

  constructor(deps: ArchiveDeps, lease: (d: string) => void) {
    this.images = deps.images;
    this.content = deps.content;
    this.#lease = lease;
  }

  /** Streams a blob into the content store, leased until the operation ends. */
  async ingest(
    source: AsyncIterable<Uint8Array> | Readable,
    expected: Expected,
    signal?: AbortSignal,
  ): Promise<{ digest: Digest; size: number }> {
    const info = await this.content.ingest(source, expected, { syncDir: false, ...(signal ? { signal } : {}) });
    this.#note(info.digest, info.created);
    return { digest: info.digest, size: info.size };
  }

  /** A path for a blob another thread writes (an unpack storing it as it goes); then `adopt` it. */
  ingestPath(): string {
    return this.content.ingestPath();
  }

  /** Takes in a blob written at an `ingestPath()` (see ContentStore.adopt), leased until the operation ends. */
  async adopt(
    tmp: string,
    got: { digest: Digest; size: number },
    expected: Expected,
  ): Promise<{ digest: Digest; size: number }> {
    const info = await this.content.adopt(tmp, got, expected, { syncDir: false });
    this.#note(info.digest, info.created);
    return { digest: info.digest, size: info.size };
  }

  async put(data: Uint8Array): Promise<{ digest: Digest; size: number }> {
    const info = await this.content.put(data, {}, { syncDir: false });
    this.#note(info.digest, info.created);
    return { digest: info.digest, size: info.size };
  }

  #note(digest: Digest, created: boolean): void {
    this.#lease(digest);
    if (created) {
      this.createdBlobs.add(digest);
      this.#unsynced = true;
    }
  }

  /**
   * Makes the names of the blobs this operation stored durable: one sync of the blob directory, called before an
   * image that refers to them is recorded (each blob's content was synced before its rename), instead of one per
   * blob (measured in bench/README.md, "fsync policy").
   */
  async durable(): Promise<void> {
    if (!this.#unsynced) return;
    this.#unsynced = false;
    await this.content.syncBlobs();
  }

  /** Adds a blob this operation relies on (already in the store) to its lease. */
  lease(digest: string): void {
    this.#lease(digest);
  }

  /** Records which of the image's layer snapshots do not exist yet (call before unpacking). */
  async noteChains(config: ImageConfig): Promise<void> {
    for (const id of chainIds(config.rootfs.diff_ids)) {
      if (this.newChains.has(id)) continue;
      try {
        await this.images.snapshotter.stat(id);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        this.newChains.add(id);
      }
    }
  }

  /** Marks a registered image's blobs as referenced. */
  keep(manifestDigest: string, manifest: Manifest): void {
    this.kept.add(manifestDigest);
    this.kept.add(manifest.config.digest);
    for (const l of manifest.layers) this.kept.add(l.digest);
  }
}

/**
 * Runs a load, import or pull: holds garbage collection off for its whole duration (blobs it writes are leased,
 * and after a crash as `opts` says), and
 * afterwards, when it created blobs or layer snapshots that no image it registered uses (it failed, or the
 * archive held extra files), runs the image service's garbage collection. GC waits for every other load and
 * import to finish first, so it never takes what a concurrent one is about to use; a failed operation leaves
 * nothing behind and a successful one leaves only its images.
 */
export async function runImageWork<T>(
  deps: ArchiveDeps,
  fn: (work: ImageWork) => Promise<T>,
  opts: LeaseOptions = {},
): Promise<T> {
  let work!: ImageWork;
  let failed = true;
  try {
    const result = await deps.images.withLease(async (lease) => {
      work = new ImageWork(deps, lease);
      return fn(work);
    }, opts);
    failed = false;
    return result;
  } finally {
    const strayBlob = work && [...work.createdBlobs].some((d) => !work.kept.has(d));
    if (work && (strayBlob || (failed && work.newChains.size > 0))) await deps.images.collect();
  }
}

/** Turns whatever an archive operation threw into a BerthError (stream and zlib errors are data loss). */
export function archiveError(err: unknown, what: string): Error {
  if (err instanceof DataLossError && !err.message.includes('image archive'))
    return new DataLossError(`${what}: ${err.message}`, { cause: err });
  if (isBerthError(err)) return err;
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR')
    return new CanceledError(`${what} was canceled`, { cause: err });
  return new DataLossError(`${what}: ${e?.message ?? String(err)}`, { cause: err });
}
