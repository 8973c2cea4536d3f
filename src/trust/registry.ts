/**
 * Signatures and other artifacts of an image in its registry: reading every sigstore signature (the
 * `sha256-<hex>.sig` tag and signature referrers), writing one (the tag layout always; a referrer too where the
 * registry has the referrers API), listing referrers, and attaching an artifact (an SBOM, a scan report).
 */
import type { RemoteRepository } from '../distribution/index.ts';
import { MediaType } from '../oci/mediatypes.ts';
import type { Descriptor } from '../oci/types.ts';
import { sha256 } from '../util/digest.ts';
import { errorMessage } from '../util/errors.ts';
import type { SigstoreSignature } from './evaluate.ts';
import {
  appendSignatures,
  EMPTY_CONFIG,
  type ExistingSignatures,
  SIGNATURE_ARTIFACT_TYPE,
  type SignatureLayer,
  signatureLayers,
  signatureReferrer,
  signatureTag,
} from './layout.ts';

async function signaturesIn(
  repo: RemoteRepository,
  manifestBytes: Buffer,
  where: string,
): Promise<{ signatures: SigstoreSignature[]; malformed: string[] }> {
  let doc: unknown;
  try {
    doc = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    return { signatures: [], malformed: [`${where}: the manifest is not JSON`] };
  }
  const found = signatureLayers(doc);
  const signatures: SigstoreSignature[] = [];
  const malformed = found.malformed.map((m) => `${where}: ${m}`);
  for (const [i, s] of found.signatures.entries()) {
    try {
      signatures.push({
        payload: await repo.blob(s.layer.digest, 1 << 20),
        signature: s.signature,
        where: `${where} layer ${i + 1}`,
      });
    } catch (err) {
      malformed.push(`${where} layer ${i + 1}: ${errorMessage(err)}`);
    }
  }
  return { signatures, malformed };
}

/**
 * Every sigstore signature of `digest` in the repository, from the tag layout and (unless `tagOnly`) from signature
 * referrers.
 */
export async function readSigstoreSignatures(
  repo: RemoteRepository,
  digest: string,
  opts: { tagOnly?: boolean } = {},
): Promise<{ signatures: SigstoreSignature[]; malformed: string[] }> {
  const out: SigstoreSignature[] = [];
  const malformed: string[] = [];
  const tag = signatureTag(digest);
  const m = await repo.manifest(tag);
  if (m) {
    const r = await signaturesIn(repo, m.bytes, tag);
    out.push(...r.signatures);
    malformed.push(...r.malformed);
  }
  const refs = opts.tagOnly ? { descriptors: [] } : await repo.referrers(digest);
  for (const d of refs.descriptors) {
    if (d.artifactType !== SIGNATURE_ARTIFACT_TYPE) continue;
    const rm = await repo.manifest(d.digest);
    if (!rm) continue;
    const r = await signaturesIn(repo, rm.bytes, `referrer ${d.digest.slice(0, 19)}`);
    out.push(...r.signatures);
    malformed.push(...r.malformed);
  }
  const seen = new Set<string>();
  const signatures = out.filter((s) => {
    const k = `${sha256(s.payload)} ${s.signature}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return { signatures, malformed };
}

/** The descriptor of a manifest in the repository (by tag or digest), or undefined; asked with a HEAD. */
export async function describe(repo: RemoteRepository, reference: string): Promise<Descriptor | undefined> {
  return repo.describe(reference);
}

/**
 * Stores one signature of `subject`: appended to the `sha256-<hex>.sig` manifest (what cosign and skopeo read),
 * and as an OCI 1.1 referrer when the registry has the referrers API. Returns where it went.
 */
export async function writeSigstoreSignature(
  repo: RemoteRepository,
  subject: Descriptor,
  sig: SignatureLayer,
): Promise<string[]> {
  const tag = signatureTag(subject.digest);
  const current = await repo.manifest(tag);
  let existing: ExistingSignatures | undefined;
  if (current) {
    const manifest = JSON.parse(current.bytes.toString('utf8')) as ExistingSignatures['manifest'] & {
      config?: Descriptor;
    };
    const config = manifest.config
      ? (JSON.parse(
          (await repo.blob(manifest.config.digest, 1 << 20)).toString('utf8'),
        ) as ExistingSignatures['config'])
      : {};
    existing = { manifest, config };
  }
  const img = appendSignatures(existing, [sig]);
  const where: string[] = [];
  if (img.added > 0 || !current) {
    for (const b of img.blobs) await repo.putBlob(b.bytes);
    await repo.putManifest(tag, MediaType.OciManifest, img.manifest);
  }
  where.push(tag);
  if (await repo.referrersApi(subject.digest)) {
    const ref = signatureReferrer(subject, [sig]);
    for (const b of ref.blobs) await repo.putBlob(b.bytes);
    where.push(`referrer ${await repo.putReferrer(subject.digest, ref.manifest, SIGNATURE_ARTIFACT_TYPE)}`);
  }
  return where;
}

/**
 * Attaches an artifact (an SBOM, a scan report) to `subject` as an OCI 1.1 referrer: the empty config, one layer
 * of `mediaType`, `artifactType` set. Returns the artifact manifest's digest.
 */
export async function attachArtifact(
  repo: RemoteRepository,
  subject: Descriptor,
  artifact: { artifactType: string; mediaType: string; bytes: Buffer; annotations?: Record<string, string> },
): Promise<string> {
  await repo.putBlob(Buffer.from('{}'));
  await repo.putBlob(artifact.bytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: artifact.artifactType,
      config: { mediaType: EMPTY_CONFIG.mediaType, digest: EMPTY_CONFIG.digest, size: EMPTY_CONFIG.size },
      layers: [{ mediaType: artifact.mediaType, digest: sha256(artifact.bytes), size: artifact.bytes.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      ...(artifact.annotations ? { annotations: artifact.annotations } : {}),
    }),
  );
  return repo.putReferrer(subject.digest, manifest, artifact.artifactType, artifact.annotations);
}
