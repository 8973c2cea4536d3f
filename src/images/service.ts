import { type ContentStore, parseJSONBlob } from '../content/index.ts';
import type { ImageDeleteItem, ImagePruneReport } from '../engine-api/images.ts';
import type { ImageRecord, ImageRecords, LeaseRecords } from '../metadata/index.ts';
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
import type { Snapshotter } from '../snapshots/index.ts';
import type { Digest } from '../util/digest.ts';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import type { EventLog } from '../util/events.ts';
import { chainIds } from './chain.ts';
import {
  createdSeconds,
  matchLabels,
  parseDangling,
  parseLabelFilters,
  parseUntil,
  referenceMatcher,
} from './filters.ts';
import { type CollectResult, GarbageCollector, type LeaseOptions } from './gc.ts';
import { resolveManifest } from './manifest.ts';
import { type RollbackResult, Tags, type TagVersion } from './tags.ts';
import { LayerUnpacker, type LayerOptions, type UnpackOptions } from './unpack.ts';

export interface ImageServiceDeps {
  content: ContentStore;
  snapshotter: Snapshotter;
  records: ImageRecords;
  /** Where operations in progress record their leases (see gc.ts). */
  leases: LeaseRecords;
  events: EventLog;
  /** How many past versions of each tag are kept from GC and prune (default 10). */
  historyDepth?: number;
  /** Containers using an image (by image ID), to refuse deleting it; filled in once containers exist. */
  usedBy?: (imageId: string) => { id: string; running: boolean }[];
  /** More roots of garbage collection (the build cache's blobs and snapshots); filled in once the builder exists. */
  roots?: () => { blobs: Iterable<string>; snapshots: Iterable<string> };
}

/** An image as stored: its record, manifest and config. */
export interface Image {
  record: ImageRecord;
  manifest: Manifest;
  config: ImageConfig;
  /** Full references of the tags pointing at it, e.g. `docker.io/library/busybox:latest`. */
  tags: string[];
}

/** An image as `find` lists it: `tags` are those the reference filter matched (all of them without one). */
export interface ListedImage extends Image {
  /** The config's `created`, in seconds since the epoch (0 when it has none). */
  created: number;
}

/** One step of an image's history (`docker history`), with the size of the layer it made. */
export interface HistoryStep {
  /** Seconds since the epoch. */
  created: number;
  createdBy: string;
  comment: string;
  size: number;
}

export interface RegisterOptions extends LayerOptions {
  /** Tags to point at the image. */
  tags?: Reference[];
  /** The event action to publish for the image ('load', 'import', 'pull'); none when undefined. */
  event?: string;
  /** Digests the image was pulled by that are not its manifest's (an index's), each with its repository. */
  repoDigests?: Reference[];
}

/** `unpack`'s options: also layers already unpacked by `unpackLayerFrom`. */
export type ImageUnpackOptions = UnpackOptions;

const MAX_JSON = 4 << 20;
/** How many manifests and configs `#readJSON` keeps as text. */
const JSON_KEPT = 32;
/** The filters `find` takes (`GET /images/json`). */
export const IMAGE_LIST_FILTERS: readonly string[] = ['dangling', 'reference', 'label', 'before', 'since', 'until'];
/** The filters `prune` takes (`POST /images/prune`). */
export const IMAGE_PRUNE_FILTERS: readonly string[] = ['dangling', 'until', 'label', 'label!'];

/**
 * Images: registering manifests whose blobs are in the content store (unpacking each distinct layer once into a
 * shared snapshot: unpack.ts), names and their history (tags.ts), listing with the Engine API's filters, deletion,
 * pruning and garbage collection (gc.ts).
 */
export class ImageService {
  readonly content: ContentStore;
  readonly snapshotter: Snapshotter;
  readonly records: ImageRecords;
  readonly events: EventLog;
  readonly historyDepth: number;
  readonly #usedBy: (imageId: string) => { id: string; running: boolean }[];
  readonly #gc: GarbageCollector;
  readonly #unpacker: LayerUnpacker;
  readonly #tags: Tags;
  /** The text of the manifests and configs read last, by digest (a blob never changes), most recent last. */
  readonly #jsonText = new Map<string, string>();

  constructor(deps: ImageServiceDeps) {
    this.content = deps.content;
    this.snapshotter = deps.snapshotter;
    this.records = deps.records;
    this.events = deps.events;
    this.historyDepth = deps.historyDepth ?? 10;
    this.#usedBy = deps.usedBy ?? (() => []);
    this.#gc = new GarbageCollector({
      content: deps.content,
      snapshotter: deps.snapshotter,
      records: deps.records,
      leases: deps.leases,
      ...(deps.roots ? { roots: deps.roots } : {}),
    });
    this.#unpacker = new LayerUnpacker({
      content: deps.content,
      snapshotter: deps.snapshotter,
      onUnpacked: (l) => deps.records.putLayer(l.chainId, l.diffId, l.parent, l.size),
    });
    this.#tags = new Tags({ records: deps.records, events: deps.events });
  }

  /**
   * Runs fn with GC held off, under a lease that keeps every blob digest it reports through `lease`, so that
   * blobs written before their image is registered survive a concurrent prune (and, as `opts` says, a crash).
   */
  withLease<T>(fn: (lease: (d: string) => void) => Promise<T>, opts: LeaseOptions = {}): Promise<T> {
    return this.#gc.withLease(fn, opts);
  }

  // ---- reading -------------------------------------------------------------------------------------------

  async readManifest(digest: Digest): Promise<Manifest> {
    return this.#readJSON<Manifest>(digest);
  }

  async readConfig(digest: Digest): Promise<ImageConfig> {
    return this.#readJSON<ImageConfig>(digest);
  }

  /**
   * A JSON blob, parsed anew on every call (callers may change what they get) from its text, which is kept for the
   * last few digests read: every container create reads its image's manifest and config, and from the content
   * store each costs two stats, an open, a read and a close, each a round trip through libuv's pool, which with
   * 20 creates at once is a wait for a CPU each.
   */
  async #readJSON<T>(digest: Digest): Promise<T> {
    let text = this.#jsonText.get(digest);
    if (text !== undefined) this.#jsonText.delete(digest);
    else text = (await this.content.readAll(digest, MAX_JSON)).toString('utf8');
    const value = parseJSONBlob<T>(digest, text);
    this.#jsonText.set(digest, text);
    if (this.#jsonText.size > JSON_KEPT) this.#jsonText.delete(this.#jsonText.keys().next().value!);
    return value;
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

  /**
   * `GET /images/json`: the images that pass the Engine API filters (`dangling`, `reference`, `label`, `before`,
   * `since`, `until`), one per image ID, newest first. With a reference filter, only the tags it matches are
   * listed, and an image only when one does (as Docker).
   */
  async find(filters: ReadonlyMap<string, readonly string[]> = new Map()): Promise<ListedImage[]> {
    for (const k of filters.keys())
      if (!IMAGE_LIST_FILTERS.includes(k)) throw new InvalidArgumentError(`invalid filter '${k}'`);
    const dangling = parseDangling(filters.get('dangling'));
    const labels = parseLabelFilters(filters.get('label') ?? []);
    const until = parseUntil(filters.get('until'));
    const refs = filters.get('reference')?.map(referenceMatcher);
    const createdOf = async (r: string) =>
      createdSeconds((await this.readConfig(this.resolve(r).configDigest as Digest)).created);
    const before = filters.get('before');
    const since = filters.get('since');
    const beforeT = before ? Math.min(...(await Promise.all(before.map(createdOf)))) : undefined;
    const sinceT = since ? Math.max(...(await Promise.all(since.map(createdOf)))) : undefined;
    const out: ListedImage[] = [];
    const seen = new Set<string>();
    for (const rec of this.records.all()) {
      const img = await this.load(rec);
      if (dangling !== undefined && (img.tags.length === 0) !== dangling) continue;
      const tags = refs ? img.tags.filter((t) => refs.some((m) => m(t))) : img.tags;
      if (refs && tags.length === 0) continue;
      if (labels.length && !matchLabels(img.config.config?.Labels ?? {}, labels)) continue;
      const created = createdSeconds(img.config.created);
      if (beforeT !== undefined && !(created < beforeT)) continue;
      if (sinceT !== undefined && !(created > sinceT)) continue;
      if (until && !until.every((u) => created < u)) continue;
      if (seen.has(rec.configDigest)) continue;
      seen.add(rec.configDigest);
      out.push({ ...img, tags, created });
    }
    return out.sort((a, b) => b.created - a.created);
  }

  /** Sum of the sizes of the image's distinct layers (bytes of regular files and symlink targets, as unpacked). */
  size(config: ImageConfig): number {
    let total = 0;
    for (const c of chainIds(config.rootfs.diff_ids)) total += this.records.layerSize(c) ?? 0;
    return total;
  }

  /** `docker history`: the image and its steps, newest first, each with the size of the layer it added. */
  async history(nameOrId: string): Promise<{ image: Image; steps: HistoryStep[] }> {
    const image = await this.load(this.resolve(nameOrId));
    const c = image.config;
    const chain = chainIds(c.rootfs.diff_ids);
    const entries = c.history?.length ? c.history : c.rootfs.diff_ids.map(() => ({}) as { empty_layer?: boolean });
    let layer = 0;
    const steps = entries.map(
      (h: { empty_layer?: boolean; created?: string; created_by?: string; comment?: string }) => {
        let size = 0;
        if (!h.empty_layer) {
          const id = chain[layer++];
          size = id ? (this.records.layerSize(id) ?? 0) : 0;
        }
        return { created: createdSeconds(h.created), createdBy: h.created_by ?? '', comment: h.comment ?? '', size };
      },
    );
    return { image, steps: steps.reverse() };
  }

  /**
   * `GET /system/df`'s images: every image with the bytes of its layers that other images share, and the bytes
   * of all distinct layers.
   */
  async diskUsage(): Promise<{ layersSize: number; images: { image: Image; sharedSize: number }[] }> {
    const loaded: { image: Image; chain: string[] }[] = [];
    const layerSizes = new Map<string, number>();
    const layerUse = new Map<string, number>();
    for (const rec of this.records.all()) {
      const image = await this.load(rec);
      const chain = chainIds(image.config.rootfs.diff_ids);
      for (const c of new Set(chain)) {
        layerSizes.set(c, this.records.layerSize(c) ?? 0);
        layerUse.set(c, (layerUse.get(c) ?? 0) + 1);
      }
      loaded.push({ image, chain });
    }
    const shared = (chain: string[]) =>
      chain.filter((c) => (layerUse.get(c) ?? 0) > 1).reduce((a, c) => a + (layerSizes.get(c) ?? 0), 0);
    return {
      layersSize: [...layerSizes.values()].reduce((a, b) => a + b, 0),
      images: loaded.map(({ image, chain }) => ({ image, sharedSize: shared(chain) })),
    };
  }

  // ---- registering -----------------------------------------------------------------------------------------

  /**
   * Resolves a manifest or index blob (already in the content store) to the image manifest for this platform.
   * Rejects schema1, unknown media types and a manifest naming a missing config or layer.
   */
  resolveManifest(desc: Descriptor): Promise<{ desc: Descriptor; manifest: Manifest; config: ImageConfig }> {
    return resolveManifest(this.content, desc);
  }

  /**
   * Makes an image of a manifest whose blobs are in the content store: unpacks its layers (each distinct layer
   * once), then records the image and its tags in one transaction. Loading the same image twice, even at once,
   * gives one image.
   */
  async register(desc: Descriptor, opts: RegisterOptions = {}): Promise<Image> {
    return this.#gc.hold(async () => {
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
      this.records.transaction(() => {
        this.records.put(record);
        for (const t of opts.tags ?? []) {
          const name = referenceString(withDefaultTag(t));
          const r = this.records.setTag(name, mdesc.digest);
          if (r.changed) moved.push({ name, previous: r.previous });
        }
        for (const d of opts.repoDigests ?? []) {
          if (d.digest !== undefined && d.digest !== mdesc.digest)
            this.records.putRepoDigest(`${d.domain}/${d.path}`, d.digest, mdesc.digest);
        }
      });
      const stored = this.records.get(mdesc.digest)!;
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

  /** Unpacks each layer of the image not unpacked yet (see LayerUnpacker.unpack); returns the chain IDs. */
  unpack(manifest: Manifest, config: ImageConfig, opts: ImageUnpackOptions = {}): Promise<Digest[]> {
    return this.#unpacker.unpack(manifest, config, opts);
  }

  /** Unpacks one layer from its bytes as they arrive (see LayerUnpacker.unpackLayerFrom). */
  unpackLayerFrom(
    layer: Descriptor,
    diffId: Digest,
    chainId: Digest,
    source: Parameters<LayerUnpacker['unpackLayerFrom']>[3],
    opts: LayerOptions = {},
  ): Promise<string> {
    return this.#unpacker.unpackLayerFrom(layer, diffId, chainId, source, opts);
  }

  /** `unpackLayerFrom` that also stores the blob in the same pass (see LayerUnpacker.storeAndUnpackLayer). */
  storeAndUnpackLayer(
    ...args: Parameters<LayerUnpacker['storeAndUnpackLayer']>
  ): ReturnType<LayerUnpacker['storeAndUnpackLayer']> {
    return this.#unpacker.storeAndUnpackLayer(...args);
  }

  /** Stores and unpacks bytes that may be a layer before any image names it (LayerUnpacker.storeAndUnpackAhead). */
  storeAndUnpackAhead(
    ...args: Parameters<LayerUnpacker['storeAndUnpackAhead']>
  ): ReturnType<LayerUnpacker['storeAndUnpackAhead']> {
    return this.#unpacker.storeAndUnpackAhead(...args);
  }

  /** Removes a layer unpacked ahead (`unpackLayerFrom`, `storeAndUnpackLayer`, `storeAndUnpackAhead`) that will not be committed. */
  discardLayer(key: string): Promise<void> {
    return this.#unpacker.discardLayer(key);
  }

  // ---- names ---------------------------------------------------------------------------------------------

  /** `docker tag SOURCE TARGET`. */
  tag(source: string, target: string): void {
    this.#tags.tag(this.resolve(source), target);
  }

  /** A tag's history, newest first: each version it pointed at, when, how, and whether it is still stored. */
  tagHistory(name: string): TagVersion[] {
    return this.#tags.history(name);
  }

  /** Moves a tag back one version, or to the version `to` names (see Tags.rollback). */
  rollback(name: string, to?: string): RollbackResult {
    return this.#tags.rollback(name, to);
  }

  // ---- deleting --------------------------------------------------------------------------------------------

  /** `docker rmi`: untags, and deletes the image when nothing else names it. */
  async remove(nameOrId: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteItem[]> {
    const img = this.resolve(nameOrId);
    const out: ImageDeleteItem[] = [];
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
      this.#tags.untag(byTag, img, out);
      return out;
    }
    // A running container comes first, as dockerd checks it (cannot be forced), then the references.
    if (running)
      throw new ConflictError(
        `conflict: unable to delete ${shortId} (cannot be forced) - image is being used by running container ${running.id.slice(0, 12)}`,
      );
    if (byTag === undefined && tags.length > 1 && !opts.force) {
      const repos = new Set(tags.map((t) => fullName(parseReference(t))));
      if (repos.size > 1)
        throw new ConflictError(
          `conflict: unable to delete ${shortId} (must be forced) - image is referenced in multiple repositories`,
        );
    }
    if (users[0] && !opts.force) {
      if (byTag !== undefined) {
        // Docker untags but keeps the image when a stopped container uses it.
        this.#tags.untag(byTag, img, out);
        return out;
      }
      throw new ConflictError(
        `conflict: unable to delete ${shortId} (must be forced) - image is being used by stopped container ${users[0].id.slice(0, 12)}`,
      );
    }
    for (const t of tags) this.#tags.untag(t, img, out);
    if (users[0]) return out;
    const removed = await this.#deleteImages([img]);
    for (const r of removed.images) out.push({ Deleted: r });
    for (const s of removed.layers) out.push({ Deleted: s });
    return out;
  }

  async #deleteImages(imgs: ImageRecord[]): Promise<{ images: string[]; layers: string[]; reclaimed: number }> {
    const images: string[] = [];
    const gc = await this.#gc.collect(() => {
      for (const img of imgs) {
        this.records.delete(img.manifestDigest);
        if (this.records.byConfig(img.configDigest).length === 0) {
          images.push(img.configDigest);
          this.events.publish('image', 'delete', img.configDigest, {});
        }
      }
    });
    return { images, layers: gc.layers, reclaimed: gc.reclaimed };
  }

  /**
   * `docker image prune`: deletes dangling images (or, with the filter `dangling=false`, every image no container
   * uses) that pass the `until`, `label` and `label!` filters, keeping the versions that tags' recent history
   * needs unless `history` is set.
   */
  async prune(
    opts: { filters?: ReadonlyMap<string, readonly string[]>; history?: boolean } = {},
  ): Promise<ImagePruneReport> {
    const filters = opts.filters ?? new Map<string, readonly string[]>();
    for (const k of filters.keys())
      if (!IMAGE_PRUNE_FILTERS.includes(k)) throw new InvalidArgumentError(`invalid filter '${k}'`);
    const all = (filters.get('dangling') ?? ['true']).some((v) => v === 'false' || v === '0');
    const labels = [
      ...parseLabelFilters(filters.get('label') ?? []),
      ...parseLabelFilters(filters.get('label!') ?? []).map((l) => ({ ...l, negate: true })),
    ];
    const untils = parseUntil(filters.get('until'));
    const until = untils?.length ? Math.min(...untils) : undefined;
    const keep = opts.history ? new Set<string>() : this.records.historyRoots(this.historyDepth);
    const victims: ImageRecord[] = [];
    const out: ImageDeleteItem[] = [];
    for (const img of this.records.all()) {
      const tags = this.records.tagsOf(img.manifestDigest);
      if (!all && tags.length > 0) continue;
      if (tags.length === 0 && keep.has(img.manifestDigest)) continue;
      if (this.#usedBy(img.configDigest).length > 0) continue;
      if (until !== undefined || labels.length) {
        const config = await this.readConfig(img.configDigest as Digest).catch(() => undefined);
        if (!config) continue;
        const created = Date.parse(config.created ?? '') / 1000;
        if (until !== undefined && !(created < until)) continue;
        if (!matchLabels(config.config?.Labels ?? {}, labels)) continue;
      }
      for (const t of tags) this.#tags.untag(t, img, out);
      victims.push(img);
    }
    if (victims.length === 0 && !opts.history) return { ImagesDeleted: out.length ? out : null, SpaceReclaimed: 0 };
    const removed = await this.#deleteImages(victims);
    // Forgets the history of every image no longer stored, the victims' included.
    if (opts.history) this.records.pruneHistory();
    for (const r of removed.images) out.push({ Deleted: r });
    for (const s of removed.layers) out.push({ Deleted: s });
    return { ImagesDeleted: out.length ? out : null, SpaceReclaimed: removed.reclaimed };
  }

  /**
   * Runs garbage collection (after deletes and prunes, after a failed operation, and at daemon start as repair).
   */
  collect(): Promise<CollectResult> {
    return this.#gc.collect();
  }

  /**
   * At daemon start, before any operation and the start-up collection: deletes the leases of operations the
   * previous process did not finish, keeping those that outlive a crash (a pull's verified blobs).
   */
  repairLeases(): { deleted: number; keptBlobs: number } {
    return this.#gc.repair();
  }
}
