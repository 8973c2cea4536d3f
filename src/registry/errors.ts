import { BerthError, type ErrorCode } from '../util/errors.ts';

/** The error codes of the OCI distribution spec, each with the HTTP status Berth answers it with. */
export const OCI_STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
} as const;
export type OciCode = keyof typeof OCI_STATUS;

function kindOf(status: number): ErrorCode {
  if (status === 404) return 'NOT_FOUND';
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 405) return 'NOT_IMPLEMENTED';
  if (status === 416) return 'FAILED_PRECONDITION';
  if (status === 429 || status === 507) return 'UNAVAILABLE';
  return 'INVALID_ARGUMENT';
}

/**
 * A failure the distribution API reports with one of the spec's codes. It is a BerthError of the matching kind
 * (404 → NOT_FOUND, 403 → FORBIDDEN, …), so code outside the HTTP layer treats it like any other.
 */
export class RegistryError extends BerthError {
  override readonly code: ErrorCode;
  readonly oci: OciCode;
  readonly status: number;
  readonly detail: unknown;
  constructor(oci: OciCode, message: string, opts: { status?: number; detail?: unknown; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.oci = oci;
    this.status = opts.status ?? OCI_STATUS[oci];
    this.code = kindOf(this.status);
    this.detail = opts.detail;
  }
}

export const blobUnknown = (digest: string) =>
  new RegistryError('BLOB_UNKNOWN', `blob unknown: ${digest}`, { detail: { digest } });
export const manifestUnknown = (ref: string) =>
  new RegistryError('MANIFEST_UNKNOWN', `manifest unknown: ${ref}`, { detail: { reference: ref } });
export const nameUnknown = (name: string) =>
  new RegistryError('NAME_UNKNOWN', `repository name not known to registry: ${name}`, { detail: { name } });
export const uploadUnknown = (id: string) => new RegistryError('BLOB_UPLOAD_UNKNOWN', `blob upload unknown: ${id}`);
