import type { Readable } from 'node:stream';
import type { ContentStore, Expected } from '../content/index.ts';
import { chainIds, type ImageService } from '../images/index.ts';
import type { ImageConfig, Manifest } from '../oci/types.ts';
import type { Digest } from '../util/digest.ts';
import { CanceledError, DataLossError, FailedPreconditionError, NotFoundError, isBerthError } from '../util/errors.ts';

/** What loads, saves and imports need: the content store and the image service (built on that same store). */
export interface ArchiveDeps {
  content: ContentStore;
  images: ImageService;
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

  constructor(deps: ArchiveDeps, lease: (d: string) => void) {
    this.images = deps.images;
    this.content = deps.content;
    this.#lease = lease;
  }

  /** Streams a blob into the content store, leased until the operation ends. */
  async ingest(source: AsyncIterable<Uint8Array> | Readable, expected: Expected, signal?: AbortSignal): Promise<{ digest: Digest; size: number }> {
    const info = await this.content.ingest(source, expected, signal ? { signal } : {});
    this.#note(info.digest, info.created);
    return { digest: info.digest, size: info.size };
  }

  async put(data: Uint8Array): Promise<{ digest: Digest; size: number }> {
    const info = await this.content.put(data);
    this.#note(info.digest, info.created);
    return { digest: info.digest, size: info.size };
  }

  #note(digest: Digest, created: boolean): void {
    this.#lease(digest);
    if (created) this.createdBlobs.add(digest);
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

/** Leftovers waiting for every load and import on an image service to finish. */
class Leftovers {
  active = 0;
  sweeping: Promise<void> | undefined;
  readonly blobs = new Set<Digest>();
  readonly chains = new Set<string>();
}

/**
 * Per image service: removal of leftovers is deferred until no load or import runs on it, because a
 * concurrent one may be about to use a blob or snapshot another one created (two loads of one archive).
 */
const leftoversByService = new WeakMap<ImageService, Leftovers>();

/**
 * Runs a load or import: holds garbage collection off for its whole duration (blobs it writes are leased),
 * and afterwards removes the blobs it created and the snapshots it unpacked that no image references, so a
 * failed operation leaves nothing behind and a successful one leaves only its images.
 */
export async function runImageWork<T>(deps: ArchiveDeps, fn: (work: ImageWork) => Promise<T>): Promise<T> {
  const images = deps.images;
  return images.withLease(async (lease) => {
    let left = leftoversByService.get(images);
    if (!left) {
      left = new Leftovers();
      leftoversByService.set(images, left);
    }
    while (left.sweeping) await left.sweeping;
    left.active++;
    const work = new ImageWork(deps, lease);
    try {
      return await fn(work);
    } finally {
      for (const d of work.createdBlobs) if (!work.kept.has(d)) left.blobs.add(d);
      for (const c of work.newChains) left.chains.add(c);
      left.active--;
      if (left.active === 0 && (left.blobs.size > 0 || left.chains.size > 0)) {
        const l = left;
        l.sweeping = sweep(deps, l).finally(() => {
          l.sweeping = undefined;
        });
        await l.sweeping;
      }
    }
  });
}

/** Removes the leftovers that no image references. Best effort: what fails here, GC removes later. */
async function sweep(deps: ArchiveDeps, left: Leftovers): Promise<void> {
  const images = deps.images;
  const blobs = [...left.blobs];
  const chains = [...left.chains];
  left.blobs.clear();
  left.chains.clear();
  const usedBlobs = new Set<string>();
  const usedChains = new Set<string>();
  for (const img of images.records.all()) {
    usedBlobs.add(img.manifestDigest);
    usedBlobs.add(img.configDigest);
    try {
      const m = await images.readManifest(img.manifestDigest as Digest);
      for (const l of m.layers) usedBlobs.add(l.digest);
      const c = await images.readConfig(img.configDigest as Digest);
      for (const id of chainIds(c.rootfs.diff_ids)) usedChains.add(id);
    } catch {
      // an image with a missing manifest or config keeps nothing
    }
  }
  // Children before parents: retry while some removal makes progress.
  let pending = chains.filter((c) => !usedChains.has(c));
  while (pending.length > 0) {
    const rest: string[] = [];
    for (const key of pending) {
      try {
        await images.snapshotter.remove(key);
        images.records.deleteLayer(key);
      } catch (err) {
        if (err instanceof FailedPreconditionError) rest.push(key);
      }
    }
    if (rest.length === pending.length) break;
    pending = rest;
  }
  for (const d of blobs) {
    if (usedBlobs.has(d)) continue;
    await deps.content.delete(d).catch(() => {});
  }
}

/** Turns whatever an archive operation threw into a BerthError (stream and zlib errors are data loss). */
export function archiveError(err: unknown, what: string): Error {
  if (err instanceof DataLossError && !err.message.includes('image archive')) return new DataLossError(`${what}: ${err.message}`, { cause: err });
  if (isBerthError(err)) return err;
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR') return new CanceledError(`${what} was canceled`, { cause: err });
  return new DataLossError(`${what}: ${e?.message ?? String(err)}`, { cause: err });
}
