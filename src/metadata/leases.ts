import type { MetadataDB } from './db.ts';

/** What a lease keeps: a blob of the content store (by digest) or a snapshot (by key). */
export type LeaseResourceKind = 'content' | 'snapshot';

export interface LeaseRecord {
  id: string;
  /** Milliseconds since the epoch. */
  created: number;
  /**
   * Until when the lease keeps its resources once its operation is gone (its process died): null for a lease
   * that keeps nothing after its operation, which start-up repair deletes.
   */
  expires: number | null;
}

/**
 * Leases, after containerd's: an operation in progress (a load, a pull) holds one, and every resource it adds is
 * a root of garbage collection until the lease is deleted, so that blobs written before their image is recorded
 * survive a collection. The lease and each resource are written as they happen, so a crash leaves them here; what
 * becomes of them then is the lease's `expires` (see `repair`).
 */
export class LeaseRecords {
  readonly #m: MetadataDB;
  constructor(m: MetadataDB) {
    this.#m = m;
  }

  create(lease: LeaseRecord): void {
    this.#m
      .prepare('INSERT INTO leases (id, created, expires) VALUES (?, ?, ?)')
      .run(lease.id, lease.created, lease.expires);
  }

  get(id: string): LeaseRecord | undefined {
    const r = this.#m.prepare('SELECT id, created, expires FROM leases WHERE id = ?').get(id) as
      | { id: string; created: number; expires: number | null }
      | undefined;
    return r ? { id: r.id, created: r.created, expires: r.expires } : undefined;
  }

  all(): LeaseRecord[] {
    return this.#m.prepare('SELECT id, created, expires FROM leases ORDER BY created, id').all() as {
      id: string;
      created: number;
      expires: number | null;
    }[];
  }

  /** Adds a resource to a lease (once: adding it again does nothing). */
  add(id: string, kind: LeaseResourceKind, ref: string): void {
    this.#m.prepare('INSERT OR IGNORE INTO lease_resources (lease, kind, ref) VALUES (?, ?, ?)').run(id, kind, ref);
  }

  /** A lease's resources of one kind. */
  resourcesOf(id: string, kind: LeaseResourceKind): string[] {
    const rows = this.#m
      .prepare('SELECT ref FROM lease_resources WHERE lease = ? AND kind = ? ORDER BY ref')
      .all(id, kind) as { ref: string }[];
    return rows.map((r) => r.ref);
  }

  /** Deletes a lease and its resources. */
  delete(id: string): void {
    this.#m.prepare('DELETE FROM leases WHERE id = ?').run(id);
  }

  /**
   * The resources of one kind that leases in force at `now` keep: leases without an expiry (their operation is
   * running) and those expiring after `now`.
   */
  kept(kind: LeaseResourceKind, now: number): Set<string> {
    const rows = this.#m
      .prepare(
        'SELECT DISTINCT r.ref FROM lease_resources r JOIN leases l ON l.id = r.lease WHERE r.kind = ? AND (l.expires IS NULL OR l.expires > ?)',
      )
      .all(kind, now) as { ref: string }[];
    return new Set(rows.map((r) => r.ref));
  }

  /** Deletes the leases that expired at `now`; returns how many. */
  expire(now: number): number {
    const res = this.#m.prepare('DELETE FROM leases WHERE expires IS NOT NULL AND expires <= ?').run(now);
    return Number(res.changes);
  }

  /**
   * At start, before any operation: the leases a crash left. Those without an expiry belonged to operations that
   * died with the previous process and are deleted; those with one stay until it passes. Returns how many were
   * deleted, and the resources of each kind that the remaining ones keep.
   */
  repair(now: number): { deleted: number; kept: Map<LeaseResourceKind, Set<string>> } {
    return this.#m.transaction(() => {
      const res = this.#m.prepare('DELETE FROM leases WHERE expires IS NULL').run();
      const kept = new Map<LeaseResourceKind, Set<string>>();
      for (const kind of ['content', 'snapshot'] as const) {
        const refs = this.kept(kind, now);
        if (refs.size > 0) kept.set(kind, refs);
      }
      return { deleted: Number(res.changes), kept };
    });
  }
}
