import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { InvalidArgumentError, NotFoundError, errorMessage } from '../../util/errors.ts';
import type { SqlDb } from '../meta/sql.ts';
import type { RegistryEvent } from '../service.ts';
import { type DeliveryInfo, WEBHOOK_EVENTS, type WebhookEvent, type WebhookInfo, type WebhookInput } from './api.ts';
import { projectCandidates, projectNamed } from './projects.ts';

/** Harbor's event types, by Berth's event names. */
const HARBOR_TYPE: Record<WebhookEvent, string> = {
  push: 'PUSH_ARTIFACT',
  pull: 'PULL_ARTIFACT',
  delete: 'DELETE_ARTIFACT',
  scan: 'SCANNING_COMPLETED',
  quota: 'QUOTA_EXCEED',
  replication: 'REPLICATION',
};

/** The header with the body's HMAC-SHA256 under the hook's secret: `sha256=<hex>`. */
export const SIGNATURE_HEADER = 'X-Berth-Signature-256';

export interface WebhookOptions {
  /** Attempts before a delivery is recorded as failed (default 6). */
  attempts: number;
  /** Wait before the second attempt (ms, default 1000); doubled each time, at most 10 minutes. */
  backoffMs: number;
  /** An endpoint that has not answered in this time fails the attempt (ms, default 10 000). */
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = { attempts: 6, backoffMs: 1000, timeoutMs: 10_000 };

export function signature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function checkWebhookUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidArgumentError(`invalid webhook URL "${url}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new InvalidArgumentError(`invalid webhook URL "${url}": it must be http or https`);
  return u.href;
}

/** The webhook event an event is, if any: only manifests' pushes, pulls and deletes count. */
function eventOf(e: RegistryEvent): WebhookEvent | undefined {
  switch (e.action) {
    case 'push':
    case 'pull':
      return e.mediaType !== undefined ? e.action : undefined;
    case 'delete':
      return e.mediaType !== undefined || e.tag !== undefined ? 'delete' : undefined;
    case 'scan':
    case 'quota':
    case 'replication':
      return e.action;
    default:
      return undefined;
  }
}

/** Harbor's payload shape: `{type, occur_at, operator, event_data: {resources, repository}}`. */
export function payloadOf(event: WebhookEvent, e: RegistryEvent, isPublic: boolean): Record<string, unknown> {
  const i = e.repo.lastIndexOf('/');
  const resource: Record<string, unknown> = {};
  if (e.digest) resource.digest = e.digest;
  if (e.tag) resource.tag = e.tag;
  resource.resource_url = e.tag ? `${e.repo}:${e.tag}` : `${e.repo}@${e.digest}`;
  const data: Record<string, unknown> = {
    resources: [resource],
    repository: {
      name: i < 0 ? e.repo : e.repo.slice(i + 1),
      namespace: i < 0 ? '' : e.repo.slice(0, i),
      repo_full_name: e.repo,
      repo_type: isPublic ? 'public' : 'private',
    },
  };
  if (e.mediaType) resource.media_type = e.mediaType;
  if (e.detail) data.custom_attributes = e.detail;
  return { type: HARBOR_TYPE[event], occur_at: Math.floor(Date.now() / 1000), operator: e.actor, event_data: data };
}

interface HookRow {
  id: number;
  project: string;
  public: boolean;
  url: string;
  secret: string;
  events: WebhookEvent[];
}

interface DeliveryRow {
  id: number;
  hook_id: number;
  url: string;
  secret: string;
  event: string;
  payload: string;
  attempts: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
const HOOKS_TTL_MS = 1000;
const CLAIM = 16;

/**
 * Webhooks: per project, the events each wants, signed with its secret. An event becomes a delivery row queued
 * in the metadata (written after the push has been answered: nothing here is awaited by a request); a sender
 * claims due deliveries, POSTs them, and records the outcome — delivered, or retried with back-off until the
 * attempts are used up and the delivery is recorded as failed with the last status and error.
 */
export class Webhooks {
  readonly #db: SqlDb;
  readonly #opts: WebhookOptions;
  #hooks: { at: number; list: HookRow[] } | undefined;
  #queue: { hook: HookRow; event: WebhookEvent; payload: string }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #again = false;
  #closed = false;
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(db: SqlDb, opts: Partial<WebhookOptions> = {}) {
    this.#db = db;
    this.#opts = { ...DEFAULT_WEBHOOK_OPTIONS, ...opts };
  }

  async #allHooks(): Promise<HookRow[]> {
    const now = Date.now();
    if (this.#hooks && now - this.#hooks.at < HOOKS_TTL_MS) return this.#hooks.list;
    const rows = await this.#db.all<{
      id: number;
      project: string;
      public: number;
      url: string;
      secret: string;
      events: string;
    }>(
      `SELECT w.id, p.name AS project, p.public, w.url, w.secret, w.events FROM webhooks w
       JOIN projects p ON p.id = w.project_id ORDER BY w.id`,
    );
    const list = rows.map((r) => ({
      id: Number(r.id),
      project: r.project,
      public: Number(r.public) === 1,
      url: r.url,
      secret: r.secret,
      events: r.events.split(',') as WebhookEvent[],
    }));
    this.#hooks = { at: now, list };
    return list;
  }

  /** Takes a registry event: queues a delivery for each hook of the event's project that wants it. */
  onEvent(e: RegistryEvent): void {
    const event = eventOf(e);
    if (!event || this.#closed) return;
    const p = this.#allHooks().then(async (hooks) => {
      if (hooks.length === 0) return;
      const candidates = projectCandidates(e.repo);
      // The repository's project is the longest project name that is a prefix; hooks belong to projects.
      const projects = new Set(hooks.map((h) => h.project));
      let project = candidates.find((c) => projects.has(c));
      if (project !== undefined) {
        // A longer project without hooks would own the repository instead.
        const owner = await this.#ownerOf(e.repo);
        if (owner !== project) project = undefined;
      }
      if (project === undefined) return;
      for (const hook of hooks) {
        if (hook.project !== project || !hook.events.includes(event)) continue;
        this.#queue.push({ hook, event, payload: JSON.stringify(payloadOf(event, e, hook.public)) });
      }
      this.#schedule(0);
    });
    this.#track(p);
  }

  async #ownerOf(repo: string): Promise<string | undefined> {
    const names = projectCandidates(repo);
    const r = await this.#db.get<{ name: string }>(
      `SELECT name FROM projects WHERE name IN (${names.map(() => '?').join(', ')}) ORDER BY length(name) DESC LIMIT 1`,
      names,
    );
    return r?.name;
  }

  #track(p: Promise<unknown>): void {
    const q = p.catch(() => {});
    this.#inflight.add(q);
    void q.finally(() => this.#inflight.delete(q));
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    if (this.#timer) {
      if (ms > 0) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, ms);
    this.#timer.unref();
  }

  #pump(): void {
    if (this.#sending) {
      this.#again = true;
      return;
    }
    this.#sending = this.#sendDue()
      .catch(() => {})
      .finally(() => {
        this.#sending = undefined;
        if (this.#again) {
          this.#again = false;
          this.#schedule(0);
        }
      });
  }

  /** Writes the queued deliveries to the metadata (sent from there). */
  async #persist(): Promise<void> {
    const queued = this.#queue;
    this.#queue = [];
    if (queued.length === 0) return;
    const t = Date.now();
    await this.#db.tx(async (q) => {
      for (const d of queued)
        await q.run(
          `INSERT INTO webhook_deliveries (hook_id, event, payload, state, attempts, next_at, created_at)
           VALUES (?, ?, ?, 'pending', 0, ?, ?)`,
          [d.hook.id, d.event, d.payload, t, t],
        );
    });
  }

  /** Writes queued deliveries, then sends every due one; schedules itself for the next retry. */
  async #sendDue(): Promise<void> {
    await this.#persist();
    for (;;) {
      const now = Date.now();
      // Claimed deliveries are pushed past the timeout, so another process does not send them meanwhile.
      const claimed = await this.#db.tx((q) =>
        q.all<{ id: number }>(
          `UPDATE webhook_deliveries SET next_at = ? WHERE state = 'pending' AND next_at <= ? AND id IN (
             SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ${CLAIM})
           RETURNING id`,
          [now + this.#opts.timeoutMs * 2, now, now],
        ),
      );
      const due =
        claimed.length === 0
          ? []
          : await this.#db.all<DeliveryRow>(
              `SELECT d.id, d.hook_id, d.event, d.payload, d.attempts, w.url, w.secret
               FROM webhook_deliveries d JOIN webhooks w ON w.id = d.hook_id
               WHERE d.id IN (${claimed.map(() => '?').join(', ')})`,
              claimed.map((c) => c.id),
            );
      if (due.length === 0) break;
      await Promise.all(due.map((d) => this.#deliver(d)));
      if (this.#closed) return;
    }
    const next = await this.#db.get<{ at: number | null }>(
      `SELECT MIN(next_at) AS at FROM webhook_deliveries WHERE state = 'pending'`,
    );
    if (next?.at !== null && next?.at !== undefined)
      this.#schedule(Math.max(10, Math.min(Number(next.at) - Date.now(), 60_000)));
  }

  async #deliver(d: DeliveryRow): Promise<void> {
    let status: number | null = null;
    let error: string | null = null;
    try {
      status = await post(
        d.url,
        d.payload,
        {
          'Content-Type': 'application/json',
          'User-Agent': 'berth-registry',
          'X-Berth-Event': d.event,
          'X-Berth-Delivery': String(d.id),
          [SIGNATURE_HEADER]: signature(d.secret, d.payload),
        },
        this.#opts.timeoutMs,
      );
      if (status < 200 || status >= 300) error = `the endpoint answered ${status}`;
    } catch (err) {
      error = errorMessage(err);
    }
    const attempts = Number(d.attempts) + 1;
    const t = Date.now();
    if (error === null) {
      await this.#db.run(
        `UPDATE webhook_deliveries SET state = 'delivered', attempts = ?, last_status = ?, last_error = NULL,
         delivered_at = ? WHERE id = ?`,
        [attempts, status, t, d.id],
      );
      return;
    }
    const failed = attempts >= this.#opts.attempts;
    const wait = Math.min(this.#opts.backoffMs * 2 ** (attempts - 1), 600_000);
    await this.#db.run(
      'UPDATE webhook_deliveries SET state = ?, attempts = ?, last_status = ?, last_error = ?, next_at = ? WHERE id = ?',
      [failed ? 'failed' : 'pending', attempts, status, error, t + wait, d.id],
    );
  }

  /** Sends what is due, including what another process (a command on the same root) left pending. */
  poll(): void {
    this.#schedule(0);
  }

  /** Writes what is queued and lets the sends in progress finish; nothing is sent afterwards. */
  async close(): Promise<void> {
    await Promise.all([...this.#inflight]);
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#sending;
    await this.#persist();
  }

  // Administration

  async list(project: string): Promise<WebhookInfo[]> {
    const p = await projectNamed(this.#db, project);
    if (!p) throw new NotFoundError(`no project "${project}"`);
    const rows = await this.#db.all<{ id: number; url: string; events: string; created_at: number }>(
      'SELECT id, url, events, created_at FROM webhooks WHERE project_id = ? ORDER BY id',
      [p.id],
    );
    const counts = await this.#db.all<{ hook_id: number; state: string; n: number }>(
      `SELECT d.hook_id, d.state, COUNT(*) AS n FROM webhook_deliveries d JOIN webhooks w ON w.id = d.hook_id
       WHERE w.project_id = ? GROUP BY d.hook_id, d.state`,
      [p.id],
    );
    const count = (id: number, state: string) =>
      Number(counts.find((c) => Number(c.hook_id) === id && c.state === state)?.n ?? 0);
    return rows.map((r) => ({
      id: Number(r.id),
      project,
      url: r.url,
      events: r.events.split(',') as WebhookEvent[],
      createdAt: iso(Number(r.created_at))!,
      pending: count(Number(r.id), 'pending'),
      delivered: count(Number(r.id), 'delivered'),
      failed: count(Number(r.id), 'failed'),
    }));
  }

  async add(project: string, h: WebhookInput): Promise<WebhookInfo> {
    const url = checkWebhookUrl(h.url);
    if (!h.secret) throw new InvalidArgumentError('a webhook needs a secret (the key of its HMAC-SHA256 signature)');
    const events = h.events && h.events.length > 0 ? [...new Set(h.events)] : [...WEBHOOK_EVENTS];
    for (const e of events)
      if (!(WEBHOOK_EVENTS as readonly string[]).includes(e))
        throw new InvalidArgumentError(`unknown webhook event "${e}": ${WEBHOOK_EVENTS.join(', ')}`);
    const p = await projectNamed(this.#db, project);
    if (!p) throw new NotFoundError(`no project "${project}"`);
    const row = await this.#db.tx((q) =>
      q.get<{ id: number }>(
        'INSERT INTO webhooks (project_id, url, secret, events, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id',
        [p.id, url, h.secret, events.join(','), Date.now()],
      ),
    );
    this.#hooks = undefined;
    return (await this.list(project)).find((w) => w.id === Number(row!.id))!;
  }

  async remove(project: string, id: number): Promise<void> {
    const r = await this.#db.run(
      'DELETE FROM webhooks WHERE id = ? AND project_id = (SELECT id FROM projects WHERE name = ?)',
      [id, project],
    );
    if (r.changes === 0) throw new NotFoundError(`project "${project}" has no webhook ${id}`);
    this.#hooks = undefined;
  }

  async deliveries(project: string, f: { hookId?: number; state?: string; limit?: number }): Promise<DeliveryInfo[]> {
    const p = await projectNamed(this.#db, project);
    if (!p) throw new NotFoundError(`no project "${project}"`);
    const params: (string | number)[] = [p.id];
    let where = 'w.project_id = ?';
    if (f.hookId !== undefined) {
      where += ' AND d.hook_id = ?';
      params.push(f.hookId);
    }
    if (f.state !== undefined) {
      where += ' AND d.state = ?';
      params.push(f.state);
    }
    params.push(Math.min(f.limit ?? 100, 10_000));
    const rows = await this.#db.all<{
      id: number;
      hook_id: number;
      url: string;
      event: string;
      state: string;
      attempts: number;
      last_status: number | null;
      last_error: string | null;
      created_at: number;
      delivered_at: number | null;
    }>(
      `SELECT d.id, d.hook_id, w.url, d.event, d.state, d.attempts, d.last_status, d.last_error, d.created_at,
       d.delivered_at FROM webhook_deliveries d JOIN webhooks w ON w.id = d.hook_id WHERE ${where}
       ORDER BY d.id DESC LIMIT ?`,
      params,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      hookId: Number(r.hook_id),
      url: r.url,
      event: r.event,
      state: r.state as DeliveryInfo['state'],
      attempts: Number(r.attempts),
      lastStatus: r.last_status === null ? null : Number(r.last_status),
      lastError: r.last_error,
      createdAt: iso(Number(r.created_at))!,
      deliveredAt: iso(r.delivered_at),
    }));
  }
}

/** POSTs `body`; resolves with the status (the answer's body is read and dropped). */
function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(u, {
      method: 'POST',
      headers: { ...headers, 'Content-Length': Buffer.byteLength(body) },
      signal: AbortSignal.timeout(timeoutMs),
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      const e = err as { name?: string };
      reject(e.name === 'AbortError' ? new Error(`no answer within ${timeoutMs / 1000} s`) : err);
    });
    req.end(body);
  });
}
