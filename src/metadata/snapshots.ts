import type { MetadataDB } from './db.ts';

export type SnapshotKind = 'active' | 'committed' | 'view';

export interface SnapshotRecord {
  key: string;
  /** A small integer naming the snapshot's directory (`snapshots/<id>`), so mount options stay short. */
  id: number;
  parent: string | null;
  kind: SnapshotKind;
  /** Milliseconds since the epoch. */
  created: number;
  labels: Record<string, string>;
}

interface Row {
  key: string;
  id: number;
  parent: string | null;
  kind: SnapshotKind;
  created: number;
  labels: string;
}

function fromRow(r: Row): SnapshotRecord {
  return { key: r.key, id: r.id, parent: r.parent, kind: r.kind, created: r.created, labels: JSON.parse(r.labels) };
}

/** A new data root's first snapshot id is at most this (see SnapshotRecords' `#highest`): three digits at most. */
const FIRST_IDS = 999;

/** Records of snapshots: the snapshotter's bookkeeping, kept in the metadata DB. */
export class SnapshotRecords {
  readonly #m: MetadataDB;
  /**
   * The highest id given out by this process: ids are not reused while it runs. A snapshot's directory is named
   * by its id, and ext4 places a new directory (under the snapshots' directory, marked as the top of directory
   * hierarchies) by a hash of its name: a reused name would land where the snapshot just removed was, among the
   * inodes ext4 without a journal skips for a minute after their removal, one by one for every file created
   * (src/util/topdir.ts). For the same reason an empty table starts at a random id below FIRST_IDS: the
   * fresh data roots of daemons started one after another on one file system (tests, benchmarks, CI) would all
   * name their first snapshots 1, 2, 3.
   */
  #highest = 0;
  constructor(m: MetadataDB) {
    this.#m = m;
  }

  get(key: string): SnapshotRecord | undefined {
    const r = this.#m.prepare('SELECT * FROM snapshots WHERE key = ?').get(key) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** Inserts a record with a fresh id and returns it. Throws if the key exists (SQLite constraint). */
  create(key: string, parent: string | null, kind: SnapshotKind, labels: Record<string, string> = {}): SnapshotRecord {
    return this.#m.transaction(() => {
      const max = this.#m.prepare('SELECT COALESCE(MAX(id), 0) AS n FROM snapshots').get() as { n: number };
      const from = max.n === 0 && this.#highest === 0 ? Math.floor(Math.random() * FIRST_IDS) : this.#highest;
      const id = Math.max(max.n, from) + 1;
      const rec: SnapshotRecord = { key, id, parent, kind, created: Date.now(), labels };
      this.#m
        .prepare('INSERT INTO snapshots (key, id, parent, kind, created, labels) VALUES (?, ?, ?, ?, ?, ?)')
        .run(key, rec.id, parent, kind, rec.created, JSON.stringify(labels));
      this.#highest = id;
      return rec;
    });
  }

  /**
   * Renames an active snapshot to `name` and marks it committed, keeping its id (and so its directory). With
   * `parent`, also sets its parent (for snapshotters whose layers do not depend on their parent's content).
   */
  commit(key: string, name: string, parent?: string): void {
    this.#m.transaction(() => {
      if (parent === undefined)
        this.#m.prepare("UPDATE snapshots SET key = ?, kind = 'committed' WHERE key = ?").run(name, key);
      else
        this.#m
          .prepare("UPDATE snapshots SET key = ?, kind = 'committed', parent = ? WHERE key = ?")
          .run(name, parent, key);
    });
  }

  /** Runs fn in one transaction of the metadata database (joined by the records' own). fn must be synchronous. */
  transaction<T>(fn: () => T): T {
    return this.#m.transaction(fn);
  }

  delete(key: string): void {
    this.#m.prepare('DELETE FROM snapshots WHERE key = ?').run(key);
  }

  children(key: string): string[] {
    const rows = this.#m.prepare('SELECT key FROM snapshots WHERE parent = ?').all(key) as { key: string }[];
    return rows.map((r) => r.key);
  }

  all(): SnapshotRecord[] {
    return (this.#m.prepare('SELECT * FROM snapshots ORDER BY id').all() as unknown as Row[]).map(fromRow);
  }
}
