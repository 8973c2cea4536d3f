import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  AlreadyExistsError,
  BerthError,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from '../../util/errors.ts';
import type { AdminApi, GcOptions, GcReport, NewRobot, ProjectInfo, RobotInfo, UserInfo } from '../admin.ts';
import type { Membership, Role } from '../meta/access.ts';

/** The admin API of a running registry, over HTTP(S) with Basic credentials: what `--url` uses. */
export class AdminClient implements AdminApi {
  readonly #base: URL;
  readonly #auth: string | undefined;
  readonly #tls: { ca?: Buffer; rejectUnauthorized: boolean };

  constructor(
    url: string,
    creds: { username: string; password: string } | undefined,
    tls: { ca?: Buffer; insecure?: boolean } = {},
  ) {
    this.#base = new URL(url.includes('://') ? url : `https://${url}`);
    this.#auth = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    this.#tls = { ...(tls.ca ? { ca: tls.ca } : {}), rejectUnauthorized: tls.insecure !== true };
  }

  #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(`/admin/v1/${path}`, this.#base);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { Accept: 'application/json' };
    if (this.#auth) headers.Authorization = this.#auth;
    if (data) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = data.length;
    }
    return new Promise((resolve, reject) => {
      const opts = { method, headers, ...(url.protocol === 'https:' ? this.#tls : {}) };
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let value: unknown;
          try {
            value = text === '' ? undefined : JSON.parse(text);
          } catch {
            value = undefined;
          }
          if (status >= 200 && status < 300) return resolve(value as T);
          const message = (value as { message?: string } | undefined)?.message ?? `${status} ${text.slice(0, 200)}`;
          reject(errorFor(status, message));
        });
        res.on('error', reject);
      });
      req.on('error', (err) =>
        reject(new UnavailableError(`cannot reach the registry at ${this.#base.origin}: ${err.message}`)),
      );
      req.end(data);
    });
  }

  users(): Promise<UserInfo[]> {
    return this.#call('GET', 'users');
  }
  async addUser(name: string, password: string, admin: boolean): Promise<void> {
    await this.#call('POST', 'users', { name, password, admin });
  }
  async removeUser(name: string): Promise<void> {
    await this.#call('DELETE', `users/${encodeURIComponent(name)}`);
  }
  async setPassword(name: string, password: string): Promise<void> {
    await this.#call('PUT', `users/${encodeURIComponent(name)}/password`, { password });
  }
  robots(): Promise<RobotInfo[]> {
    return this.#call('GET', 'robots');
  }
  addRobot(
    name: string,
    opts: { project: string; role: Role; expiresInMs?: number; description?: string },
  ): Promise<NewRobot> {
    return this.#call('POST', 'robots', { name, ...opts });
  }
  async removeRobot(name: string): Promise<void> {
    await this.#call('DELETE', `robots/${encodeURIComponent(name)}`);
  }
  projects(): Promise<ProjectInfo[]> {
    return this.#call('GET', 'projects');
  }
  async createProject(name: string, isPublic: boolean): Promise<void> {
    await this.#call('POST', 'projects', { name, public: isPublic });
  }
  async removeProject(name: string): Promise<void> {
    await this.#call('DELETE', `projects/${encodeURIComponent(name)}`);
  }
  members(project: string): Promise<Membership[]> {
    return this.#call('GET', `projects/${encodeURIComponent(project)}/members`);
  }
  async grant(account: string, project: string, role: Role): Promise<void> {
    await this.#call('PUT', `projects/${encodeURIComponent(project)}/members/${encodeURIComponent(account)}`, { role });
  }
  async revoke(account: string, project: string, role?: Role): Promise<void> {
    const q = role ? `?role=${encodeURIComponent(role)}` : '';
    await this.#call('DELETE', `projects/${encodeURIComponent(project)}/members/${encodeURIComponent(account)}${q}`);
  }
  gc(opts: GcOptions): Promise<GcReport> {
    return this.#call('POST', 'gc', opts);
  }
}

function errorFor(status: number, message: string): BerthError {
  if (status === 404) return new NotFoundError(message);
  if (status === 409) return new AlreadyExistsError(message);
  if (status === 400) return new InvalidArgumentError(message);
  if (status === 401) return new UnauthorizedError(message);
  if (status === 403) return new ForbiddenError(message);
  return new BerthError(message);
}
