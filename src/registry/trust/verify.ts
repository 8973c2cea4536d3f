/**
 * Whether a manifest in a repository is signed by a key its project trusts, checked by the registry over what it
 * stores (no request leaves it):
 *
 * - sigstore (cosign) signatures: the layers of the `sha256-<hex>.sig` manifest in the same repository, and of
 *   its signature referrers (artifact type `application/vnd.dev.cosign.artifact.sig.v1+json`); each payload blob
 *   is read from the store, checked against its digest, and its ECDSA signature verified with each cosign key.
 * - GPG simple signatures pushed through the signatures API extension (what skopeo and podman write when the
 *   registry advertises it), verified by the machine's gpg against the project's GPG keys only.
 *
 * A signature counts when it verifies, its payload is of the right type, signs exactly this manifest digest, and
 * its identity names this repository. The identity's host is not compared: the registry is reached under names
 * it cannot know (an address, a DNS name, a proxy's), and the repository path is what a signer chose.
 */
import type { KeyObject } from 'node:crypto';
import { parseReference } from '../../oci/reference.ts';
import { type Digest, sha256 } from '../../util/digest.ts';
import { errorMessage } from '../../util/errors.ts';
import type { Registry } from '../service.ts';
import type { TrustedKey, TrustStore } from './store.ts';

type Trust = typeof import('../../trust/index.ts');
const MAX_PAYLOAD = 1 << 20;

/** A project's keys, prepared for verification. */
export interface KeySet {
  cosign: { name: string; key: KeyObject }[];
  gpg: { name: string; data: Buffer; fingerprints: string[] }[];
  /** Changes whenever the set does (part of the verification cache's key). */
  version: string;
}

export function keySet(t: Trust, keys: TrustedKey[]): KeySet {
  return {
    cosign: keys.filter((k) => k.kind === 'cosign').map((k) => ({ name: k.name, key: t.parsePublicKey(k.data) })),
    gpg: keys
      .filter((k) => k.kind === 'gpg')
      .map((k) => ({ name: k.name, data: Buffer.from(k.data, 'base64'), fingerprints: k.fingerprint.split(',') })),
    version: keys.map((k) => `${k.name}=${k.fingerprint}`).join(';'),
  };
}

export interface SignatureCheck {
  signed: boolean;
  /** Who signed (the key's name) and where the signature was. */
  by?: string;
  where?: string;
  /** Why each signature found did not count; empty when there were none. */
  rejected: string[];
  /** How many signatures were found. */
  found: number;
}

/** Where signatures of `digest` are, by identity: changes when a signature is added. */
export async function signatureState(reg: Registry, trust: TrustStore, repo: string, repoId: number, digest: Digest) {
  const t = await import('../../trust/index.ts');
  const tagged = await reg.store.manifestByTag(repo, t.signatureTag(digest));
  const referrers = await reg.store.referrers(repoId, digest, t.SIGNATURE_ARTIFACT_TYPE);
  const atomic = await trust.atomicSignatures(repoId, digest);
  return {
    tagged,
    referrers,
    atomic,
    fingerprint: [tagged?.digest ?? '-', ...referrers.map((r) => r.digest), ...atomic.map((a) => a.name)].join(' '),
  };
}

async function readPayload(reg: Registry, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of reg.readBlob(digest as Digest)) {
    n += (c as Buffer).length;
    if (n > MAX_PAYLOAD) throw new Error(`payload ${digest} is larger than ${MAX_PAYLOAD} bytes`);
    chunks.push(c as Buffer);
  }
  const bytes = Buffer.concat(chunks);
  if (sha256(bytes) !== digest) throw new Error(`payload ${digest} does not match its digest`);
  return bytes;
}

/** The problem with a verified payload for `repo@digest`, or undefined when it signs exactly that. */
function payloadProblem(t: Trust, payload: Buffer, type: string, repo: string, digest: Digest): string | undefined {
  let p: ReturnType<Trust['parsePayload']>;
  try {
    p = t.parsePayload(payload, type);
  } catch (err) {
    return errorMessage(err);
  }
  if (p.manifestDigest !== digest) return `it signs manifest ${p.manifestDigest}, not ${digest}`;
  let path: string;
  try {
    path = parseReference(p.dockerReference).path;
  } catch {
    return `its identity "${p.dockerReference}" is not an image reference`;
  }
  if (path !== repo) return `its identity "${p.dockerReference}" names another repository than ${repo}`;
  return undefined;
}

/** Checks every signature of `repo@digest` against `keys`; the first that counts ends the search. */
export async function checkSignatures(
  reg: Registry,
  state: Awaited<ReturnType<typeof signatureState>>,
  keys: KeySet,
  repo: string,
  digest: Digest,
): Promise<SignatureCheck> {
  const t = await import('../../trust/index.ts');
  const rejected: string[] = [];
  let found = 0;
  const manifests = [
    ...(state.tagged ? [{ where: t.signatureTag(digest), content: state.tagged.content }] : []),
    ...state.referrers.map((r) => ({ where: `referrer ${r.digest.slice(0, 19)}`, digest: r.digest })),
  ];
  for (const m of manifests) {
    let content = 'content' in m ? m.content : undefined;
    if (!content && 'digest' in m) content = (await reg.store.manifestByDigest(repo, m.digest))?.content;
    if (!content) continue;
    let doc: unknown;
    try {
      doc = JSON.parse(content.toString('utf8'));
    } catch {
      rejected.push(`${m.where}: the manifest is not JSON`);
      continue;
    }
    const layers = t.signatureLayers(doc);
    rejected.push(...layers.malformed.map((x) => `${m.where}: ${x}`));
    for (const [i, s] of layers.signatures.entries()) {
      found++;
      const where = `${m.where} layer ${i + 1}`;
      let payload: Buffer;
      try {
        payload = await readPayload(reg, s.layer.digest);
      } catch (err) {
        rejected.push(`${where}: ${errorMessage(err)}`);
        continue;
      }
      const key = keys.cosign.find((k) => {
        try {
          return t.verifyPayload(k.key, payload, s.signature);
        } catch {
          return false;
        }
      });
      if (!key) {
        rejected.push(`${where}: not signed by a key the project trusts`);
        continue;
      }
      const problem = payloadProblem(t, payload, t.COSIGN_SIGNATURE_TYPE, repo, digest);
      if (problem) rejected.push(`${where}: ${problem}`);
      else return { signed: true, by: key.name, where, rejected, found };
    }
  }
  for (const a of state.atomic) {
    found++;
    const where = `signature ${a.name.slice(a.name.indexOf('@') + 1)}`;
    if (keys.gpg.length === 0) {
      rejected.push(`${where}: a GPG signature, and the project trusts no GPG key`);
      continue;
    }
    let verified: { fingerprint: string; payload: Buffer };
    try {
      verified = await t.gpgVerify(
        keys.gpg.map((k) => k.data),
        a.content,
      );
    } catch (err) {
      rejected.push(`${where}: ${errorMessage(err)}`);
      continue;
    }
    const problem = payloadProblem(t, verified.payload, t.ATOMIC_SIGNATURE_TYPE, repo, digest);
    if (problem) {
      rejected.push(`${where}: ${problem}`);
      continue;
    }
    const key = keys.gpg.find((k) => k.fingerprints.includes(verified.fingerprint));
    return { signed: true, by: key?.name ?? verified.fingerprint, where, rejected, found };
  }
  return { signed: false, rejected, found };
}
