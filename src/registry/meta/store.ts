import type { Digest } from '../../util/digest.ts';
import { RegistryError, manifestUnknown } from '../errors.ts';
import type { SqlDb, SqlQueries, SqlValue } from './sql.ts';

export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  content: Buffer;
}

/** What a manifest PUT stores: the bytes, what the referrers API needs, and what the manifest references. */
export interface NewManifest {
  digest: Digest;
  mediaType: string;
  content: Buffer;
  subject?: Digest | undefined;
  artifactType?: string | undefined;
  annotations?: Record<string, string> | undefined;
  /** Blobs (config, layers) that must be in the repository. */
  blobs: Digest[];
  /** Child manifests (of an index) that must be in the repository. */
  manifests: Digest[];
}

export interface Referrer {
  digest: Digest;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Upload {
  id: string;
  repo: string;
  repoId: number;
  owner: string;
  size: number;
  algorithm: 'sha256' | 'sha512';
  createdAt: number;
  updatedAt: number;
}

/**
 * Checks the registry's operations make inside the store's own transactions, so that no concurrent write slips
 * between the check and the change (quotas, immutable tags). Each throws to refuse; the transaction rolls back.
 */
export interface StoreGuard {
  /** Outside any transaction, before an upload's bytes are committed: a cheap early refusal. */
  beforeUpload?(repo: string, digest: Digest, size: number): Promise<void>;
  /** `digest` (`size` bytes) is about to be linked to `repo` (an upload's end, or a mount). */
  link(q: SqlQueries, repo: string, digest: Digest, size: number): Promise<void>;
  /** `tags` of `repo` are about to point at manifest `digest`. */
  tag(q: SqlQueries, repo: string, repoId: number, tags: string[], digest: Digest): Promise<void>;
  /** `tags` of `repo` are about to be deleted (a tag delete, or the tags of a manifest deleted by digest). */
  untag(q: SqlQueries, repo: string, repoId: number, tags: string[]): Promise<void>;
}

/** Thrown by `claimDigest` while the collector is removing that blob; the caller waits and tries again. */
export class BlobBeingDeleted extends Error {}

const now = () => Date.now();

/**
 * Repositories, blobs, uploads, manifests, tags and referrers: every query of the distribution API, over either
 * database. Writes that must agree with the garbage collector lock the blob rows they depend on (see gc.ts).
 */
export class RegistryStore {
  readonly db: SqlDb;
  /** A read of a blob refreshes its `touched_at` when it is older than this (so reads rarely write). */
  readonly touchAfterMs: number;
  /** The operations' checks (quotas, immutable tags); none by default. */
  guard: StoreGuard | undefined;
  constructor(db: SqlDb, opts: { touchAfterMs?: number; guard?: StoreGuard } = {}) {
    this.db = db;
    this.touchAfterMs = opts.touchAfterMs ?? 60_000;
    this.guard = opts.guard;
  }

  // Repositories

  async repoId(name: string): Promise<number | undefined> {
    const r = await this.db.get<{ id: number }>('SELECT id FROM repositories WHERE name = ?', [name]);
    return r ? Number(r.id) : undefined;
  }

  async ensureRepo(q: SqlQueries, name: string): Promise<number> {
    const r = await q.get<{ id: number }>('SELECT id FROM repositories WHERE name = ?', [name]);
    if (r) return Number(r.id);
    await q.run('INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', [
      name,
      now(),
    ]);
    const again = await q.get<{ id: number }>('SELECT id FROM repositories WHERE name = ?', [name]);
    return Number(again!.id);
  }

  /** Repositories that hold at least one manifest, in order, after `last`, at most `n`. */
  async catalog(last: string, n: number): Promise<string[]> {
    const rows = await this.db.all<{ name: string }>(
      `SELECT name FROM repositories r WHERE name > ? AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.id)
       ORDER BY name LIMIT ?`,
      [last, n],
    );
    return rows.map((r) => r.name);
  }

  // Blobs

  /** The size of a blob linked to `repo`, or undefined; refreshes the blob's `touched_at` when stale. */
  async blobInRepo(repo: string, digest: Digest): Promise<number | undefined> {
    const row = await this.db.get<{ size: number; touched_at: number }>(
      `SELECT b.size, b.touched_at FROM repositories r JOIN repo_blobs l ON l.repo_id = r.id
       JOIN blobs b ON b.digest = l.digest WHERE r.name = ? AND l.digest = ? AND b.state = 'live'`,
      [repo, digest],
    );
    if (!row) return undefined;
    if (now() - Number(row.touched_at) > this.touchAfterMs) await this.touch(digest);
    return Number(row.size);
  }

  async touch(digest: Digest): Promise<void> {
    await this.db.run(`UPDATE blobs SET touched_at = ? WHERE digest = ? AND state = 'live'`, [now(), digest]);
  }

  /**
   * Marks upload `id` as committing `digest`: from now until `linkUploaded`, the collector leaves that digest
   * alone. BlobBeingDeleted while the collector is removing it.
   */
  async claimDigest(id: string, digest: Digest): Promise<void> {
    await this.db.tx(async (q) => {
      await this.#claimable(q, digest);
      await q.run('UPDATE uploads SET digest = ?, updated_at = ? WHERE id = ?', [digest, now(), id]);
    });
  }

  /** Throws BlobBeingDeleted while the collector removes `digest`; otherwise keeps it from starting until the end. */
  async #claimable(q: SqlQueries, digest: Digest): Promise<void> {
    // The scrub (scrub.ts) records an unlisted blob as `deleting` under this lock.
    if (this.db.dialect.lockKey) await q.get(this.db.dialect.lockKey, [digest]);
    const row = await q.get<{ state: string }>(`SELECT state FROM blobs WHERE digest = ?${this.db.dialect.forShare}`, [
      digest,
    ]);
    if (row?.state === 'deleting') throw new BlobBeingDeleted(digest);
  }

  /** After the blob is in the store: records it, links it to the upload's repository and ends the upload. */
  async linkUploaded(upload: Upload, digest: Digest, size: number): Promise<void> {
    await this.db.tx(async (q) => {
      await this.guard?.link(q, upload.repo, digest, size);
      const t = now();
      await q.run(
        `INSERT INTO blobs (digest, size, state, created_at, touched_at) VALUES (?, ?, 'live', ?, ?)
         ON CONFLICT (digest) DO UPDATE SET touched_at = excluded.touched_at`,
        [digest, size, t, t],
      );
      await this.#link(q, upload.repoId, digest, t);
      await q.run('DELETE FROM uploads WHERE id = ?', [upload.id]);
    });
  }

  async #link(q: SqlQueries, repoId: number, digest: Digest, t: number): Promise<void> {
    await q.run(
      `INSERT INTO repo_blobs (repo_id, digest, linked_at) VALUES (?, ?, ?)
       ON CONFLICT (repo_id, digest) DO UPDATE SET linked_at = excluded.linked_at`,
      [repoId, digest, t],
    );
  }

  /** Links a blob of `from` into `repo` (a cross-repository mount); the size, or undefined when `from` lacks it. */
  async mount(repo: string, from: string, digest: Digest): Promise<number | undefined> {
    return this.db.tx(async (q) => {
      const row = await q.get<{ size: number }>(
        `SELECT b.size FROM repositories r JOIN repo_blobs l ON l.repo_id = r.id JOIN blobs b ON b.digest = l.digest
         WHERE r.name = ? AND l.digest = ? AND b.state = 'live'${this.db.dialect.forShare}`,
        [from, digest],
      );
      if (!row) return undefined;
      await this.guard?.link(q, repo, digest, Number(row.size));
      const repoId = await this.ensureRepo(q, repo);
      const t = now();
      await this.#link(q, repoId, digest, t);
      await q.run('UPDATE blobs SET touched_at = ? WHERE digest = ?', [t, digest]);
      return Number(row.size);
    });
  }

  /** Unlinks a blob from a repository (the blob itself goes at the next collection); false when not linked. */
  async unlinkBlob(repo: string, digest: Digest): Promise<boolean> {
    const r = await this.db.run(
      'DELETE FROM repo_blobs WHERE digest = ? AND repo_id = (SELECT id FROM repositories WHERE name = ?)',
      [digest, repo],
    );
    return r.changes > 0;
  }

  // Uploads

  /**
   * Records a new upload; returns its repository's ID. With `digest` (a blob sent whole, its digest known from the
   * start) the upload claims it at once, as `claimDigest` would later: one transaction instead of two.
   */
  async createUpload(u: {
    id: string;
    repo: string;
    owner: string;
    algorithm: 'sha256' | 'sha512';
    digest?: Digest | undefined;
  }): Promise<number> {
    return this.db.tx(async (q) => {
      if (u.digest !== undefined) await this.#claimable(q, u.digest);
      const repoId = await this.ensureRepo(q, u.repo);
      const t = now();
      await q.run(
        `INSERT INTO uploads (id, repo_id, owner, size, algorithm, digest, created_at, updated_at)
         VALUES (?, ?, ?, 0, ?, ?, ?, ?)`,
        [u.id, repoId, u.owner, u.algorithm, u.digest ?? null, t, t],
      );
      return repoId;
    });
  }

  async upload(id: string): Promise<Upload | undefined> {
    const r = await this.db.get<{
      id: string;
      repo: string;
      repo_id: number;
      owner: string;
      size: number;
      algorithm: string;
      created_at: number;
      updated_at: number;
    }>(
      `SELECT u.id, r.name AS repo, u.repo_id, u.owner, u.size, u.algorithm, u.created_at, u.updated_at
       FROM uploads u JOIN repositories r ON r.id = u.repo_id WHERE u.id = ?`,
      [id],
    );
    if (!r) return undefined;
    return {
      id: r.id,
      repo: r.repo,
      repoId: Number(r.repo_id),
      owner: r.owner,
      size: Number(r.size),
      algorithm: r.algorithm === 'sha512' ? 'sha512' : 'sha256',
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
    };
  }

  /** Records that the upload grew from `from` to `to` bytes; false when another request moved it meanwhile. */
  async advanceUpload(id: string, from: number, to: number): Promise<boolean> {
    const r = await this.db.run('UPDATE uploads SET size = ?, updated_at = ? WHERE id = ? AND size = ?', [
      to,
      now(),
      id,
      from,
    ]);
    return r.changes === 1;
  }

  /**
   * `advanceUpload` and `claimDigest` in one transaction: the upload's last bytes are on file and it commits
   * `digest` next. False when another request moved the upload meanwhile; BlobBeingDeleted as for `claimDigest`.
   */
  async advanceAndClaim(id: string, from: number, to: number, digest: Digest): Promise<boolean> {
    return this.db.tx(async (q) => {
      await this.#claimable(q, digest);
      const r = await q.run('UPDATE uploads SET size = ?, digest = ?, updated_at = ? WHERE id = ? AND size = ?', [
        to,
        digest,
        now(),
        id,
        from,
      ]);
      return r.changes === 1;
    });
  }

  async deleteUpload(id: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM uploads WHERE id = ?', [id])).changes > 0;
  }

  // Manifests and tags

  async manifestByTag(repo: string, tag: string): Promise<ManifestRecord | undefined> {
    const r = await this.db.get<{ digest: Digest; media_type: string; size: number; content: Uint8Array }>(
      `SELECT m.digest, m.media_type, m.size, m.content FROM repositories r JOIN tags t ON t.repo_id = r.id
       JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest WHERE r.name = ? AND t.name = ?`,
      [repo, tag],
    );
    return r && toManifest(r);
  }

  /** A tag's manifest with the time a pull-through cache last checked the tag against its upstream (ms, or null). */
  async cachedTag(repo: string, tag: string): Promise<{ m: ManifestRecord; validatedAt: number | null } | undefined> {
    const r = await this.db.get<{
      digest: Digest;
      media_type: string;
      size: number;
      content: Uint8Array;
      validated_at: number | null;
    }>(
      `SELECT m.digest, m.media_type, m.size, m.content, t.validated_at FROM repositories r JOIN tags t ON t.repo_id = r.id
       JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest WHERE r.name = ? AND t.name = ?`,
      [repo, tag],
    );
    return r && { m: toManifest(r), validatedAt: r.validated_at === null ? null : Number(r.validated_at) };
  }

  /** Notes that a pull-through cache found `tag` up to date with its upstream at `at`. */
  async tagValidated(repo: string, tag: string, at: number): Promise<void> {
    await this.db.run(
      'UPDATE tags SET validated_at = ? WHERE name = ? AND repo_id = (SELECT id FROM repositories WHERE name = ?)',
      [at, tag, repo],
    );
  }

  async manifestByDigest(repo: string, digest: Digest): Promise<ManifestRecord | undefined> {
    const r = await this.db.get<{ digest: Digest; media_type: string; size: number; content: Uint8Array }>(
      `SELECT m.digest, m.media_type, m.size, m.content FROM repositories r
       JOIN manifests m ON m.repo_id = r.id WHERE r.name = ? AND m.digest = ?`,
      [repo, digest],
    );
    return r && toManifest(r);
  }

  /**
   * Stores a manifest and points `tags` at it, in one transaction that first checks that every referenced blob
   * is linked to the repository and every child manifest is in it (MANIFEST_BLOB_UNKNOWN otherwise).
   */
  async putManifest(repo: string, m: NewManifest, tags: string[], opts: { unchecked?: boolean } = {}): Promise<void> {
    const d = this.db.dialect;
    await this.db.tx(async (q) => {
      const repoId = await this.ensureRepo(q, repo);
      const missing: string[] = [];
      // A pull-through cache stores manifests whose blobs it fetches later, on demand.
      for (const digest of opts.unchecked ? [] : new Set(m.blobs)) {
        const row = await q.get(
          `SELECT b.digest FROM repo_blobs l JOIN blobs b ON b.digest = l.digest
           WHERE l.repo_id = ? AND l.digest = ? AND b.state = 'live'${d.forShare}`,
          [repoId, digest],
        );
        if (!row) missing.push(digest);
      }
      for (const digest of opts.unchecked ? [] : new Set(m.manifests)) {
        const row = await q.get('SELECT 1 AS x FROM manifests WHERE repo_id = ? AND digest = ?', [repoId, digest]);
        if (!row) missing.push(digest);
      }
      if (missing.length > 0) {
        throw new RegistryError(
          'MANIFEST_BLOB_UNKNOWN',
          `manifest references unknown blobs or manifests: ${missing.join(', ')}`,
          {
            detail: { digests: missing },
          },
        );
      }
      if (tags.length > 0) await this.guard?.tag(q, repo, repoId, tags, m.digest);
      const t = now();
      const exists = await q.get('SELECT 1 AS x FROM manifests WHERE repo_id = ? AND digest = ?', [repoId, m.digest]);
      if (!exists) {
        await q.run(
          `INSERT INTO manifests (repo_id, digest, media_type, size, content, subject, artifact_type, annotations, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            repoId,
            m.digest,
            m.mediaType,
            m.content.length,
            m.content,
            m.subject ?? null,
            m.artifactType ?? null,
            m.annotations ? JSON.stringify(m.annotations) : null,
            t,
          ],
        );
        const refs: [Digest, number][] = [
          ...[...new Set(m.blobs)].map((c): [Digest, number] => [c, 0]),
          ...[...new Set(m.manifests)].map((c): [Digest, number] => [c, 1]),
        ];
        for (const [child, kind] of refs) {
          await q.run(
            'INSERT INTO manifest_refs (repo_id, parent, child, kind) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
            [repoId, m.digest, child, kind],
          );
        }
      }
      for (const tag of tags) {
        await q.run(
          `INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
          [repoId, tag, m.digest, t],
        );
      }
    });
  }

  /** Deletes a manifest and the tags that point at it; MANIFEST_UNKNOWN when it is not there. */
  async deleteManifest(repo: string, digest: Digest): Promise<void> {
    await this.db.tx(async (q) => {
      const repoId = await q.get<{ id: number }>('SELECT id FROM repositories WHERE name = ?', [repo]);
      if (!repoId) throw manifestUnknown(digest);
      const id = Number(repoId.id);
      if (this.guard) {
        const tags = await q.all<{ name: string }>('SELECT name FROM tags WHERE repo_id = ? AND digest = ?', [
          id,
          digest,
        ]);
        if (tags.length > 0)
          await this.guard.untag(
            q,
            repo,
            id,
            tags.map((t) => t.name),
          );
      }
      const r = await q.run('DELETE FROM manifests WHERE digest = ? AND repo_id = ?', [digest, id]);
      if (r.changes === 0) throw manifestUnknown(digest);
    });
  }

  /** Deletes a tag (the manifest stays); MANIFEST_UNKNOWN when there is no such tag. */
  async deleteTag(repo: string, tag: string): Promise<void> {
    await this.db.tx(async (q) => {
      const repoId = await q.get<{ id: number }>('SELECT id FROM repositories WHERE name = ?', [repo]);
      if (!repoId) throw manifestUnknown(tag);
      const id = Number(repoId.id);
      const exists = await q.get('SELECT 1 AS x FROM tags WHERE repo_id = ? AND name = ?', [id, tag]);
      if (!exists) throw manifestUnknown(tag);
      await this.guard?.untag(q, repo, id, [tag]);
      await q.run('DELETE FROM tags WHERE repo_id = ? AND name = ?', [id, tag]);
    });
  }

  /** Tags of `repo` in byte order after `last`, at most `n` (all when n is undefined). */
  async tags(repoId: number, last: string, n: number | undefined): Promise<string[]> {
    const params: SqlValue[] = [repoId, last];
    let sql = 'SELECT name FROM tags WHERE repo_id = ? AND name > ? ORDER BY name';
    if (n !== undefined) {
      sql += ' LIMIT ?';
      params.push(n);
    }
    const rows = await this.db.all<{ name: string }>(sql, params);
    return rows.map((r) => r.name);
  }

  /**
   * Manifests in `repo` whose subject is `subject`, optionally of one artifact type, in digest order: those after
   * `page.after`, at most `page.limit` (all when no limit).
   */
  async referrers(
    repoId: number,
    subject: Digest,
    artifactType?: string,
    page: { after?: string; limit?: number } = {},
  ): Promise<Referrer[]> {
    const params: SqlValue[] = [repoId, subject];
    let sql = `SELECT digest, media_type, size, artifact_type, annotations FROM manifests
               WHERE repo_id = ? AND subject = ?`;
    if (artifactType !== undefined) {
      sql += ' AND artifact_type = ?';
      params.push(artifactType);
    }
    if (page.after !== undefined) {
      sql += ' AND digest > ?';
      params.push(page.after);
    }
    sql += ' ORDER BY digest';
    if (page.limit !== undefined) {
      sql += ' LIMIT ?';
      params.push(page.limit);
    }
    const rows = await this.db.all<{
      digest: Digest;
      media_type: string;
      size: number;
      artifact_type: string | null;
      annotations: string | null;
    }>(sql, params);
    return rows.map((r) => ({
      digest: r.digest,
      mediaType: r.media_type,
      size: Number(r.size),
      ...(r.artifact_type ? { artifactType: r.artifact_type } : {}),
      ...(r.annotations ? { annotations: JSON.parse(r.annotations) as Record<string, string> } : {}),
    }));
  }
}

function toManifest(r: { digest: Digest; media_type: string; size: number; content: Uint8Array }): ManifestRecord {
  const content = Buffer.isBuffer(r.content)
    ? r.content
    : Buffer.from(r.content.buffer, r.content.byteOffset, r.content.byteLength);
  return { digest: r.digest, mediaType: r.media_type, size: Number(r.size), content };
}
