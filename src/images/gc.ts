/**
 * Garbage collection of the image store: mark from the roots, sweep the rest (after containerd's
 * `core/metadata/gc.go`). Roots are every image record (its manifest, config and layer blobs, and its snapshot
 * chain), active snapshots and views (containers' root file systems, and their parents), the resources of the
 * leases in force, and what the `roots` callback names (the build cache's steps); a deferred blob that is kept keeps
 * the snapshot it is made from. Leases are kept in metadata/ (`LeaseRecords`), so a crash leaves them: start-up repair deletes
 * those of operations that died with the process, and keeps the expiring ones (a pull's verified blobs) until then.
 */
import { randomUUID } from 'node:crypto';
import type { Deferrer, Manager, Provider } from '../content/index.ts';
import { readJSONBlob } from '../content/index.ts';
import type { ImageRecords, LeaseRecords } from '../metadata/index.ts';
import type { ImageConfig, Manifest } from '../oci/types.ts';
import type { Snapshotter } from '../snapshots/index.ts';
import { type Digest, isDigest } from '../util/digest.ts';
import { NotFoundError } from '../util/errors.ts';
import { RWLock } from '../util/lock.ts';
import { chainIds } from './chain.ts';

const MAX_JSON = 4 << 20;

export interface GarbageCollectorDeps {
  content: Provider & Manager & Partial<Deferrer>;
  snapshotter: Snapshotter;
  records: ImageRecords;
  leases: LeaseRecords;
  /** Roots kept by others than images and leases (the build cache): blob digests and snapshot keys. */
  roots?: () => { blobs: Iterable<string>; snapshots: Iterable<string> };
}

/** What a collection removed: blob digests, layer chain IDs, and the bytes they held. */
export interface CollectResult {
  blobs: string[];
  layers: string[];
  reclaimed: number;
}

export interface LeaseOptions {
  /**
   * How long the lease keeps its blobs if the daemon dies during the operation (from the operation's start).
   * Without it, start-up repair deletes the lease and the collection removes what it kept.
   */
  keepAfterCrashMs?: number;
}

export class GarbageCollector {
  readonly #content: Provider & Manager & Partial<Deferrer>;
  readonly #snapshotter: Snapshotter;
  readonly #records: ImageRecords;
  readonly #leases: LeaseRecords;
  readonly #roots: GarbageCollectorDeps['roots'];
  /** Operations (registration, leased work) hold it shared; a collection holds it exclusively. */
  readonly #lock = new RWLock();

  constructor(deps: GarbageCollectorDeps) {
    this.#content = deps.content;
    this.#snapshotter = deps.snapshotter;
    this.#records = deps.records;
    this.#leases = deps.leases;
    this.#roots = deps.roots;
  }

  /** Runs fn with collections held off (they wait for it, and it waits for a running one). */
  hold<T>(fn: () => Promise<T>): Promise<T> {
    return this.#lock.read(fn);
  }

  /**
   * Runs fn with collections held off, under a lease recorded in metadata: every blob digest it reports through
   * `lease` stays a root until fn ends (and after a crash, as `opts` says), so that blobs written before their
   * image is registered survive a collection, even one after a restart.
   */
  async withLease<T>(fn: (lease: (digest: string) => void) => Promise<T>, opts: LeaseOptions = {}): Promise<T> {
    return this.#lock.read(async () => {
      const id = randomUUID();
      const now = Date.now();
      const expires = opts.keepAfterCrashMs !== undefined ? now + opts.keepAfterCrashMs : null;
      this.#leases.create({ id, created: now, expires });
      try {
        return await fn((digest) => this.#leases.add(id, 'content', digest));
      } finally {
        try {
          this.#leases.delete(id);
        } catch {
          // The database closed under a shutdown: start-up repair deletes the lease.
        }
      }
    });
  }

  /**
   * Runs `prepare` (e.g. deleting image records), then a collection, with every registration and leased
   * operation held off.
   */
  async collect(prepare?: () => void | Promise<void>): Promise<CollectResult> {
    return this.#lock.write(async () => {
      await prepare?.();
      return this.#collect();
    });
  }

  /**
   * At daemon start, before any operation: deletes the leases of operations the previous process did not finish,
   * keeping those that expire later. Returns the blobs the kept ones hold (the next collection spares them).
   */
  repair(): { deleted: number; keptBlobs: number } {
    const r = this.#leases.repair(Date.now());
    return { deleted: r.deleted, keptBlobs: r.kept.get('content')?.size ?? 0 };
  }

  async #collect(): Promise<CollectResult> {
    const now = Date.now();
    this.#leases.expire(now);
    const keepBlobs = this.#leases.kept('content', now);
    const keepSnaps = this.#leases.kept('snapshot', now);
    await this.#markImages(keepBlobs, keepSnaps);
    const more = this.#roots?.();
    for (const b of more?.blobs ?? []) keepBlobs.add(b);
    for (const k of more?.snapshots ?? []) keepSnaps.add(k);
    // a deferred blob that is kept keeps the snapshot its bytes are made from
    for (const d of (await this.#content.deferred?.()) ?? []) if (keepBlobs.has(d.digest)) keepSnaps.add(d.snapshot);
    const snaps = new Map<string, { parent: string | null; kind: string }>();
    for await (const s of this.#snapshotter.walk()) snaps.set(s.key, { parent: s.parent, kind: s.kind });
    // Active snapshots and views keep their parents.
    for (const [key, s] of snaps) if (s.kind !== 'committed') keepSnaps.add(key);
    let changed = true;
    while (changed) {
      changed = false;
      for (const key of keepSnaps) {
        const p = snaps.get(key)?.parent;
        if (p && !keepSnaps.has(p)) {
          keepSnaps.add(p);
          changed = true;
        }
      }
    }
    const out = await this.#sweepSnapshots(snaps, keepSnaps);
    for await (const b of this.#content.walk()) {
      if (keepBlobs.has(b.digest)) continue;
      await this.#content.delete(b.digest).catch((err) => {
        if (!(err instanceof NotFoundError)) throw err;
      });
      out.reclaimed += b.size;
      out.blobs.push(b.digest);
    }
    return out;
  }

  /** Marks every image's manifest, config and layer blobs, and its layers' chain IDs. */
  async #markImages(keepBlobs: Set<string>, keepSnaps: Set<string>): Promise<void> {
    for (const img of this.#records.all()) {
      keepBlobs.add(img.manifestDigest);
      keepBlobs.add(img.configDigest);
      try {
        const m = await readJSONBlob<Manifest>(this.#content, img.manifestDigest as Digest, MAX_JSON);
        for (const l of m.layers) keepBlobs.add(l.digest);
        const c = await readJSONBlob<ImageConfig>(this.#content, img.configDigest as Digest, MAX_JSON);
        for (const id of chainIds(c.rootfs.diff_ids)) keepSnaps.add(id);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
  }

  /** Removes the unmarked snapshots, leaves first, until none is left that nothing keeps. */
  async #sweepSnapshots(
    snaps: Map<string, { parent: string | null; kind: string }>,
    keep: Set<string>,
  ): Promise<CollectResult> {
    const out: CollectResult = { blobs: [], layers: [], reclaimed: 0 };
    let pending = [...snaps.keys()].filter((k) => !keep.has(k));
    while (pending.length > 0) {
      const parents = new Set(
        [...snaps.entries()].filter(([k]) => pending.includes(k) || keep.has(k)).map(([, s]) => s.parent),
      );
      const leaves = pending.filter((k) => !parents.has(k));
      if (leaves.length === 0) break;
      for (const k of leaves) {
        out.reclaimed += this.#records.layerSize(k) ?? 0;
        await this.#snapshotter.remove(k);
        this.#records.deleteLayer(k);
        snaps.delete(k);
        if (isDigest(k)) out.layers.push(k);
      }
      pending = pending.filter((k) => !leaves.includes(k));
    }
    return out;
  }
}
