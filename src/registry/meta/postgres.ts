import pg from 'pg';
import { UnavailableError } from '../../util/errors.ts';
import type { Dialect, Row, SqlDb, SqlQueries, SqlValue } from './sql.ts';

export const POSTGRES: Dialect = {
  name: 'postgres',
  forUpdate: ' FOR UPDATE',
  forShare: ' FOR SHARE',
  lockKey: 'SELECT pg_advisory_xact_lock(hashtextextended(?, 0)) AS locked',
  serial: 'BIGSERIAL PRIMARY KEY',
  bytes: 'BYTEA',
  text: 'TEXT COLLATE "C"',
};

const INT8 = 20;
/** Deadlock or serialization failure: the transaction is run again. */
const RETRY_CODES = new Set(['40P01', '40001']);

/**
 * PostgreSQL through `pg`, for several registry processes over one store. `?` placeholders become `$n`; BIGINT
 * columns (times, sizes, ids) come back as numbers; text that is ordered (names, tags) uses the "C" collation so
 * pages come in byte order, as the spec asks.
 */
export class PostgresDb implements SqlDb {
  readonly dialect = POSTGRES;
  readonly #pool: pg.Pool;
  readonly #converted = new Map<string, string>();

  constructor(url: string, opts: { max?: number } = {}) {
    this.#pool = new pg.Pool({
      connectionString: url,
      max: opts.max ?? 10,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8
            ? (v: string) => Number(v)
            : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client that loses its connection must not take the process down.
    this.#pool.on('error', () => {});
  }

  #sql(sql: string): string {
    let out = this.#converted.get(sql);
    if (out === undefined) {
      let n = 0;
      out = sql.replace(/\?/g, () => `$${++n}`);
      this.#converted.set(sql, out);
    }
    return out;
  }

  #queries(c: pg.Pool | pg.PoolClient): SqlQueries {
    const query = async <T extends object>(sql: string, params: readonly SqlValue[] = []) => {
      try {
        return await c.query<T & pg.QueryResultRow>({ text: this.#sql(sql), values: params as SqlValue[] });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED')
          throw new UnavailableError(`PostgreSQL is unreachable: ${(err as Error).message}`, { cause: err });
        throw err;
      }
    };
    return {
      get: async <T extends object = Row>(sql: string, params?: readonly SqlValue[]) =>
        (await query<T>(sql, params)).rows[0] as T | undefined,
      all: async <T extends object = Row>(sql: string, params?: readonly SqlValue[]) =>
        (await query<T>(sql, params)).rows as T[],
      run: async (sql: string, params?: readonly SqlValue[]) => ({ changes: (await query(sql, params)).rowCount ?? 0 }),
    };
  }

  get<T extends object = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.#queries(this.#pool).get<T>(sql, params);
  }
  all<T extends object = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.#queries(this.#pool).all<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return this.#queries(this.#pool).run(sql, params);
  }

  async exec(sql: string): Promise<void> {
    await this.#pool.query(sql);
  }

  async tx<T>(fn: (q: SqlQueries) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.#pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(this.#queries(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        if (RETRY_CODES.has((err as { code?: string }).code ?? '') && attempt < 5) continue;
        throw err;
      } finally {
        client.release();
      }
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
