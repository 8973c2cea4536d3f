/** Resolving a stored manifest or index to the image manifest for this platform, with every check it needs. */
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
    const doc = await readJSONBlob<{
      mediaType?: string;
      schemaVersion?: number;
      manifests?: Descriptor[];
      config?: Descriptor;
      layers?: Descriptor[];
    }>(content, d.digest, MAX_JSON);
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
      const has = await content.has(blob.digest).catch(() => false);
      if (!has) throw new NotFoundError(`manifest ${d.digest} names blob ${blob.digest}, which is missing`);
      const info = await content.info(blob.digest);
      if (info.size !== blob.size)
        throw new DataLossError(
          `blob ${blob.digest} is ${info.size} bytes, but manifest ${d.digest} says ${blob.size}`,
        );
    }
    const config = await readJSONBlob<ImageConfig>(content, manifest.config.digest, MAX_JSON);
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
