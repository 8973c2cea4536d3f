import { randomBytes } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContentStore } from '../content/index.ts';
import { readJSONBlob } from '../content/index.ts';
import type { ImageRecord, ImageRecords, TagHistoryRecord } from '../metadata/index.ts';
import {
  isConfigType,
  isIndexType,
  isManifestType,
  isSchema1,
  layerCompression,
  MediaType,
} from '../oci/mediatypes.ts';
import {
  familiarString,
  fullName,
  isIdPrefix,
  parseReference,
  referenceString,
  withDefaultTag,
  type Reference,
} from '../oci/reference.ts';
import type { Descriptor, ImageConfig, Manifest } from '../oci/types.ts';
import { type Snapshotter, TRANSIENT_LABEL } from '../snapshots/index.ts';
import { decompressor } from '../util/compression.ts';
import { Digester, type Digest, isDigest } from '../util/digest.ts';
import {
  CanceledError,
  ConflictError,
  DataLossError,
  InvalidArgumentError,
  NotFoundError,
  isBerthError,
} from '../util/errors.ts';
import type { EventLog } from '../util/events.ts';
import { KeyedMutex, mapLimit, RWLock } from '../util/lock.ts';
import { extract } from '../util/tar/index.ts';
import { chainIds } from './chain.ts';
import { choosePlatform } from './platform.ts';

export interface ImageServiceDeps {
  content: ContentStore;
  snapshotter: Snapshotter;
  records: ImageRecords;
  events: EventLog;
  /** How many past versions of each tag are kept from GC and prune (default 10). */
  historyDepth?: number;
  /** Containers using an image (by image ID), to refuse deleting it; filled in once containers exist. */
  usedBy?: (imageId: string) => { id: string; running: boolean }[];
}

/** An image as stored: its record, manifest and config. */
export interface Image {
  record: ImageRecord;
  manifest: Manifest;
  config: ImageConfig;
  /** Full references of the tags pointing at it, e.g. `docker.io/library/busybox:latest`. */
  tags: string[];
}

export interface DeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

export interface RegisterOptions {
  /** Tags to point at the image. */
  tags?: Reference[];
  /** The event action to publish for the image ('load', 'import', 'pull'); none when undefined. */
  event?: string;
  signal?: AbortSignal;
  /** Called as each layer unpacks: bytes read of its (possibly compressed) blob. */
  onLayerProgress?: (layer: Descriptor, current: number) => void;
  /** Digests the image was pulled by that are not its manifest's (an index's), each with its repository. */
  repoDigests?: Reference[];
}

/** `unpack`'s options: a register's, plus layers already unpacked by `unpackLayerFrom`. */
export interface ImageUnpackOptions extends RegisterOptions {
  /**
   * Layers unpacked ahead (while they downloaded) by `unpackLayerFrom`: chain ID → the key it returned. `unpack`
   * takes every one of them over: it commits those still missing in chain order and removes the rest (a
   * concurrent operation committed that layer first), whether it succeeds or fails.
   */
  prepared?: ReadonlyMap<string, string>;
}

const MAX_JSON = 4 << 20;
/** Layers of one image unpacked at once (gunzip and the file writes of each use about one core). */
const UNPACK_PARALLELISM = 3;

/**
 * Images: registering manifests whose blobs are in the content store (unpacking each distinct layer once into a
 * shared snapshot), names and their history, deletion, pruning and garbage collection.
 */
export class ImageService {
  readonly content: ContentStore;
  readonly snapshotter: Snapshotter;
  readonly records: ImageRecords;
  readonly events: EventLog;
  readonly historyDepth: number;
  readonly #usedBy: (imageId: string) => { id: string; running: boolean }[];
  /** Registration holds it shared; garbage collection holds it exclusively. */
  readonly #gcLock = new RWLock();
  readonly #unpackLock = new KeyedMutex();
  /** Blobs being written by an operation that has not registered its image yet: GC keeps them. */
  readonly #leasedBlobs = new Map<string, number>();

  constructor(deps: ImageServiceDeps) {
    this.content = deps.content;
    this.snapshotter = deps.snapshotter;
    this.records = deps.records;
    this.events = deps.events;
    this.historyDepth = deps.historyDepth ?? 10;
    this.#usedBy = deps.usedBy ?? (() => []);
  }

  /**
   * Runs fn with GC held off, leasing every blob digest it reports through `lease`, so that blobs written before
   * their image is registered survive a concurrent prune.
   */
  async withLease<T>(fn: (lease: (d: string) => void) => Promise<T>): Promise<T> {
    const mine: string[] = [];
    const lease = (d: string) => {
      mine.push(d);
      this.#leasedBlobs.set(d, (this.#leasedBlobs.get(d) ?? 0) + 1);
    };
    try {
      return await this.#gcLock.read(() => fn(lease));
    } finally {
      for (const d of mine) {
        const n = (this.#leasedBlobs.get(d) ?? 1) - 1;
        if (n <= 0) this.#leasedBlobs.delete(d);
        else this.#leasedBlobs.set(d, n);
      }
    }
  }

  // ---- reading -------------------------------------------------------------------------------------------

  async readManifest(digest: Digest): Promise<Manifest> {
    return readJSONBlob<Manifest>(this.content, digest, MAX_JSON);
  }

  async readConfig(digest: Digest): Promise<ImageConfig> {
    return readJSONBlob<ImageConfig>(this.content, digest, MAX_JSON);
  }

  async load(record: ImageRecord): Promise<Image> {
    const manifest = await this.readManifest(record.manifestDigest as Digest);
    const config = await this.readConfig(record.configDigest as Digest);
    return { record, manifest, config, tags: this.records.tagsOf(record.manifestDigest) };
  }

  /**
   * Finds an image the way dockerd does: a full ID (`sha256:…`), a name (tag `latest` implied), a name with a
   * digest, or an ID prefix. NotFoundError `No such image: <ref>`.
   */
  resolve(nameOrId: string): ImageRecord {
    const rec = this.#tryResolve(nameOrId);
    if (!rec) throw new NotFoundError(`No such image: ${this.#displayRef(nameOrId)}`);
    return rec;
  }

  #displayRef(s: string): string {
    try {
      if (/^sha256:[a-f0-9]{64}$/.test(s)) return s;
      return familiarString(withDefaultTag(parseReference(s)));
    } catch {
      return s;
    }
  }

  #tryResolve(s: string): ImageRecord | undefined {
    if (s === '') throw new InvalidArgumentError('invalid reference format');
    if (/^sha256:[a-f0-9]{64}$/.test(s)) {
      return this.records.byConfig(s)[0] ?? this.records.get(s);
    }
    let ref: Reference | undefined;
    let refError: unknown;
    try {
      ref = parseReference(s);
    } catch (err) {
      refError = err;
    }
    if (ref) {
      if (ref.digest !== undefined) {
        const img =
          this.records.get(ref.digest) ??
          this.records.get(this.records.byRepoDigest(`${ref.domain}/${ref.path}`, ref.digest) ?? '');
        if (img) return img;
      } else {
        const tag = this.records.tag(referenceString(withDefaultTag(ref)));
        if (tag) return this.records.get(tag.manifestDigest);
      }
    }
    if ((isIdPrefix(s) && !s.includes(':')) || /^sha256:[a-f0-9]{1,63}$/.test(s)) {
      const hex = s.startsWith('sha256:') ? s.slice(7) : s;
      const found = this.records.byConfigPrefix(hex);
      const ids = new Set(found.map((f) => f.configDigest));
      if (ids.size > 1) throw new ConflictError(`short image ID "${s}" is ambiguous: it matches ${ids.size} images`);
      if (found[0]) return found[0];
    }
    if (!ref && refError) throw refError;
    return undefined;
  }

  list(): ImageRecord[] {
    return this.records.all();
  }

  /** Sum of the sizes of the image's distinct layers (regular files' bytes, as unpacked). */
  size(config: ImageConfig): number {
    let total = 0;
    for (const c of chainIds(config.rootfs.diff_ids)) total += this.records.layerSize(c) ?? 0;
    return total;
  }

  // ---- registering -----------------------------------------------------------------------------------------

  /**
   * Resolves a manifest or index blob (already in the content store) to the image manifest for this platform.
   * Rejects schema1, unknown media types and a manifest naming a missing config or layer.
   */
  async resolveManifest(desc: Descriptor): Promise<{ desc: Descriptor; manifest: Manifest; config: ImageConfig }> {
    let d = desc;
    for (let depth = 0; depth < 4; depth++) {
      if (isSchema1(d.mediaType))
        throw new InvalidArgumentError(
          `schema 1 manifests are not supported (${d.digest}): convert the image to schema 2 or OCI`,
        );
      const doc = await readJSONBlob<{
        mediaType?: string;
        schemaVersion?: number;
        manifests?: Descriptor[];
        config?: Descriptor;
        layers?: Descriptor[];
      }>(this.content, d.digest, MAX_JSON);
      if (doc.schemaVersion === 1)
        throw new InvalidArgumentError(
          `schema 1 manifests are not supported (${d.digest}): convert the image to schema 2 or OCI`,
        );
      const mt = doc.mediaType ?? d.mediaType;
      if (isIndexType(mt) || (doc.manifests && !doc.config)) {
        const chosen = choosePlatform(doc.manifests ?? []);
        if (!chosen)
          throw new NotFoundError(
            `no manifest for linux/${process.arch === 'x64' ? 'amd64' : process.arch} in index ${d.digest}`,
          );
        d = chosen;
        continue;
      }
      if (!isManifestType(mt) && !(doc.config && doc.layers))
        throw new InvalidArgumentError(`unsupported manifest media type "${mt}" (${d.digest})`);
      const manifest = doc as Manifest;
      if (!manifest.config || !Array.isArray(manifest.layers))
        throw new InvalidArgumentError(`manifest ${d.digest} has no config or layers`);
      if (!isConfigType(manifest.config.mediaType))
        throw new InvalidArgumentError(
          `unsupported config media type "${manifest.config.mediaType}" in manifest ${d.digest}`,
        );
      for (const l of manifest.layers) {
        if (layerCompression(l.mediaType) === undefined)
          throw new InvalidArgumentError(`unsupported layer media type "${l.mediaType}" in manifest ${d.digest}`);
        if (!isDigest(l.digest))
          throw new InvalidArgumentError(`invalid layer digest "${l.digest}" in manifest ${d.digest}`);
      }
      for (const blob of [manifest.config, ...manifest.layers]) {
        const has = await this.content.has(blob.digest).catch(() => false);
        if (!has) throw new NotFoundError(`manifest ${d.digest} names blob ${blob.digest}, which is missing`);
        const info = await this.content.info(blob.digest);
        if (info.size !== blob.size)
          throw new DataLossError(
            `blob ${blob.digest} is ${info.size} bytes, but manifest ${d.digest} says ${blob.size}`,
          );
      }
      const config = await this.readConfig(manifest.config.digest);
      if (config.rootfs?.type !== 'layers' || !Array.isArray(config.rootfs.diff_ids))
        throw new InvalidArgumentError(`image config ${manifest.config.digest} has no rootfs.diff_ids`);
      if (config.rootfs.diff_ids.length !== manifest.layers.length)
        throw new InvalidArgumentError(
          `image config ${manifest.config.digest} lists ${config.rootfs.diff_ids.length} layers but manifest ${d.digest} has ${manifest.layers.length}`,
        );
      return { desc: { mediaType: mt, digest: d.digest, size: d.size }, manifest, config };
    }
    throw new InvalidArgumentError(`index nesting too deep at ${d.digest}`);
  }

  /**
   * Makes an image of a manifest whose blobs are in the content store: unpacks its layers (each distinct layer
   * once), then records the image and its tags in one transaction. Loading the same image twice, even at once,
   * gives one image.
   */
  async register(desc: Descriptor, opts: RegisterOptions = {}): Promise<Image> {
    return this.#gcLock.read(async () => {
      const { desc: mdesc, manifest, config } = await this.resolveManifest(desc);
      const chain = await this.unpack(manifest, config, opts);
      const now = Date.now();
      const record: Omit<ImageRecord, 'lastTagTime'> = {
        manifestDigest: mdesc.digest,
        mediaType: mdesc.mediaType,
        manifestSize: mdesc.size,
        configDigest: manifest.config.digest,
        chainId: chain[chain.length - 1] ?? null,
        created: now,
      };
      const moved: { name: string; previous: string | undefined }[] = [];
      const isNew = this.records.transaction(() => {
        const added = this.records.put(record);
        for (const t of opts.tags ?? []) {
          const name = referenceString(withDefaultTag(t));
          const r = this.records.setTag(name, mdesc.digest);
          if (r.changed) moved.push({ name, previous: r.previous });
        }
        for (const d of opts.repoDigests ?? []) {
          if (d.digest !== undefined && d.digest !== mdesc.digest)
            this.records.putRepoDigest(`${d.domain}/${d.path}`, d.digest, mdesc.digest);
        }
        return added;
      });
      const stored = this.records.get(mdesc.digest)!;
      void isNew;
      if (opts.event)
        this.events.publish('image', opts.event, manifest.config.digest, this.#eventAttrs(config, opts.tags?.[0]));
      for (const m of moved) {
        this.events.publish('image', 'tag', manifest.config.digest, {
          ...this.#eventAttrs(config),
          name: familiarString(parseReference(m.name)),
        });
      }
      return { record: stored, manifest, config, tags: this.records.tagsOf(mdesc.digest) };
    });
  }

  #eventAttrs(config: ImageConfig, ref?: Reference): Record<string, string> {
    const attrs: Record<string, string> = { ...(config.config?.Labels ?? {}) };
    if (ref) attrs.name = familiarString(withDefaultTag(ref));
    return attrs;
  }

  /**
   * Unpacks each layer not yet unpacked; returns the chain IDs. Holds the unpack lock of every chain ID of the
   * image, taken in chain order (a chain ID always sits at the same depth, so every caller takes them in one global
   * order), so two loads of images sharing layers unpack each shared layer once. Where the snapshotter's layers do
   * not depend on their parents (overlay), the missing layers unpack in parallel and get their parents at commit.
   * Layers in `opts.prepared` (unpacked ahead by `unpackLayerFrom`) are committed instead of unpacked again.
   */
  async unpack(manifest: Manifest, config: ImageConfig, opts: ImageUnpackOptions = {}): Promise<Digest[]> {
    const diffIds = config.rootfs.diff_ids;
    const chain = chainIds(diffIds);
    // Taken over from the caller: each key leaves this map when committed or handed to `keys`.
    const prepared = new Map(opts.prepared ?? []);
    const locked = async (i: number): Promise<void> => {
      if (i < chain.length) return this.#unpackLock.run(chain[i]!, () => locked(i + 1));
      // A committed snapshot implies its parents are committed: the missing layers are a suffix.
      let first = chain.length;
      while (first > 0 && !(await this.#hasSnapshot(chain[first - 1]!))) first--;
      const missing = [...Array(chain.length - first).keys()].map((k) => k + first);
      if (missing.length === 0) return;
      if (this.snapshotter.layersIndependent && (missing.length > 1 || prepared.size > 0)) {
        const keys = new Map<number, string>();
        for (const i of missing) {
          const key = prepared.get(chain[i]!);
          if (key === undefined) continue;
          keys.set(i, key);
          prepared.delete(chain[i]!);
        }
        try {
          await mapLimit(
            missing.filter((i) => !keys.has(i)),
            UNPACK_PARALLELISM,
            async (i) => {
              const key = await this.#extractLayer(manifest.layers[i]!, diffIds[i]!, chain[i]!, undefined, opts);
              keys.set(i, key);
            },
          );
          for (const i of missing) {
            await this.snapshotter.commit(chain[i]!, keys.get(i)!, i > 0 ? { parent: chain[i - 1]! } : {});
            keys.delete(i);
          }
        } finally {
          for (const key of keys.values()) await this.snapshotter.remove(key).catch(() => {});
        }
        return;
      }
      for (const i of missing) {
        const key = await this.#extractLayer(
          manifest.layers[i]!,
          diffIds[i]!,
          chain[i]!,
          i > 0 ? chain[i - 1]! : undefined,
          opts,
        );
        try {
          await this.snapshotter.commit(chain[i]!, key);
        } catch (err) {
          await this.snapshotter.remove(key).catch(() => {});
          throw err;
        }
      }
    };
    try {
      await locked(0);
    } finally {
      // Layers unpacked ahead that another operation committed meanwhile (or that a failure left unused).
      for (const key of prepared.values()) await this.snapshotter.remove(key).catch(() => {});
    }
    return chain;
  }

  /**
   * Unpacks one layer from `source` — its blob's bytes as they arrive, e.g. while they download — into a new
   * transient snapshot with no parent, verifying the diff ID on the uncompressed stream. Resolves with the
   * snapshot's key, which the caller hands to `unpack(…, { prepared })` (that commits it in chain order, under the
   * unpack locks) or to `discardLayer` (its blob turned out bad). Nothing is committed here, so nothing is visible
   * until the blob is verified too; nothing is left behind on failure. Only where `snapshotter.layersIndependent`
   * (overlay): elsewhere a layer needs its parent's content first, and this throws a TypeError.
   */
  async unpackLayerFrom(
    layer: Descriptor,
    diffId: Digest,
    chainId: Digest,
    source: Readable | AsyncIterable<Uint8Array>,
    opts: RegisterOptions = {},
  ): Promise<string> {
    if (!this.snapshotter.layersIndependent)
      throw new TypeError(`the ${this.snapshotter.name} snapshotter cannot unpack a layer before its parent`);
    return this.#extractLayer(layer, diffId, chainId, undefined, opts, source);
  }

  /** Removes a layer unpacked by `unpackLayerFrom` that will not be committed. */
  async discardLayer(key: string): Promise<void> {
    await this.snapshotter.remove(key).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
  }

  async #hasSnapshot(key: string): Promise<boolean> {
    try {
      await this.snapshotter.stat(key);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /**
   * Unpacks one layer into a new transient active snapshot on `parent` and verifies its diff ID; returns the
   * snapshot's key, for the caller to commit. Reads the blob from the content store, or from `source` when given.
   * Nothing is left behind on failure.
   */
  async #extractLayer(
    layer: Descriptor,
    diffId: Digest,
    chainId: Digest,
    parent: Digest | undefined,
    opts: RegisterOptions,
    source?: Readable | AsyncIterable<Uint8Array>,
  ): Promise<string> {
    const key = `extract-${randomBytes(6).toString('hex')} ${chainId}`;
    const signalOpt = opts.signal ? { signal: opts.signal } : {};
    await this.snapshotter.prepare(key, parent, { labels: { [TRANSIENT_LABEL]: 'true' } });
    try {
      const compression = layerCompression(layer.mediaType) ?? 'none';
      const diff = new Digester();
      let read = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _e, cb) {
          read += chunk.length;
          opts.onLayerProgress?.(layer, read);
          cb(null, chunk);
        },
      });
      const hasher = new Transform({
        transform(chunk: Buffer, _e, cb) {
          diff.update(chunk);
          cb(null, chunk);
        },
      });
      let fileBytes = 0;
      const apply = async (tar: AsyncIterable<Uint8Array>): Promise<void> => {
        async function* counted() {
          // extract() reads to the end of its input, so the diff ID covers padding after the end-of-archive marker.
          for await (const entry of extract(tar, signalOpt)) {
            if (entry.header.type === 'file') fileBytes += entry.header.size;
            yield entry;
          }
        }
        await this.snapshotter.applyLayer(key, counted(), signalOpt);
      };
      try {
        // pipeline() destroys every stage when one fails, so no stream error is left without a listener.
        await pipeline(
          source ?? this.content.read(layer.digest, signalOpt),
          counter,
          decompressor(compression),
          hasher,
          apply,
        );
      } catch (err) {
        if (isBerthError(err)) throw err;
        const e = err as { name?: string; code?: string };
        if (opts.signal?.aborted || e?.name === 'AbortError' || e?.code === 'ABORT_ERR')
          throw new CanceledError(`unpacking layer ${layer.digest} was canceled`, { cause: err });
        throw new DataLossError(`layer ${layer.digest}: ${(err as Error).message}`, { cause: err });
      }
      const got = diff.digest();
      if (got !== diffId)
        throw new DataLossError(
          `layer ${layer.digest} unpacks to ${got}, but the image config says its diff ID is ${diffId}`,
        );
      this.records.putLayer(chainId, diffId, parent ?? null, fileBytes);
      return key;
    } catch (err) {
      await this.snapshotter.remove(key).catch(() => {});
      throw err;
    }
  }

  // ---- names ---------------------------------------------------------------------------------------------

  /** `docker tag SOURCE TARGET`. */
  tag(source: string, target: string): void {
    const img = this.resolve(source);
    const ref = parseReference(target);
    if (ref.digest !== undefined) throw new InvalidArgumentError('refusing to create a tag with a digest reference');
    const name = referenceString(withDefaultTag(ref));
    const r = this.records.setTag(name, img.manifestDigest);
    if (r.changed) this.events.publish('image', 'tag', img.configDigest, { name: familiarString(withDefaultTag(ref)) });
  }

  /** A tag's history, newest first: each version it pointed at, when, and how it got there. */
  tagHistory(name: string): TagHistoryRecord[] {
    const full = referenceString(withDefaultTag(parseReference(name)));
    const h = this.records.history(full);
    if (h.length === 0)
      throw new NotFoundError(`No history for tag: ${familiarString(withDefaultTag(parseReference(name)))}`);
    return h;
  }

  /**
   * Moves a tag back. With `to` (a manifest digest, an image ID, or a prefix of either found in the tag's
   * history), to that version; without, one version back: to the version the tag had before the one it has now
   * was first set (repeated rollbacks walk further back). The image must still exist.
   */
  rollback(name: string, to?: string): { name: string; from: string | null; to: string } {
    const ref = withDefaultTag(parseReference(name));
    if (ref.digest !== undefined) throw new InvalidArgumentError(`cannot roll back a digest reference "${name}"`);
    const full = referenceString(ref);
    const display = familiarString(ref);
    const history = this.records.history(full);
    if (history.length === 0) throw new NotFoundError(`No history for tag: ${display}`);
    const current = this.records.tag(full)?.manifestDigest ?? null;
    let target: string | undefined;
    if (to !== undefined && to !== '') {
      const want = to.startsWith('sha256:') ? to : `sha256:${to}`;
      const match = history.find(
        (h) =>
          h.manifestDigest !== null && (h.manifestDigest.startsWith(want) || (h.configDigest ?? '').startsWith(want)),
      );
      if (!match?.manifestDigest) throw new NotFoundError(`${to} is not in the history of ${display}`);
      target = match.manifestDigest;
    } else {
      // Versions in the order they were set by tagging (rollbacks do not add versions).
      const versions = history.filter((h) => h.action === 'tag' && h.manifestDigest !== null).reverse();
      let idx = versions.length;
      if (current !== null) {
        for (let i = versions.length - 1; i >= 0; i--) {
          if (versions[i]!.manifestDigest === current) {
            idx = i;
            break;
          }
        }
      }
      for (let i = idx - 1; i >= 0; i--) {
        const d = versions[i]!.manifestDigest!;
        if (d !== current && this.records.get(d)) {
          target = d;
          break;
        }
      }
      if (!target) throw new NotFoundError(`${display} has no earlier version to roll back to`);
    }
    const img = this.records.get(target);
    if (!img) throw new NotFoundError(`the image ${target} of ${display}'s history has been deleted`);
    if (target === current) return { name: display, from: current, to: target };
    this.records.setTag(full, target, 'rollback');
    this.events.publish('image', 'tag', img.configDigest, { name: display });
    return { name: display, from: current, to: target };
  }

  // ---- deleting --------------------------------------------------------------------------------------------

  /** `docker rmi`: untags, and deletes the image when nothing else names it. */
  async remove(nameOrId: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<DeleteResponseItem[]> {
    const img = this.resolve(nameOrId);
    const out: DeleteResponseItem[] = [];
    const tags = this.records.tagsOf(img.manifestDigest);
    const shortId = img.configDigest.slice(7, 19);
    let byTag: string | undefined;
    try {
      const ref = parseReference(nameOrId);
      if (ref.digest === undefined) {
        const full = referenceString(withDefaultTag(ref));
        if (tags.includes(full)) byTag = full;
      }
    } catch {
      // an ID
    }
    const users = this.#usedBy(img.configDigest);
    const running = users.find((u) => u.running);
    if (byTag !== undefined && tags.length > 1) {
      this.#untag(byTag, img, out);
      return out;
    }
    if (byTag === undefined && tags.length > 1 && !opts.force) {
      const repos = new Set(tags.map((t) => fullName(parseReference(t))));
      if (repos.size > 1)
        throw new ConflictError(
          `conflict: unable to delete ${shortId} (must be forced) - image is referenced in multiple repositories`,
        );
    }
    if (running)
      throw new ConflictError(
        `conflict: unable to delete ${shortId} (cannot be forced) - image is being used by running container ${running.id.slice(0, 12)}`,
      );
    if (users[0] && !opts.force) {
      if (byTag !== undefined) {
        // Docker untags but keeps the image when a stopped container uses it.
        this.#untag(byTag, img, out);
        return out;
      }
      throw new ConflictError(
        `conflict: unable to delete ${shortId} (must be forced) - image is being used by stopped container ${users[0].id.slice(0, 12)}`,
      );
    }
    for (const t of tags) this.#untag(t, img, out);
    if (users[0]) return out;
    const removed = await this.#deleteImages([img]);
    for (const r of removed.images) out.push({ Deleted: r });
    for (const s of removed.layers) out.push({ Deleted: s });
    return out;
  }

  #untag(name: string, img: ImageRecord, out: DeleteResponseItem[]): void {
    if (this.records.removeTag(name) === undefined) return;
    const display = familiarString(parseReference(name));
    out.push({ Untagged: display });
    this.events.publish('image', 'untag', img.configDigest, { name: display });
  }

  async #deleteImages(imgs: ImageRecord[]): Promise<{ images: string[]; layers: string[]; reclaimed: number }> {
    return this.#gcLock.write(async () => {
      const images: string[] = [];
      for (const img of imgs) {
        this.records.delete(img.manifestDigest);
        if (this.records.byConfig(img.configDigest).length === 0) {
          images.push(img.configDigest);
          this.events.publish('image', 'delete', img.configDigest, {});
        }
      }
      const gc = await this.#collect([]);
      return { images, layers: gc.layers, reclaimed: gc.reclaimed };
    });
  }

  /**
   * `docker image prune`: deletes dangling images (or, with `all`, every image no container uses), keeping the
   * versions that tags' recent history needs unless `history` is set.
   */
  async prune(
    opts: {
      all?: boolean;
      history?: boolean;
      until?: number;
      labels?: { key: string; value?: string; negate: boolean }[];
    } = {},
  ): Promise<{
    ImagesDeleted: DeleteResponseItem[] | null;
    SpaceReclaimed: number;
  }> {
    const keep = opts.history ? new Set<string>() : this.records.historyRoots(this.historyDepth);
    const victims: ImageRecord[] = [];
    const out: DeleteResponseItem[] = [];
    for (const img of this.records.all()) {
      const tags = this.records.tagsOf(img.manifestDigest);
      if (!opts.all && tags.length > 0) continue;
      if (tags.length === 0 && keep.has(img.manifestDigest)) continue;
      if (this.#usedBy(img.configDigest).length > 0) continue;
      if (opts.until !== undefined || opts.labels?.length) {
        const config = await this.readConfig(img.configDigest as Digest).catch(() => undefined);
        if (!config) continue;
        const created = Date.parse(config.created ?? '') / 1000;
        if (opts.until !== undefined && !(created < opts.until)) continue;
        if (opts.labels && !matchLabels(config.config?.Labels ?? {}, opts.labels)) continue;
      }
      for (const t of tags) this.#untag(t, img, out);
      victims.push(img);
    }
    if (opts.history) this.records.pruneHistory();
    if (victims.length === 0 && !opts.history) return { ImagesDeleted: out.length ? out : null, SpaceReclaimed: 0 };
    const removed = await this.#deleteImages(victims);
    if (opts.history) this.records.pruneHistory();
    for (const r of removed.images) out.push({ Deleted: r });
    for (const s of removed.layers) out.push({ Deleted: s });
    return { ImagesDeleted: out.length ? out : null, SpaceReclaimed: removed.reclaimed };
  }

  /**
   * Runs garbage collection (also done at daemon start as repair). `keep` spares blobs no image references yet,
   * such as those a pull had verified when the daemon died, so that repeating the pull reuses them.
   */
  async collect(
    opts: { keep?: Iterable<string> } = {},
  ): Promise<{ blobs: string[]; layers: string[]; reclaimed: number }> {
    return this.#gcLock.write(() => this.#collect(opts.keep ?? []));
  }

  /**
   * Mark and sweep: roots are every image record (their manifest, config and layer blobs, and their snapshot
   * chains), active snapshots (containers) and leased blobs. Everything else goes. Caller holds the GC lock.
   */
  async #collect(keep: Iterable<string>): Promise<{ blobs: string[]; layers: string[]; reclaimed: number }> {
    const keepBlobs = new Set<string>([...this.#leasedBlobs.keys(), ...keep]);
    const keepSnaps = new Set<string>();
    for (const img of this.records.all()) {
      keepBlobs.add(img.manifestDigest);
      keepBlobs.add(img.configDigest);
      try {
        const m = await this.readManifest(img.manifestDigest as Digest);
        for (const l of m.layers) keepBlobs.add(l.digest);
        const c = await this.readConfig(img.configDigest as Digest);
        for (const id of chainIds(c.rootfs.diff_ids)) keepSnaps.add(id);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    const snaps = new Map<string, { parent: string | null; kind: string }>();
    for await (const s of this.snapshotter.walk()) snaps.set(s.key, { parent: s.parent, kind: s.kind });
    // Active snapshots and views keep their parents.
    for (const [key, s] of snaps) {
      if (s.kind !== 'committed') {
        keepSnaps.add(key);
      }
    }
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
    let reclaimed = 0;
    const layers: string[] = [];
    // Remove leaves first until no unreferenced snapshot is left.
    let pending = [...snaps.keys()].filter((k) => !keepSnaps.has(k));
    while (pending.length > 0) {
      const parents = new Set(
        [...snaps.entries()].filter(([k]) => pending.includes(k) || keepSnaps.has(k)).map(([, s]) => s.parent),
      );
      const leaves = pending.filter((k) => !parents.has(k));
      if (leaves.length === 0) break;
      for (const k of leaves) {
        reclaimed += this.records.layerSize(k) ?? 0;
        await this.snapshotter.remove(k);
        this.records.deleteLayer(k);
        snaps.delete(k);
        if (isDigest(k)) layers.push(k);
      }
      pending = pending.filter((k) => !leaves.includes(k));
    }
    const blobs: string[] = [];
    for await (const b of this.content.walk()) {
      if (keepBlobs.has(b.digest)) continue;
      await this.content.delete(b.digest).catch((err) => {
        if (!(err instanceof NotFoundError)) throw err;
      });
      reclaimed += b.size;
      blobs.push(b.digest);
    }
    return { blobs, layers, reclaimed };
  }
}

export function matchLabels(
  labels: Record<string, string>,
  filters: { key: string; value?: string; negate: boolean }[],
): boolean {
  for (const f of filters) {
    const has = f.value === undefined ? f.key in labels : labels[f.key] === f.value;
    if (has === f.negate) return false;
  }
  return true;
}

export { MediaType };
