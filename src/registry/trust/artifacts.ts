import { Readable } from 'node:stream';
import { MediaType } from '../../oci/mediatypes.ts';
import { type Digest, sha256 } from '../../util/digest.ts';
import type { Registry } from '../service.ts';

/** The OCI 1.1 empty config (`{}`), which artifacts without a config of their own name. */
const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', bytes: Buffer.from('{}') };

/**
 * Stores an artifact as an OCI 1.1 referrer of `subject` in `repo`, through the registry's own upload and
 * manifest paths (verified, linked, visible to the collector like any push): the empty config, one layer of
 * `mediaType`, `artifactType` set. Returns the artifact manifest's digest.
 */
export async function putReferrer(
  reg: Registry,
  repo: string,
  subject: { digest: Digest; mediaType: string; size: number },
  artifact: { artifactType: string; mediaType: string; bytes: Buffer; annotations?: Record<string, string> },
  actor: string,
): Promise<Digest> {
  for (const bytes of [EMPTY_CONFIG.bytes, artifact.bytes]) {
    const digest = sha256(bytes);
    if ((await reg.store.blobInRepo(repo, digest)) !== undefined) continue;
    const id = await reg.startUpload(repo, actor);
    const u = await reg.upload(repo, id, actor);
    await reg.appendUpload(u, Readable.from([bytes]), { length: bytes.length });
    await reg.finishUpload(await reg.upload(repo, id, actor), digest, actor);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: artifact.artifactType,
      config: {
        mediaType: EMPTY_CONFIG.mediaType,
        digest: sha256(EMPTY_CONFIG.bytes),
        size: EMPTY_CONFIG.bytes.length,
      },
      layers: [{ mediaType: artifact.mediaType, digest: sha256(artifact.bytes), size: artifact.bytes.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      ...(artifact.annotations ? { annotations: artifact.annotations } : {}),
    }),
  );
  const r = await reg.putManifest(repo, { digest: sha256(manifest) }, manifest, MediaType.OciManifest, [], actor);
  return r.digest;
}
