import type { MetadataDB } from './db.ts';

/** Repositories remembered per blob; the least recently noted go first. */
const PER_BLOB = 4;
/** (blob, repository) pairs remembered in all; the least recently noted go first. */
const MAX_PAIRS = 80_000;

/**
 * Where blobs came from: for each blob digest, the repositories (on which registry) it was pulled from or pushed
 * to, so a push can ask the registry to mount it from one of them instead of uploading it. Only a hint: a wrong
 * or lost entry costs an upload, never correctness. Each note (a push's) or set of notes (a pull's, at its end:
 * `noteAll`) is one transaction, so operations at once see each other's entries and none is lost.
 */
export class BlobSourceRecords {
  readonly #m: MetadataDB;
  constructor(m: MetadataDB) {
    this.#m = m;
  }

  /** Records that `digest` is in `repo` of `registry` (as the most recent source of that blob). */
  note(digest: string, registry: string, repo: string): void {
    this.noteAll([{ digest, registry, repo }]);
  }

  /**
   * `note` for each entry in one transaction, each later one the more recent: a pull notes its blobs together at
   * its end instead of one transaction (a WAL append on the main thread) per blob as it is verified.
   */
  noteAll(entries: readonly { digest: string; registry: string; repo: string }[]): void {
    if (entries.length === 0) return;
    this.#m.transaction(() => {
      const db = this.#m;
      let { next } = db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM blob_sources').get() as {
        next: number;
      };
      for (const { digest, registry, repo } of entries) {
        db.prepare(
          'INSERT INTO blob_sources (digest, source, seq) VALUES (?, ?, ?) ON CONFLICT(digest, source) DO UPDATE SET seq = excluded.seq',
        ).run(digest, `${registry}/${repo}`, next);
        db.prepare(
          'DELETE FROM blob_sources WHERE digest = ? AND seq NOT IN (SELECT seq FROM blob_sources WHERE digest = ? ORDER BY seq DESC LIMIT ?)',
        ).run(digest, digest, PER_BLOB);
        next++;
      }
      db.prepare('DELETE FROM blob_sources WHERE seq <= ?').run(next - 1 - MAX_PAIRS);
    });
  }

  /** Forgets that `digest` is in `repo` of `registry` (a mount from it failed). */
  forget(digest: string, registry: string, repo: string): void {
    this.#m.prepare('DELETE FROM blob_sources WHERE digest = ? AND source = ?').run(digest, `${registry}/${repo}`);
  }

  /** The repositories noted for `digest`, as `registry/repo`, most recent first. */
  sourcesOf(digest: string): string[] {
    const rows = this.#m.prepare('SELECT source FROM blob_sources WHERE digest = ? ORDER BY seq DESC').all(digest) as {
      source: string;
    }[];
    return rows.map((r) => r.source);
  }

  /** Another repository of the same registry known to hold `digest`, most recent first. */
  mountSource(digest: string, registry: string, exceptRepo: string): string | undefined {
    for (const s of this.sourcesOf(digest)) {
      if (!s.startsWith(`${registry}/`)) continue;
      const repo = s.slice(registry.length + 1);
      if (repo !== exceptRepo) return repo;
    }
    return undefined;
  }
}
