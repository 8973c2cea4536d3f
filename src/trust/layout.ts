/**
 * Where sigstore tools keep signatures in a registry, as cosign writes them and containers/image reads them:
 *
 * - the tag `sha256-<hex>.sig` in the image's repository names an OCI image manifest whose layers are the
 *   signatures: each of media type `application/vnd.dev.cosign.simplesigning.v1+json`, its blob the payload, its
 *   annotation `dev.cosignproject.cosign/signature` the base64 signature. The config is go-containerregistry's
 *   config file for that image (`created` the zero time, one history entry per layer, `rootfs.diff_ids` the payload
 *   digests), so a manifest Berth writes is byte for byte the one cosign would.
 * - OCI 1.1 referrers: the same layers in a manifest with `artifactType` and config media type
 *   `application/vnd.dev.cosign.artifact.sig.v1+json` and `subject` the signed manifest (cosign's
 *   `--registry-referrers-mode=oci-1-1`).
 */
import { MediaType } from '../oci/mediatypes.ts';
import type { Descriptor } from '../oci/types.ts';
import { type Digest, sha256 } from '../util/digest.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import { goJSON } from './gojson.ts';

export const SIMPLESIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const SIGNATURE_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
/** The empty config of OCI 1.1 artifacts. */
export const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  data: 'e30=',
} as const;

/** `sha256-<hex>.sig`, the tag cosign keeps a manifest digest's signatures under. */
export function signatureTag(digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new InvalidArgumentError(`invalid manifest digest "${digest}"`);
  return `${digest.replace(':', '-')}.sig`;
}

/** The referrers tag schema's fallback tag: `sha256-<hex>` (OCI distribution 1.1). */
export function referrersTag(digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new InvalidArgumentError(`invalid manifest digest "${digest}"`);
  return digest.replace(':', '-');
}

/** One signature: its payload and base64 signature, with any other layer annotations. */
export interface SignatureLayer {
  payload: Buffer;
  signature: string;
  annotations?: Record<string, string>;
}

/** A blob to upload and the descriptor that names it. */
export interface Blob {
  descriptor: Descriptor;
  bytes: Buffer;
}

interface GoHistory {
  author?: string;
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** go-containerregistry's ConfigFile for a signature image, in its field order. */
function signatureConfig(diffIds: string[], history: GoHistory[]): Buffer {
  const hist = history.map((h) => {
    const o: GoHistory = {};
    if (h.author) o.author = h.author;
    o.created = h.created ?? ZERO_TIME;
    if (h.created_by) o.created_by = h.created_by;
    if (h.comment) o.comment = h.comment;
    if (h.empty_layer) o.empty_layer = true;
    return o;
  });
  const doc = {
    architecture: '',
    created: ZERO_TIME,
    ...(hist.length > 0 ? { history: hist } : {}),
    os: '',
    rootfs: { type: 'layers', diff_ids: diffIds },
    config: {},
  };
  return Buffer.from(goJSON(doc));
}

function layerDescriptor(sig: SignatureLayer): Descriptor {
  // Descriptor fields in go-containerregistry's order: mediaType, size, digest, annotations.
  return {
    mediaType: SIMPLESIGNING_MEDIA_TYPE,
    size: sig.payload.length,
    digest: sha256(sig.payload),
    annotations: { ...(sig.annotations ?? {}), [SIGNATURE_ANNOTATION]: sig.signature },
  } as Descriptor;
}

/** Whether a layer already holds this signature (same payload, same annotations): then it is not added twice. */
function sameSignature(layer: Descriptor, sig: SignatureLayer): boolean {
  const want = layerDescriptor(sig);
  if (layer.mediaType !== want.mediaType || layer.digest !== want.digest || layer.size !== want.size) return false;
  const a = layer.annotations ?? {};
  const b = want.annotations ?? {};
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

function sortedAnnotations(d: Descriptor): Descriptor {
  if (!d.annotations) return d;
  const ann: Record<string, string> = {};
  for (const k of Object.keys(d.annotations).sort()) ann[k] = d.annotations[k]!;
  return { mediaType: d.mediaType, size: d.size, digest: d.digest, annotations: ann } as Descriptor;
}

/** What a signature manifest write consists of: blobs to upload first (payloads, config), then the manifest. */
export interface SignatureImage {
  blobs: Blob[];
  manifest: Buffer;
  /** How many signatures were new (0: every one was there already). */
  added: number;
}

/** The signature image as it stands in a registry, to add to: its manifest and config. */
export interface ExistingSignatures {
  manifest: { layers?: Descriptor[] };
  config: { rootfs?: { diff_ids?: string[] }; history?: GoHistory[] };
}

/**
 * The `sha256-<hex>.sig` manifest with `sigs` appended to what `existing` holds (signatures already there are not
 * repeated), as cosign's `mutate.Append` does.
 */
export function appendSignatures(existing: ExistingSignatures | undefined, sigs: SignatureLayer[]): SignatureImage {
  const layers: Descriptor[] = (existing?.manifest.layers ?? []).map(sortedAnnotations);
  const diffIds = [...(existing?.config.rootfs?.diff_ids ?? layers.map((l) => l.digest))];
  const history = [...(existing?.config.history ?? layers.map(() => ({})))];
  const blobs: Blob[] = [];
  let added = 0;
  for (const sig of sigs) {
    if (layers.some((l) => sameSignature(l, sig))) continue;
    const desc = sortedAnnotations(layerDescriptor(sig));
    layers.push(desc);
    diffIds.push(desc.digest);
    history.push({});
    blobs.push({ descriptor: desc, bytes: sig.payload });
    added++;
  }
  const config = signatureConfig(diffIds, history);
  const configDesc = { mediaType: MediaType.OciConfig, size: config.length, digest: sha256(config) } as Descriptor;
  blobs.push({ descriptor: configDesc, bytes: config });
  const manifest = Buffer.from(
    goJSON({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers }),
  );
  return { blobs, manifest, added };
}

/**
 * An OCI 1.1 referrer holding `sigs`, with `subject` the signed manifest: cosign's referrers-mode layout.
 */
export function signatureReferrer(subject: Descriptor, sigs: SignatureLayer[]): SignatureImage {
  const layers = sigs.map((s) => sortedAnnotations(layerDescriptor(s)));
  const config = signatureConfig(
    layers.map((l) => l.digest),
    layers.map(() => ({})),
  );
  const configDesc = { mediaType: SIGNATURE_ARTIFACT_TYPE, size: config.length, digest: sha256(config) } as Descriptor;
  const blobs: Blob[] = layers.map((l, i) => ({ descriptor: l, bytes: sigs[i]!.payload }));
  blobs.push({ descriptor: configDesc, bytes: config });
  const subj = { mediaType: subject.mediaType, size: subject.size, digest: subject.digest } as Descriptor;
  const manifest = Buffer.from(
    goJSON({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: SIGNATURE_ARTIFACT_TYPE,
      config: configDesc,
      layers,
      subject: subj,
    }),
  );
  return { blobs, manifest, added: sigs.length };
}

/** A signature found in a manifest's layers: the payload's descriptor and the base64 signature. */
export interface FoundSignature {
  layer: Descriptor;
  signature: string;
}

/**
 * The simple-signing layers of a signature manifest (tag form or referrer); other layers (attestations and
 * the like) are left out. A layer of the signing media type without the annotation is reported as malformed.
 */
export function signatureLayers(manifest: unknown): { signatures: FoundSignature[]; malformed: string[] } {
  const m = manifest as { layers?: unknown };
  const out: FoundSignature[] = [];
  const malformed: string[] = [];
  if (!m || typeof m !== 'object' || !Array.isArray(m.layers))
    return { signatures: out, malformed: ['the signature manifest has no layers'] };
  for (const l of m.layers as Descriptor[]) {
    if (!l || l.mediaType !== SIMPLESIGNING_MEDIA_TYPE) continue;
    const sig = l.annotations?.[SIGNATURE_ANNOTATION];
    if (typeof sig !== 'string' || sig === '') {
      malformed.push(`signature layer ${l.digest} has no ${SIGNATURE_ANNOTATION} annotation`);
      continue;
    }
    if (typeof l.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(l.digest) || typeof l.size !== 'number') {
      malformed.push(`signature layer has an invalid digest or size`);
      continue;
    }
    out.push({ layer: l, signature: sig });
  }
  return { signatures: out, malformed };
}

export type { Digest };
