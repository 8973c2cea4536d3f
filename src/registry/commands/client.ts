import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import {
  AlreadyExistsError,
  BerthError,
  FailedPreconditionError,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  UnauthorizedError,
  UnavailableError,
} from '../../util/errors.ts';
import type { AdminApi, GcOptions, GcReport, NewRobot, ProjectInfo, RobotInfo, UserInfo } from '../admin.ts';
import type { Membership, Role } from '../meta/access.ts';
import type {
  AuditEntry,
  AuditQuery,
  DeliveryInfo,
  ExecutionInfo,
  ExecutionItem,
  ImmutableRuleInfo,
  ProjectOpsInfo,
  ProjectSettings,
  ReplicationRuleInfo,
  ReplicationRuleInput,
  RetentionReport,
  RetentionRuleInfo,
  RetentionRuleInput,
  WebhookInfo,
  WebhookInput,
} from '../ops/api.ts';

const enc = encodeURIComponent;

/** Where a running registry's admin API is, and the credentials to call it with. */
export interface AdminTarget {
  base: URL;
  auth: string | undefined;
  tls: { ca?: Buffer; rejectUnauthorized: boolean };
}

export function adminTarget(
  url: string,
  creds: { username: string; password: string } | undefined,
  tls: { ca?: Buffer; insecure?: boolean } = {},
): AdminTarget {
  return {
    base: new URL(url.includes('://') ? url : `https://${url}`),
    auth: creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined,
    tls: { ...(tls.ca ? { ca: tls.ca } : {}), rejectUnauthorized: tls.insecure !== true },
  };
}

/**
 * One admin API call: `body` is sent as JSON, or as is with its content type (`raw`, a buffer or a stream); the
 * answer's JSON, or the error its status and message say.
 */
export function adminCall<T>(
  t: AdminTarget,
  method: string,
  path: string,
  body?: unknown,
  raw?: { type: string; body: Buffer | Readable },
): Promise<T> {
  const url = new URL(`/admin/v1/${path}`, t.base);
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string | number> = { Accept: 'application/json' };
  if (t.auth) headers.Authorization = t.auth;
  if (data) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = data.length;
  } else if (raw) headers['Content-Type'] = raw.type;
  return new Promise((resolve, reject) => {
    const opts = { method, headers, ...(url.protocol === 'https:' ? t.tls : {}) };
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
      reject(new UnavailableError(`cannot reach the registry at ${t.base.origin}: ${err.message}`)),
    );
    if (raw && !Buffer.isBuffer(raw.body)) raw.body.pipe(req);
    else req.end(data ?? raw?.body);
  });
}

/**
 * The admin API of a running registry, over HTTP(S) with Basic credentials: what `--url` uses. Only the wire: who
 * may do what, and what each operation does, is decided on the server by the in-process implementations of the
 * same interfaces (`OpsService` in ops/service.ts, `AdminService` in admin.ts), which `--root` calls directly.
 */
export class AdminClient implements AdminApi {
  readonly #target: AdminTarget;

  constructor(
    url: string,
    creds: { username: string; password: string } | undefined,
    tls: { ca?: Buffer; insecure?: boolean } = {},
  ) {
    this.#target = adminTarget(url, creds, tls);
  }

  #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return adminCall(this.#target, method, path, body);
  }

  users(): Promise<UserInfo[]> {
    return this.#call('GET', 'users');
  }
  async addUser(name: string, password: string, admin: boolean): Promise<void> {
    await this.#call('POST', 'users', { name, password, admin });
  }
  async removeUser(name: string): Promise<void> {
    await this.#call('DELETE', `users/${enc(name)}`);
  }
  async setPassword(name: string, password: string): Promise<void> {
    await this.#call('PUT', `users/${enc(name)}/password`, { password });
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
    await this.#call('DELETE', `robots/${enc(name)}`);
  }
  projects(): Promise<ProjectInfo[]> {
    return this.#call('GET', 'projects');
  }
  async createProject(name: string, isPublic: boolean, settings: ProjectSettings = {}): Promise<void> {
    await this.#call('POST', 'projects', { name, public: isPublic, ...settings });
  }
  async removeProject(name: string): Promise<void> {
    await this.#call('DELETE', `projects/${enc(name)}`);
  }
  members(project: string): Promise<Membership[]> {
    return this.#call('GET', `projects/${enc(project)}/members`);
  }
  async grant(account: string, project: string, role: Role): Promise<void> {
    await this.#call('PUT', `projects/${enc(project)}/members/${enc(account)}`, { role });
  }
  async revoke(account: string, project: string, role?: Role): Promise<void> {
    const q = role ? `?role=${enc(role)}` : '';
    await this.#call('DELETE', `projects/${enc(project)}/members/${enc(account)}${q}`);
  }
  gc(opts: GcOptions): Promise<GcReport> {
    return this.#call('POST', 'gc', opts);
  }

  projectOps(name: string): Promise<ProjectOpsInfo> {
    return this.#call('GET', `projects/${enc(name)}/settings`);
  }
  async setProject(name: string, settings: ProjectSettings): Promise<void> {
    await this.#call('PUT', `projects/${enc(name)}/settings`, settings);
  }
  immutableRules(project: string): Promise<ImmutableRuleInfo[]> {
    return this.#call('GET', `projects/${enc(project)}/immutable`);
  }
  addImmutable(project: string, pattern: string): Promise<ImmutableRuleInfo> {
    return this.#call('POST', `projects/${enc(project)}/immutable`, { pattern });
  }
  async removeImmutable(project: string, rule: string): Promise<void> {
    await this.#call('DELETE', `projects/${enc(project)}/immutable/${enc(rule)}`);
  }
  retentionRules(project: string): Promise<RetentionRuleInfo[]> {
    return this.#call('GET', `projects/${enc(project)}/retention`);
  }
  addRetention(project: string, rule: RetentionRuleInput, force?: boolean): Promise<RetentionRuleInfo> {
    return this.#call('POST', `projects/${enc(project)}/retention`, { ...rule, force: force === true });
  }
  async removeRetention(project: string, id: number): Promise<void> {
    await this.#call('DELETE', `projects/${enc(project)}/retention/${id}`);
  }
  runRetention(project: string, opts: { dryRun?: boolean; force?: boolean }): Promise<RetentionReport> {
    return this.#call('POST', `projects/${enc(project)}/retention/run`, opts);
  }
  webhooks(project: string): Promise<WebhookInfo[]> {
    return this.#call('GET', `projects/${enc(project)}/webhooks`);
  }
  addWebhook(project: string, hook: WebhookInput): Promise<WebhookInfo> {
    return this.#call('POST', `projects/${enc(project)}/webhooks`, hook);
  }
  async removeWebhook(project: string, id: number): Promise<void> {
    await this.#call('DELETE', `projects/${enc(project)}/webhooks/${id}`);
  }
  deliveries(project: string, opts: { hookId?: number; state?: string; limit?: number }): Promise<DeliveryInfo[]> {
    const q = new URLSearchParams();
    if (opts.hookId !== undefined) q.set('hook', String(opts.hookId));
    if (opts.state !== undefined) q.set('state', opts.state);
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    return this.#call('GET', `projects/${enc(project)}/webhooks/deliveries?${q}`);
  }
  audit(f: AuditQuery): Promise<AuditEntry[]> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v !== undefined) q.set(k, String(v));
    return this.#call('GET', `audit?${q}`);
  }
  replicationRules(): Promise<ReplicationRuleInfo[]> {
    return this.#call('GET', 'replication');
  }
  addReplication(rule: ReplicationRuleInput): Promise<ReplicationRuleInfo> {
    return this.#call('POST', 'replication', rule);
  }
  async removeReplication(name: string): Promise<void> {
    await this.#call('DELETE', `replication/${enc(name)}`);
  }
  runReplication(name: string, opts: { wait?: boolean }): Promise<ExecutionInfo> {
    return this.#call('POST', `replication/${enc(name)}/run`, opts);
  }
  executions(name: string, limit?: number): Promise<ExecutionInfo[]> {
    return this.#call('GET', `replication/${enc(name)}/executions${limit !== undefined ? `?limit=${limit}` : ''}`);
  }
  execution(id: number): Promise<{ execution: ExecutionInfo; items: ExecutionItem[] }> {
    return this.#call('GET', `replication/executions/${id}`);
  }
}

export function errorFor(status: number, message: string): BerthError {
  if (status === 404) return new NotFoundError(message);
  if (status === 409) return new AlreadyExistsError(message);
  if (status === 400) return new InvalidArgumentError(message);
  if (status === 401) return new UnauthorizedError(message);
  if (status === 403) return new ForbiddenError(message);
  if (status === 412) return new FailedPreconditionError(message);
  if (status === 501) return new NotImplementedError(message);
  return new BerthError(message);
}
