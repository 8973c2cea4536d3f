import { createHash } from 'node:crypto';
import { MediaType } from '../oci/mediatypes.ts';
import { type Digest, isDigest } from '../util/digest.ts';
import { RegistryError } from './errors.ts';
import type { NewManifest } from './meta/store.ts';

/** The largest manifest accepted (the spec asks registries to take at least 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 << 20;

const MANIFEST_TYPES = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);
const INDEX_TYPES = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);

export function isManifestMediaType(mt: string): boolean {
  return MANIFEST_TYPES.has(mt) || INDEX_TYPES.has(mt);
}

const invalid = (message: string, detail?: unknown) => new RegistryError('MANIFEST_INVALID', message, { detail });

function checkDescriptor(d: unknown, where: string): { mediaType: string; digest: Digest; urls?: unknown } {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw invalid(`${where} is not a descriptor`);
  const o = d as Record<string, unknown>;
  if (typeof o.mediaType !== 'string' || o.mediaType === '') throw invalid(`${where} has no mediaType`);
  if (typeof o.digest !== 'string' || !isDigest(o.digest))
    throw invalid(`${where} has an invalid digest "${String(o.digest)}"`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0)
    throw invalid(`${where} has an invalid size "${String(o.size)}"`);
  if (o.annotations !== undefined && !isStringMap(o.annotations)) throw invalid(`${where} has invalid annotations`);
  return { mediaType: o.mediaType, digest: o.digest, urls: o.urls };
}

function isStringMap(v: unknown): v is Record<string, string> {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')
  );
}

/** The digest of `content` in the algorithm of `like` (sha256 unless a sha512 reference asks otherwise). */
export function digestOf(content: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(content).digest('hex')}`;
}

/**
 * Parses and checks a pushed manifest: JSON, schemaVersion 2, a media type Berth serves (from the document, or
 * the Content-Type when the document has none; the two must agree), well-formed descriptors. Returns what the
 * store needs, including the blobs and child manifests it references (which the store checks exist).
 * Layers with `urls` (foreign, non-distributable) are not required to be in the registry.
 */
export function parseManifest(content: Buffer, contentType: string | undefined, digest: Digest): NewManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw invalid(`manifest is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('manifest is not a JSON object');
  const m = doc as Record<string, unknown>;
  const declared = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  const header = contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
  if (m.mediaType !== undefined && declared === undefined) throw invalid('manifest mediaType is not a string');
  if (declared && header && header !== declared && header !== 'application/octet-stream')
    throw invalid(`manifest mediaType "${declared}" does not match the Content-Type "${header}"`);
  // Neither says: the document's shape does (an OCI manifest has a config, an index has manifests).
  const guessed = m.config !== undefined ? MediaType.OciManifest : m.manifests !== undefined ? MediaType.OciIndex : '';
  const mediaType = declared ?? (header && header !== 'application/octet-stream' ? header : guessed);
  if (m.schemaVersion !== 2) throw invalid(`manifest schemaVersion ${String(m.schemaVersion)} is not supported (2 is)`);
  const annotations = m.annotations;
  if (annotations !== undefined && !isStringMap(annotations)) throw invalid('manifest annotations are not strings');
  if (m.artifactType !== undefined && typeof m.artifactType !== 'string') throw invalid('artifactType is not a string');
  let subject: Digest | undefined;
  if (m.subject !== undefined) subject = checkDescriptor(m.subject, 'subject').digest;
  const out: NewManifest = {
    digest,
    mediaType,
    content,
    subject,
    annotations,
    blobs: [],
    manifests: [],
  };
  if (MANIFEST_TYPES.has(mediaType)) {
    if (m.manifests !== undefined) throw invalid('an image manifest has no "manifests" field');
    const config = checkDescriptor(m.config, 'config');
    if (!Array.isArray(m.layers)) throw invalid('manifest has no layers array');
    out.blobs.push(config.digest);
    m.layers.forEach((l, i) => {
      const d = checkDescriptor(l, `layers[${i}]`);
      if (d.urls === undefined) out.blobs.push(d.digest);
    });
    out.artifactType = typeof m.artifactType === 'string' && m.artifactType !== '' ? m.artifactType : config.mediaType;
    return out;
  }
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(m.manifests)) throw invalid('index has no manifests array');
    if (m.config !== undefined || m.layers !== undefined) throw invalid('an index has no config or layers');
    m.manifests.forEach((c, i) => {
      const d = checkDescriptor(c, `manifests[${i}]`);
      out.manifests.push(d.digest);
    });
    if (typeof m.artifactType === 'string' && m.artifactType !== '') out.artifactType = m.artifactType;
    return out;
  }
  throw invalid(`unsupported manifest media type "${mediaType || '(none)'}"`, { mediaType });
}
