/**
 * Policy evaluation: one function, `evaluatePolicy`, decides whether an image may be pulled or run and says why,
 * requirement by requirement. Every requirement of the applicable list must accept the image (containers/image's
 * rule); a signature requirement accepts when at least one signature passes all its checks: the cryptographic
 * signature by a trusted key, the payload's type, its manifest digest equal to the image's, and its signed identity
 * matching the reference by the requirement's `signedIdentity`.
 */
import type { KeyObject } from 'node:crypto';
import { fullName, parseReference, type Reference, referenceString, withDefaultTag } from '../oci/reference.ts';
import { errorMessage } from '../util/errors.ts';
import { ATOMIC_SIGNATURE_TYPE, COSIGN_SIGNATURE_TYPE, parsePayload } from './payload.ts';
import { type IdentityMatch, type Policy, type Requirement, requirementsFor } from './policy.ts';
import { verifyPayload } from './sign.ts';

/** The image under evaluation: the reference it is pulled or run by (with its tag or digest), its manifest digest. */
export interface PolicyImage {
  reference: Reference;
  manifestDigest: string;
}

/** A sigstore signature as found in a registry: payload bytes, base64 signature, where it was found. */
export interface SigstoreSignature {
  payload: Buffer;
  signature: string;
  where: string;
}

/** A GPG simple-signing signature (an OpenPGP signed message) from a lookaside store. */
export interface GpgSignature {
  bytes: Buffer;
  where: string;
}

/** Where evaluation gets signatures; called only when a requirement needs them, at most once each. */
export interface SignatureSource {
  sigstore(): Promise<{ signatures: SigstoreSignature[]; malformed: string[] }>;
  gpg(): Promise<GpgSignature[]>;
}

/** gpg's verification of a signed message against a set of public keys: signer's fingerprint and the payload. */
export type GpgVerifier = (keys: Buffer[], signature: Buffer) => Promise<{ fingerprint: string; payload: Buffer }>;

export interface RequirementResult {
  type: Requirement['type'];
  accepted: boolean;
  /** Why it accepted (who signed) or why not (each signature's failure). */
  reason: string;
}

export interface Decision {
  allowed: boolean;
  /** The policy section that applied: `default`, or `transports.docker["host/repo"]`. */
  scope: string;
  results: RequirementResult[];
  /** One line for an error message: the first refusal's reason, or 'accepted'. */
  reason: string;
}

function nameOnly(r: Reference): boolean {
  return r.tag === undefined && r.digest === undefined;
}

function repoDigestOrExact(intended: Reference, signed: Reference): boolean {
  if (nameOnly(signed)) return false;
  if (intended.tag !== undefined) return referenceString(signed) === referenceString(intended);
  if (intended.digest !== undefined) return fullName(signed) === fullName(intended);
  return false;
}

/** Whether a signature's claimed identity is acceptable for `intended` under `m` (containers/image's semantics). */
export function identityMatches(m: IdentityMatch, intended: Reference, signedText: string): boolean {
  let signed: Reference;
  try {
    signed = parseReference(signedText);
  } catch {
    return false;
  }
  switch (m.type) {
    case 'matchExact':
      return !nameOnly(intended) && !nameOnly(signed) && referenceString(signed) === referenceString(intended);
    case 'matchRepoDigestOrExact':
      return repoDigestOrExact(intended, signed);
    case 'matchRepository':
      return fullName(signed) === fullName(intended);
    case 'exactReference':
      return !nameOnly(signed) && referenceString(signed) === referenceString(m.dockerReference);
    case 'exactRepository':
      return fullName(signed) === fullName(m.dockerRepository);
    case 'remapIdentity': {
      const n = fullName(intended);
      const matches = n === m.prefix || (n.startsWith(m.prefix) && n[m.prefix.length] === '/');
      if (!matches) return repoDigestOrExact(intended, signed);
      let remapped: Reference;
      try {
        remapped = parseReference(m.signedPrefix + referenceString(intended).slice(m.prefix.length));
      } catch {
        return false;
      }
      return repoDigestOrExact(remapped, signed);
    }
  }
}

function describeIdentity(m: IdentityMatch): string {
  return `signedIdentity ${m.type}`;
}

/** Checks a parsed payload's digest and identity; the reason it fails, or undefined. */
function payloadProblem(payload: Buffer, type: string, image: PolicyImage, m: IdentityMatch): string | undefined {
  let p: ReturnType<typeof parsePayload>;
  try {
    p = parsePayload(payload, type);
  } catch (err) {
    return errorMessage(err);
  }
  if (p.manifestDigest !== image.manifestDigest) {
    return `it signs manifest ${p.manifestDigest}, not ${image.manifestDigest} (the manifest changed after signing, or the signature is for another image)`;
  }
  if (!identityMatches(m, image.reference, p.dockerReference)) {
    return `its signed identity "${p.dockerReference}" is not accepted for ${referenceString(image.reference)} (${describeIdentity(m)})`;
  }
  return undefined;
}

async function sigstoreSigned(
  req: Extract<Requirement, { type: 'sigstoreSigned' }>,
  image: PolicyImage,
  source: SignatureSource,
): Promise<RequirementResult> {
  const { signatures, malformed } = await source.sigstore();
  if (signatures.length === 0) {
    const extra = malformed.length > 0 ? ` (${malformed.join('; ')})` : '';
    return {
      type: req.type,
      accepted: false,
      reason: `a signature was required, but no sigstore signature exists${extra}`,
    };
  }
  const rejections: string[] = [...malformed];
  for (const s of signatures) {
    const key = trustedKey(req.keys, s);
    if (key === undefined) {
      rejections.push(`${s.where}: not signed by a key the policy trusts (${req.keySources.join(', ')})`);
      continue;
    }
    const problem = payloadProblem(s.payload, COSIGN_SIGNATURE_TYPE, image, req.signedIdentity);
    if (problem) {
      rejections.push(`${s.where}: ${problem}`);
      continue;
    }
    return { type: req.type, accepted: true, reason: `signed by ${req.keySources[key]} (${s.where})` };
  }
  return { type: req.type, accepted: false, reason: `none of the signatures were accepted: ${rejections.join('; ')}` };
}

function trustedKey(keys: KeyObject[], s: SigstoreSignature): number | undefined {
  for (let i = 0; i < keys.length; i++) {
    try {
      if (verifyPayload(keys[i]!, s.payload, s.signature)) return i;
    } catch {
      return undefined; // not base64: no key verifies it
    }
  }
  return undefined;
}

async function signedBy(
  req: Extract<Requirement, { type: 'signedBy' }>,
  image: PolicyImage,
  source: SignatureSource,
  gpg: GpgVerifier,
): Promise<RequirementResult> {
  const signatures = await source.gpg();
  if (signatures.length === 0) {
    return {
      type: req.type,
      accepted: false,
      reason: 'a signature was required, but no GPG signature exists in the lookaside store',
    };
  }
  const rejections: string[] = [];
  for (const s of signatures) {
    let verified: { fingerprint: string; payload: Buffer };
    try {
      verified = await gpg(req.gpgKeys, s.bytes);
    } catch (err) {
      rejections.push(`${s.where}: ${errorMessage(err)}`);
      continue;
    }
    const problem = payloadProblem(verified.payload, ATOMIC_SIGNATURE_TYPE, image, req.signedIdentity);
    if (problem) {
      rejections.push(`${s.where}: ${problem}`);
      continue;
    }
    return { type: req.type, accepted: true, reason: `signed by GPG key ${verified.fingerprint} (${s.where})` };
  }
  return { type: req.type, accepted: false, reason: `none of the signatures were accepted: ${rejections.join('; ')}` };
}

function memo<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= f();
    return p;
  };
}

/**
 * Evaluates `policy` for `image`. Signatures are fetched only when a requirement needs them. A failure to fetch
 * signatures is a refusal with that reason (never an acceptance).
 */
export async function evaluatePolicy(
  policy: Policy,
  image: PolicyImage,
  source: SignatureSource,
  gpg: GpgVerifier,
): Promise<Decision> {
  image = { ...image, reference: withDefaultTag(image.reference) };
  const { scope, requirements } = requirementsFor(policy, image.reference);
  const src: SignatureSource = { sigstore: memo(() => source.sigstore()), gpg: memo(() => source.gpg()) };
  const results: RequirementResult[] = [];
  for (const req of requirements) {
    try {
      switch (req.type) {
        case 'insecureAcceptAnything':
          results.push({ type: req.type, accepted: true, reason: 'insecureAcceptAnything' });
          break;
        case 'reject':
          results.push({
            type: req.type,
            accepted: false,
            reason: `${referenceString(image.reference)} is rejected by policy`,
          });
          break;
        case 'signedBaseLayer':
          results.push({ type: req.type, accepted: false, reason: 'signedBaseLayer is not implemented' });
          break;
        case 'sigstoreSigned':
          results.push(await sigstoreSigned(req, image, src));
          break;
        case 'signedBy':
          results.push(await signedBy(req, image, src, gpg));
          break;
      }
    } catch (err) {
      results.push({ type: req.type, accepted: false, reason: `reading signatures failed: ${errorMessage(err)}` });
    }
  }
  const refused = results.find((r) => !r.accepted);
  return {
    allowed: refused === undefined,
    scope,
    results,
    reason: refused ? `${refused.type}: ${refused.reason}` : 'accepted',
  };
}
