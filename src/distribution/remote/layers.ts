/**
 * A pull's layers: downloads those not in the content store (in parallel, verified by digest and size while they
 * stream) and unpacks them into snapshots, with docker's per-layer progress.
 *
 * Where the snapshotter's layers are independent (overlay), a layer unpacks *while* it downloads, in one pass over
 * the bytes on an unpack thread: the main thread copies the response body into the thread's ring, and the thread
 * writes it to the content store's ingest file, hashes it, and decompresses, hashes (the diff ID) and unpacks it
 * into the layer's own transient snapshot (`ImageService.storeAndUnpackLayer`). The blob is then adopted by the
 * store if its digest and size are right; the layer counts only when both checks pass. Once every layer is in, the
 * snapshots are committed in chain order under the unpack locks (`ImageService.unpack` with `prepared`). A blob
 * whose digest turns out wrong after a complete unpack has its snapshot removed, so nothing half-pulled is ever
 * visible.
 *
 * Resume: `blobBytes` resumes a cut download with `Range` and hands on one continuous stream from byte 0, so the
 * unpack thread simply goes on where it was; nothing restarts, and nothing is read twice. (A registry that ignores
 * `Range` sends the blob again from 0; `blobBytes` drops the bytes already handed on.)
 *
 * Elsewhere (the copy snapshotter, where a layer starts as a copy of its parent) layers download first and unpack
 * from the store as the complete prefix of the image grows.
 */
import { rm } from 'node:fs/promises';
import { chainIds, SMALL_LAYER } from '../../images/index.ts';
import { familiarString, type Reference } from '../../oci/reference.ts';
import type { Descriptor, ImageConfig, Manifest } from '../../oci/types.ts';
import type { Digest } from '../../util/digest.ts';
import { CanceledError, DataLossError, NotFoundError } from '../../util/errors.ts';
import type { ImageWork } from '../work.ts';
import { blobBytes, blobError, fetchedBlob, pullError } from './blob.ts';
import type { Session } from './client.ts';
import { Limit } from '../../util/lock.ts';
import { phase, phaseEnd, phaseStart } from '../../util/trace.ts';
import { progressMessage, shortId, Throttle } from './progress.ts';
import type { JSONMessage, PullOptions, RegistryConfig } from './types.ts';

/** Records a blob verified into the store, and where it came from. */
export interface BlobNotes {
  note(digest: string, registry: string, repo: string): void;
}

/**
 * Blobs up to this size download in their own pool, SMALL_BLOB_PARALLELISM times maxConcurrentDownloads wide: the
 * unpack threads' small layers (a 2 MiB layer shares a reader thread; it was 1 MiB here, so that a layer of 1–2 MiB
 * waited for one of three slots for a thread it shared: bench/README.md, "Data path", 2026-12-07 22:15).
 */
const SMALL_BLOB = SMALL_LAYER;
const SMALL_BLOB_PARALLELISM = 4;

/** What fetchLayers works on: one image of a pull. */
export interface LayerJob {
  work: ImageWork;
  registry: RegistryConfig;
  session: Session;
  sources: BlobNotes;
  ref: Reference;
  manifest: Manifest;
  config: ImageConfig;
  opts: PullOptions;
  emit: (m: JSONMessage) => void;
}

/** Downloads the layers of an image that are not in the store and unpacks every layer not unpacked yet. */
export async function fetchLayers(job: LayerJob): Promise<void> {
  const { work, manifest, emit } = job;
  const present = new Set<string>();
  const downloads = new Map<string, Descriptor>();
  for (const l of manifest.layers) {
    if (present.has(l.digest) || downloads.has(l.digest)) continue;
    if (await work.content.has(l.digest)) {
      // No lease needed: GC waits for this whole operation (runImageWork holds it off).
      present.add(l.digest);
      emit({ status: 'Already exists', progressDetail: {}, id: shortId(l.digest) });
    } else {
      downloads.set(l.digest, l);
    }
  }
  for (const l of downloads.values()) emit({ status: 'Pulling fs layer', progressDetail: {}, id: shortId(l.digest) });
  await work.noteChains(job.config);
  if (work.images.snapshotter.layersIndependent) await pipelined(job, downloads);
  else await downloadThenUnpack(job, downloads, present);
}

/** Runs `task` for each item under its pool; the first failure aborts the rest. Resolves when all settled. */
export class Tasks {
  failure: unknown;
  readonly abort = new AbortController();
  readonly #outer: AbortSignal | undefined;
  readonly #onOuterAbort = (): void => this.abort.abort(this.#outer?.reason);
  readonly #running: Promise<void>[] = [];
  readonly #limit: Limit;
  readonly #smallLimit: Limit;

  constructor(registry: RegistryConfig, outer: AbortSignal | undefined) {
    this.#outer = outer;
    outer?.addEventListener('abort', this.#onOuterAbort, { once: true });
    this.#limit = new Limit(registry.maxConcurrentDownloads || 3);
    // Small blobs are bound by round trips and fsyncs, not bandwidth: they get a wider pool of their own.
    this.#smallLimit = new Limit(SMALL_BLOB_PARALLELISM * (registry.maxConcurrentDownloads || 3));
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Records the first failure and aborts everything else. */
  fail(err: unknown): void {
    this.failure ??= err;
    this.abort.abort(err);
  }

  /**
   * Starts `fn` once a slot of the pool for a blob of `size` is free; `onWait` when it has to wait. The slot is
   * given back when `fn` ends, or earlier when `fn` calls `received` (its blob's last byte is in: docker too frees
   * a download slot at "Download complete"), so that a layer's tail of unpacking and its blob's fsync overlap the
   * next download instead of holding a slot.
   */
  start(size: number, fn: (received: () => void) => Promise<void>, onWait?: () => void): void {
    let started = false;
    const waitTimer = onWait ? setTimeout(() => started || onWait(), 0) : undefined;
    const limit = size <= SMALL_BLOB ? this.#smallLimit : this.#limit;
    const p = (async () => {
      await limit.take();
      let held = true;
      const received = (): void => {
        if (held) limit.release();
        held = false;
      };
      try {
        started = true;
        clearTimeout(waitTimer);
        if (this.failure !== undefined) return;
        await fn(received);
      } finally {
        received();
      }
    })();
    this.#running.push(p.catch((err) => this.fail(err)));
  }

  /** Waits for every task; then the caller's signal is no longer watched. */
  async settle(): Promise<void> {
    await Promise.all(this.#running);
    this.#outer?.removeEventListener('abort', this.#onOuterAbort);
  }

  /** The failure to throw: a CanceledError when the caller canceled. */
  error(ref: Reference): unknown {
    if (this.#outer?.aborted && !(this.failure instanceof CanceledError))
      return new CanceledError(`pull of ${familiarString(ref)} was canceled`, { cause: this.failure });
    return this.failure;
  }
}

/** `bytes`, then `received()` once their last byte has been handed on (not when they fail or stop early). */
async function* releasing(bytes: AsyncIterable<Buffer>, received: () => void): AsyncGenerator<Buffer> {
  yield* bytes;
  received();
}

async function hasSnapshot(work: ImageWork, key: string): Promise<boolean> {
  try {
    await work.images.snapshotter.stat(key);
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

/** Download and unpack in one pass per layer (overlay); the commits in chain order at the end. */
async function pipelined(job: LayerJob, downloads: Map<string, Descriptor>): Promise<void> {
  const { work, session, sources, ref, manifest, config, opts, emit } = job;
  const repo = ref.path;
  const layers = manifest.layers;
  const diffIds = config.rootfs.diff_ids;
  const chain = chainIds(diffIds);
  const tasks = new Tasks(job.registry, opts.signal);
  const signal = tasks.signal;
  const throttle = new Throttle(100);
  /** Chain ID → key of its transient snapshot, unpacked and verified, not committed. */
  const prepared = new Map<string, string>();
  // The layers already unpacked are a prefix of the image (a committed snapshot implies its parents).
  let first = chain.length;
  while (first > 0 && !(await hasSnapshot(work, chain[first - 1]!))) first--;
  const target = new Map<string, number>();
  for (let i = first; i < layers.length; i++) if (!target.has(layers[i]!.digest)) target.set(layers[i]!.digest, i);

  const downloadOne = async (l: Descriptor, freeSlot: () => void, queued: number | undefined): Promise<void> => {
    const id = shortId(l.digest);
    phaseEnd('pull.layer.queued', id, queued);
    const at = target.get(l.digest);
    const expected = { digest: l.digest as Digest, size: l.size };
    const onBytes = (n: number): void => {
      if (throttle.ok(id, n >= l.size)) emit(progressMessage('Downloading', id, n, l.size));
    };
    const complete = (): void => {
      emit({ status: 'Verifying Checksum', progressDetail: {}, id });
      emit({ status: 'Download complete', progressDetail: {}, id });
      sources.note(l.digest, ref.domain, repo);
    };
    if (at === undefined) {
      // Its layer is unpacked already (the same blob at another depth, or another image's): only stored.
      try {
        await work.ingest(blobBytes(session, repo, l, signal, onBytes), expected, signal);
      } catch (err) {
        throw blobError(err, l.digest);
      }
      complete();
      emit({ status: 'Pull complete', progressDetail: {}, id });
      return;
    }
    // One pass on an unpack thread: the bytes are written to the store's ingest file and hashed, and unpacked. The
    // thread downloads them itself where it can; else, or for the rest of a download of its that failed, this
    // thread does (blob.ts, `fetchedBlob`).
    const tmp = work.ingestPath();
    // Timed for bench/pull-timeline.ts (only when something listens): from the slot to the blob's last byte.
    let slotAt = phaseStart();
    const received = (): void => {
      phaseEnd('pull.layer.bytes', id, slotAt);
      slotAt = undefined;
      freeSlot();
    };
    const bytes = (from: number) =>
      releasing(blobBytes(session, repo, l, signal, onBytes, { batch: false, from }), received);
    let r: Awaited<ReturnType<typeof work.images.storeAndUnpackLayer>>;
    try {
      const source =
        (await fetchedBlob(session, repo, l, signal, bytes, { onBytes, onReceived: received })) ?? bytes(0);
      r = await phase('pull.layer.unpack', id, () =>
        work.images.storeAndUnpackLayer(l, diffIds[at]!, chain[at]!, source, tmp, { signal }),
      );
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw blobError(err, l.digest);
    }
    try {
      await phase('pull.layer.adopt', id, () => work.adopt(tmp, r.blob, expected));
    } catch (err) {
      // A bad blob: whatever was unpacked from it goes.
      if (r.key !== undefined) await work.images.discardLayer(r.key).catch(() => {});
      throw blobError(err, l.digest);
    }
    complete();
    if (r.error !== undefined || r.key === undefined)
      throw pullError(r.error, `unpacking layer ${l.digest} of ${familiarString(ref)}`);
    if (tasks.failure !== undefined) {
      await work.images.discardLayer(r.key).catch(() => {});
      return;
    }
    prepared.set(chain[at]!, r.key);
    emit(progressMessage('Extracting', id, l.size, l.size));
    emit({ status: 'Pull complete', progressDetail: {}, id });
  };

  for (const l of downloads.values()) {
    const queued = phaseStart();
    tasks.start(
      l.size,
      (received) => downloadOne(l, received, queued),
      () => emit({ status: 'Waiting', progressDetail: {}, id: shortId(l.digest) }),
    );
  }
  // Blobs already in the store whose layer is not unpacked (a pull cut short before, a load of another image):
  // unpacked from the store alongside the downloads.
  for (const [digest, at] of target) {
    if (downloads.has(digest)) continue;
    const l = layers[at]!;
    tasks.start(l.size, async () => {
      const key = await work.images.unpackLayerFrom(l, diffIds[at]!, chain[at]!, undefined, { signal });
      if (tasks.failure !== undefined) await work.images.discardLayer(key).catch(() => {});
      else prepared.set(chain[at]!, key);
    });
  }
  await tasks.settle();
  if (tasks.failure !== undefined) {
    for (const key of prepared.values()) await work.images.discardLayer(key).catch(() => {});
    throw tasks.error(ref);
  }
  // Commits what was unpacked ahead, in chain order; unpacks what was not (a blob repeated at another depth).
  try {
    await phase('pull.commits', '', () =>
      work.images.unpack(manifest, config, {
        prepared,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onLayerProgress: (layer, n) => {
          if (throttle.ok(`x${shortId(layer.digest)}`, n >= layer.size))
            emit(progressMessage('Extracting', shortId(layer.digest), n, layer.size));
        },
      }),
    );
  } catch (err) {
    if (opts.signal?.aborted) throw new CanceledError(`pull of ${familiarString(ref)} was canceled`, { cause: err });
    throw pullError(err, `unpacking layers of ${familiarString(ref)}`);
  }
}

/**
 * Downloads first, then unpacks from the store as the complete prefix grows: each time the layers 0..k are all
 * present, layers up to k are unpacked while later ones still download. For snapshotters whose layers depend on
 * their parents' content (copy).
 */
async function downloadThenUnpack(
  job: LayerJob,
  downloads: Map<string, Descriptor>,
  present: Set<string>,
): Promise<void> {
  const { work, session, sources, ref, manifest, config, opts, emit } = job;
  const repo = ref.path;
  const layers = manifest.layers;
  const tasks = new Tasks(job.registry, opts.signal);
  const signal = tasks.signal;
  const throttle = new Throttle(100);
  let unpackedTo = 0;
  let unpacking: Promise<void> | undefined;
  const extracted = new Set<string>();
  const completeDigests = new Set<string>(present);

  const unpackMore = (): void => {
    if (unpacking || tasks.failure !== undefined) return;
    let k = unpackedTo;
    while (k < layers.length && completeDigests.has(layers[k]!.digest)) k++;
    if (k <= unpackedTo) return;
    const upto = k;
    const partManifest: Manifest = { ...manifest, layers: layers.slice(0, upto) };
    const partConfig: ImageConfig = {
      ...config,
      rootfs: { type: 'layers', diff_ids: config.rootfs.diff_ids.slice(0, upto) },
    };
    unpacking = (async () => {
      try {
        // Only the caller's signal: a download failing elsewhere lets a running unpack (local, bounded) end by itself.
        await work.images.unpack(partManifest, partConfig, {
          ...(opts.signal ? { signal: opts.signal } : {}),
          onLayerProgress: (layer, current) => {
            if (!downloads.has(layer.digest)) return;
            if (throttle.ok(`x${layer.digest}`, current >= layer.size))
              emit(progressMessage('Extracting', shortId(layer.digest), current, layer.size));
          },
        });
        for (let i = unpackedTo; i < upto; i++) {
          const d = layers[i]!.digest;
          if (downloads.has(d) && !extracted.has(d)) {
            extracted.add(d);
            emit({ status: 'Pull complete', progressDetail: {}, id: shortId(d) });
          }
        }
        unpackedTo = upto;
      } catch (err) {
        tasks.fail(pullError(err, `unpacking layer of ${familiarString(ref)}`));
      } finally {
        unpacking = undefined;
      }
      unpackMore();
    })();
  };

  const downloadOne = async (l: Descriptor): Promise<void> => {
    const id = shortId(l.digest);
    try {
      await work.ingest(
        blobBytes(session, repo, l, signal, (n) => {
          if (throttle.ok(id, n >= l.size)) emit(progressMessage('Downloading', id, n, l.size));
        }),
        { digest: l.digest as Digest, size: l.size },
        signal,
      );
    } catch (err) {
      throw blobError(err, l.digest);
    }
    emit({ status: 'Verifying Checksum', progressDetail: {}, id });
    emit({ status: 'Download complete', progressDetail: {}, id });
    sources.note(l.digest, ref.domain, repo);
    completeDigests.add(l.digest);
    unpackMore();
  };

  unpackMore();
  for (const l of downloads.values())
    tasks.start(
      l.size,
      () => downloadOne(l),
      () => emit({ status: 'Waiting', progressDetail: {}, id: shortId(l.digest) }),
    );
  await tasks.settle();
  while (unpacking) await unpacking;
  if (tasks.failure === undefined) unpackMore();
  while (unpacking) await unpacking;
  if (tasks.failure !== undefined) throw tasks.error(ref);
  if (unpackedTo < layers.length) throw new DataLossError(`pull of ${familiarString(ref)} left layers unpacked`);
}
