import type { IncomingMessage, ServerResponse } from 'node:http';
import { BerthError, InvalidArgumentError, NotFoundError, errorMessage } from '../../util/errors.ts';
import type { AdminApi } from '../admin.ts';
import type { AuthGate, Principal } from '../auth/gate.ts';
import type { Role } from '../meta/access.ts';
import { RegistryError } from '../errors.ts';
import type { Handler } from './server.ts';
import { routeOps, settingsOf } from './ops.ts';
import { send, sendJSON } from './respond.ts';

/** Status of an admin API failure: the kinds of BerthError, as the Engine API maps them. */
export function adminStatus(err: unknown): number {
  if (err instanceof RegistryError) return err.status;
  if (!(err instanceof BerthError)) return 500;
  switch (err.code) {
    case 'NOT_FOUND':
      return 404;
    case 'ALREADY_EXISTS':
    case 'CONFLICT':
      return 409;
    case 'INVALID_ARGUMENT':
      return 400;
    case 'UNAUTHORIZED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'FAILED_PRECONDITION':
      return 412;
    case 'NOT_IMPLEMENTED':
      return 501;
    default:
      return 500;
  }
}

/**
 * The admin HTTP API (JSON) under `/admin/v1/`: users, robots, projects, members and garbage collection, with the
 * caller's permissions (Basic or bearer credentials, as on the distribution API; everyone is an administrator
 * under `--auth none`).
 */
/** More admin routes (the trust policies'): serves the request and resolves true when `parts` names one. */
export type AdminRoutes = (
  p: Principal,
  req: IncomingMessage,
  res: ServerResponse,
  parts: string[],
  query: URLSearchParams,
) => Promise<boolean>;

export class AdminHttp implements Handler {
  readonly #gate: AuthGate;
  readonly #admin: (p: Principal) => AdminApi;
  readonly #more: AdminRoutes | undefined;

  constructor(gate: AuthGate, admin: (p: Principal) => AdminApi, more?: AdminRoutes) {
    this.#gate = gate;
    this.#admin = admin;
    this.#more = more;
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    base: string,
  ): Promise<void> {
    try {
      let p = await this.#gate.authenticate(req.headers.authorization);
      if (this.#gate.mode === 'none') p = { ...p, admin: true };
      else if (p.kind === 'anonymous') throw new RegistryError('UNAUTHORIZED', 'authentication required');
      const api = this.#admin(p);
      const parts = path
        .slice('/admin/v1/'.length)
        .split('/')
        .map((s) => decodeURIComponent(s));
      if (!path.startsWith('/admin/v1/')) throw new NotFoundError(`no admin route ${path}`);
      if (this.#more && (await this.#more(p, req, res, parts, query))) return;
      const method = req.method ?? 'GET';
      const body = method === 'POST' || method === 'PUT' ? await readJSON(req) : {};
      const [what, name, sub, arg] = parts;
      const str = (k: string): string => {
        const v = body[k];
        if (typeof v !== 'string') throw new InvalidArgumentError(`"${k}" is required`);
        return v;
      };
      if (what === 'users' && name === undefined) {
        if (method === 'GET') return sendJSON(req, res, 200, await api.users());
        if (method === 'POST') {
          await api.addUser(str('name'), str('password'), body.admin === true);
          return send(req, res, 201, {});
        }
      }
      if (what === 'users' && name !== undefined) {
        if (method === 'DELETE' && sub === undefined) return await done(req, res, api.removeUser(name));
        if (method === 'PUT' && sub === 'password') return await done(req, res, api.setPassword(name, str('password')));
      }
      if (what === 'robots' && name === undefined) {
        if (method === 'GET') return sendJSON(req, res, 200, await api.robots());
        if (method === 'POST') {
          const expires = body.expiresInMs;
          const robot = await api.addRobot(str('name'), {
            project: str('project'),
            role: str('role') as Role,
            ...(typeof expires === 'number' ? { expiresInMs: expires } : {}),
            ...(typeof body.description === 'string' ? { description: body.description } : {}),
          });
          return sendJSON(req, res, 201, robot);
        }
      }
      if (what === 'robots' && name !== undefined && method === 'DELETE')
        return await done(req, res, api.removeRobot(name));
      if (what === 'projects' && name === undefined) {
        if (method === 'GET') return sendJSON(req, res, 200, await api.projects());
        if (method === 'POST') {
          await api.createProject(str('name'), body.public === true, settingsOf(body));
          return send(req, res, 201, {});
        }
      }
      if (what === 'projects' && name !== undefined) {
        if (sub === undefined && method === 'DELETE') return await done(req, res, api.removeProject(name));
        if (sub === 'members' && arg === undefined && method === 'GET')
          return sendJSON(req, res, 200, await api.members(name));
        if (sub === 'members' && arg !== undefined && method === 'PUT')
          return await done(req, res, api.grant(arg, name, str('role') as Role));
        if (sub === 'members' && arg !== undefined && method === 'DELETE') {
          const role = query.get('role');
          return await done(req, res, api.revoke(arg, name, (role ?? undefined) as Role | undefined));
        }
      }
      if (what === 'gc' && method === 'POST') {
        return sendJSON(
          req,
          res,
          200,
          await api.gc({
            dryRun: body.dryRun === true,
            deleteUntagged: body.deleteUntagged === true,
            ...(typeof body.graceMs === 'number' ? { graceMs: body.graceMs } : {}),
          }),
        );
      }
      const answer = await routeOps(api, method, parts, query, body);
      if (answer?.status === 204) return send(req, res, 204, {});
      if (answer) return sendJSON(req, res, answer.status, answer.value);
      throw new NotFoundError(`no admin route ${method} ${path}`);
    } catch (err) {
      const status = adminStatus(err);
      const headers: Record<string, string> = {};
      if (status === 401) {
        const c = this.#gate.challenge(base);
        if (c) headers['WWW-Authenticate'] = c;
      }
      sendJSON(req, res, status, { message: errorMessage(err) }, headers);
    }
  }
}

async function done(req: IncomingMessage, res: ServerResponse, work: Promise<void>): Promise<void> {
  await work;
  send(req, res, 204, {});
}

async function readJSON(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > 1 << 20) throw new InvalidArgumentError('request body too large');
    chunks.push(c as Buffer);
  }
  if (n === 0) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new InvalidArgumentError(`request body is not a JSON object: ${errorMessage(err)}`);
  }
}
