/**
 * A step's layer: an active snapshot on the stage's top layer, mounted while the step writes into it (a RUN's
 * container, COPY's files), then its upper directory turned into a layer tar in the content store and the snapshot
 * committed under the new chain ID, so the image that ends the build needs no unpack. An upper directory with
 * nothing in it is no layer (`empty_layer`, as Docker's builder records it).
 *
 * What the runtime made for its mount points (an empty /etc/hosts where the image had none, and /etc copied up
 * for it) is taken out before the diff, as Docker keeps it in the container's init layer: `trimStubs`.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Stats } from 'node:fs';
import type { ImageService } from '../images/index.ts';
import { MediaType } from '../oci/mediatypes.ts';
import type { Descriptor } from '../oci/types.ts';
import {
  mountAll,
  type Mount,
  type Snapshotter,
  type StoredTar,
  storeAndUnpackTar,
  TRANSIENT_LABEL,
  unmountAll,
  unpackTar,
} from '../snapshots/index.ts';
import { AlreadyExistsError, DataLossError, NotImplementedError } from '../util/errors.ts';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { coalesce } from '../util/chunks.ts';
import { diffEntries } from './difftar.ts';
import { isOpaque, layerTar } from './layerblob.ts';
import { applyLinked, type CopyRecord } from './linked.ts';
import { type Location, readsInWindows, WindowReader } from './windows.ts';
import { handedOver, packList } from './packlist.ts';
import { contentBytes, entryId, MarkedHash, type TarMarks } from './tarmarks.ts';

export interface LayerDeps {
  snapshotter: Snapshotter;
  images: ImageService;
  /** Where step roots are mounted (`<data-root>/build/mnt`). */
  mountRoot: string;
}

/** A layer the step made: its blob (uncompressed, so its digest is its diff ID) and content size. */
export interface MadeLayer {
  descriptor: Descriptor;
  diffId: string;
  /** Bytes of regular files, as `docker history` shows. */
  size: number;
  /** The blob is not stored: it is recorded as deferred when the snapshot is committed (linked.ts). */
  deferred?: boolean;
  /** A COPY's layer tar's hash states, which the next layer of the same COPY resumes from (tarmarks.ts). */
  marks?: TarMarks | undefined;
}

export class WorkLayer {
  readonly key: string;
  /** The merged root while mounted. */
  readonly rootfs: string;
  readonly #d: LayerDeps;
  readonly #parent: string | null;
  #mounted = false;
  #mounts: Mount[] = [];
  #done = false;

  private constructor(d: LayerDeps, key: string, parent: string | null) {
    this.#d = d;
    this.key = key;
    this.#parent = parent;
    this.rootfs = join(d.mountRoot, key.replace(/^build-/, ''), 'rootfs');
  }

  /** A writable root on `parent` (a chain ID; null for scratch), mounted. */
  static async begin(d: LayerDeps, parent: string | null): Promise<WorkLayer> {
    if (d.snapshotter.name !== 'overlay')
      throw new NotImplementedError(`building images needs the overlay snapshotter, not ${d.snapshotter.name}`);
    const key = `build-${randomBytes(12).toString('hex')}`;
    const l = new WorkLayer(d, key, parent);
    l.#mounts = await d.snapshotter.prepare(key, parent ?? undefined, { labels: { [TRANSIENT_LABEL]: 'build' } });
    try {
      await mkdir(l.rootfs, { recursive: true });
      mountAll(l.#mounts, l.rootfs);
      l.#mounted = true;
    } catch (err) {
      await l.discard();
      throw err;
    }
    return l;
  }

  get upper(): string {
    const m = this.#mounts[0];
    const upper =
      m?.type === 'overlay'
        ? m.options.find((x) => x.startsWith('upperdir='))?.slice('upperdir='.length)
        : m?.type === 'bind'
          ? m.source
          : undefined;
    if (!upper) throw new NotImplementedError(`snapshot ${this.key} has no upper directory`);
    return upper;
  }

  get lowers(): string[] {
    const m = this.#mounts[0];
    const opt = m?.type === 'overlay' ? m.options.find((x) => x.startsWith('lowerdir=')) : undefined;
    return opt ? opt.slice('lowerdir='.length).split(':') : [];
  }

  async unmount(): Promise<void> {
    if (!this.#mounted) return;
    await unmountAll(this.rootfs, { detach: true });
    this.#mounted = false;
  }

  /**
   * Ends the step's writing: unmounts, takes out the runtime's mount points (`stubs`), and writes the upper
   * directory as a layer blob. Undefined when the step changed nothing.
   */
  async diff(stubs: readonly string[] = []): Promise<MadeLayer | undefined> {
    await this.unmount();
    await trimStubs(this.upper, this.lowers, stubs);
    if ((await readdir(this.upper)).length === 0) return undefined;
    let size = 0;
    const counted = async function* (entries: AsyncIterable<PackEntry>): AsyncGenerator<PackEntry> {
      for await (const e of entries) {
        size += contentBytes(e.header);
        yield e;
      }
    };
    const blob = await this.#d.images.content.ingest(coalesce(pack(counted(diffEntries(this.upper, isOpaque)))));
    return {
      descriptor: { mediaType: MediaType.OciLayer, digest: blob.digest, size: blob.size },
      diffId: blob.digest,
      size,
    };
  }

  /**
   * Writes a layer given as tar entries (a COPY's, see copytar.ts) into the unmounted upper directory and, from the
   * same stream on the same unpack thread, into the content store as the layer blob (written, synced and hashed
   * there: the blob's digest is the diff ID): read once, nothing read back, the main thread only packs. With the
   * files' records (`files`, a COPY from the context), the tar is also hashed here with its states kept
   * (tarmarks.ts), so that the next layer of the same COPY, linked, resumes its hash instead of starting over.
   */
  async applyTar(
    entries: Iterable<PackEntry>,
    files?: ReadonlyMap<string, string>,
    locations?: ReadonlyMap<string, Location>,
  ): Promise<MadeLayer> {
    await this.unmount();
    let size = 0;
    const list = [...entries];
    // the bodies from the spool or kept segments in large windows, when the files lie there in about this order
    const where = locations && list.filter((e) => e.header.type === 'file').map((e) => locations.get(e.header.name));
    const windows = where?.every((at) => at !== undefined) && readsInWindows(where) ? new WindowReader() : undefined;
    const marked = files ? MarkedHash.fresh(list.map((e) => entryId(e, files))) : undefined;
    // packed one entry at a time (packlist.ts) and hashed as each chunk goes out, the mark taken before each
    // entry's head: a window's body is handed on before the next one is asked for
    const bodyOf = windows ? (e: PackEntry) => windows.bytes(locations!.get(e.header.name)!) : undefined;
    const tar = handedOver(async (out) => {
      size = await packList(list, { hash: marked, bodyOf, out });
    });
    const content = this.#d.images.content;
    const blobPath = content.ingestPath();
    let stored: StoredTar;
    try {
      // (not gathered: the unpack copies the chunks into its ring as they come); hashed once, here when marked
      stored = await storeAndUnpackTar(this.upper, tar, blobPath, {
        whiteouts: 'overlay',
        hash: false,
        hashBlob: marked === undefined,
      });
      if (stored.unpacked instanceof Error) throw stored.unpacked;
    } catch (err) {
      await rm(blobPath, { force: true });
      throw err;
    } finally {
      await windows?.close();
    }
    const sum = marked?.digest();
    if (marked && stored.blob.size !== marked.size) {
      await rm(blobPath, { force: true });
      throw new DataLossError(
        `layer ${sum!.digest} was hashed over ${marked.size} bytes but ${stored.blob.size} were stored: the stream changed`,
      );
    }
    const blob = await content.adopt(blobPath, sum ? { digest: sum.digest, size: stored.blob.size } : stored.blob);
    return {
      descriptor: { mediaType: MediaType.OciLayer, digest: blob.digest, size: blob.size },
      diffId: blob.digest,
      size,
      marks: sum?.marks,
    };
  }

  /**
   * Writes a COPY's layer, linking the files the previous layer of the same family holds unchanged (linked.ts);
   * the blob is deferred. Undefined, with nothing written, when the content store cannot defer a blob or that layer
   * is gone (then `applyTar` serves).
   */
  async applyLinked(
    entries: readonly PackEntry[],
    files: ReadonlyMap<string, string>,
    prev: CopyRecord,
    locations?: ReadonlyMap<string, Location>,
  ): Promise<(MadeLayer & { linked: number }) | undefined> {
    if (!this.#d.images.content.defer) return undefined;
    await this.unmount();
    const upper = this.upper;
    const unpack = async (rest: PackEntry[]) => {
      await unpackTar(upper, coalesce(pack(rest)), { whiteouts: 'overlay', hash: false });
    };
    const made = await applyLinked(this.#d.snapshotter, upper, entries, files, prev, unpack, locations);
    if (!made) return undefined;
    return {
      descriptor: { mediaType: MediaType.OciLayer, digest: made.digest, size: made.size },
      diffId: made.digest,
      size: made.contentSize,
      deferred: true,
      linked: made.linked,
      marks: made.marks,
    };
  }

  /**
   * Commits the snapshot as `chainId` and records the layer's size; false when that chain already exists (the same
   * layer made before): this one is dropped and the existing one serves. A deferred blob is recorded as made from
   * the committed snapshot, or, when the chain existed, stored from this directory before it goes.
   */
  async commit(chainId: string, layer: MadeLayer): Promise<boolean> {
    await this.unmount();
    const content = this.#d.images.content;
    const blob = { digest: layer.descriptor.digest as `sha256:${string}`, size: layer.descriptor.size };
    try {
      await this.#d.snapshotter.commit(chainId, this.key);
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      if (layer.deferred && !(await content.has(blob.digest))) await content.ingest(layerTar(this.upper), blob);
      await this.discard();
      return false;
    }
    this.#done = true;
    if (layer.deferred) await content.defer!({ ...blob, snapshot: chainId });
    this.#d.images.records.putLayer(chainId, layer.diffId, this.#parent, layer.size);
    await rm(dirname(this.rootfs), { recursive: true, force: true });
    return true;
  }

  /** Unmounts and removes the snapshot (a failed or cancelled step, or one that changed nothing). */
  async discard(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.unmount().catch(() => {});
    await this.#d.snapshotter.remove(this.key).catch(() => {});
    await rm(dirname(this.rootfs), { recursive: true, force: true });
  }
}

/**
 * Takes out of an upper directory what a runtime made for its mount points: each stub (a mount target) that is an
 * empty file or directory the lower layers do not have, then its parents while they are empty directories that
 * the lower layers have the same (copied up only to hold the stub) or do not have at all.
 */
export async function trimStubs(upper: string, lowers: readonly string[], stubs: readonly string[]): Promise<void> {
  for (const stub of [...new Set(stubs)].sort((a, b) => b.length - a.length)) {
    let rel = stub.replace(/^\/+|\/+$/g, '');
    let first = true;
    while (rel !== '' && rel !== '.') {
      const path = join(upper, rel);
      const st = await lstat(path).catch(() => undefined);
      if (!st) break;
      const lower = await lowerStat(lowers, rel);
      const empty = st.isDirectory() ? (await readdir(path)).length === 0 : st.isFile() && st.size === 0;
      if (!empty) break;
      if (first ? lower !== undefined : !st.isDirectory() || (lower !== undefined && !sameDir(st, lower, path))) break;
      if (st.isDirectory()) await rmdir(path);
      else await rm(path);
      rel = dirname(rel);
      first = false;
    }
  }
}

async function lowerStat(lowers: readonly string[], rel: string): Promise<Stats | undefined> {
  for (const l of lowers) {
    const st = await lstat(join(l, rel)).catch(() => undefined);
    if (st) return st.isCharacterDevice() && st.rdev === 0 ? undefined : st;
  }
  return undefined;
}

function sameDir(upper: Stats, lower: Stats, path: string): boolean {
  return (
    lower.isDirectory() &&
    (upper.mode & 0o7777) === (lower.mode & 0o7777) &&
    upper.uid === lower.uid &&
    upper.gid === lower.gid &&
    !isOpaque(path)
  );
}
