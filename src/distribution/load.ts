import { posix } from 'node:path';
import type { Expected } from '../content/index.ts';
import type { Image } from '../images/index.ts';
import { MediaType } from '../oci/mediatypes.ts';
import { parseReference, referenceString, withDefaultTag, familiarString, type Reference } from '../oci/reference.ts';
import type { Descriptor, ImageConfig, Index, Manifest } from '../oci/types.ts';
import { autoDecompress, detectCompression, type Compression } from '../util/compression.ts';
import { type Digest, isDigest } from '../util/digest.ts';
import { DataLossError, InvalidArgumentError, NotFoundError, errorMessage } from '../util/errors.ts';
import { extract } from '../util/tar/index.ts';
import { coalesce } from '../util/chunks.ts';
import { AheadUnpacks, layerLike, peek } from './ahead.ts';
import { Throttle } from './remote/progress.ts';
import { archiveError, runImageWork, type ArchiveDeps, type ImageWork } from './work.ts';

/** Annotation holding an image's full name (containerd, Docker 25+ `docker save`). */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
/** OCI annotation naming a manifest in a layout: a tag, or a full reference. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** A progress message in the JSON-lines form of `docker load` (`{status, progressDetail, id}` or `{stream}`). */
export type LoadProgress =
  | { status: string; progressDetail: { current: number; total: number }; id: string }
  | { stream: string };

export interface LoadOptions {
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
}

export interface LoadResult {
  /** Each image loaded: its ID (config digest) and the names given to it here, familiar (`busybox:latest`). */
  images: { id: string; tags: string[] }[];
}

/** Non-blob files up to this size are held in memory (small JSON and the like); larger ones are ingested. */
const SMALL_FILE = 64 << 10;
/** Metadata JSON (manifest.json, index.json, `<id>.json` configs) up to this size is held in memory. */
const SMALL_JSON = 16 << 20;
/** At most this many bytes of small files in memory in all; past it, files are ingested. */
const SMALL_BUDGET = 64 << 20;
const MAX_LINK_HOPS = 40;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/**
 * `docker load`: reads an image archive as it streams (docker-archive with layer directories as Docker 20.10
 * writes, docker-archive with an OCI layout inside as Docker 25+ writes, or an oci-archive; the whole maybe
 * gzip- or zstd-compressed), and makes an image of each image it holds.
 *
 * Every regular file is streamed into the content store as it passes (files under `blobs/<alg>/<hex>` must hash
 * to their name), small metadata files are kept in memory, and the images are resolved at the end, since
 * `manifest.json` may come before or after the blobs. Legacy archives get a Docker schema2 manifest made for
 * them (the image ID is the digest of the archive's config file, as Docker's); OCI layouts are registered from
 * `index.json`, so manifest digests survive a save and load. All images are validated and unpacked before any
 * is recorded; on failure, nothing of the load is left (no image, blob or snapshot).
 *
 * The source's chunks are the load's to free: a chunk that goes whole to a layer's unpack is detached once copied
 * into the unpack thread's ring (`releaseChunk`), so a source must not use its chunks again (a request body's are
 * node:http's copies, which nothing else holds).
 *
 * Errors: DataLossError for a truncated or corrupt archive, a blob not matching its name or size, or a missing
 * blob; InvalidArgumentError for a malformed or unsupported archive, media type or schema1 manifest.
 */
export async function loadArchive(
  deps: ArchiveDeps,
  source: AsyncIterable<Uint8Array>,
  opts: LoadOptions = {},
): Promise<LoadResult> {
  return runImageWork(deps, async (work) => {
    const ahead = AheadUnpacks.possible(deps.images) ? new AheadUnpacks(deps.images, opts.signal) : undefined;
    try {
      // The body goes on in the pieces the socket gives (up to 64 KiB): a layer's bytes are copied into its unpack
      // thread's ring as they come, and only what goes to the content store from here is gathered into 1 MiB
      // writes (`readFile`). Gathering the whole body first, into a new 1 MiB buffer each time, doubled the garbage
      // the main thread makes per byte: ~24 MiB more peak RSS and ~0.5 s more CPU (most of it V8's collector
      // threads) for a 256 MiB layer (bench/README.md, "Data path").
      return await loadImages(deps, work, source, opts, ahead);
    } finally {
      await ahead?.discardUnused();
    }
  });
}

async function loadImages(
  deps: ArchiveDeps,
  work: ImageWork,
  source: AsyncIterable<Uint8Array>,
  opts: LoadOptions,
  ahead: AheadUnpacks | undefined,
): Promise<LoadResult> {
  let contents: ArchiveContents;
  try {
    contents = await readArchive(source, work, opts, ahead);
    await ahead?.settle();
  } catch (err) {
    const e = archiveError(err, 'reading the image archive');
    // Bad from its first header on: not a damaged archive but no archive at all, the client's error.
    if (e instanceof DataLossError && /\bat offset 0\b/.test(e.message))
      throw new InvalidArgumentError(`the body is not an image archive (a tar, maybe compressed): ${e.message}`, {
        cause: err,
      });
    throw e;
  }
  const planned = await planImages(contents, work);
  if (planned.length === 0) throw new InvalidArgumentError('the image archive contains no images');
  // Unpack everything first, so that a bad layer in any image records no image at all. Layers unpacked while the
  // archive was read are committed; the others unpack from the store.
  for (const p of planned) {
    await work.noteChains(p.config);
    const diffIds = new Map<string, Digest>();
    for (const [i, l] of p.manifest.layers.entries()) diffIds.set(l.digest, p.config.rootfs.diff_ids[i]!);
    try {
      await deps.images.unpack(p.manifest, p.config, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        prepared: ahead?.prepared(p.manifest, p.config) ?? new Map(),
        onLayerProgress: (layer, current) => {
          const diffId = diffIds.get(layer.digest) ?? layer.digest;
          opts.onProgress?.({
            status: 'Loading layer',
            progressDetail: { current, total: layer.size },
            id: diffId.slice(diffId.indexOf(':') + 1, diffId.indexOf(':') + 13),
          });
        },
      });
    } catch (err) {
      throw archiveError(err, `unpacking image ${p.manifest.config.digest}`);
    }
  }
  await work.durable();
  const out: LoadResult = { images: [] };
  for (const p of planned) {
    const tags = [...p.tags.values()];
    let img: Image;
    try {
      img = await deps.images.register(p.desc, {
        tags,
        event: 'load',
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      throw archiveError(err, `registering image ${p.manifest.config.digest}`);
    }
    work.keep(img.record.manifestDigest, img.manifest);
    const familiar = tags.map((t) => familiarString(t));
    out.images.push({ id: img.record.configDigest, tags: familiar });
    if (familiar.length === 0) opts.onProgress?.({ stream: `Loaded image ID: ${img.record.configDigest}\n` });
    for (const f of familiar) opts.onProgress?.({ stream: `Loaded image: ${f}\n` });
  }
  return out;
}

// ---- reading the archive --------------------------------------------------------------------------------

interface StoredFile {
  digest: Digest;
  size: number;
  compression: Compression;
}

/** What the archive held: files ingested into the content store, small files in memory, and links. */
class ArchiveContents {
  readonly stored = new Map<string, StoredFile>();
  readonly small = new Map<string, Buffer>();
  /** Symlinks and hard links: path → target path, both relative to the archive root. */
  readonly links = new Map<string, string>();
  smallBytes = 0;

  /** Follows symlinks and hard links (in any component) within the archive. */
  resolve(path: string): string {
    let p = path;
    for (let hops = 0; hops < MAX_LINK_HOPS; hops++) {
      const parts = p.split('/');
      let next: string | undefined;
      for (let i = 1; i <= parts.length && next === undefined; i++) {
        const target = this.links.get(parts.slice(0, i).join('/'));
        if (target !== undefined) next = archivePath([target, ...parts.slice(i)].join('/')) ?? '';
      }
      if (next === undefined) return p;
      p = next;
    }
    throw new InvalidArgumentError(`too many levels of links resolving "${path}" in the image archive`);
  }

  has(path: string): boolean {
    const p = this.resolve(path);
    return this.stored.has(p) || this.small.has(p);
  }

  /** A small file's bytes (reading a stored one from the content store), or undefined when absent. */
  async bytes(work: ImageWork, path: string): Promise<Buffer | undefined> {
    const p = this.resolve(path);
    const mem = this.small.get(p);
    if (mem) return mem;
    const s = this.stored.get(p);
    return s ? work.content.readAll(s.digest, SMALL_JSON) : undefined;
  }

  async json<T>(work: ImageWork, path: string): Promise<T | undefined> {
    const data = await this.bytes(work, path);
    if (data === undefined) return undefined;
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch (err) {
      throw new InvalidArgumentError(`"${path}" in the image archive is not valid JSON: ${errorMessage(err)}`);
    }
  }

  /** The file as a blob in the content store (putting a small file there first). */
  async blob(work: ImageWork, path: string, usedBy: string): Promise<StoredFile> {
    const p = this.resolve(path);
    const s = this.stored.get(p);
    if (s) return s;
    const mem = this.small.get(p);
    if (!mem) throw new DataLossError(`${usedBy} names "${path}", which the image archive does not contain`);
    const info = await work.put(mem);
    const f = { ...info, compression: detectCompression(mem) };
    this.stored.set(p, f);
    return f;
  }
}

/** An archive member's path relative to the archive root ('./a//b/' → 'a/b'; '..' cannot climb above the root). */
function archivePath(name: string): string | undefined {
  const p = posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
  return p === '' ? undefined : p;
}

async function readArchive(
  source: AsyncIterable<Uint8Array>,
  work: ImageWork,
  opts: LoadOptions,
  ahead: AheadUnpacks | undefined,
): Promise<ArchiveContents> {
  const c = new ArchiveContents();
  const signal = opts.signal;
  for await (const { header, body } of extract(autoDecompress(source), signal ? { signal } : {})) {
    const name = archivePath(header.name);
    if (name === undefined) continue;
    switch (header.type) {
      case 'symlink': {
        const target = header.linkname.startsWith('/')
          ? header.linkname
          : posix.join(posix.dirname(name), header.linkname);
        c.links.set(name, archivePath(target) ?? '');
        break;
      }
      case 'link':
        c.links.set(name, archivePath(header.linkname) ?? '');
        break;
      case 'file':
        c.links.delete(name);
        await readFile(c, name, header.size, body, work, opts, ahead);
        break;
      default:
        break; // directories, devices and fifos carry nothing an image archive needs
    }
  }
  return c;
}

async function readFile(
  c: ArchiveContents,
  name: string,
  size: number,
  body: AsyncIterable<Buffer>,
  work: ImageWork,
  opts: LoadOptions,
  ahead: AheadUnpacks | undefined,
): Promise<void> {
  const blob = /^blobs\/([^/]+)\/([^/]+)$/.exec(name);
  let expected: Expected = { size };
  if (blob) {
    const digest = `${blob[1]}:${blob[2]}`;
    if (!isDigest(digest))
      throw new InvalidArgumentError(`"${name}" in the image archive is not named by a valid digest`);
    expected = { digest, size };
  } else {
    const isMeta = name.endsWith('.json') || name === 'oci-layout' || name === 'repositories';
    if (size <= (isMeta ? SMALL_JSON : SMALL_FILE) && c.smallBytes + size <= SMALL_BUDGET) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk);
      const data = Buffer.concat(chunks); // a copy: the chunks are views of larger source buffers
      c.small.set(name, data);
      c.smallBytes += data.length;
      return;
    }
  }
  // A file stored as a blob may be a layer: then it is stored and unpacked in one pass (ahead.ts).
  const { head, all } = await peek(body, 512);
  const layer = ahead ? layerLike(head) : undefined;
  try {
    let info: { digest: Digest; size: number };
    if (ahead && layer !== undefined) {
      const id = (blob?.[2] ?? name.split('/')[0] ?? name).slice(0, 12);
      info = await ahead.store(work, progress(all, size, id, opts), layer, expected, { release: true });
    } else info = await work.ingest(coalesce(all), expected, opts.signal);
    c.stored.set(name, { ...info, compression: detectCompression(head) });
  } catch (err) {
    if (blob && err instanceof DataLossError)
      throw new DataLossError(`"${name}" in the image archive does not match its name: ${err.message}`, {
        cause: err,
      });
    throw err;
  }
}

/**
 * `docker load`'s progress for a layer as its bytes pass: at most one message every 100 ms, and the last, as
 * dockerd's progress reader sends them. One per piece of the request body (32–64 KiB) cost the main thread a JSON
 * line and a socket write per piece, and the client a redraw (bench/README.md, "Data path").
 */
async function* progress(
  source: AsyncIterable<Buffer>,
  total: number,
  id: string,
  opts: LoadOptions,
): AsyncGenerator<Buffer> {
  const throttle = new Throttle(100);
  let current = 0;
  for await (const chunk of source) {
    current += chunk.length;
    if (opts.onProgress && throttle.ok(id, current >= total))
      opts.onProgress({ status: 'Loading layer', progressDetail: { current, total }, id });
    yield chunk;
  }
}

// ---- resolving images -------------------------------------------------------------------------------------

interface PlannedImage {
  /** The image manifest's descriptor. */
  desc: Descriptor;
  manifest: Manifest;
  config: ImageConfig;
  /** Names to give it, by full reference string. */
  tags: Map<string, Reference>;
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function planImages(c: ArchiveContents, work: ImageWork): Promise<PlannedImage[]> {
  const byManifest = new Map<string, PlannedImage>();
  const layout = await c.json<{ imageLayoutVersion?: unknown }>(work, 'oci-layout');
  if (layout !== undefined) {
    if (layout.imageLayoutVersion !== '1.0.0')
      throw new InvalidArgumentError(
        `unsupported OCI image layout version ${JSON.stringify(layout.imageLayoutVersion)}`,
      );
    const index = await c.json<Index>(work, 'index.json');
    if (index === undefined)
      throw new InvalidArgumentError('the image archive has an oci-layout file but no index.json');
    if (!Array.isArray(index.manifests))
      throw new InvalidArgumentError('index.json in the image archive has no "manifests" list');
    for (const d of index.manifests) {
      checkDescriptor(d, 'index.json');
      await addImage(byManifest, work, d, annotationNames(d.annotations));
    }
  }
  const entries = await c.json<DockerManifestEntry[]>(work, 'manifest.json');
  if (entries === undefined && layout === undefined && c.has('repositories')) {
    await planLegacyV1(c, work, byManifest);
  } else if (entries === undefined) {
    if (layout === undefined)
      throw new InvalidArgumentError(
        'the image archive contains neither manifest.json nor an OCI layout (oci-layout, index.json)',
      );
  } else {
    if (!Array.isArray(entries)) throw new InvalidArgumentError('manifest.json in the image archive is not a list');
    for (const e of entries) {
      if (typeof e?.Config !== 'string' || !Array.isArray(e.Layers) || e.Layers.some((l) => typeof l !== 'string')) {
        throw new InvalidArgumentError(
          `manifest.json in the image archive has a malformed entry: ${JSON.stringify(e).slice(0, 200)}`,
        );
      }
      const names = (e.RepoTags ?? []).map((t) => imageName(t, 'manifest.json'));
      const config = await c.blob(work, e.Config, 'manifest.json');
      const known = [...byManifest.values()].find((p) => p.manifest.config.digest === config.digest);
      if (known) {
        for (const n of names) if (n) known.tags.set(referenceString(n), n);
        continue;
      }
      const layers: Descriptor[] = [];
      for (const path of e.Layers) {
        const f = await c.blob(work, path, 'manifest.json');
        layers.push({ mediaType: LEGACY_LAYER_TYPE[f.compression], size: f.size, digest: f.digest });
      }
      // The archive has no manifest: make an OCI one, as Docker 25+ `docker save` writes for such images, so that
      // the OCI layout a later save writes is readable by OCI tools (umoci reads only OCI manifests).
      const manifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, size: config.size, digest: config.digest },
        layers,
      };
      const m = await work.put(Buffer.from(JSON.stringify(manifest)));
      await addImage(byManifest, work, { mediaType: MediaType.OciManifest, digest: m.digest, size: m.size }, names);
    }
  }
  return [...byManifest.values()];
}

/** A layer's `json` in the pre-1.10 layout (Docker's v1 image JSON). */
interface V1Image {
  id?: string;
  parent?: string;
  created?: string;
  author?: string;
  comment?: string;
  container_config?: { Cmd?: string[] | null };
  [key: string]: unknown;
}

/**
 * The layout `docker save` wrote before Docker 1.10, which dockerd 20.10 still loads: `repositories`
 * (`{repo: {tag: top layer ID}}`) and a folder per layer with `json` (v1 image JSON, `parent` naming the layer
 * below), `VERSION` and `layer.tar`. Each tagged chain becomes an image as Docker converts it: the top layer's JSON
 * less its v1 fields is the config, every layer a diff ID (uncompressed tars) and a history entry.
 */
async function planLegacyV1(c: ArchiveContents, work: ImageWork, byManifest: Map<string, PlannedImage>): Promise<void> {
  const repos = await c.json<Record<string, Record<string, string>>>(work, 'repositories');
  if (typeof repos !== 'object' || repos === null || Array.isArray(repos))
    throw new InvalidArgumentError('"repositories" in the image archive is not an object of repository → tags');
  const built = new Map<string, Descriptor>();
  for (const [repo, tags] of Object.entries(repos)) {
    for (const [tag, top] of Object.entries(tags ?? {})) {
      const name = imageName(`${repo}:${tag}`, 'repositories');
      let desc = built.get(top);
      if (!desc) {
        const chain: V1Image[] = [];
        const seen = new Set<string>();
        for (let id: string | undefined = top; id; ) {
          if (!/^[0-9a-f]{64}$/.test(id) || seen.has(id))
            throw new InvalidArgumentError(`"repositories" in the image archive names an invalid layer "${id}"`);
          seen.add(id);
          const json: V1Image | undefined = await c.json<V1Image>(work, `${id}/json`);
          if (!json) throw new DataLossError(`the image archive has no "${id}/json" for ${repo}:${tag}`);
          chain.unshift(json);
          id = json.parent;
        }
        const layers: Descriptor[] = [];
        const history: Record<string, unknown>[] = [];
        for (const l of chain) {
          const f = await c.blob(work, `${l.id}/layer.tar`, `${l.id}/json`);
          if (f.compression !== 'none')
            throw new InvalidArgumentError(`"${l.id}/layer.tar" in the image archive is compressed (${f.compression})`);
          layers.push({ mediaType: MediaType.OciLayer, size: f.size, digest: f.digest });
          history.push({
            ...(l.created ? { created: l.created } : {}),
            ...(l.author ? { author: l.author } : {}),
            created_by: (l.container_config?.Cmd ?? []).join(' '),
            ...(l.comment ? { comment: l.comment } : {}),
          });
        }
        const {
          id: _id,
          parent: _parent,
          Size: _size,
          parent_id: _p,
          layer_id: _l,
          throwaway: _t,
          ...rest
        } = chain.at(-1)!;
        const config = { ...rest, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, history };
        const cfg = await work.put(Buffer.from(JSON.stringify(config)));
        const manifest = {
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: { mediaType: MediaType.OciConfig, size: cfg.size, digest: cfg.digest },
          layers,
        };
        const m = await work.put(Buffer.from(JSON.stringify(manifest)));
        desc = { mediaType: MediaType.OciManifest, digest: m.digest, size: m.size };
        built.set(top, desc);
      }
      await addImage(byManifest, work, desc, [name]);
    }
  }
}

const LEGACY_LAYER_TYPE: Record<Compression, string> = {
  none: MediaType.OciLayer,
  gzip: MediaType.OciLayerGzip,
  zstd: MediaType.OciLayerZstd,
};

function checkDescriptor(d: Descriptor, where: string): void {
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.mediaType !== 'string' ||
    typeof d.digest !== 'string' ||
    typeof d.size !== 'number'
  ) {
    throw new InvalidArgumentError(
      `${where} in the image archive has a malformed descriptor: ${JSON.stringify(d).slice(0, 200)}`,
    );
  }
  if (!isDigest(d.digest))
    throw new InvalidArgumentError(`${where} in the image archive names an invalid digest "${d.digest}"`);
}

/** Resolves a manifest or index to this platform's image manifest and adds it (or its names) to the plan. */
async function addImage(
  plan: Map<string, PlannedImage>,
  work: ImageWork,
  d: Descriptor,
  names: (Reference | undefined)[],
): Promise<void> {
  let resolved: Awaited<ReturnType<typeof work.images.resolveManifest>>;
  try {
    const info = await work.content.info(d.digest);
    if (info.size !== d.size)
      throw new DataLossError(
        `blob ${d.digest} in the image archive is ${info.size} bytes, but its descriptor says ${d.size}`,
      );
    resolved = await work.images.resolveManifest(d);
  } catch (err) {
    // A blob the archive's manifests name but do not carry: the archive is incomplete.
    if (err instanceof NotFoundError)
      throw new DataLossError(`the image archive is incomplete: ${err.message}`, { cause: err });
    throw err;
  }
  let p = plan.get(resolved.desc.digest);
  if (!p) {
    p = { desc: resolved.desc, manifest: resolved.manifest, config: resolved.config, tags: new Map() };
    plan.set(resolved.desc.digest, p);
  }
  for (const n of names) if (n) p.tags.set(referenceString(n), n);
}

/** A name from an archive as a tagged reference; undefined for a digest-only reference (not a tag). */
function imageName(s: string, where: string): Reference | undefined {
  let ref: Reference;
  try {
    ref = parseReference(s);
  } catch (err) {
    throw new InvalidArgumentError(`${where} in the image archive names "${s}": ${errorMessage(err)}`, { cause: err });
  }
  if (ref.tag === undefined && ref.digest !== undefined) return undefined;
  const named: Reference = { domain: ref.domain, path: ref.path };
  if (ref.tag !== undefined) named.tag = ref.tag;
  return withDefaultTag(named);
}

/**
 * Names from an index.json entry: `io.containerd.image.name` is a full name; `org.opencontainers.image.ref.name`
 * is a tag (of the former's repository; ignored without one) or a full reference.
 */
function annotationNames(a: Record<string, string> | undefined): (Reference | undefined)[] {
  const out: (Reference | undefined)[] = [];
  const full = a?.[ANNOTATION_IMAGE_NAME];
  const repo = full ? imageName(full, 'index.json') : undefined;
  if (repo) out.push(repo);
  const ref = a?.[ANNOTATION_REF_NAME];
  if (ref) {
    if (TAG_RE.test(ref)) {
      if (repo) out.push({ domain: repo.domain, path: repo.path, tag: ref });
    } else {
      out.push(imageName(ref, 'index.json'));
    }
  }
  return out;
}
