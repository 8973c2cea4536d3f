import type { Severity } from '../../trust/index.ts';
import type { Digest } from '../../util/digest.ts';
import { AlreadyExistsError, NotFoundError } from '../../util/errors.ts';
import type { SqlDb, SqlValue } from '../meta/sql.ts';

/** When a project requires signatures: never, at pull (unsigned tags are kept but not served), or already at push. */
export type SignatureRule = 'off' | 'pull' | 'push';
export const SIGNATURE_RULES: readonly SignatureRule[] = ['off', 'pull', 'push'];

/** Severities in ascending order (trust/'s order; kept here so that checking a flag does not load trust/). */
export const SEVERITY_ORDER = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const satisfies readonly Severity[];

export function isSeverity(v: string): v is Severity {
  return (SEVERITY_ORDER as readonly string[]).includes(v);
}

/** A project's trust policy, as Harbor offers it per project. */
export interface TrustPolicy {
  requireSignatures: SignatureRule;
  scanOnPush: boolean;
  /** Pulls of images with a vulnerability at or above this severity are refused; null: never. */
  preventSeverity: Severity | null;
}

export const NO_POLICY: TrustPolicy = { requireSignatures: 'off', scanOnPush: false, preventSeverity: null };

export type KeyKind = 'cosign' | 'gpg';

/** A public key a project trusts: a cosign PEM, or an OpenPGP public key (base64 of its binary form). */
export interface TrustedKey {
  project: string;
  name: string;
  kind: KeyKind;
  data: string;
  /** The SHA-256 of the key's DER (cosign), or the OpenPGP fingerprint (gpg). */
  fingerprint: string;
  createdAt: number;
}

export type ScanStatus = 'queued' | 'running' | 'done' | 'error';

export interface ScanRecord {
  repo: string;
  repoId: number;
  digest: Digest;
  status: ScanStatus;
  queuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The digest of the report referrer. */
  report: string | null;
  counts: Record<Severity, number> | null;
  packages: number | null;
  error: string | null;
}

interface ScanRow {
  repo: string;
  repo_id: number;
  digest: Digest;
  status: string;
  queued_at: number;
  started_at: number | null;
  finished_at: number | null;
  report: string | null;
  counts: string | null;
  packages: number | null;
  error: string | null;
}

const SCAN_COLS = `r.name AS repo, s.repo_id, s.digest, s.status, s.queued_at, s.started_at, s.finished_at, s.report,
  s.counts, s.packages, s.error`;

function toScan(r: ScanRow): ScanRecord {
  const n = (v: number | null) => (v === null ? null : Number(v));
  return {
    repo: r.repo,
    repoId: Number(r.repo_id),
    digest: r.digest,
    status: r.status as ScanStatus,
    queuedAt: Number(r.queued_at),
    startedAt: n(r.started_at),
    finishedAt: n(r.finished_at),
    report: r.report,
    counts: r.counts === null ? null : (JSON.parse(r.counts) as Record<Severity, number>),
    packages: n(r.packages),
    error: r.error,
  };
}

/** The trust tables: project policies and keys, scans, and signatures kept through the signatures API extension. */
export class TrustStore {
  readonly db: SqlDb;
  constructor(db: SqlDb) {
    this.db = db;
  }

  async #projectId(name: string): Promise<number> {
    const p = await this.db.get<{ id: number }>('SELECT id FROM projects WHERE name = ?', [name]);
    if (!p) throw new NotFoundError(`no project "${name}"`);
    return Number(p.id);
  }

  /** Every project's policy, by project name (projects without one have NO_POLICY). */
  async policies(): Promise<Map<string, TrustPolicy>> {
    const rows = await this.db.all<{
      name: string;
      require_signatures: string | null;
      scan_on_push: number | null;
      prevent_severity: string | null;
    }>(
      `SELECT p.name, t.require_signatures, t.scan_on_push, t.prevent_severity FROM projects p
       LEFT JOIN project_trust t ON t.project_id = p.id`,
    );
    const out = new Map<string, TrustPolicy>();
    for (const r of rows) {
      const rule = r.require_signatures;
      out.set(r.name, {
        requireSignatures: rule === 'pull' || rule === 'push' ? rule : 'off',
        scanOnPush: Number(r.scan_on_push ?? 0) === 1,
        preventSeverity: r.prevent_severity && isSeverity(r.prevent_severity) ? r.prevent_severity : null,
      });
    }
    return out;
  }

  async policy(project: string): Promise<TrustPolicy> {
    await this.#projectId(project);
    return (await this.policies()).get(project) ?? NO_POLICY;
  }

  async setPolicy(project: string, p: TrustPolicy): Promise<void> {
    const id = await this.#projectId(project);
    await this.db.run(
      `INSERT INTO project_trust (project_id, require_signatures, scan_on_push, prevent_severity, updated_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (project_id) DO UPDATE SET require_signatures = excluded.require_signatures,
       scan_on_push = excluded.scan_on_push, prevent_severity = excluded.prevent_severity,
       updated_at = excluded.updated_at`,
      [id, p.requireSignatures, p.scanOnPush ? 1 : 0, p.preventSeverity, Date.now()],
    );
  }

  /** The keys of one project, or of every project. */
  async keys(project?: string): Promise<TrustedKey[]> {
    const rows = await this.db.all<{
      project: string;
      name: string;
      kind: string;
      data: string;
      fingerprint: string;
      created_at: number;
    }>(
      `SELECT p.name AS project, k.name, k.kind, k.data, k.fingerprint, k.created_at FROM project_keys k
       JOIN projects p ON p.id = k.project_id ${project !== undefined ? 'WHERE p.name = ?' : ''}
       ORDER BY p.name, k.name`,
      project !== undefined ? [project] : [],
    );
    return rows.map((r) => ({
      project: r.project,
      name: r.name,
      kind: r.kind === 'gpg' ? 'gpg' : 'cosign',
      data: r.data,
      fingerprint: r.fingerprint,
      createdAt: Number(r.created_at),
    }));
  }

  async addKey(k: Omit<TrustedKey, 'createdAt'>): Promise<void> {
    const id = await this.#projectId(k.project);
    await this.db.tx(async (q) => {
      if (await q.get('SELECT 1 AS x FROM project_keys WHERE project_id = ? AND name = ?', [id, k.name]))
        throw new AlreadyExistsError(`project "${k.project}" already has a key named "${k.name}"`);
      await q.run(
        'INSERT INTO project_keys (project_id, name, kind, data, fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        [id, k.name, k.kind, k.data, k.fingerprint, Date.now()],
      );
    });
  }

  async removeKey(project: string, name: string): Promise<void> {
    const id = await this.#projectId(project);
    const r = await this.db.run('DELETE FROM project_keys WHERE project_id = ? AND name = ?', [id, name]);
    if (r.changes === 0) throw new NotFoundError(`project "${project}" has no key named "${name}"`);
  }

  // Scans

  /**
   * Queues a scan of a manifest: a new row, or (with `again`) a finished scan queued anew. A scan queued or
   * running stays as it is. Returns whether anything was queued.
   */
  async enqueue(repoId: number, digest: Digest, again = false): Promise<boolean> {
    const t = Date.now();
    const r = await this.db.run(
      `INSERT INTO scans (repo_id, digest, status, queued_at) VALUES (?, ?, 'queued', ?)
       ON CONFLICT (repo_id, digest) DO ${
         again
           ? `UPDATE SET status = 'queued', queued_at = excluded.queued_at, started_at = NULL, finished_at = NULL,
              error = NULL WHERE scans.status IN ('done', 'error')`
           : 'NOTHING'
       }`,
      [repoId, digest, t],
    );
    return r.changes > 0;
  }

  /** Takes the oldest queued scan (atomically: another process may be taking scans too), or undefined. */
  async claim(): Promise<ScanRecord | undefined> {
    for (;;) {
      const row = await this.db.get<ScanRow>(
        `SELECT ${SCAN_COLS} FROM scans s JOIN repositories r ON r.id = s.repo_id WHERE s.status = 'queued'
         ORDER BY s.queued_at LIMIT 1`,
      );
      if (!row) return undefined;
      const t = Date.now();
      const r = await this.db.run(
        `UPDATE scans SET status = 'running', started_at = ? WHERE repo_id = ? AND digest = ? AND status = 'queued'`,
        [t, row.repo_id, row.digest],
      );
      if (r.changes === 1) return { ...toScan(row), status: 'running', startedAt: t };
    }
  }

  async finish(
    repoId: number,
    digest: Digest,
    result: { report: string; counts: Record<Severity, number>; packages: number } | { error: string },
  ): Promise<void> {
    const t = Date.now();
    if ('error' in result) {
      await this.db.run(
        `UPDATE scans SET status = 'error', finished_at = ?, error = ? WHERE repo_id = ? AND digest = ?`,
        [t, result.error.slice(0, 2000), repoId, digest],
      );
      return;
    }
    await this.db.run(
      `UPDATE scans SET status = 'done', finished_at = ?, report = ?, counts = ?, packages = ?, error = NULL
       WHERE repo_id = ? AND digest = ?`,
      [t, result.report, JSON.stringify(result.counts), result.packages, repoId, digest],
    );
  }

  /** Scans left `running` since before `before` (a process that stopped mid-scan) are queued again. */
  async requeueStale(before: number): Promise<number> {
    const r = await this.db.run(`UPDATE scans SET status = 'queued' WHERE status = 'running' AND started_at < ?`, [
      before,
    ]);
    return r.changes;
  }

  async scan(repoId: number, digest: Digest): Promise<ScanRecord | undefined> {
    const row = await this.db.get<ScanRow>(
      `SELECT ${SCAN_COLS} FROM scans s JOIN repositories r ON r.id = s.repo_id WHERE s.repo_id = ? AND s.digest = ?`,
      [repoId, digest],
    );
    return row && toScan(row);
  }

  /** Scans of one repository, or of the repositories under a name prefix, newest first. */
  async scans(filter: { repo?: string; prefix?: string; limit?: number } = {}): Promise<ScanRecord[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.repo !== undefined) {
      where.push('r.name = ?');
      params.push(filter.repo);
    }
    if (filter.prefix !== undefined) {
      where.push(`(r.name = ? OR r.name LIKE ? ESCAPE '\\')`);
      params.push(filter.prefix, `${filter.prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`);
    }
    params.push(filter.limit ?? 1000);
    const rows = await this.db.all<ScanRow>(
      `SELECT ${SCAN_COLS} FROM scans s JOIN repositories r ON r.id = s.repo_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.queued_at DESC LIMIT ?`,
      params,
    );
    return rows.map(toScan);
  }

  // GPG simple signatures (the signatures API extension)

  async atomicSignatures(repoId: number, digest: Digest): Promise<{ name: string; content: Buffer }[]> {
    const rows = await this.db.all<{ name: string; content: Uint8Array }>(
      'SELECT name, content FROM atomic_signatures WHERE repo_id = ? AND digest = ? ORDER BY created_at, name',
      [repoId, digest],
    );
    return rows.map((r) => ({ name: r.name, content: Buffer.from(r.content) }));
  }

  /** Adds a signature; false when one of that name exists. */
  async addAtomicSignature(repoId: number, digest: Digest, name: string, content: Buffer): Promise<boolean> {
    const r = await this.db.run(
      `INSERT INTO atomic_signatures (repo_id, digest, name, content, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (repo_id, digest, name) DO NOTHING`,
      [repoId, digest, name, content, Date.now()],
    );
    return r.changes > 0;
  }
}
