/** Berth's trust endpoints: signatures and referrers, SBOMs, scans and the vulnerability database. */
import type { Readable } from 'node:stream';
import type {
  AddSignatureRequest,
  AddSignatureResponse,
  AttachRequest,
  AttachResponse,
  ScanDbImportResponse,
  ScanDbInfo,
  ScanReport,
  SignaturesResponse,
} from '../engine-api/trust.ts';
import type { EngineClient } from './client.ts';
import type { CallOptions } from './core.ts';
import { escapePath } from './transport.ts';

type AuthOptions = CallOptions & { registryAuth?: string | undefined };

function auth(opts: AuthOptions): { headers?: Record<string, string> } {
  return opts.registryAuth !== undefined ? { headers: { 'X-Registry-Auth': opts.registryAuth } } : {};
}

export function imageSignatures(c: EngineClient, name: string, opts: AuthOptions = {}): Promise<SignaturesResponse> {
  return c.requestJSON('GET', `/images/${escapePath(name)}/signatures`, { ...opts, ...auth(opts) });
}

export function imageAddSignature(
  c: EngineClient,
  name: string,
  req: AddSignatureRequest,
  opts: AuthOptions = {},
): Promise<AddSignatureResponse> {
  return c.requestJSON('POST', `/images/${escapePath(name)}/signatures`, { ...opts, ...auth(opts), json: req });
}

export function imageAttach(
  c: EngineClient,
  name: string,
  req: AttachRequest,
  opts: AuthOptions = {},
): Promise<AttachResponse> {
  return c.requestJSON('POST', `/images/${escapePath(name)}/referrers`, { ...opts, ...auth(opts), json: req });
}

export function imageSbom(
  c: EngineClient,
  name: string,
  format: string,
  opts: CallOptions = {},
): Promise<Record<string, unknown>> {
  return c.requestJSON('GET', `/images/${escapePath(name)}/sbom`, { ...opts, query: { format } });
}

export function imageScan(
  c: EngineClient,
  name: string,
  severities: string[],
  opts: CallOptions = {},
): Promise<ScanReport> {
  return c.requestJSON('GET', `/images/${escapePath(name)}/scan`, {
    ...opts,
    query: severities.length ? { severity: severities.join(',') } : {},
  });
}

export function scanDbInfo(c: EngineClient, opts: CallOptions = {}): Promise<ScanDbInfo> {
  return c.requestJSON('GET', '/scan/db', opts);
}

/** Sends a database: a ZIP as it is, or a tar stream of a directory's JSON files. */
export function scanDbImport(
  c: EngineClient,
  body: Readable,
  type: 'application/zip' | 'application/x-tar',
  opts: CallOptions = {},
): Promise<ScanDbImportResponse> {
  return c.requestJSON('POST', '/scan/db', { ...opts, body, headers: { 'Content-Type': type } });
}
