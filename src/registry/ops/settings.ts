import { InvalidArgumentError, NotFoundError, AlreadyExistsError } from '../../util/errors.ts';
import type { SqlDb } from '../meta/sql.ts';
import type { ImmutableRuleInfo, ProjectOpsInfo, ProjectSettings, ProxySettings } from './api.ts';
import { checkGlob } from './glob.ts';
import { projectNamed, projectUsage } from './projects.ts';

export const DEFAULT_PROXY_MAX_AGE_MS = 10 * 60_000;

const iso = (ms: number) => new Date(ms).toISOString();

/** A proxy project's upstream with its credentials, as the pull-through cache reads it. */
export interface ProxyRow {
  project: string;
  url: string;
  username: string | null;
  password: string | null;
  ca: string | null;
  insecure: boolean;
  maxAgeMs: number;
}

/** An upstream URL as given (`https://host[:port]`, `http://…`; a bare host means https), checked. */
export function checkRemoteUrl(url: string, what = 'upstream'): string {
  let u: URL;
  try {
    u = new URL(/^[a-z]+:\/\//i.test(url) ? url : `https://${url}`);
  } catch {
    throw new InvalidArgumentError(`invalid ${what} URL "${url}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new InvalidArgumentError(`invalid ${what} URL "${url}": it must be http or https`);
  if (u.pathname !== '/' || u.search !== '' || u.hash !== '')
    throw new InvalidArgumentError(`invalid ${what} URL "${url}": a registry is named by its scheme, host and port`);
  return u.origin;
}

async function requireProject(db: SqlDb, name: string) {
  const p = await projectNamed(db, name);
  if (!p) throw new NotFoundError(`no project "${name}"`);
  return p;
}

/** Quotas, proxies and immutable tag rules in the metadata. */
export class SettingsStore {
  readonly #db: SqlDb;
  constructor(db: SqlDb) {
    this.#db = db;
  }

  async info(name: string): Promise<ProjectOpsInfo> {
    const p = await requireProject(this.#db, name);
    const proxy = await this.proxy(name);
    return {
      name,
      quota: p.quota,
      usage: await projectUsage(this.#db, name),
      proxy: proxy
        ? { url: proxy.url, maxAgeMs: proxy.maxAgeMs, username: proxy.username, insecure: proxy.insecure }
        : null,
    };
  }

  async apply(name: string, s: ProjectSettings): Promise<void> {
    if (s.quota !== undefined && s.quota !== null && !(Number.isSafeInteger(s.quota) && s.quota >= 0))
      throw new InvalidArgumentError(`invalid quota ${s.quota}: a number of bytes`);
    const proxy = s.proxy ? checkProxy(s.proxy) : s.proxy;
    await this.#db.tx(async (q) => {
      const p = await q.get<{ id: number }>('SELECT id FROM projects WHERE name = ?', [name]);
      if (!p) throw new NotFoundError(`no project "${name}"`);
      if (s.quota !== undefined) await q.run('UPDATE projects SET quota_bytes = ? WHERE id = ?', [s.quota, p.id]);
      if (proxy === null) await q.run('DELETE FROM proxies WHERE project_id = ?', [p.id]);
      else if (proxy !== undefined)
        await q.run(
          `INSERT INTO proxies (project_id, url, username, password, ca, insecure, max_age_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (project_id) DO UPDATE SET url = excluded.url, username = excluded.username,
           password = excluded.password, ca = excluded.ca, insecure = excluded.insecure, max_age_ms = excluded.max_age_ms`,
          [
            p.id,
            proxy.url,
            proxy.username ?? null,
            proxy.password ?? null,
            proxy.ca ?? null,
            proxy.insecure ? 1 : 0,
            proxy.maxAgeMs ?? DEFAULT_PROXY_MAX_AGE_MS,
          ],
        );
    });
  }

  async proxy(project: string): Promise<ProxyRow | undefined> {
    return (await this.proxies()).find((p) => p.project === project);
  }

  /** Every proxy project with its upstream. */
  async proxies(): Promise<ProxyRow[]> {
    const rows = await this.#db.all<{
      name: string;
      url: string;
      username: string | null;
      password: string | null;
      ca: string | null;
      insecure: number;
      max_age_ms: number;
    }>(
      `SELECT p.name, x.url, x.username, x.password, x.ca, x.insecure, x.max_age_ms
       FROM proxies x JOIN projects p ON p.id = x.project_id ORDER BY p.name`,
    );
    return rows.map((r) => ({
      project: r.name,
      url: r.url,
      username: r.username,
      password: r.password,
      ca: r.ca,
      insecure: Number(r.insecure) === 1,
      maxAgeMs: Number(r.max_age_ms),
    }));
  }

  async immutableRules(project: string): Promise<ImmutableRuleInfo[]> {
    const p = await requireProject(this.#db, project);
    const rows = await this.#db.all<{ id: number; pattern: string; created_at: number }>(
      'SELECT id, pattern, created_at FROM immutable_rules WHERE project_id = ? ORDER BY id',
      [p.id],
    );
    return rows.map((r) => ({ id: Number(r.id), project, pattern: r.pattern, createdAt: iso(Number(r.created_at)) }));
  }

  async addImmutable(project: string, pattern: string): Promise<ImmutableRuleInfo> {
    const i = pattern.lastIndexOf(':');
    if (i >= 0) {
      checkGlob(pattern.slice(0, i), 'repository pattern');
      checkGlob(pattern.slice(i + 1), 'tag pattern');
    } else checkGlob(pattern, 'tag pattern');
    const p = await requireProject(this.#db, project);
    await this.#db.tx(async (q) => {
      if (await q.get('SELECT 1 AS x FROM immutable_rules WHERE project_id = ? AND pattern = ?', [p.id, pattern]))
        throw new AlreadyExistsError(`project "${project}" already has the immutable rule "${pattern}"`);
      await q.run('INSERT INTO immutable_rules (project_id, pattern, created_at) VALUES (?, ?, ?)', [
        p.id,
        pattern,
        Date.now(),
      ]);
    });
    return (await this.immutableRules(project)).find((r) => r.pattern === pattern)!;
  }

  async removeImmutable(project: string, rule: string): Promise<void> {
    const p = await requireProject(this.#db, project);
    const byId = /^\d+$/.test(rule);
    const r = await this.#db.run(
      `DELETE FROM immutable_rules WHERE project_id = ? AND ${byId ? 'id' : 'pattern'} = ?`,
      [p.id, byId ? Number(rule) : rule],
    );
    if (r.changes === 0) throw new NotFoundError(`project "${project}" has no immutable rule "${rule}"`);
  }
}

function checkProxy(p: ProxySettings): ProxySettings {
  const out: ProxySettings = { ...p, url: checkRemoteUrl(p.url) };
  if (p.maxAgeMs !== undefined && !(Number.isSafeInteger(p.maxAgeMs) && p.maxAgeMs >= 0))
    throw new InvalidArgumentError(`invalid revalidation age ${p.maxAgeMs}`);
  return out;
}
