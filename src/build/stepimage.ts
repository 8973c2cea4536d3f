/**
 * The image after each step: its config (the stage's run config, history so far, diff IDs), its layers and the
 * snapshot of its top layer, and the cache key of each history entry. A step's image is kept in the build cache as
 * its config JSON (only the images a build ends with are written to the content store and registered); its ID is
 * the digest of that JSON, as an image's ID is its config's digest.
 *
 * The cache keys travel with the image as the manifest annotation `dev.berth.build.cache-keys` (a JSON list aligned
 * with the history, null where unknown), so an image pushed and pulled elsewhere can serve `--cache-from`.
 */
import { createHash } from 'node:crypto';
import type { Image, ImageService } from '../images/index.ts';
import type { BuildCacheRecord, CachedLayer } from '../metadata/index.ts';
import { MediaType } from '../oci/mediatypes.ts';
import type { Reference } from '../oci/reference.ts';
import type { HistoryEntry, ImageConfig, ImageRunConfig, Manifest, Platform } from '../oci/types.ts';
import type { Digest } from '../util/digest.ts';
import type { CacheKey } from './cachekey.ts';

export const CACHE_KEYS_ANNOTATION = 'dev.berth.build.cache-keys';

export interface StepImage {
  /** The cache key of the step that made it (or of the base). */
  key: CacheKey;
  /** `sha256:` of `json`. */
  id: string;
  config: ImageConfig;
  json: string;
  layers: CachedLayer[];
  /** The top layer's snapshot; null without layers. */
  chainId: string | null;
  /** One per history entry. */
  keys: (string | null)[];
}

export function imageOf(
  config: ImageConfig,
  layers: CachedLayer[],
  chainId: string | null,
  key: CacheKey,
  keys: (string | null)[],
): StepImage {
  const json = JSON.stringify(config);
  return { key, id: `sha256:${createHash('sha256').update(json).digest('hex')}`, config, json, layers, chainId, keys };
}

/** A registered image as a stage's base. */
export function baseImage(img: Image, key: CacheKey): StepImage {
  const n = img.config.history?.length ?? 0;
  let keys: (string | null)[] = Array.from({ length: n }, () => null);
  try {
    const ann = JSON.parse(img.manifest.annotations?.[CACHE_KEYS_ANNOTATION] ?? 'null') as unknown;
    if (Array.isArray(ann) && ann.length === n) keys = ann.map((k) => (typeof k === 'string' ? k : null));
  } catch {
    // an annotation that is not ours
  }
  const json = JSON.stringify(img.config);
  return {
    key,
    id: img.record.configDigest,
    config: img.config,
    json,
    layers: img.manifest.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    chainId: img.record.chainId,
    keys,
  };
}

/** The empty image a `FROM scratch` stage starts from. */
export function scratchImage(platform: Platform, key: CacheKey): StepImage {
  const config: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
  };
  return { ...imageOf(config, [], null, key, []), id: '' };
}

/** The image after a step: the run config it leaves, one more history entry, and the layer it made, if any. */
export function nextImage(
  cur: StepImage,
  o: {
    key: CacheKey;
    runConfig: ImageRunConfig;
    author: string;
    createdBy: string;
    created: string;
    layer?: { descriptor: CachedLayer; diffId: string; chainId: string } | undefined;
  },
): StepImage {
  const history: HistoryEntry = {
    created: o.created,
    ...(o.author ? { author: o.author } : {}),
    created_by: o.createdBy,
    ...(o.layer ? {} : { empty_layer: true }),
  };
  const { author: _a, ...rest } = cur.config;
  void _a;
  const config: ImageConfig = {
    ...rest,
    ...(o.author ? { author: o.author } : {}),
    config: { ...o.runConfig, Image: cur.id },
    created: o.created,
    history: [...(cur.config.history ?? []), history],
    rootfs: {
      type: 'layers',
      diff_ids: o.layer ? [...cur.config.rootfs.diff_ids, o.layer.diffId as Digest] : cur.config.rootfs.diff_ids,
    },
  };
  delete config.container_config;
  delete config.container;
  delete config.comment;
  return imageOf(
    config,
    o.layer ? [...cur.layers, o.layer.descriptor] : cur.layers,
    o.layer ? o.layer.chainId : cur.chainId,
    o.key,
    [...cur.keys, o.key],
  );
}

/** A step image from its cache record (the keys come from the image it follows). */
export function fromRecord(rec: BuildCacheRecord, prevKeys: readonly (string | null)[]): StepImage {
  return {
    key: rec.key as CacheKey,
    id: rec.imageId,
    config: JSON.parse(rec.config) as ImageConfig,
    json: rec.config,
    layers: rec.layers,
    chainId: rec.chainId,
    keys: [...prevKeys, rec.key],
  };
}

export function recordOf(img: StepImage, parent: string | null, size: number, now: number): BuildCacheRecord {
  const h = img.config.history ?? [];
  return {
    key: img.key,
    parent,
    imageId: img.id,
    config: img.json,
    layers: img.layers,
    chainId: img.chainId,
    size,
    description: h[h.length - 1]?.created_by ?? '',
    created: now,
    lastUsed: now,
    usageCount: 0,
  };
}

/**
 * Writes a step image as a real image (config and manifest blobs) and registers it with `tags`. Its layers are
 * already unpacked (the build committed them), so registering unpacks nothing.
 */
export async function registerImage(images: ImageService, img: StepImage, tags: Reference[]): Promise<Image> {
  return images.withLease(async (lease) => {
    const cblob = await putJSON(images, lease, img.json);
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: cblob.digest, size: cblob.size },
      layers: img.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest as Digest, size: l.size })),
      annotations: { [CACHE_KEYS_ANNOTATION]: JSON.stringify(img.keys) },
    };
    const mblob = await putJSON(images, lease, JSON.stringify(manifest));
    return images.register({ mediaType: MediaType.OciManifest, digest: mblob.digest, size: mblob.size }, { tags });
  });
}

/**
 * Stores a JSON blob unless the store has it: a fully cached build makes the same config and manifest as the last
 * one, and the store's `put` of a blob it has still writes, syncs and removes a temporary file (two fsyncs in the
 * build's answer). Leased first, so that no collection (held off by the lease) can take it after the check.
 */
async function putJSON(
  images: ImageService,
  lease: (d: string) => void,
  text: string,
): Promise<{ digest: Digest; size: number }> {
  const data = Buffer.from(text);
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
  lease(digest);
  if (await images.content.has(digest)) return { digest, size: data.length };
  const put = await images.content.put(data);
  return { digest: put.digest, size: put.size };
}
