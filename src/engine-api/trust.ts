/**
 * Berth additions to the Engine API for signatures, SBOMs and scans: what berthd answers and the client reads.
 * Types only.
 */

/** A sigstore signature as stored in the registry: payload and signature, base64. */
export interface SigstoreSignatureEntry {
  payload: string;
  signature: string;
  /** Where it was found: `sha256-<hex>.sig layer 1`, `referrer sha256:…`. */
  where: string;
}

/** A GPG simple signature from a lookaside store: the signed message, base64. */
export interface GpgSignatureEntry {
  signature: string;
  where: string;
}

/** An OCI 1.1 referrer of the image's manifest. */
export interface ReferrerEntry {
  digest: string;
  mediaType: string;
  artifactType?: string;
  size: number;
  annotations?: Record<string, string>;
}

/** `GET /images/{name}/signatures`: everything stored about an image in its registry. */
export interface SignaturesResponse {
  /** The reference asked about, normalised (`localhost:5000/app:1`). */
  reference: string;
  /** The manifest the reference names in the registry. */
  descriptor: { mediaType: string; digest: string; size: number };
  sigstore: SigstoreSignatureEntry[];
  /** Signature layers that could not be read (no annotation, an unreadable blob). */
  malformed: string[];
  gpg: GpgSignatureEntry[];
  referrers: ReferrerEntry[];
  /** Whether the registry has the referrers API (else the tag-schema fallback was read). */
  referrersApi: boolean;
}

/** `POST /images/{name}/signatures` body: a signature made by the client, to store. */
export type AddSignatureRequest =
  | { kind: 'sigstore'; digest: string; payload: string; signature: string; annotations?: Record<string, string> }
  | { kind: 'gpg'; digest: string; signature: string };

export interface AddSignatureResponse {
  /** Where it was stored: the tag, a referrer digest, a lookaside URL. */
  stored: string[];
}

/** `POST /images/{name}/referrers` body: an artifact to attach (an SBOM, a scan report). */
export interface AttachRequest {
  artifactType: string;
  mediaType: string;
  /** The artifact, base64. */
  data: string;
  annotations?: Record<string, string>;
}

export interface AttachResponse {
  digest: string;
  subject: string;
}

/** `GET /scan/db` and the end of `POST /scan/db`. */
export interface ScanDbInfo {
  advisories: number;
  importedAt?: string;
  ageDays?: number;
  newest?: string;
}

export interface ScanDbImportResponse extends ScanDbInfo {
  imported: number;
  skipped: number;
  errors: string[];
}

export type ScanSeverity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';

export interface ScanVulnerability {
  id: string;
  aliases: string[];
  summary: string;
  severity: ScanSeverity;
  score?: number;
  fixedVersion?: string;
  package: { name: string; version: string; type: string; ecosystem: string; purl: string; locations: string[] };
}

/** `GET /images/{name}/scan`. */
export interface ScanReport {
  image?: { name: string; digest: string };
  database: { advisories: number; importedAt?: string; ageDays?: number; stale: boolean };
  packages: number;
  vulnerabilities: ScanVulnerability[];
  counts: Record<ScanSeverity, number>;
}
