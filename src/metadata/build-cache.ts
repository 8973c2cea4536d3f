import type { MetadataDB } from './db.ts';

/** A layer of a cached step's image, as its manifest lists it. */
export interface CachedLayer {
  mediaType: string;
  digest: string;
  size: number;
}

/**
 * One build step's result, found again by its cache key: the image the step left (its config blob, the layers up
 * to it and the snapshot of the top one), what the step added, and how it was used.
 */
export interface BuildCacheRecord {
  /** The step's cache key (`sha256:…`, see build/cachekey.ts). */
  key: string;
  /** The key of the step before it in its stage; null for a stage's first step. */
  parent: string | null;
  /** The step's image: its ID (the digest of `config`) and its config JSON, as the image's config blob would hold it. */
  imageId: string;
  config: string;
  layers: CachedLayer[];
  /** The chain ID of the top layer's snapshot; null for an image without layers. */
  chainId: string | null;
  /** Bytes of the layer the step added (0 when it added none). */
  size: number;
  /** What `system df -v` and `builder prune` show: the history text of the step. */
  description: string;
  /** Milliseconds since the epoch. */
  created: number;
  lastUsed: number;
  usageCount: number;
}

/** A directory the builder keeps between builds: a `RUN --mount=type=cache` or a context kept for `berth build`. */
export interface BuildDirRecord {
  kind: 'exec.cachemount' | 'source.local';
  id: string;
  path: string;
  size: number;
  created: number;
  lastUsed: number;
  usageCount: number;
  /** Free text: the cache id and sharing, or the client's directory. */
  description: string;
}

interface StepRow {
  key: string;
  parent: string | null;
  image_id: string;
  config: string;
  layers: string;
  chain_id: string | null;
  size: number;
  description: string;
  created: number;
  last_used: number;
  usage_count: number;
}

interface DirRow {
  kind: string;
  id: string;
  path: string;
  size: number;
  created: number;
  last_used: number;
  usage_count: number;
  description: string;
}

const STEP_COLUMNS =
  'key, parent, image_id, config, layers, chain_id, size, description, created, last_used, usage_count';
const DIR_COLUMNS = 'kind, id, path, size, created, last_used, usage_count, description';

function stepOf(r: StepRow): BuildCacheRecord {
  return {
    key: r.key,
    parent: r.parent,
    imageId: r.image_id,
    config: r.config,
    layers: JSON.parse(r.layers) as CachedLayer[],
    chainId: r.chain_id,
    size: r.size,
    description: r.description,
    created: r.created,
    lastUsed: r.last_used,
    usageCount: r.usage_count,
  };
}

function dirOf(r: DirRow): BuildDirRecord {
  return {
    kind: r.kind as BuildDirRecord['kind'],
    id: r.id,
    path: r.path,
    size: r.size,
    created: r.created,
    lastUsed: r.last_used,
    usageCount: r.usage_count,
    description: r.description,
  };
}

/**
 * The build cache: step results by cache key, and the directories kept between builds. Step records are roots of
 * image garbage collection (their config and layer blobs, and the snapshot chain of their top layer), so a cached
 * step survives `image prune`; `builder prune` deletes records, and the next collection what only they kept.
 */
export class BuildCacheRecords {
  readonly #m: MetadataDB;
  constructor(m: MetadataDB) {
    this.#m = m;
  }

  get(key: string): BuildCacheRecord | undefined {
    const r = this.#m.prepare(`SELECT ${STEP_COLUMNS} FROM build_cache WHERE key = ?`).get(key) as StepRow | undefined;
    return r ? stepOf(r) : undefined;
  }

  /** Records a step (a step recorded again replaces the old record, keeping its creation time and use count). */
  put(rec: BuildCacheRecord): void {
    this.#m
      .prepare(
        `INSERT INTO build_cache (${STEP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET parent = excluded.parent, image_id = excluded.image_id, config = excluded.config,
           layers = excluded.layers, chain_id = excluded.chain_id, size = excluded.size,
           description = excluded.description, last_used = excluded.last_used,
           usage_count = build_cache.usage_count + 1`,
      )
      .run(
        rec.key,
        rec.parent,
        rec.imageId,
        rec.config,
        JSON.stringify(rec.layers),
        rec.chainId,
        rec.size,
        rec.description,
        rec.created,
        rec.lastUsed,
        rec.usageCount,
      );
  }

  /** A cache hit: the record's last use moves to `now`. */
  touch(key: string, now: number): void {
    this.#m.prepare('UPDATE build_cache SET last_used = ?, usage_count = usage_count + 1 WHERE key = ?').run(now, key);
  }

  all(): BuildCacheRecord[] {
    const rows = this.#m.prepare(`SELECT ${STEP_COLUMNS} FROM build_cache ORDER BY last_used, key`).all();
    return (rows as unknown as StepRow[]).map(stepOf);
  }

  delete(keys: readonly string[]): void {
    this.#m.transaction(() => {
      const st = this.#m.prepare('DELETE FROM build_cache WHERE key = ?');
      for (const k of keys) st.run(k);
    });
  }

  /** What the cache keeps from garbage collection: layer blobs and top snapshots. */
  roots(): { blobs: Set<string>; snapshots: Set<string> } {
    const blobs = new Set<string>();
    const snapshots = new Set<string>();
    const rows = this.#m.prepare('SELECT layers, chain_id FROM build_cache').all() as unknown as Pick<
      StepRow,
      'layers' | 'chain_id'
    >[];
    for (const r of rows) {
      for (const l of JSON.parse(r.layers) as CachedLayer[]) blobs.add(l.digest);
      if (r.chain_id) snapshots.add(r.chain_id);
    }
    return { blobs, snapshots };
  }

  // ---- kept directories

  getDir(kind: BuildDirRecord['kind'], id: string): BuildDirRecord | undefined {
    const r = this.#m.prepare(`SELECT ${DIR_COLUMNS} FROM build_dirs WHERE kind = ? AND id = ?`).get(kind, id) as
      | DirRow
      | undefined;
    return r ? dirOf(r) : undefined;
  }

  putDir(rec: BuildDirRecord): void {
    this.#m
      .prepare(
        `INSERT INTO build_dirs (${DIR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(kind, id) DO UPDATE SET path = excluded.path, size = excluded.size,
           last_used = excluded.last_used, usage_count = excluded.usage_count, description = excluded.description`,
      )
      .run(rec.kind, rec.id, rec.path, rec.size, rec.created, rec.lastUsed, rec.usageCount, rec.description);
  }

  dirs(): BuildDirRecord[] {
    const rows = this.#m.prepare(`SELECT ${DIR_COLUMNS} FROM build_dirs ORDER BY last_used, id`).all();
    return (rows as unknown as DirRow[]).map(dirOf);
  }

  deleteDir(kind: BuildDirRecord['kind'], id: string): void {
    this.#m.prepare('DELETE FROM build_dirs WHERE kind = ? AND id = ?').run(kind, id);
  }
}
