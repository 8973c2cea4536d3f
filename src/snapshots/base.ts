import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotRecord, SnapshotRecords } from '../metadata/index.ts';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
} from '../util/errors.ts';
import type { Compression } from '../util/compression.ts';
import {
  type LayerSource,
  type StoredTar,
  storeAndUnpackTar,
  type UnpackedTar,
  unpackLayer,
  unpackTar,
} from './apply.ts';
import type { FetchedBlob, WhiteoutMode } from './apply.ts';
import { TRANSIENT_LABEL } from './types.ts';
import type { Mount, SnapshotInfo, Snapshotter, TarEntry, Usage } from './types.ts';
import { markTopDir } from '../util/topdir.ts';
import { REMOVED_PREFIX, RemovedTrees } from './removed.ts';
import { diskUsage } from './usage.ts';

/** A snapshot's directory while it is made, before it takes its id's name. */
const NEW_PREFIX = '.new-';

export interface SnapshotterDeps {
  /** The data root: snapshots live in `<root>/snapshots/<id>/`. */
  root: string;
  /** Snapshot bookkeeping in the metadata DB. One snapshotter owns them; two must not share a DB. */
  records: SnapshotRecords;
  /**
   * How long a removed snapshot's empty directories are kept (removed.ts; default `KEEP_REMOVED_MS`, 0: removed
   * with its files). Only where the snapshots' directory takes the `T` mark (ext2/3/4).
   */
  keepRemovedMs?: number;
}

/**
 * What the overlay and copy snapshotters share: records in the metadata DB, one directory per snapshot
 * (`<root>/snapshots/<id>/fs`, the id being the record's small integer), and the errors of the contract.
 * Subclasses say how a new snapshot's directory is filled, which mounts show it, and how whiteouts are
 * written.
 */
export abstract class DirectorySnapshotter implements Snapshotter {
  abstract readonly name: string;
  abstract readonly layersIndependent: boolean;
  protected abstract readonly whiteouts: WhiteoutMode;
  protected readonly dir: string;
  protected readonly records: SnapshotRecords;
  #closed = false;
  /** `dir` made and marked as the top of directory hierarchies (util/topdir.ts), once, before the first snapshot. */
  #topDir: Promise<boolean> | undefined;
  /** Removed snapshots' directories, kept a while with their files unlinked. */
  readonly #removed: RemovedTrees;

  constructor(deps: SnapshotterDeps) {
    this.dir = join(deps.root, 'snapshots');
    this.records = deps.records;
    this.#removed = new RemovedTrees(this.dir, deps.keepRemovedMs === undefined ? {} : { keepMs: deps.keepRemovedMs });
  }

  /** Fills the new snapshot's directory (`fs` already exists, empty). */
  protected abstract populate(rec: SnapshotRecord, parents: SnapshotRecord[]): Promise<void>;
  /** The mounts of an active snapshot or view, given its ancestors, nearest first. */
  protected abstract mountsOf(rec: SnapshotRecord, parents: SnapshotRecord[]): Mount[];

  /** The snapshot's directory. */
  protected home(id: number): string {
    return join(this.dir, String(id));
  }

  /** The snapshot's content: the layer (overlay) or the whole tree (copy). */
  protected fsDir(id: number): string {
    return join(this.dir, String(id), 'fs');
  }

  async prepare(key: string, parent?: string, opts: { labels?: Record<string, string> } = {}): Promise<Mount[]> {
    return this.#create('active', key, parent, opts.labels ?? {});
  }

  async view(key: string, parent?: string): Promise<Mount[]> {
    return this.#create('view', key, parent, {});
  }

  async #create(
    kind: 'active' | 'view',
    key: string,
    parent: string | undefined,
    labels: Record<string, string>,
  ): Promise<Mount[]> {
    this.#open();
    if (key === '') throw new InvalidArgumentError('snapshot key "" is empty');
    if (this.records.get(key)) throw new AlreadyExistsError(`snapshot "${key}" already exists`);
    let parents: SnapshotRecord[] = [];
    if (parent !== undefined && parent !== '') {
      const p = this.records.get(parent);
      if (!p) throw new NotFoundError(`parent snapshot "${parent}" not found`);
      if (p.kind !== 'committed') {
        throw new InvalidArgumentError(`parent snapshot "${parent}" is ${p.kind}, not committed`);
      }
      parents = this.#ancestry(p);
    }
    const rec = this.records.create(key, parents[0]?.key ?? null, kind, labels);
    let fresh: string | undefined;
    try {
      const home = this.home(rec.id);
      // Synchronous calls on the path of every container create: one step of the event loop instead of several
      // round trips through libuv's pool (bench/README.md, "Start path"). A directory is there only after a crash
      // (and then it may be a whole layer's tree: removed off the event loop).
      if (existsSync(home)) await rm(home, { recursive: true, force: true }); // left by a crash before a repair
      await (this.#topDir ??= markTopDir(this.dir));
      // Made under a random name, then renamed to its id: ext4 places a directory made under a `T` one by a hash of
      // the name it is made with, and an id that another daemon on this file system (or this data root before a
      // restart) just removed would hash to the group its removal freed (removed.ts). A crash between the two
      // leaves a name without a record, which repair() removes.
      fresh = join(this.dir, `${NEW_PREFIX}${randomBytes(8).toString('hex')}`);
      mkdirSync(fresh, { recursive: true });
      mkdirSync(join(fresh, 'fs'), 0o755);
      renameSync(fresh, home);
      fresh = undefined;
      await this.populate(rec, parents);
      return this.mountsOf(rec, parents);
    } catch (err) {
      this.records.delete(key);
      await rm(this.home(rec.id), { recursive: true, force: true });
      if (fresh !== undefined) await rm(fresh, { recursive: true, force: true });
      throw err;
    }
  }

  async mounts(key: string): Promise<Mount[]> {
    this.#open();
    const rec = this.#get(key);
    if (rec.kind === 'committed') {
      throw new FailedPreconditionError(`snapshot "${key}" is committed; only active snapshots and views have mounts`);
    }
    return this.mountsOf(rec, rec.parent === null ? [] : this.#ancestry(this.#get(rec.parent)));
  }

  async commit(name: string, key: string, opts: { parent?: string } = {}): Promise<void> {
    this.#open();
    this.#commit(name, key, opts.parent);
  }

  async commitAll(
    commits: { name: string; key: string; parent?: string }[],
    each?: (i: number) => void,
  ): Promise<void> {
    this.#open();
    // One transaction for an image's layers instead of one each (bench/README.md, "Data path"): all or none.
    this.records.transaction(() => {
      for (let i = 0; i < commits.length; i++) {
        const c = commits[i]!;
        this.#commit(c.name, c.key, c.parent);
        each?.(i);
      }
    });
  }

  #commit(name: string, key: string, parent: string | undefined): void {
    const rec = this.#get(key);
    if (rec.kind !== 'active') throw new FailedPreconditionError(`snapshot "${key}" is ${rec.kind}, not active`);
    if (this.records.get(name)) throw new AlreadyExistsError(`snapshot "${name}" already exists`);
    if (parent !== undefined) {
      if (!this.layersIndependent)
        throw new InvalidArgumentError(`the ${this.name} snapshotter cannot give a parent at commit`);
      if (rec.parent !== null)
        throw new InvalidArgumentError(`snapshot "${key}" already has the parent "${rec.parent}"`);
      const p = this.#get(parent);
      if (p.kind !== 'committed')
        throw new InvalidArgumentError(`parent snapshot "${parent}" is ${p.kind}, not committed`);
    }
    this.records.commit(key, name, parent);
  }

  async remove(key: string): Promise<void> {
    this.#open();
    const rec = this.#get(key);
    const children = this.records.children(key);
    if (children.length > 0) {
      throw new FailedPreconditionError(
        `snapshot "${key}" has children (${children.map((c) => `"${c}"`).join(', ')}); remove them first`,
      );
    }
    // The record goes first: a crash before the directory is gone leaves an orphan that repair() removes. The
    // files go at once; on ext4 the directories stay a while, renamed aside, so that the next snapshot is not
    // placed among the inodes just freed (removed.ts).
    this.records.delete(key);
    if (await (this.#topDir ??= markTopDir(this.dir))) await this.#removed.bury(this.home(rec.id), String(rec.id));
    else await rm(this.home(rec.id), { recursive: true, force: true });
  }

  async stat(key: string): Promise<SnapshotInfo> {
    this.#open();
    return info(this.#get(key));
  }

  async *walk(): AsyncIterable<SnapshotInfo> {
    this.#open();
    for (const rec of this.records.all()) yield info(rec);
  }

  async usage(key: string): Promise<Usage> {
    this.#open();
    return diskUsage(this.fsDir(this.#get(key).id));
  }

  async applyLayer(
    key: string,
    layer: AsyncIterable<TarEntry>,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ size: number }> {
    return unpackLayer(this.#activeDir(key), layer, { whiteouts: this.whiteouts, signal: opts.signal });
  }

  async applyBlob(
    key: string,
    source: LayerSource,
    opts: { compression?: Compression; hash?: boolean; signal?: AbortSignal; onRead?: (bytes: number) => void } = {},
  ): Promise<UnpackedTar> {
    return unpackTar(this.#activeDir(key), source, { whiteouts: this.whiteouts, ...opts });
  }

  async storeAndApplyBlob(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | FetchedBlob,
    blobPath: string,
    opts: {
      compression?: Compression;
      hash?: boolean;
      signal?: AbortSignal;
      onRead?: (bytes: number) => void;
      onStored?: (blob: StoredTar['blob']) => void;
      releaseChunks?: boolean;
      blobSize?: number;
    } = {},
  ): Promise<StoredTar> {
    return storeAndUnpackTar(this.#activeDir(key), source, blobPath, { whiteouts: this.whiteouts, ...opts });
  }

  /** The directory of the active snapshot `key`, which a layer unpacks into. */
  #activeDir(key: string): string {
    this.#open();
    const rec = this.#get(key);
    if (rec.kind !== 'active') {
      throw new FailedPreconditionError(`snapshot "${key}" is ${rec.kind}; layers unpack only into active snapshots`);
    }
    return this.fsDir(rec.id);
  }

  async repair(): Promise<{ removed: string[] }> {
    this.#open();
    const removed: string[] = [];
    for (const rec of this.records.all()) {
      if (
        rec.kind === 'active' &&
        rec.labels[TRANSIENT_LABEL] !== undefined &&
        this.records.children(rec.key).length === 0
      ) {
        await this.remove(rec.key);
        removed.push(rec.key);
      }
    }
    const ids = new Set(this.records.all().map((r) => String(r.id)));
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names) {
      if (ids.has(name)) continue;
      // A removed snapshot's directories: kept for the rest of their time, their files unlinked, or removed.
      if (name.startsWith(REMOVED_PREFIX) && !(await this.#removed.adopt(name))) continue;
      await rm(join(this.dir, name), { recursive: true, force: true });
      removed.push(join(this.dir, name));
    }
    return { removed };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#removed.close();
  }

  #open(): void {
    if (this.#closed) throw new UnavailableError(`${this.name} snapshotter is closed`);
  }

  #get(key: string): SnapshotRecord {
    const rec = this.records.get(key);
    if (!rec) throw new NotFoundError(`snapshot "${key}" not found`);
    return rec;
  }

  /** `rec` and its ancestors, nearest first. */
  #ancestry(rec: SnapshotRecord): SnapshotRecord[] {
    const chain = [rec];
    for (let r = rec; r.parent !== null; ) {
      const p = this.records.get(r.parent);
      if (!p) throw new NotFoundError(`snapshot "${r.parent}" (parent of "${r.key}") not found`);
      chain.push(p);
      r = p;
    }
    return chain;
  }
}

function info(rec: SnapshotRecord): SnapshotInfo {
  return { key: rec.key, parent: rec.parent, kind: rec.kind, created: rec.created, labels: { ...rec.labels } };
}
