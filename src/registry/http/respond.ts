import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { BerthError, errorMessage } from '../../util/errors.ts';
import { RegistryError } from '../errors.ts';

export const API_VERSION_HEADER = 'Docker-Distribution-API-Version';
export const API_VERSION = 'registry/2.0';

/** Answers with a status, headers and an optional body; HEAD requests get the headers only. */
export function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  body?: Buffer | string,
): void {
  headers[API_VERSION_HEADER] = API_VERSION;
  if (body !== undefined && headers['Content-Length'] === undefined)
    headers['Content-Length'] = Buffer.byteLength(body);
  if (headers['Content-Length'] === undefined) headers['Content-Length'] = 0;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || body === undefined) res.end();
  else res.end(body);
}

export function sendJSON(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  headers['Content-Type'] ??= 'application/json';
  send(req, res, status, headers, JSON.stringify(value));
}

/** Status and spec error code of any failure (the one mapping of errors to the distribution API). */
export function describe(err: unknown): { status: number; code: string; message: string; detail?: unknown } {
  if (err instanceof RegistryError)
    return { status: err.status, code: err.oci, message: err.message, detail: err.detail };
  if (err instanceof BerthError) {
    const message = err.message;
    switch (err.code) {
      case 'NOT_FOUND':
        return { status: 404, code: 'NAME_UNKNOWN', message };
      case 'INVALID_ARGUMENT':
        return { status: 400, code: 'UNSUPPORTED', message };
      case 'DATA_LOSS':
        return { status: 400, code: 'DIGEST_INVALID', message };
      case 'UNAUTHORIZED':
        return { status: 401, code: 'UNAUTHORIZED', message };
      case 'FORBIDDEN':
        return { status: 403, code: 'DENIED', message };
      case 'ALREADY_EXISTS':
      case 'CONFLICT':
      case 'FAILED_PRECONDITION':
        return { status: 409, code: 'DENIED', message };
      case 'UNAVAILABLE':
        return { status: 503, code: 'UNAVAILABLE', message };
      case 'NOT_IMPLEMENTED':
        return { status: 405, code: 'UNSUPPORTED', message };
      default:
        break;
    }
  }
  const e = err as NodeJS.ErrnoException & { errcode?: number };
  // ENOSPC from a write, SQLITE_FULL (13) from the metadata.
  if (e && (e.code === 'ENOSPC' || e.code === 'EDQUOT' || e.errcode === 13))
    return { status: 507, code: 'UNAVAILABLE', message: `the registry's storage is full: ${e.message}` };
  return { status: 500, code: 'UNKNOWN', message: errorMessage(err) };
}

/** Writes the spec's error body `{"errors": [...]}` (or closes the stream when the answer had begun). */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  if (res.headersSent) {
    res.destroy(err instanceof Error ? err : undefined);
    return;
  }
  const d = describe(err);
  // A body not read to its end (a failed chunk): the connection cannot be reused, and the client learns at once.
  if (!req.complete) headers.Connection = 'close';
  if (d.status === 429) headers['Retry-After'] ??= '1';
  const entry: Record<string, unknown> = { code: d.code, message: d.message };
  if (d.detail !== undefined) entry.detail = d.detail;
  sendJSON(req, res, d.status, { errors: [entry] }, headers);
}
