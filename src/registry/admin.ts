import { ForbiddenError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import type { Principal } from './auth/gate.ts';
import { hashPassword, newSecret } from './auth/passwords.ts';
import { type Policy, ROBOT_PREFIX, roleAtLeast } from './auth/policy.ts';
import { type AccessStore, isRole, type Membership, type Role } from './meta/access.ts';
import { isRepositoryName } from './names.ts';
import type { OpsApi, ProjectSettings } from './ops/api.ts';
import { type OpsParts, OpsService } from './ops/service.ts';

export interface UserInfo {
  name: string;
  admin: boolean;
  createdAt: string;
}
export interface RobotInfo {
  name: string;
  expiresAt: string | null;
  description: string;
  createdAt: string;
  roles: { project: string; role: Role }[];
}
export interface ProjectInfo {
  name: string;
  public: boolean;
  createdAt: string;
  /** Bytes the project may hold (null: no limit), and holds. */
  quota: number | null;
  usage: number;
  /** The upstream, for a pull-through cache project. */
  proxy: string | null;
}
export interface NewRobot {
  name: string;
  secret: string;
  expiresAt: string | null;
}
export interface GcOptions {
  dryRun?: boolean;
  deleteUntagged?: boolean;
  /** Overrides the configured grace window (ms). */
  graceMs?: number;
}
export interface GcReport {
  dryRun: boolean;
  manifests: { repo: string; digest: string; size: number }[];
  blobs: { digest: string; size: number }[];
  links: number;
  uploads: number;
  /** Blobs in storage without a metadata row, removed (scrub.ts). */
  orphans: { digest: string; size: number }[];
  /** Blobs an interrupted upload had committed, linked to its repository. */
  adopted: { digest: string; size: number; repo: string }[];
  bytes: number;
  markMs: number;
  sweepMs: number;
}

/**
 * The registry's administration: what the admin HTTP API serves and what `berth registry user|robot|project|grant|
 * revoke|gc` do, either in-process on a root (`--root`) or through that API (`--url`, `AdminClient`).
 */
export interface AdminApi extends OpsApi {
  users(): Promise<UserInfo[]>;
  addUser(name: string, password: string, admin: boolean): Promise<void>;
  removeUser(name: string): Promise<void>;
  setPassword(name: string, password: string): Promise<void>;
  robots(): Promise<RobotInfo[]>;
  addRobot(
    name: string,
    opts: { project: string; role: Role; expiresInMs?: number; description?: string },
  ): Promise<NewRobot>;
  removeRobot(name: string): Promise<void>;
  projects(): Promise<ProjectInfo[]>;
  createProject(name: string, isPublic: boolean, settings?: ProjectSettings): Promise<void>;
  removeProject(name: string): Promise<void>;
  members(project: string): Promise<Membership[]>;
  grant(account: string, project: string, role: Role): Promise<void>;
  revoke(account: string, project: string, role?: Role): Promise<void>;
  gc(opts: GcOptions): Promise<GcReport>;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

function checkAccountName(name: string): void {
  if (!NAME_RE.test(name))
    throw new InvalidArgumentError(`invalid name "${name}": letters, digits, ".", "_", "@" and "-", at most 64`);
}

/** `ci` and `robot$ci` both name the robot `robot$ci`. */
export function robotName(name: string): string {
  return name.startsWith(ROBOT_PREFIX) ? name : `${ROBOT_PREFIX}${name}`;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The admin operations with the permissions of `principal` (registry admins all; project admins their projects). */
export class AdminService extends OpsService implements AdminApi {
  readonly #access: AccessStore;
  readonly #policy: Policy;
  readonly #p: Principal;
  readonly #gc: (o: GcOptions) => Promise<GcReport>;
  readonly #ops: OpsParts;

  constructor(
    access: AccessStore,
    policy: Policy,
    principal: Principal,
    gc: (o: GcOptions) => Promise<GcReport>,
    ops: OpsParts,
  ) {
    super(ops, principal);
    this.#ops = ops;
    this.#access = access;
    this.#policy = policy;
    this.#p = principal;
    this.#gc = gc;
  }

  #requireAdmin(): void {
    if (!this.#p.admin) throw new ForbiddenError('only a registry administrator may do this');
  }

  async #requireProjectAdmin(project: string): Promise<void> {
    if (this.#p.admin) return;
    if (!roleAtLeast(await this.#policy.role(this.#p.name, project), 'admin'))
      throw new ForbiddenError(`only an admin of project "${project}" may do this`);
  }

  #changed(): void {
    this.#policy.invalidate();
  }

  async users(): Promise<UserInfo[]> {
    this.#requireAdmin();
    return (await this.#access.accounts('user')).map((a) => ({
      name: a.name,
      admin: a.admin,
      createdAt: iso(a.createdAt)!,
    }));
  }

  async addUser(name: string, password: string, admin: boolean): Promise<void> {
    this.#requireAdmin();
    checkAccountName(name);
    await this.#access.addAccount({
      name,
      kind: 'user',
      secret: await hashPassword(password),
      admin,
      expiresAt: null,
      description: '',
    });
    this.#changed();
  }

  async removeUser(name: string): Promise<void> {
    this.#requireAdmin();
    await this.#access.removeAccount(name, 'user');
    this.#changed();
  }

  async setPassword(name: string, password: string): Promise<void> {
    if (!this.#p.admin && this.#p.name !== name)
      throw new ForbiddenError('only an administrator may change another password');
    const a = await this.#access.account(name);
    if (a?.kind !== 'user') throw new NotFoundError(`no user "${name}"`);
    await this.#access.setSecret(name, await hashPassword(password));
    this.#changed();
  }

  async robots(): Promise<RobotInfo[]> {
    const members = await this.#access.memberships();
    const out: RobotInfo[] = [];
    for (const r of await this.#access.accounts('robot')) {
      const roles = members.filter((m) => m.account === r.name).map((m) => ({ project: m.project, role: m.role }));
      if (!this.#p.admin) {
        let visible = false;
        for (const x of roles)
          if (roleAtLeast(await this.#policy.role(this.#p.name, x.project), 'admin')) visible = true;
        if (!visible) continue;
      }
      out.push({
        name: r.name,
        expiresAt: iso(r.expiresAt),
        description: r.description,
        createdAt: iso(r.createdAt)!,
        roles,
      });
    }
    return out;
  }

  async addRobot(
    name: string,
    opts: { project: string; role: Role; expiresInMs?: number; description?: string },
  ): Promise<NewRobot> {
    await this.#requireProjectAdmin(opts.project);
    checkAccountName(name.startsWith(ROBOT_PREFIX) ? name.slice(ROBOT_PREFIX.length) : name);
    if (!isRole(opts.role)) throw new InvalidArgumentError(`invalid role "${opts.role}": pull, push, delete or admin`);
    if (!(await this.#access.projects()).some((p) => p.name === opts.project))
      throw new NotFoundError(`no project "${opts.project}"`);
    const full = robotName(name);
    const { secret, hash } = newSecret();
    const expiresAt = opts.expiresInMs !== undefined ? Date.now() + opts.expiresInMs : null;
    await this.#access.addAccount({
      name: full,
      kind: 'robot',
      secret: hash,
      admin: false,
      expiresAt,
      description: opts.description ?? '',
    });
    await this.#access.grant(full, opts.project, opts.role);
    this.#changed();
    return { name: full, secret, expiresAt: iso(expiresAt) };
  }

  async removeRobot(name: string): Promise<void> {
    const full = robotName(name);
    if (!this.#p.admin) {
      const roles = await this.#access.memberships({ account: full });
      let ok = false;
      for (const m of roles) if (roleAtLeast(await this.#policy.role(this.#p.name, m.project), 'admin')) ok = true;
      if (!ok)
        throw new ForbiddenError(`only an administrator or an admin of the robot's project may remove "${full}"`);
    }
    await this.#access.removeAccount(full, 'robot');
    this.#changed();
  }

  async projects(): Promise<ProjectInfo[]> {
    const all = await this.#access.projects();
    const mine = this.#p.admin
      ? undefined
      : new Set((await this.#access.memberships({ account: this.#p.name })).map((m) => m.project));
    const out: ProjectInfo[] = [];
    for (const p of all) {
      if (mine && !p.public && !mine.has(p.name)) continue;
      const ops = await this.#ops.settings.info(p.name);
      out.push({
        name: p.name,
        public: p.public,
        createdAt: iso(p.createdAt)!,
        quota: ops.quota,
        usage: ops.usage,
        proxy: ops.proxy?.url ?? null,
      });
    }
    return out;
  }

  async createProject(name: string, isPublic: boolean, settings: ProjectSettings = {}): Promise<void> {
    this.#requireAdmin();
    if (!isRepositoryName(name))
      throw new InvalidArgumentError(`invalid project name "${name}": it must be a repository name prefix`);
    await this.#access.createProject(name, isPublic);
    if (settings.quota !== undefined || settings.proxy !== undefined) {
      try {
        await this.#ops.settings.apply(name, settings);
      } catch (err) {
        // Nothing half-made: a project whose settings are refused is not left behind.
        await this.#access.removeProject(name);
        throw err;
      }
    }
    this.#changed();
  }

  async removeProject(name: string): Promise<void> {
    this.#requireAdmin();
    await this.#access.removeProject(name);
    this.#changed();
  }

  async members(project: string): Promise<Membership[]> {
    await this.#requireProjectAdmin(project);
    return this.#access.memberships({ project });
  }

  async grant(account: string, project: string, role: Role): Promise<void> {
    if (!isRole(role)) throw new InvalidArgumentError(`invalid role "${role}": pull, push, delete or admin`);
    await this.#requireProjectAdmin(project);
    await this.#access.grant(account, project, role);
    this.#changed();
  }

  async revoke(account: string, project: string, role?: Role): Promise<void> {
    if (role !== undefined && !isRole(role)) throw new InvalidArgumentError(`invalid role "${role}"`);
    await this.#requireProjectAdmin(project);
    await this.#access.revoke(account, project, role);
    this.#changed();
  }

  async gc(opts: GcOptions): Promise<GcReport> {
    this.#requireAdmin();
    return this.#gc(opts);
  }
}
