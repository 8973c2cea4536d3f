/**
 * Resolving a stored manifest or index to the image manifest for this platform, with every check it needs; the
 * manifest and config checks are also what a pull runs before it downloads anything (distribution/remote/pull.ts).
 */
import type { Provider } from '../content/index.ts';
import { readJSONBlob } from '../content/index.ts';
import { formatPlatform } from '../oci/platform.ts';
import { isConfigType, isIndexType, isManifestType, isSchema1, layerCompression } from '../oci/mediatypes.ts';
import type { Descriptor, ImageConfig, Manifest } from '../oci/types.ts';
import { isDigest } from '../util/digest.ts';
import { DataLossError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { choosePlatform, hostPlatform } from './platform.ts';

const MAX_JSON = 4 << 20;

/**
 * Resolves a manifest or index blob (already in the content store) to the image manifest for this platform.
 * Rejects schema1, unknown media types and a manifest naming a missing config or layer.
 */
export async function resolveManifest(
  content: Provider,
  desc: Descriptor,
): Promise<{ desc: Descriptor; manifest: Manifest; config: ImageConfig }> {
  let d = desc;
  for (let depth = 0; depth < 4; depth++) {
    if (isSchema1(d.mediaType))
      throw new InvalidArgumentError(
        `schema 1 manifests are not supported (${d.digest}): convert the image to schema 2 or OCI`,
      );
    const doc = await readJSONBlob<ManifestDocument>(content, d.digest, MAX_JSON);
    if (doc.schemaVersion === 1)
      throw new InvalidArgumentError(
        `schema 1 manifests are not supported (${d.digest}): convert the image to schema 2 or OCI`,
      );
    const mt = doc.mediaType ?? d.mediaType;
    if (isIndexType(mt) || (doc.manifests && !doc.config)) {
      const chosen = choosePlatform(doc.manifests ?? []);
      if (!chosen) throw new NotFoundError(`no manifest for ${formatPlatform(hostPlatform())} in index ${d.digest}`);
      d = chosen;
      continue;
    }
    const manifest = checkImageManifest(doc, mt, d.digest);
    for (const blob of [manifest.config, ...manifest.layers]) {
      const has = await content.has(blob.digest).catch(() => false);
      if (!has) throw new NotFoundError(`manifest ${d.digest} names blob ${blob.digest}, which is missing`);
      const info = await content.info(blob.digest);
      if (info.size !== blob.size)
        throw new DataLossError(
          `blob ${blob.digest} is ${info.size} bytes, but manifest ${d.digest} says ${blob.size}`,
        );
    }
    const config = await readJSONBlob<ImageConfig>(content, manifest.config.digest, MAX_JSON);
    checkImageConfig(config, manifest, d.digest);
    return { desc: { mediaType: mt, digest: d.digest, size: d.size }, manifest, config };
  }
  throw new InvalidArgumentError(`index nesting too deep at ${d.digest}`);
}

/** A manifest or index document as parsed, before it is known to be either. */
export interface ManifestDocument {
  mediaType?: string;
  schemaVersion?: number;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
}

/**
 * Checks an image manifest document (media type `mediaType`, digest `digest`) before any blob it names is read or
 * fetched: a manifest type (or a config and layers), well-formed descriptors, a config and layer media types Berth
 * can read. Returns it as a Manifest; InvalidArgumentError naming the manifest otherwise.
 */
export function checkImageManifest(doc: ManifestDocument, mediaType: string, digest: string): Manifest {
  if (!isManifestType(mediaType) && !(doc.config && doc.layers))
    throw new InvalidArgumentError(`unsupported manifest media type "${mediaType}" (${digest})`);
  const manifest = doc as Manifest;
  if (!manifest.config || !Array.isArray(manifest.layers))
    throw new InvalidArgumentError(`manifest ${digest} has no config or layers`);
  if (!isConfigType(manifest.config.mediaType))
    throw new InvalidArgumentError(
      `unsupported config media type "${manifest.config.mediaType}" in manifest ${digest}`,
    );
  for (const d of [manifest.config, ...manifest.layers]) {
    if (!d || !isDigest(d.digest) || typeof d.size !== 'number' || d.size < 0)
      throw new InvalidArgumentError(
        `manifest ${digest} has a malformed descriptor: ${JSON.stringify(d).slice(0, 200)}`,
      );
  }
  for (const l of manifest.layers) {
    if (layerCompression(l.mediaType) === undefined)
      throw new InvalidArgumentError(`unsupported layer media type "${l.mediaType}" in manifest ${digest}`);
  }
  return manifest;
}

/** Checks that an image config lists one diff ID per layer of its manifest (`manifestDigest`). */
export function checkImageConfig(config: ImageConfig, manifest: Manifest, manifestDigest: string): void {
  if (config.rootfs?.type !== 'layers' || !Array.isArray(config.rootfs.diff_ids))
    throw new InvalidArgumentError(`image config ${manifest.config.digest} has no rootfs.diff_ids`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length)
    throw new InvalidArgumentError(
      `image config ${manifest.config.digest} lists ${config.rootfs.diff_ids.length} layers but manifest ${manifestDigest} has ${manifest.layers.length}`,
    );
}
