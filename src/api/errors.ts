import { errorCode, type ErrorCode } from '../util/errors.ts';

/** The one mapping from error kinds to Engine API status codes (moby's errdefs → HTTP). */
const STATUS: Record<ErrorCode, number> = {
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 409,
  UNAVAILABLE: 503,
  NOT_IMPLEMENTED: 501,
  DATA_LOSS: 500,
  CANCELED: 499,
  NOT_MODIFIED: 304,
  FORBIDDEN: 403,
  UNAUTHORIZED: 401,
  INTERNAL: 500,
};

export function httpStatus(err: unknown): number {
  if (err instanceof SyntaxError) return 400;
  return STATUS[errorCode(err)];
}
