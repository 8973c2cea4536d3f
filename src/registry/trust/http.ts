/**
 * The trust policies over HTTP: the admin API's routes (under `/admin/v1/`, with the caller's permissions) and the
 * signatures API extension (`/extensions/v2/<name>/signatures/<digest>`), where skopeo and podman read and write
 * GPG simple signatures when a registry answers its `/v2/` with `X-Registry-Supports-Signatures: 1` (the API of
 * OpenShift's registry that containers/image speaks: GET lists `{"signatures": [...]}`, PUT adds one, each
 * `{"schemaVersion": 2, "name": "<digest>@<32 hex>", "type": "atomic", "content": <base64>}`).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import type { Digest } from '../../util/digest.ts';
import { InvalidArgumentError, errorMessage } from '../../util/errors.ts';
import type { AuthGate } from '../auth/gate.ts';
import { RegistryError, manifestUnknown } from '../errors.ts';
import { send, sendError, sendJSON } from '../http/respond.ts';
import type { Handler } from '../http/server.ts';
import { checkDigest, checkName } from '../names.ts';
import type { Registry } from '../service.ts';
import type { PolicyChange, TrustAdmin } from './admin.ts';
import type { TrustStore } from './store.ts';

const MAX_JSON = 1 << 20;
const MAX_SIGNATURE = 64 << 10;

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) throw new InvalidArgumentError(`request body larger than ${max} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const b = await readBody(req, MAX_JSON);
  if (b.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(b.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`request body is not JSON: ${errorMessage(err)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InvalidArgumentError('request body is not a JSON object');
  return v as Record<string, unknown>;
}

function str(body: Record<string, unknown>, k: string): string {
  const v = body[k];
  if (typeof v !== 'string' || v === '') throw new InvalidArgumentError(`"${k}" is required`);
  return v;
}

/**
 * Serves an admin route of the trust policies if `parts` (the path after `/admin/v1/`, decoded) names one; false
 * otherwise. Errors are thrown for the admin API's one error mapping.
 */
export async function trustAdminRoute(
  api: TrustAdmin,
  req: IncomingMessage,
  res: ServerResponse,
  parts: string[],
  query: URLSearchParams,
  dir: string,
): Promise<boolean> {
  const method = req.method ?? 'GET';
  const [what, name, sub, arg] = parts;
  if (what === 'projects' && name !== undefined && sub === 'policy' && arg === undefined) {
    if (method === 'GET') sendJSON(req, res, 200, await api.policy(name));
    else if (method === 'PUT') {
      const b = await readObject(req);
      const change: PolicyChange = {};
      if (b.requireSignatures !== undefined) change.requireSignatures = String(b.requireSignatures);
      if (b.scanOnPush !== undefined) change.scanOnPush = b.scanOnPush === true;
      if (b.preventSeverity !== undefined)
        change.preventSeverity = b.preventSeverity === null ? null : String(b.preventSeverity);
      sendJSON(req, res, 200, await api.setPolicy(name, change));
    } else return false;
    return true;
  }
  if (what === 'projects' && name !== undefined && sub === 'keys') {
    if (arg === undefined && method === 'GET') sendJSON(req, res, 200, (await api.policy(name)).keys);
    else if (arg === undefined && method === 'POST') {
      const b = await readObject(req);
      sendJSON(req, res, 201, await api.addKey(name, str(b, 'name'), Buffer.from(str(b, 'data'), 'base64')));
    } else if (arg !== undefined && method === 'DELETE') {
      await api.removeKey(name, arg);
      send(req, res, 204, {});
    } else return false;
    return true;
  }
  if (what === 'projects' && name !== undefined && sub === 'artifacts' && method === 'GET') {
    sendJSON(req, res, 200, await api.artifacts(name));
    return true;
  }
  if (what === 'scans' && name === undefined) {
    if (method === 'GET') {
      const project = query.get('project');
      const repository = query.get('repository');
      sendJSON(
        req,
        res,
        200,
        await api.scans({ ...(project ? { project } : {}), ...(repository ? { repository } : {}) }),
      );
    } else if (method === 'POST') sendJSON(req, res, 202, await api.queueScan(str(await readObject(req), 'reference')));
    else return false;
    return true;
  }
  if (what === 'scans' && name === 'report' && method === 'GET') {
    const reference = query.get('reference');
    if (!reference) throw new InvalidArgumentError('"reference" is required');
    sendJSON(req, res, 200, await api.report(reference));
    return true;
  }
  if (what === 'scan-db' && name === undefined) {
    if (method === 'GET') sendJSON(req, res, 200, await api.dbInfo());
    else if (method === 'POST') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (type === 'application/zip') {
        await mkdir(dir, { recursive: true });
        const spool = join(dir, `import-${randomBytes(8).toString('hex')}.zip`);
        try {
          await pipeline(req, createWriteStream(spool, { mode: 0o600 }));
          sendJSON(req, res, 200, await api.importDb({ zip: spool }));
        } finally {
          await rm(spool, { force: true });
        }
      } else if (type === 'application/x-tar') sendJSON(req, res, 200, await api.importDb({ tar: req }));
      else
        throw new InvalidArgumentError(
          `send a ZIP (application/zip) or a tar of *.json (application/x-tar), not "${type}"`,
        );
    } else return false;
    return true;
  }
  return false;
}

const EXTENSION_RE = /^\/extensions\/v2\/(.+)\/signatures\/([^/]+)$/;
const NAME_SUFFIX_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** The signatures API extension (GPG simple signatures kept in the registry). */
export class SignatureExtension implements Handler {
  readonly #reg: Registry;
  readonly #gate: AuthGate;
  readonly #trust: TrustStore;

  constructor(reg: Registry, gate: AuthGate, trust: TrustStore) {
    this.#reg = reg;
    this.#gate = gate;
    this.#trust = trust;
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string, _q: URLSearchParams, base: string) {
    let scope: string | undefined;
    try {
      const m = EXTENSION_RE.exec(path);
      if (!m) throw new RegistryError('NAME_UNKNOWN', `no route for ${req.method} ${path}`, { status: 404 });
      const repo = checkName(m[1]!);
      const digest = checkDigest(decodeURIComponent(m[2]!));
      const method = req.method ?? 'GET';
      const push = method === 'PUT';
      scope = `repository:${repo}:${push ? 'pull,push' : 'pull'}`;
      const p = await this.#gate.authenticate(req.headers.authorization);
      await this.#gate.require(p, repo, push ? 'push' : 'pull');
      const repoId = await this.#reg.store.repoId(repo);
      if (repoId === undefined || !(await this.#reg.store.manifestByDigest(repo, digest)))
        throw manifestUnknown(digest);
      if (method === 'GET' || method === 'HEAD') {
        const sigs = await this.#trust.atomicSignatures(repoId, digest);
        return sendJSON(req, res, 200, {
          signatures: sigs.map((s) => ({
            schemaVersion: 2,
            name: s.name,
            type: 'atomic',
            content: s.content.toString('base64'),
          })),
        });
      }
      if (!push) throw new RegistryError('UNSUPPORTED', `method ${method} is not allowed here`, { status: 405 });
      await this.#put(req, res, repoId, digest);
    } catch (err) {
      const headers: Record<string, string> = {};
      if (err instanceof RegistryError && err.status === 401) {
        const c = this.#gate.challenge(base, scope);
        if (c) headers['WWW-Authenticate'] = c;
      }
      sendError(req, res, err, headers);
    }
  }

  async #put(req: IncomingMessage, res: ServerResponse, repoId: number, digest: Digest): Promise<void> {
    const invalid = (why: string) => new RegistryError('MANIFEST_INVALID', `invalid signature: ${why}`);
    let body: Record<string, unknown>;
    try {
      const b = await readBody(req, MAX_SIGNATURE);
      body = JSON.parse(b.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw invalid(errorMessage(err));
    }
    if (body.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
    if (body.type !== 'atomic') throw invalid(`type "${String(body.type)}" is not "atomic"`);
    const name = body.name;
    if (
      typeof name !== 'string' ||
      !name.startsWith(`${digest}@`) ||
      !NAME_SUFFIX_RE.test(name.slice(digest.length + 1))
    )
      throw invalid(`name must be "${digest}@<unique suffix>"`);
    const content = body.content;
    if (typeof content !== 'string' || content === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(content))
      throw invalid('content must be the signature, base64');
    if (!(await this.#trust.addAtomicSignature(repoId, digest, name, Buffer.from(content, 'base64'))))
      throw new RegistryError('DENIED', `a signature named "${name}" exists`, { status: 409 });
    send(req, res, 201, {});
  }
}
