import type { SqlDb, SqlValue } from '../meta/sql.ts';
import type { RegistryEvent } from '../service.ts';
import type { AuditEntry, AuditQuery } from './api.ts';

/** How often buffered entries are written (ms), and how many make a write happen at once. */
const FLUSH_MS = 250;
const FLUSH_AT = 1000;
const MAX_QUERY = 10_000;

/** One entry before it is written. */
export interface AuditRecord {
  at: number;
  actor: string;
  address?: string | undefined;
  action: string;
  repo?: string | undefined;
  reference?: string | undefined;
  digest?: string | undefined;
  detail?: string | undefined;
}

/**
 * The audit log: who pushed, pulled or deleted which manifest or tag, when and from which address, plus what
 * retention and replication did. Entries are buffered and written in one transaction every quarter second, so a
 * push or pull never waits for the log; the same write notes each pulled tag's `pulled_at` (retention's "pulled
 * within D days"). Entries older than the configured time are purged by `purge`.
 */
export class AuditLog {
  readonly #db: SqlDb;
  readonly #pulls: boolean;
  #buffer: AuditRecord[] = [];
  /** repo → tag or digest pulled → when. */
  #pulled = new Map<string, Map<string, number>>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  /** `pulls: false` keeps pulls out of the log (they still count for retention). */
  constructor(db: SqlDb, opts: { pulls?: boolean } = {}) {
    this.#db = db;
    this.#pulls = opts.pulls ?? true;
  }

  /** Takes a registry event: manifest pushes, pulls and deletes (blob traffic is not logged). */
  onEvent(e: RegistryEvent): void {
    const manifest = e.mediaType !== undefined;
    if (e.action === 'pull') {
      let m = this.#pulled.get(e.repo);
      if (!m) this.#pulled.set(e.repo, (m = new Map()));
      m.set(e.tag ?? e.digest, Date.now());
      if (!this.#pulls) {
        this.#schedule();
        return;
      }
    } else if ((e.action === 'push' || e.action === 'delete') && !manifest && !e.tag) return;
    else if (e.action === 'mount') return;
    this.add({
      at: Date.now(),
      actor: e.actor,
      address: e.address,
      action: e.action,
      repo: e.repo,
      reference: e.tag,
      digest: e.digest || undefined,
      detail: e.detail ? JSON.stringify(e.detail) : undefined,
    });
  }

  add(r: AuditRecord): void {
    this.#buffer.push(r);
    if (this.#buffer.length >= FLUSH_AT) void this.flush();
    else this.#schedule();
  }

  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, FLUSH_MS);
    this.#timer.unref();
  }

  /** Writes what is buffered (errors are reported by the returned promise and not retried). */
  flush(): Promise<void> {
    const rows = this.#buffer;
    const pulled = this.#pulled;
    this.#buffer = [];
    this.#pulled = new Map();
    if (rows.length === 0 && pulled.size === 0) return this.#flushing;
    const run = async () => {
      await this.#db.tx(async (q) => {
        for (const r of rows)
          await q.run(
            `INSERT INTO audit_log (at, actor, address, action, repo, reference, digest, detail)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
            [
              r.at,
              r.actor,
              r.address ?? null,
              r.action,
              r.repo ?? null,
              r.reference ?? null,
              r.digest ?? null,
              r.detail ?? null,
            ],
          );
        for (const [repo, refs] of pulled) {
          const id = await q.get<{ id: number }>('SELECT id FROM repositories WHERE name = ?', [repo]);
          if (!id) continue;
          for (const [ref, at] of refs) {
            const col = ref.includes(':') ? 'digest' : 'name';
            await q.run(`UPDATE tags SET pulled_at = ? WHERE repo_id = ? AND ${col} = ?`, [at, id.id, ref]);
          }
        }
      });
    };
    this.#flushing = this.#flushing.then(run, run);
    return this.#flushing;
  }

  async query(f: AuditQuery): Promise<AuditEntry[]> {
    await this.flush().catch(() => {});
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (f.repo !== undefined) {
      // A repository, or every repository under a project (`team` matches `team` and `team/…`).
      where.push('(repo = ? OR substr(repo, 1, ?) = ?)');
      params.push(f.repo, f.repo.length + 1, `${f.repo}/`);
    }
    if (f.actor !== undefined) {
      where.push('actor = ?');
      params.push(f.actor);
    }
    if (f.action !== undefined) {
      where.push('action = ?');
      params.push(f.action);
    }
    if (f.since !== undefined) {
      where.push('at >= ?');
      params.push(f.since);
    }
    if (f.until !== undefined) {
      where.push('at <= ?');
      params.push(f.until);
    }
    params.push(Math.min(f.limit ?? 1000, MAX_QUERY));
    const rows = await this.#db.all<{
      id: number;
      at: number;
      actor: string;
      address: string | null;
      action: string;
      repo: string | null;
      reference: string | null;
      digest: string | null;
      detail: string | null;
    }>(
      `SELECT id, at, actor, address, action, repo, reference, digest, detail FROM audit_log
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
      params,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      at: new Date(Number(r.at)).toISOString(),
      actor: r.actor,
      address: r.address,
      action: r.action,
      repo: r.repo,
      reference: r.reference,
      digest: r.digest,
      detail: r.detail,
    }));
  }

  /** Deletes entries older than `keepMs`; returns how many went. */
  async purge(keepMs: number): Promise<number> {
    return (await this.#db.run('DELETE FROM audit_log WHERE at < ?', [Date.now() - keepMs])).changes;
  }

  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush().catch(() => {});
  }
}
