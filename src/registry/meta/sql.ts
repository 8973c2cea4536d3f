import { DatabaseSync, type StatementSync } from 'node:sqlite';

/** A value a query takes or gives: numbers are integers (ms times, sizes), blobs are bytes. */
export type SqlValue = string | number | null | Uint8Array;
export type Row = Record<string, SqlValue>;

/** Queries, written with `?` placeholders in SQL that SQLite and PostgreSQL both accept. */
export interface SqlQueries {
  get<T extends object = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  all<T extends object = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
}

/**
 * The registry's metadata database: SQLite (node:sqlite, embedded) or PostgreSQL (several registry processes
 * over one store). One SQL text serves both; the few differences are in `Dialect`.
 */
export interface SqlDb extends SqlQueries {
  readonly dialect: Dialect;
  /**
   * Runs fn in one transaction, committed when fn resolves and rolled back when it throws. Rows fn reads with
   * `lock` in its SQL are locked until the end (PostgreSQL's FOR UPDATE; SQLite has one writer at a time anyway).
   */
  tx<T>(fn: (q: SqlQueries) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface Dialect {
  name: 'sqlite' | 'postgres';
  /** Appended to a SELECT whose rows the transaction will change, so a concurrent one waits. */
  forUpdate: string;
  /** Appended to a SELECT whose rows must not change until the transaction ends. */
  forShare: string;
  /**
   * A statement taking a lock on one key (its one parameter) until the transaction ends, for rows that may not
   * exist yet (a blob's digest); none for SQLite, whose write transactions run one at a time.
   */
  lockKey: string | undefined;
  /** The DDL type of an auto-numbered primary key, and of bytes. */
  serial: string;
  bytes: string;
  /** Text compared and ordered byte by byte (names, tags: the spec's "ASCIIbetical" order). */
  text: string;
}

export const SQLITE: Dialect = {
  name: 'sqlite',
  forUpdate: '',
  forShare: '',
  lockKey: undefined,
  serial: 'INTEGER PRIMARY KEY',
  bytes: 'BLOB',
  text: 'TEXT',
};

/**
 * SQLite with one connection for writes (transactions run one at a time, in order) and one for reads, so a
 * read never sees a transaction in progress and never waits for one (WAL mode).
 */
export class SqliteDb implements SqlDb {
  readonly dialect = SQLITE;
  readonly #writer: DatabaseSync;
  readonly #reader: DatabaseSync;
  readonly #readStmts = new Map<string, StatementSync>();
  readonly #writeStmts = new Map<string, StatementSync>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.#writer = new DatabaseSync(path, { timeout: 10_000 });
    this.#writer.exec('PRAGMA journal_mode = WAL');
    this.#writer.exec('PRAGMA synchronous = NORMAL');
    this.#writer.exec('PRAGMA foreign_keys = ON');
    this.#reader = path === ':memory:' ? this.#writer : new DatabaseSync(path, { timeout: 10_000 });
    this.#reader.exec('PRAGMA foreign_keys = ON');
  }

  /** Runs DDL (several statements) outside any transaction. */
  exec(sql: string): void {
    this.#writer.exec(sql);
  }

  #stmt(db: DatabaseSync, cache: Map<string, StatementSync>, sql: string): StatementSync {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  }

  /** Synchronous read, for the hot paths of the embedded default (one lookup per request). */
  getSync<T extends object = Row>(sql: string, params: readonly SqlValue[] = []): T | undefined {
    return this.#stmt(this.#reader, this.#readStmts, sql).get(...params) as T | undefined;
  }

  async get<T extends object = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.#stmt(this.#reader, this.#readStmts, sql).get(...params) as T | undefined;
  }

  async all<T extends object = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.#stmt(this.#reader, this.#readStmts, sql).all(...params) as T[];
  }

  /** A single write outside a transaction still waits its turn behind transactions in progress. */
  async run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    return this.tx(async (q) => q.run(sql, params));
  }

  tx<T>(fn: (q: SqlQueries) => Promise<T>): Promise<T> {
    const go = async (): Promise<T> => {
      const w = this.#writer;
      const q: SqlQueries = {
        get: async <R extends object>(sql: string, params: readonly SqlValue[] = []) =>
          this.#stmt(w, this.#writeStmts, sql).get(...params) as R | undefined,
        all: async <R extends object>(sql: string, params: readonly SqlValue[] = []) =>
          this.#stmt(w, this.#writeStmts, sql).all(...params) as R[],
        run: async (sql: string, params: readonly SqlValue[] = []) => {
          const r = this.#stmt(w, this.#writeStmts, sql).run(...params);
          return { changes: Number(r.changes) };
        },
      };
      w.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(q);
        w.exec('COMMIT');
        return result;
      } catch (err) {
        if (w.isTransaction) w.exec('ROLLBACK');
        throw err;
      }
    };
    const p = this.#queue.then(go, go);
    this.#queue = p.catch(() => {});
    return p;
  }

  async close(): Promise<void> {
    await this.#queue;
    if (this.#reader !== this.#writer && this.#reader.isOpen) this.#reader.close();
    if (this.#writer.isOpen) this.#writer.close();
  }
}
