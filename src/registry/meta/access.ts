import { AlreadyExistsError, NotFoundError } from '../../util/errors.ts';
import type { SqlDb } from './sql.ts';

export type Role = 'pull' | 'push' | 'delete' | 'admin';
/** Each role includes the ones before it. */
export const ROLES: readonly Role[] = ['pull', 'push', 'delete', 'admin'];

export function isRole(v: string): v is Role {
  return (ROLES as readonly string[]).includes(v);
}

export interface Account {
  id: number;
  name: string;
  kind: 'user' | 'robot';
  /** The password hash (users) or the secret's hash (robots). */
  secret: string;
  admin: boolean;
  expiresAt: number | null;
  description: string;
  createdAt: number;
}

export interface Project {
  id: number;
  name: string;
  public: boolean;
  createdAt: number;
}

export interface Membership {
  project: string;
  account: string;
  kind: 'user' | 'robot';
  role: Role;
}

interface AccountRow {
  id: number;
  name: string;
  kind: string;
  secret: string;
  admin: number;
  expires_at: number | null;
  description: string;
  created_at: number;
}

function toAccount(r: AccountRow): Account {
  return {
    id: Number(r.id),
    name: r.name,
    kind: r.kind === 'robot' ? 'robot' : 'user',
    secret: r.secret,
    admin: Number(r.admin) === 1,
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    description: r.description,
    createdAt: Number(r.created_at),
  };
}

const ACCOUNT_COLS = 'id, name, kind, secret, admin, expires_at, description, created_at';

/** Users, robot accounts, projects and roles, and the registry's own settings (its token signing key). */
export class AccessStore {
  readonly db: SqlDb;
  constructor(db: SqlDb) {
    this.db = db;
  }

  async setting(name: string): Promise<string | undefined> {
    return (await this.db.get<{ value: string }>('SELECT value FROM settings WHERE name = ?', [name]))?.value;
  }

  /** Stores `value` unless the setting exists; returns the value that is stored (another process may have won). */
  async settingOnce(name: string, value: string): Promise<string> {
    await this.db.run('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', [name, value]);
    return (await this.setting(name))!;
  }

  async hasUsers(): Promise<boolean> {
    return (await this.db.get(`SELECT 1 AS x FROM users WHERE kind = 'user' LIMIT 1`)) !== undefined;
  }

  async account(name: string): Promise<Account | undefined> {
    const r = await this.db.get<AccountRow>(`SELECT ${ACCOUNT_COLS} FROM users WHERE name = ?`, [name]);
    return r && toAccount(r);
  }

  async accounts(kind: 'user' | 'robot'): Promise<Account[]> {
    const rows = await this.db.all<AccountRow>(`SELECT ${ACCOUNT_COLS} FROM users WHERE kind = ? ORDER BY name`, [
      kind,
    ]);
    return rows.map(toAccount);
  }

  async addAccount(a: Omit<Account, 'id' | 'createdAt'>): Promise<void> {
    await this.db.tx(async (q) => {
      if (await q.get('SELECT 1 AS x FROM users WHERE name = ?', [a.name]))
        throw new AlreadyExistsError(`${a.kind} "${a.name}" already exists`);
      await q.run(
        'INSERT INTO users (name, kind, secret, admin, expires_at, description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [a.name, a.kind, a.secret, a.admin ? 1 : 0, a.expiresAt, a.description, Date.now()],
      );
    });
  }

  async setSecret(name: string, secret: string): Promise<void> {
    const r = await this.db.run('UPDATE users SET secret = ? WHERE name = ?', [secret, name]);
    if (r.changes === 0) throw new NotFoundError(`no user "${name}"`);
  }

  async removeAccount(name: string, kind: 'user' | 'robot'): Promise<void> {
    const r = await this.db.run('DELETE FROM users WHERE name = ? AND kind = ?', [name, kind]);
    if (r.changes === 0) throw new NotFoundError(`no ${kind} "${name}"`);
  }

  async projects(): Promise<Project[]> {
    const rows = await this.db.all<{ id: number; name: string; public: number; created_at: number }>(
      'SELECT id, name, public, created_at FROM projects ORDER BY name',
    );
    return rows.map((r) => ({
      id: Number(r.id),
      name: r.name,
      public: Number(r.public) === 1,
      createdAt: Number(r.created_at),
    }));
  }

  async createProject(name: string, isPublic: boolean): Promise<void> {
    await this.db.tx(async (q) => {
      if (await q.get('SELECT 1 AS x FROM projects WHERE name = ?', [name]))
        throw new AlreadyExistsError(`project "${name}" already exists`);
      await q.run('INSERT INTO projects (name, public, created_at) VALUES (?, ?, ?)', [
        name,
        isPublic ? 1 : 0,
        Date.now(),
      ]);
    });
  }

  async removeProject(name: string): Promise<void> {
    const r = await this.db.run('DELETE FROM projects WHERE name = ?', [name]);
    if (r.changes === 0) throw new NotFoundError(`no project "${name}"`);
  }

  /** Gives `account` the role in `project`, replacing the role it had there. */
  async grant(account: string, project: string, role: Role): Promise<void> {
    await this.db.tx(async (q) => {
      const u = await q.get<{ id: number }>('SELECT id FROM users WHERE name = ?', [account]);
      if (!u) throw new NotFoundError(`no user or robot "${account}"`);
      const p = await q.get<{ id: number }>('SELECT id FROM projects WHERE name = ?', [project]);
      if (!p) throw new NotFoundError(`no project "${project}"`);
      await q.run(
        `INSERT INTO members (project_id, user_id, role) VALUES (?, ?, ?)
         ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role`,
        [p.id, u.id, role],
      );
    });
  }

  /** Takes `account`'s role in `project` away (only when it is `role`, if given). */
  async revoke(account: string, project: string, role?: Role): Promise<void> {
    const r = await this.db.run(
      `DELETE FROM members WHERE user_id = (SELECT id FROM users WHERE name = ?)
       AND project_id = (SELECT id FROM projects WHERE name = ?)${role ? ' AND role = ?' : ''}`,
      role ? [account, project, role] : [account, project],
    );
    if (r.changes === 0)
      throw new NotFoundError(`"${account}" has no${role ? ` ${role}` : ''} role in project "${project}"`);
  }

  async memberships(filter: { project?: string; account?: string } = {}): Promise<Membership[]> {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.project !== undefined) {
      where.push('p.name = ?');
      params.push(filter.project);
    }
    if (filter.account !== undefined) {
      where.push('u.name = ?');
      params.push(filter.account);
    }
    const rows = await this.db.all<{ project: string; account: string; kind: string; role: string }>(
      `SELECT p.name AS project, u.name AS account, u.kind, m.role FROM members m
       JOIN projects p ON p.id = m.project_id JOIN users u ON u.id = m.user_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY p.name, u.name`,
      params,
    );
    return rows.map((r) => ({
      project: r.project,
      account: r.account,
      kind: r.kind === 'robot' ? 'robot' : 'user',
      role: isRole(r.role) ? r.role : 'pull',
    }));
  }
}
