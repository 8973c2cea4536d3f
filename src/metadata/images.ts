import type { MetadataDB } from './db.ts';

export interface ImageRecord {
  /** Digest of the image's manifest: what a tag points at. */
  manifestDigest: string;
  mediaType: string;
  manifestSize: number;
  /** Digest of the image config: Docker's image ID. */
  configDigest: string;
  /** Chain ID of the top layer: the key of the image's committed snapshot (null for an image with no layers). */
  chainId: string | null;
  /** Milliseconds since the epoch when Berth first stored the image. */
  created: number;
  lastTagTime: number | null;
}

export interface TagRecord {
  /** Full reference: `docker.io/library/busybox:latest`. */
  name: string;
  manifestDigest: string;
  updated: number;
}

export type TagAction = 'tag' | 'untag' | 'rollback';

export interface TagHistoryRecord {
  seq: number;
  name: string;
  manifestDigest: string | null;
  configDigest: string | null;
  at: number;
  action: TagAction;
}

interface ImageRow {
  manifest_digest: string;
  media_type: string;
  manifest_size: number;
  config_digest: string;
  chain_id: string | null;
  created: number;
  last_tag_time: number | null;
}

function imageFromRow(r: ImageRow): ImageRecord {
  return {
    manifestDigest: r.manifest_digest,
    mediaType: r.media_type,
    manifestSize: r.manifest_size,
    configDigest: r.config_digest,
    chainId: r.chain_id,
    created: r.created,
    lastTagTime: r.last_tag_time,
  };
}

/** Images, tags and each tag's history. Tag moves are recorded in the same transaction as the move. */
export class ImageRecords {
  readonly #m: MetadataDB;
  constructor(m: MetadataDB) {
    this.#m = m;
  }

  transaction<T>(fn: () => T): T {
    return this.#m.transaction(fn);
  }

  get(manifestDigest: string): ImageRecord | undefined {
    const r = this.#m.prepare('SELECT * FROM images WHERE manifest_digest = ?').get(manifestDigest) as
      | ImageRow
      | undefined;
    return r ? imageFromRow(r) : undefined;
  }

  all(): ImageRecord[] {
    return (
      this.#m.prepare('SELECT * FROM images ORDER BY created, manifest_digest').all() as unknown as ImageRow[]
    ).map(imageFromRow);
  }

  byConfig(configDigest: string): ImageRecord[] {
    return (
      this.#m.prepare('SELECT * FROM images WHERE config_digest = ?').all(configDigest) as unknown as ImageRow[]
    ).map(imageFromRow);
  }

  /** Images whose config digest hex starts with `hexPrefix`. */
  byConfigPrefix(hexPrefix: string): ImageRecord[] {
    return (
      this.#m
        .prepare("SELECT * FROM images WHERE config_digest LIKE ? ESCAPE '\\'")
        .all(`sha256:${hexPrefix.replace(/[%_\\]/g, '\\$&')}%`) as unknown as ImageRow[]
    ).map(imageFromRow);
  }

  /** Inserts an image if it is not there; returns whether it was new. */
  put(img: Omit<ImageRecord, 'lastTagTime'>): boolean {
    const res = this.#m
      .prepare(
        'INSERT OR IGNORE INTO images (manifest_digest, media_type, manifest_size, config_digest, chain_id, created) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(img.manifestDigest, img.mediaType, img.manifestSize, img.configDigest, img.chainId, img.created);
    return Number(res.changes) > 0;
  }

  delete(manifestDigest: string): void {
    this.#m.transaction(() => {
      this.#m.prepare('DELETE FROM tags WHERE manifest_digest = ?').run(manifestDigest);
      this.#m.prepare('DELETE FROM repo_digests WHERE manifest_digest = ?').run(manifestDigest);
      this.#m.prepare('DELETE FROM images WHERE manifest_digest = ?').run(manifestDigest);
    });
  }

  /** Records that `name@digest` (a repository, a digest pulled by) is the image `manifestDigest`. */
  putRepoDigest(name: string, digest: string, manifestDigest: string): void {
    this.#m
      .prepare(
        'INSERT INTO repo_digests (name, digest, manifest_digest) VALUES (?, ?, ?) ON CONFLICT(name, digest) DO UPDATE SET manifest_digest = excluded.manifest_digest',
      )
      .run(name, digest, manifestDigest);
  }

  /** The image a repository's pulled-by digest names. */
  byRepoDigest(name: string, digest: string): string | undefined {
    const r = this.#m
      .prepare('SELECT manifest_digest FROM repo_digests WHERE name = ? AND digest = ?')
      .get(name, digest) as { manifest_digest: string } | undefined;
    return r?.manifest_digest;
  }

  /** `name@digest` of every pulled-by digest recorded for an image. */
  repoDigestsOf(manifestDigest: string): string[] {
    const rows = this.#m
      .prepare('SELECT name, digest FROM repo_digests WHERE manifest_digest = ? ORDER BY name, digest')
      .all(manifestDigest) as { name: string; digest: string }[];
    return rows.map((r) => `${r.name}@${r.digest}`);
  }

  tag(name: string): TagRecord | undefined {
    const r = this.#m.prepare('SELECT name, manifest_digest, updated FROM tags WHERE name = ?').get(name) as
      | { name: string; manifest_digest: string; updated: number }
      | undefined;
    return r ? { name: r.name, manifestDigest: r.manifest_digest, updated: r.updated } : undefined;
  }

  tags(): TagRecord[] {
    const rows = this.#m.prepare('SELECT name, manifest_digest, updated FROM tags ORDER BY name').all() as {
      name: string;
      manifest_digest: string;
      updated: number;
    }[];
    return rows.map((r) => ({ name: r.name, manifestDigest: r.manifest_digest, updated: r.updated }));
  }

  tagsOf(manifestDigest: string): string[] {
    const rows = this.#m
      .prepare('SELECT name FROM tags WHERE manifest_digest = ? ORDER BY name')
      .all(manifestDigest) as { name: string }[];
    return rows.map((r) => r.name);
  }

  /**
   * Points `name` at an image, recording the move in the tag's history. Returns the digest the tag pointed at
   * before (or undefined), and does nothing when the tag already points there.
   */
  setTag(
    name: string,
    manifestDigest: string,
    action: TagAction = 'tag',
  ): { previous: string | undefined; changed: boolean } {
    return this.#m.transaction(() => {
      const prev = this.tag(name);
      if (prev?.manifestDigest === manifestDigest) return { previous: prev.manifestDigest, changed: false };
      const now = Date.now();
      const img = this.get(manifestDigest);
      this.#m
        .prepare(
          'INSERT INTO tags (name, manifest_digest, updated) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET manifest_digest = excluded.manifest_digest, updated = excluded.updated',
        )
        .run(name, manifestDigest, now);
      this.#m.prepare('UPDATE images SET last_tag_time = ? WHERE manifest_digest = ?').run(now, manifestDigest);
      this.#m
        .prepare('INSERT INTO tag_history (name, manifest_digest, config_digest, at, action) VALUES (?, ?, ?, ?, ?)')
        .run(name, manifestDigest, img?.configDigest ?? null, now, action);
      return { previous: prev?.manifestDigest, changed: true };
    });
  }

  /** Removes a tag, recording it in the history. Returns the digest it pointed at. */
  removeTag(name: string): string | undefined {
    return this.#m.transaction(() => {
      const prev = this.tag(name);
      if (!prev) return undefined;
      this.#m.prepare('DELETE FROM tags WHERE name = ?').run(name);
      this.#m
        .prepare(
          "INSERT INTO tag_history (name, manifest_digest, config_digest, at, action) VALUES (?, NULL, NULL, ?, 'untag')",
        )
        .run(name, Date.now());
      return prev.manifestDigest;
    });
  }

  /** A tag's history, newest first. */
  history(name: string): TagHistoryRecord[] {
    const rows = this.#m
      .prepare(
        'SELECT seq, name, manifest_digest, config_digest, at, action FROM tag_history WHERE name = ? ORDER BY seq DESC',
      )
      .all(name) as {
      seq: number;
      name: string;
      manifest_digest: string | null;
      config_digest: string | null;
      at: number;
      action: TagAction;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      name: r.name,
      manifestDigest: r.manifest_digest,
      configDigest: r.config_digest,
      at: r.at,
      action: r.action,
    }));
  }

  /**
   * Manifest digests that some tag's recent history still needs: for every tag name, the images of its last
   * `depth` distinct versions. GC and prune keep these unless told otherwise.
   */
  historyRoots(depth: number): Set<string> {
    const rows = this.#m
      .prepare(
        'SELECT name, manifest_digest FROM tag_history WHERE manifest_digest IS NOT NULL ORDER BY name, seq DESC',
      )
      .all() as { name: string; manifest_digest: string }[];
    const keep = new Set<string>();
    let current = '';
    let seen = new Set<string>();
    for (const r of rows) {
      if (r.name !== current) {
        current = r.name;
        seen = new Set();
      }
      if (seen.size >= depth || seen.has(r.manifest_digest)) continue;
      seen.add(r.manifest_digest);
      keep.add(r.manifest_digest);
    }
    return keep;
  }

  /** Records an unpacked layer's size (the sum of its regular files), keyed by chain ID. */
  putLayer(chainId: string, diffId: string, parent: string | null, size: number): void {
    this.#m
      .prepare('INSERT OR REPLACE INTO layers (chain_id, diff_id, parent, size) VALUES (?, ?, ?, ?)')
      .run(chainId, diffId, parent, size);
  }

  layerSize(chainId: string): number | undefined {
    const r = this.#m.prepare('SELECT size FROM layers WHERE chain_id = ?').get(chainId) as
      | { size: number }
      | undefined;
    return r?.size;
  }

  deleteLayer(chainId: string): void {
    this.#m.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId);
  }

  /** Forgets history entries of images that no longer exist, e.g. after `image prune --history`. */
  pruneHistory(): number {
    const res = this.#m
      .prepare(
        'DELETE FROM tag_history WHERE manifest_digest IS NOT NULL AND manifest_digest NOT IN (SELECT manifest_digest FROM images)',
      )
      .run();
    return Number(res.changes);
  }
}
