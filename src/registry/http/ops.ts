import { InvalidArgumentError } from '../../util/errors.ts';
import type {
  AuditQuery,
  OpsApi,
  ProjectSettings,
  ProxySettings,
  RemoteInput,
  ReplicationRuleInput,
  RetentionRuleInput,
  WebhookEvent,
} from '../ops/api.ts';

/** An admin API answer: a status and, unless 204, a JSON value. */
export interface OpsAnswer {
  status: number;
  value?: unknown;
}

type Body = Record<string, unknown>;

const num = (v: unknown, k: string): number | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw new InvalidArgumentError(`"${k}" must be a number`);
  return v;
};
const str = (v: unknown, k: string): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new InvalidArgumentError(`"${k}" must be a string`);
  return v;
};
const need = <T>(v: T | undefined, k: string): T => {
  if (v === undefined) throw new InvalidArgumentError(`"${k}" is required`);
  return v;
};
const intParam = (q: URLSearchParams, k: string): number | undefined => {
  const v = q.get(k);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`invalid ${k} "${v}"`);
  return n;
};

/** Project settings from a JSON body: `quota` (bytes or null) and `proxy` (`{url, username, …}` or null). */
export function settingsOf(body: Body): ProjectSettings {
  const s: ProjectSettings = {};
  if ('quota' in body) s.quota = body.quota === null ? null : need(num(body.quota, 'quota'), 'quota');
  if ('proxy' in body) {
    if (body.proxy === null) s.proxy = null;
    else {
      const p = body.proxy as Body;
      if (typeof p !== 'object') throw new InvalidArgumentError('"proxy" must be an object');
      const proxy: ProxySettings = { url: need(str(p.url, 'proxy.url'), 'proxy.url') };
      const u = str(p.username, 'proxy.username');
      const pw = str(p.password, 'proxy.password');
      const age = num(p.maxAgeMs, 'proxy.maxAgeMs');
      const ca = str(p.ca, 'proxy.ca');
      if (u !== undefined) proxy.username = u;
      if (pw !== undefined) proxy.password = pw;
      if (age !== undefined) proxy.maxAgeMs = age;
      if (ca !== undefined) proxy.ca = ca;
      if (p.insecure === true) proxy.insecure = true;
      s.proxy = proxy;
    }
  }
  return s;
}

function remoteOf(v: unknown): RemoteInput {
  const r = v as Body;
  if (typeof r !== 'object' || r === null) throw new InvalidArgumentError('"remote" must be an object');
  const out: RemoteInput = { url: need(str(r.url, 'remote.url'), 'remote.url') };
  const u = str(r.username, 'remote.username');
  const p = str(r.password, 'remote.password');
  const ca = str(r.ca, 'remote.ca');
  const t = num(r.timeoutMs, 'remote.timeoutMs');
  if (u !== undefined) out.username = u;
  if (p !== undefined) out.password = p;
  if (ca !== undefined) out.ca = ca;
  if (t !== undefined) out.timeoutMs = t;
  if (r.insecure === true) out.insecure = true;
  return out;
}

/**
 * The operations' routes of the admin API, under `/admin/v1/`: `projects/NAME/settings|immutable|retention|
 * webhooks…`, `audit`, `replication…`. Undefined when the path is none of them.
 */
export async function routeOps(
  api: OpsApi,
  method: string,
  parts: string[],
  query: URLSearchParams,
  body: Body,
): Promise<OpsAnswer | undefined> {
  const [what, name, sub, arg, more] = parts;
  const ok = (value: unknown, status = 200): OpsAnswer => ({ status, value });
  const none: OpsAnswer = { status: 204 };
  if (what === 'projects' && name !== undefined) {
    if (sub === 'settings' && arg === undefined) {
      if (method === 'GET') return ok(await api.projectOps(name));
      if (method === 'PUT') {
        await api.setProject(name, settingsOf(body));
        return none;
      }
    }
    if (sub === 'immutable') {
      if (arg === undefined && method === 'GET') return ok(await api.immutableRules(name));
      if (arg === undefined && method === 'POST')
        return ok(await api.addImmutable(name, need(str(body.pattern, 'pattern'), 'pattern')), 201);
      if (arg !== undefined && method === 'DELETE') {
        await api.removeImmutable(name, arg);
        return none;
      }
    }
    if (sub === 'retention') {
      if (arg === undefined && method === 'GET') return ok(await api.retentionRules(name));
      if (arg === undefined && method === 'POST') {
        const rule: RetentionRuleInput = { keepLast: need(num(body.keepLast, 'keepLast'), 'keepLast') };
        const days = num(body.keepPulledDays, 'keepPulledDays');
        const match = str(body.match, 'match');
        const schedule = str(body.schedule, 'schedule');
        if (days !== undefined) rule.keepPulledDays = days;
        if (match !== undefined) rule.match = match;
        if (schedule !== undefined) rule.schedule = schedule;
        return ok(await api.addRetention(name, rule, body.force === true), 201);
      }
      if (arg === 'run' && method === 'POST')
        return ok(await api.runRetention(name, { dryRun: body.dryRun === true, force: body.force === true }));
      if (arg !== undefined && method === 'DELETE') {
        await api.removeRetention(name, Number(arg));
        return none;
      }
    }
    if (sub === 'webhooks') {
      if (arg === undefined && method === 'GET') return ok(await api.webhooks(name));
      if (arg === undefined && method === 'POST') {
        const events = body.events;
        if (events !== undefined && !Array.isArray(events))
          throw new InvalidArgumentError('"events" must be a list of event names');
        return ok(
          await api.addWebhook(name, {
            url: need(str(body.url, 'url'), 'url'),
            secret: need(str(body.secret, 'secret'), 'secret'),
            ...(events ? { events: events as WebhookEvent[] } : {}),
          }),
          201,
        );
      }
      if (arg === 'deliveries' && method === 'GET') {
        const hookId = intParam(query, 'hook');
        const limit = intParam(query, 'limit');
        const state = query.get('state');
        return ok(
          await api.deliveries(name, {
            ...(hookId !== undefined ? { hookId } : {}),
            ...(limit !== undefined ? { limit } : {}),
            ...(state ? { state } : {}),
          }),
        );
      }
      if (arg !== undefined && more === undefined && method === 'DELETE') {
        await api.removeWebhook(name, Number(arg));
        return none;
      }
    }
    return undefined;
  }
  if (what === 'audit' && name === undefined && method === 'GET') {
    const q: AuditQuery = {};
    for (const k of ['repo', 'actor', 'action'] as const) {
      const v = query.get(k);
      if (v) q[k] = v;
    }
    for (const k of ['since', 'until', 'limit'] as const) {
      const v = intParam(query, k);
      if (v !== undefined) q[k] = v;
    }
    return ok(await api.audit(q));
  }
  if (what === 'replication') {
    if (name === undefined && method === 'GET') return ok(await api.replicationRules());
    if (name === undefined && method === 'POST') {
      const direction = str(body.direction, 'direction');
      if (direction !== 'push' && direction !== 'pull')
        throw new InvalidArgumentError(`invalid direction "${direction ?? ''}": push or pull`);
      const rule: ReplicationRuleInput = {
        name: need(str(body.name, 'name'), 'name'),
        direction,
        remote: remoteOf(body.remote),
        repo: need(str(body.repo, 'repo'), 'repo'),
        trigger: str(body.trigger, 'trigger') ?? 'manual',
      };
      const tag = str(body.tag, 'tag');
      const label = str(body.label, 'label');
      const prefix = str(body.destPrefix, 'destPrefix');
      if (tag !== undefined) rule.tag = tag;
      if (label !== undefined) rule.label = label;
      if (prefix !== undefined) rule.destPrefix = prefix;
      if (body.deletes === true) rule.deletes = true;
      return ok(await api.addReplication(rule), 201);
    }
    if (name === 'executions' && sub !== undefined && method === 'GET') return ok(await api.execution(Number(sub)));
    if (name !== undefined && sub === undefined && method === 'DELETE') {
      await api.removeReplication(name);
      return none;
    }
    if (name !== undefined && sub === 'run' && method === 'POST')
      return ok(await api.runReplication(name, { wait: body.wait === true }), body.wait === true ? 200 : 202);
    if (name !== undefined && sub === 'executions' && method === 'GET')
      return ok(await api.executions(name, intParam(query, 'limit')));
  }
  return undefined;
}
