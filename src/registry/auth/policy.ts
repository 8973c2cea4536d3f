import { type Account, type AccessStore, type Project, ROLES, type Role } from '../meta/access.ts';
import type { Action, Principal } from './gate.ts';
import { checkPassword, secretVersion } from './passwords.ts';

/** How long what was read from the metadata (accounts, roles, projects) is trusted before it is read again. */
const TTL_MS = 1000;

const ALL: ReadonlySet<Action> = new Set<Action>(['pull', 'push', 'delete']);

const ACTIONS_OF: Record<Role, Action[]> = {
  pull: ['pull'],
  push: ['pull', 'push'],
  delete: ['pull', 'push', 'delete'],
  admin: ['pull', 'push', 'delete'],
};

/** `robot$NAME`: how robot accounts are named, as Harbor names them. */
export const ROBOT_PREFIX = 'robot$';

/**
 * Who may do what, from the metadata: accounts, projects (repository-name prefixes, the longest that matches
 * wins), roles (pull < push < delete < admin, each including the ones before) and public projects (anyone may
 * pull). Reads are cached for a second, so a revoked robot or role stops working within one.
 */
export class Policy {
  readonly access: AccessStore;
  #projects: { at: number; list: Project[] } | undefined;
  readonly #accounts = new Map<string, { at: number; account: Account | undefined }>();
  readonly #roles = new Map<string, { at: number; roles: Map<string, Role> }>();
  /** Basic credentials already checked: sha256 of the header → account name and secret version. */
  readonly #checked = new Map<string, { at: number; name: string; version: string }>();
  readonly #allowed = new Map<string, { at: number; set: ReadonlySet<Action> }>();

  constructor(access: AccessStore) {
    this.access = access;
  }

  /** Bumped by every `invalidate()`: caches elsewhere compare it to know they are stale. */
  generation = 0;

  /** Forgets what was cached (after an admin change in this process). */
  invalidate(): void {
    this.generation++;
    this.#projects = undefined;
    this.#accounts.clear();
    this.#roles.clear();
    this.#allowed.clear();
  }

  async projects(): Promise<Project[]> {
    const now = Date.now();
    if (!this.#projects || now - this.#projects.at > TTL_MS)
      this.#projects = { at: now, list: await this.access.projects() };
    return this.#projects.list;
  }

  /** The project a repository belongs to: the longest project name equal to it or a prefix of it at a `/`. */
  async projectOf(repo: string): Promise<Project | undefined> {
    let best: Project | undefined;
    for (const p of await this.projects()) {
      if ((repo === p.name || repo.startsWith(`${p.name}/`)) && (!best || p.name.length > best.name.length)) best = p;
    }
    return best;
  }

  /** A usable account: present, and (robots) not expired. */
  async account(name: string): Promise<Account | undefined> {
    const now = Date.now();
    let c = this.#accounts.get(name);
    if (!c || now - c.at > TTL_MS) {
      c = { at: now, account: await this.access.account(name) };
      this.#accounts.set(name, c);
    }
    const a = c.account;
    if (a && a.expiresAt !== null && a.expiresAt <= now) return undefined;
    return a;
  }

  async #rolesOf(name: string): Promise<Map<string, Role>> {
    const now = Date.now();
    let c = this.#roles.get(name);
    if (!c || now - c.at > TTL_MS) {
      const roles = new Map<string, Role>();
      for (const m of await this.access.memberships({ account: name })) roles.set(m.project, m.role);
      c = { at: now, roles };
      this.#roles.set(name, c);
    }
    return c.roles;
  }

  /** The role of `name` in `project`, if any. */
  async role(name: string, project: string): Promise<Role | undefined> {
    return (await this.#rolesOf(name)).get(project);
  }

  /** What `p` may do on `repo` now, whatever any token says (remembered for a second: every request asks). */
  async allowed(p: Principal, repo: string): Promise<ReadonlySet<Action>> {
    if (p.admin) return ALL;
    const key = `${p.kind}\0${p.name}\0${repo}`;
    const now = Date.now();
    const c = this.#allowed.get(key);
    if (c && now - c.at <= TTL_MS) return c.set;
    const set = await this.#compute(p, repo);
    if (this.#allowed.size > 10_000) this.#allowed.clear();
    this.#allowed.set(key, { at: now, set });
    return set;
  }

  async #compute(p: Principal, repo: string): Promise<ReadonlySet<Action>> {
    const project = await this.projectOf(repo);
    const out = new Set<Action>();
    if (!project) return out;
    if (project.public) out.add('pull');
    if (p.kind === 'anonymous') return out;
    const role = await this.role(p.name, project.name);
    if (role) for (const a of ACTIONS_OF[role]) out.add(a);
    return out;
  }

  /** Checks a name and password (or robot secret); the account, or undefined. Successes are remembered a minute. */
  async login(name: string, password: string, cacheKey?: string): Promise<Account | undefined> {
    const account = await this.account(name);
    if (!account) return undefined;
    const version = secretVersion(account.secret);
    const now = Date.now();
    if (cacheKey) {
      const c = this.#checked.get(cacheKey);
      if (c && c.name === name && c.version === version && now - c.at < 60_000) return account;
    }
    if (!(await checkPassword(password, account.secret))) return undefined;
    if (cacheKey) {
      if (this.#checked.size > 10_000) this.#checked.clear();
      this.#checked.set(cacheKey, { at: now, name, version });
    }
    return account;
  }
}

export function principalOf(a: Account): Principal {
  return { name: a.name, kind: a.kind, admin: a.admin };
}

export function roleAtLeast(role: Role | undefined, want: Role): boolean {
  return role !== undefined && ROLES.indexOf(role) >= ROLES.indexOf(want);
}
