import { phaseSync } from '../util/trace.ts';
import type { MetadataDB } from './db.ts';

/** What the containers service stores per container; `config`, `hostConfig` and `state` are its own JSON shapes. */
export interface ContainerRow<C = unknown, H = unknown, S = unknown> {
  id: string;
  name: string;
  imageId: string;
  /** The image as the user named it (`busybox`), shown by `ps`. */
  imageRef: string;
  /** Milliseconds since the epoch. */
  created: number;
  config: C;
  hostConfig: H;
  state: S;
  runtime: string;
  /** Key of the container's active snapshot (its writable layer). */
  snapshot: string;
}

interface Row {
  id: string;
  name: string;
  image_id: string;
  image_ref: string;
  created: number;
  config: string;
  host_config: string;
  state: string;
  runtime: string;
  snapshot: string;
}

function fromRow<C, H, S>(r: Row): ContainerRow<C, H, S> {
  return {
    id: r.id,
    name: r.name,
    imageId: r.image_id,
    imageRef: r.image_ref,
    created: r.created,
    config: JSON.parse(r.config) as C,
    hostConfig: JSON.parse(r.host_config) as H,
    state: JSON.parse(r.state) as S,
    runtime: r.runtime,
    snapshot: r.snapshot,
  };
}

export class ContainerRecords<C = unknown, H = unknown, S = unknown> {
  readonly #m: MetadataDB;
  constructor(m: MetadataDB) {
    this.#m = m;
  }

  transaction<T>(fn: () => T): T {
    return this.#m.transaction(fn);
  }

  get(id: string): ContainerRow<C, H, S> | undefined {
    const r = this.#m.prepare('SELECT * FROM containers WHERE id = ?').get(id) as Row | undefined;
    return r ? fromRow<C, H, S>(r) : undefined;
  }

  byName(name: string): ContainerRow<C, H, S> | undefined {
    const r = this.#m.prepare('SELECT * FROM containers WHERE name = ?').get(name) as Row | undefined;
    return r ? fromRow<C, H, S>(r) : undefined;
  }

  byIdPrefix(prefix: string): ContainerRow<C, H, S>[] {
    const rows = this.#m
      .prepare("SELECT * FROM containers WHERE id LIKE ? ESCAPE '\\'")
      .all(`${prefix.replace(/[%_\\]/g, '\\$&')}%`) as unknown as Row[];
    return rows.map((r) => fromRow<C, H, S>(r));
  }

  all(): ContainerRow<C, H, S>[] {
    return (this.#m.prepare('SELECT * FROM containers ORDER BY created DESC, id').all() as unknown as Row[]).map((r) =>
      fromRow<C, H, S>(r),
    );
  }

  usingImage(imageId: string): ContainerRow<C, H, S>[] {
    return (this.#m.prepare('SELECT * FROM containers WHERE image_id = ?').all(imageId) as unknown as Row[]).map((r) =>
      fromRow<C, H, S>(r),
    );
  }

  /** Inserts; false when the name is taken. */
  insert(c: ContainerRow<C, H, S>): boolean {
    return phaseSync('database', c.id, () => this.#insert(c));
  }

  #insert(c: ContainerRow<C, H, S>): boolean {
    const res = this.#m
      .prepare(
        'INSERT OR IGNORE INTO containers (id, name, image_id, image_ref, created, config, host_config, state, runtime, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        c.id,
        c.name,
        c.imageId,
        c.imageRef,
        c.created,
        JSON.stringify(c.config),
        JSON.stringify(c.hostConfig),
        JSON.stringify(c.state),
        c.runtime,
        c.snapshot,
      );
    return Number(res.changes) > 0;
  }

  setState(id: string, state: S): void {
    phaseSync('database', id, () =>
      this.#m.prepare('UPDATE containers SET state = ? WHERE id = ?').run(JSON.stringify(state), id),
    );
  }

  setHostConfig(id: string, hostConfig: H): void {
    this.#m.prepare('UPDATE containers SET host_config = ? WHERE id = ?').run(JSON.stringify(hostConfig), id);
  }

  /** Renames; false when the new name is taken. */
  rename(id: string, name: string): boolean {
    try {
      const res = this.#m.prepare('UPDATE containers SET name = ? WHERE id = ?').run(name, id);
      return Number(res.changes) > 0;
    } catch (err) {
      if (/UNIQUE/.test((err as Error).message)) return false;
      throw err;
    }
  }

  delete(id: string): void {
    phaseSync('database', id, () => this.#m.prepare('DELETE FROM containers WHERE id = ?').run(id));
  }
}
