/**
 * What a manifest is, for the trust policies: an image (a config of an image config type and layers of layer
 * types: what runs), an index of images, or an artifact (a signature, an SBOM, a scan report, an attestation:
 * anything with a subject, an artifact type, another config type or a layer that is not a filesystem layer).
 * Policies apply to images and indexes; artifacts are always served and stored, or signatures could never be read.
 * cosign's `sha256-<hex>.sig` manifests have an image config type, but their layers are signatures: artifacts.
 */
import { isConfigType, isIndexType, isManifestType, layerCompression } from '../../oci/mediatypes.ts';
import type { Digest } from '../../util/digest.ts';

export type ManifestKind = 'image' | 'index' | 'artifact';

export interface Classified {
  kind: ManifestKind;
  /** Images: the layers (digest, media type), bottom first. */
  layers: { digest: Digest; mediaType: string; size: number }[];
  /** Indexes: the child manifests. */
  children: Digest[];
}

interface Doc {
  mediaType?: unknown;
  artifactType?: unknown;
  subject?: unknown;
  config?: { mediaType?: unknown };
  layers?: { mediaType?: unknown; digest?: unknown; size?: unknown; urls?: unknown }[];
  manifests?: { digest?: unknown }[];
}

const ARTIFACT: Classified = { kind: 'artifact', layers: [], children: [] };

/** Classifies a stored manifest (its media type and exact bytes, which the store already checked). */
export function classify(mediaType: string, content: Buffer): Classified {
  let doc: Doc;
  try {
    doc = JSON.parse(content.toString('utf8')) as Doc;
  } catch {
    return ARTIFACT;
  }
  if (doc.subject !== undefined || (typeof doc.artifactType === 'string' && doc.artifactType !== '')) return ARTIFACT;
  if (isIndexType(mediaType)) {
    const children = (doc.manifests ?? []).map((m) => m.digest).filter((d): d is Digest => typeof d === 'string');
    return { kind: 'index', layers: [], children };
  }
  if (!isManifestType(mediaType)) return ARTIFACT;
  if (typeof doc.config?.mediaType !== 'string' || !isConfigType(doc.config.mediaType)) return ARTIFACT;
  const layers: Classified['layers'] = [];
  for (const l of doc.layers ?? []) {
    if (typeof l.mediaType !== 'string' || layerCompression(l.mediaType) === undefined) return ARTIFACT;
    // Foreign layers (with urls) are not in the registry: they cannot be read for an SBOM.
    if (l.urls === undefined && typeof l.digest === 'string')
      layers.push({ digest: l.digest as Digest, mediaType: l.mediaType, size: Number(l.size ?? 0) });
  }
  return { kind: 'image', layers, children: [] };
}
