import type { MetadataDB } from './db.ts';

export interface VolumeRecord {
  name: string;
  driver: string;
  /** Driver options (`--opt`): for the local driver `type`, `device`, `o`; null when none were given (not even `{}`). */
  options: Record<string, string> | null;
  labels: Record<string, string>;
  /** Milliseconds since the epoch. */
  created: number;
  anonymous: boolean;
}

interface Row {
  name: string;
  driver: string;
  options: string;
  labels: string;
  created: number;
  anonymous: number;
}

function fromRow(r: Row): VolumeRecord {
  return {
    name: r.name,
    driver: r.driver,
    options: JSON.parse(r.options),
    labels: JSON.parse(r.labels),
    created: r.created,
    anonymous: r.anonymous !== 0,
  };
}

export class VolumeRecords {
  readonly #m: MetadataDB;
  constructor(m: MetadataDB) {
    this.#m = m;
  }

  get(name: string): VolumeRecord | undefined {
    const r = this.#m.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  all(): VolumeRecord[] {
    return (this.#m.prepare('SELECT * FROM volumes ORDER BY name').all() as unknown as Row[]).map(fromRow);
  }

  /** Inserts the volume; returns false (and changes nothing) when the name exists. */
  put(v: VolumeRecord): boolean {
    const res = this.#m
      .prepare(
        'INSERT OR IGNORE INTO volumes (name, driver, options, labels, created, anonymous) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(v.name, v.driver, JSON.stringify(v.options), JSON.stringify(v.labels), v.created, v.anonymous ? 1 : 0);
    return Number(res.changes) > 0;
  }

  delete(name: string): void {
    this.#m.prepare('DELETE FROM volumes WHERE name = ?').run(name);
  }
}
