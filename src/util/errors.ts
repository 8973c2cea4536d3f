/**
 * One error base class and one subclass per kind of failure. Each kind is mapped once to an HTTP status
 * (src/api/errors.ts) and once to a CLI exit code (src/cli/errors.ts). Messages quote the value that was wrong.
 */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'NOT_IMPLEMENTED'
  | 'DATA_LOSS'
  | 'CANCELED'
  | 'NOT_MODIFIED'
  | 'FORBIDDEN'
  | 'UNAUTHORIZED'
  | 'INTERNAL';

export class BerthError extends Error {
  readonly code: ErrorCode = 'INTERNAL';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends BerthError {
  override readonly code = 'NOT_FOUND';
}
export class AlreadyExistsError extends BerthError {
  override readonly code = 'ALREADY_EXISTS';
}
/** The request is valid, but the present state of a resource forbids it (an image in use, a name taken). */
export class ConflictError extends BerthError {
  override readonly code = 'CONFLICT';
}
export class InvalidArgumentError extends BerthError {
  override readonly code = 'INVALID_ARGUMENT';
}
export class FailedPreconditionError extends BerthError {
  override readonly code = 'FAILED_PRECONDITION';
}
export class UnavailableError extends BerthError {
  override readonly code = 'UNAVAILABLE';
}
export class NotImplementedError extends BerthError {
  override readonly code = 'NOT_IMPLEMENTED';
}
/** Content that is corrupt, truncated or does not match its digest. */
export class DataLossError extends BerthError {
  override readonly code = 'DATA_LOSS';
}
export class CanceledError extends BerthError {
  override readonly code = 'CANCELED';
}
/** Nothing to do: the resource is already in the asked-for state (HTTP 304 in the Engine API). */
export class NotModifiedError extends BerthError {
  override readonly code = 'NOT_MODIFIED';
}
export class ForbiddenError extends BerthError {
  override readonly code = 'FORBIDDEN';
}
export class UnauthorizedError extends BerthError {
  override readonly code = 'UNAUTHORIZED';
}

export function isBerthError(err: unknown): err is BerthError {
  return err instanceof BerthError;
}

/** The code of any error: a BerthError's own, or INTERNAL. */
export function errorCode(err: unknown): ErrorCode {
  return err instanceof BerthError ? err.code : 'INTERNAL';
}

/** errno-style errors from node:fs and friends. */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Go's words for the errnos of node:fs that messages in Docker's wording quote (the CLI's, compose files'). */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
};

/** How Go prints an *os.PathError for an error from node:fs: `open /x: no such file or directory`. */
export function goErrnoText(err: unknown, path: string, op = 'open'): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return `${op} ${path}: ${(typeof code === 'string' ? ERRNO_TEXT[code] : undefined) ?? errorMessage(err)}`;
}

/**
 * The status and message of an engine's HTTP error answer, kept as the `cause` of the BerthError the client throws
 * for it. Here rather than in client/ so that the CLI's error mapping tells engine answers apart without loading
 * the client.
 */
export class EngineStatusError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'EngineStatusError';
    this.statusCode = statusCode;
  }
}

/** True when the error is an answer from the engine (as opposed to a connection or client-side failure). */
export function isDaemonError(err: unknown): err is BerthError & { cause: EngineStatusError } {
  return err instanceof BerthError && err.cause instanceof EngineStatusError;
}
