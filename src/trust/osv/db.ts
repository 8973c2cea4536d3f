/**
 * The offline vulnerability database: OSV records imported from a directory, a ZIP (OSV's `all.zip` downloads) or
 * a tar stream, kept in one SQLite file of its own (`<data-root>/trust/osv.db`; it is downloaded data, not engine
 * state, so it stays out of berth.db). Records are indexed by (ecosystem, package name) so a scan is one indexed
 * lookup per package. An import adds to what is there; a record replaces an older one with the same id. Records
 * that cannot be used are skipped and counted, with the first reasons kept for the report.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { ScanDbInfo } from '../../engine-api/trust.ts';
import type { Advisory } from './record.ts';
import { parseOsv } from './record.ts';
import { normalizeName } from './names.ts';

/** One file of an import: its name (for error reports) and bytes. */
export interface OsvFile {
  name: string;
  bytes: Buffer;
}

export interface ImportResult {
  imported: number;
  skipped: number;
  /** The first reasons (at most 20), `file: reason`. */
  errors: string[];
}

export interface DbInfo {
  advisories: number;
  /** When the last import finished (ms since the epoch), or undefined when never. */
  importedAt?: number;
  /** The newest `modified` time of any record. */
  newest?: string;
}

/** The database's size and age as the scan APIs answer them (`GET /scan/db`, the registry's `scan-db`). */
export function scanDbInfo(info: DbInfo, now: number = Date.now()): ScanDbInfo {
  return {
    advisories: info.advisories,
    ...(info.importedAt !== undefined
      ? {
          importedAt: new Date(info.importedAt).toISOString(),
          ageDays: Math.floor((now - info.importedAt) / 86_400_000),
        }
      : {}),
    ...(info.newest ? { newest: info.newest } : {}),
  };
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS advisories (id TEXT PRIMARY KEY, modified TEXT NOT NULL, doc TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS affected (ecosystem TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS affected_by_package ON affected (ecosystem, name);
  CREATE INDEX IF NOT EXISTS affected_by_id ON affected (id);
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** The ecosystem without its release: `Debian:12` → `Debian`. */
export function ecosystemBase(eco: string): string {
  const i = eco.indexOf(':');
  return i < 0 ? eco : eco.slice(0, i);
}

export class VulnDb {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #lookup: StatementSync;
  /** Imports run one at a time (each holds the connection's one transaction across awaits). */
  #importing: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.#db = new DatabaseSync(path, { timeout: 5000 });
    this.#db.exec('PRAGMA journal_mode = WAL');
    this.#db.exec('PRAGMA synchronous = NORMAL');
    this.#db.exec(SCHEMA);
    this.#lookup = this.#db.prepare(
      'SELECT DISTINCT a.doc FROM affected f JOIN advisories a ON a.id = f.id WHERE f.ecosystem = ? AND f.name = ?',
    );
  }

  /**
   * Imports records. Each file holds one OSV record (or a JSON array of them, as some exports do). Runs in one
   * transaction: a failure midway (not a bad record, which is skipped) leaves the database as it was.
   */
  import(files: AsyncIterable<OsvFile>): Promise<ImportResult> {
    const run = this.#importing.then(() => this.#import(files));
    this.#importing = run.catch(() => undefined);
    return run;
  }

  async #import(files: AsyncIterable<OsvFile>): Promise<ImportResult> {
    const result: ImportResult = { imported: 0, skipped: 0, errors: [] };
    const skip = (name: string, reason: string) => {
      result.skipped++;
      if (result.errors.length < 20) result.errors.push(`${name}: ${reason}`);
    };
    const getModified = this.#db.prepare('SELECT modified FROM advisories WHERE id = ?');
    const putAdvisory = this.#db.prepare('INSERT OR REPLACE INTO advisories (id, modified, doc) VALUES (?, ?, ?)');
    const dropAffected = this.#db.prepare('DELETE FROM affected WHERE id = ?');
    const putAffected = this.#db.prepare('INSERT INTO affected (ecosystem, name, id) VALUES (?, ?, ?)');
    const put = (adv: Advisory) => {
      const old = getModified.get(adv.id) as { modified: string } | undefined;
      if (old && Date.parse(old.modified) > Date.parse(adv.modified)) return;
      putAdvisory.run(adv.id, adv.modified, JSON.stringify(adv));
      dropAffected.run(adv.id);
      const seen = new Set<string>();
      for (const a of adv.affected) {
        const eco = ecosystemBase(a.package.ecosystem);
        const name = normalizeName(eco, a.package.name);
        const k = `${eco}\0${name}`;
        if (seen.has(k)) continue;
        seen.add(k);
        putAffected.run(eco, name, adv.id);
      }
      result.imported++;
    };
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for await (const f of files) {
        if (!f.name.endsWith('.json')) continue;
        let doc: unknown;
        try {
          doc = JSON.parse(f.bytes.toString('utf8'));
        } catch (err) {
          skip(f.name, `not JSON: ${(err as Error).message}`);
          continue;
        }
        for (const [i, d] of (Array.isArray(doc) ? doc : [doc]).entries()) {
          try {
            put(parseOsv(d));
          } catch (err) {
            skip(Array.isArray(doc) ? `${f.name}[${i}]` : f.name, (err as Error).message);
          }
        }
      }
      this.#db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('imported_at', ?)").run(String(Date.now()));
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
    return result;
  }

  /** Advisories naming the package in the ecosystem (any release of it). */
  lookup(ecosystem: string, name: string): Advisory[] {
    const eco = ecosystemBase(ecosystem);
    const rows = this.#lookup.all(eco, normalizeName(eco, name)) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as Advisory);
  }

  info(): DbInfo {
    const n = this.#db.prepare('SELECT count(*) AS n, max(modified) AS newest FROM advisories').get() as {
      n: number;
      newest: string | null;
    };
    const at = this.#db.prepare("SELECT value FROM meta WHERE key = 'imported_at'").get() as
      | { value: string }
      | undefined;
    return {
      advisories: Number(n.n),
      ...(at ? { importedAt: Number(at.value) } : {}),
      ...(n.newest ? { newest: n.newest } : {}),
    };
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
