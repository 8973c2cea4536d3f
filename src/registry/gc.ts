import { setImmediate as yieldLoop } from 'node:timers/promises';
import type { Digest } from '../util/digest.ts';
import { isBerthError } from '../util/errors.ts';
import type { GcReport } from './admin.ts';
import type { SqlDb } from './meta/sql.ts';
import { scrub } from './scrub.ts';
import type { Registry } from './service.ts';

export interface CollectOptions {
  /** Anything uploaded, linked, read or pushed more recently than this (ms) is kept. */
  graceMs: number;
  /** Also delete manifests no tag reaches (through an index or as a referrer of a reached manifest). */
  deleteUntagged: boolean;
  dryRun: boolean;
  /** Only look for blobs in storage the metadata does not list (the start-up repair). */
  scrubOnly?: boolean;
}

const BATCH = 128;
const PARALLEL_DELETES = 16;

/**
 * Garbage collection while the registry serves. Marking is queries over the metadata: a blob is garbage when no
 * manifest references it, no link to a repository is younger than the grace window, no upload is committing it,
 * and it was not touched (uploaded, mounted, read) within the window. Sweeping re-checks each candidate inside a
 * transaction that locks its row (a manifest PUT locks the rows of the blobs it references, so one of the two
 * waits for the other), marks it `deleting` (a concurrent upload of that digest waits), removes the bytes, then
 * the row. Work goes in small batches with a turn of the event loop between them, so requests keep being served.
 */
export async function collect(reg: Registry, o: CollectOptions): Promise<GcReport> {
  if (o.scrubOnly) {
    const t = performance.now();
    const found = await scrub(reg, { dryRun: o.dryRun });
    return {
      dryRun: o.dryRun,
      manifests: [],
      blobs: [],
      links: 0,
      uploads: 0,
      ...found,
      bytes: found.orphans.reduce((n, b) => n + b.size, 0),
      markMs: 0,
      sweepMs: Math.round(performance.now() - t),
    };
  }
  const db = reg.store.db;
  const cutoff = Date.now() - o.graceMs;
  const t0 = performance.now();
  const doomed = o.deleteUntagged ? await untaggedManifests(db, cutoff) : [];
  const doomedKeys = new Set(doomed.map((m) => `${m.repoId} ${m.digest}`));
  const blobs = await unreferencedBlobs(db, cutoff, doomedKeys);
  const markMs = performance.now() - t0;
  const report: GcReport = {
    dryRun: o.dryRun,
    manifests: doomed.map((m) => ({ repo: m.repo, digest: m.digest, size: m.size })),
    blobs: blobs.map((b) => ({ digest: b.digest, size: b.size })),
    links: 0,
    uploads: 0,
    orphans: [],
    adopted: [],
    bytes: blobs.reduce((n, b) => n + b.size, 0) + doomed.reduce((n, m) => n + m.size, 0),
    markMs: Math.round(markMs),
    sweepMs: 0,
  };
  if (o.dryRun) {
    Object.assign(report, await scrub(reg, { dryRun: true }));
    report.bytes += report.orphans.reduce((n, b) => n + b.size, 0);
    return report;
  }
  const t1 = performance.now();
  if (doomed.length > 0) report.manifests = await deleteManifests(db, doomed, cutoff);
  report.links = await deleteLinks(db, cutoff);
  const gone = await deleteBlobs(reg, db, cutoff);
  report.blobs = gone;
  report.uploads = await purgeUploads(reg, db, cutoff);
  // After the purge: an upload a crash interrupted no longer claims the blob it had committed.
  Object.assign(report, await scrub(reg, { dryRun: false }));
  report.bytes =
    gone.reduce((n, b) => n + b.size, 0) +
    report.manifests.reduce((n, m) => n + m.size, 0) +
    report.orphans.reduce((n, b) => n + b.size, 0);
  report.sweepMs = Math.round(performance.now() - t1);
  return report;
}

interface ManifestRow {
  repoId: number;
  repo: string;
  digest: Digest;
  size: number;
}

/** Manifests older than the cutoff that no tag reaches, directly, as an index's child, or as a referrer. */
async function untaggedManifests(db: SqlDb, cutoff: number): Promise<ManifestRow[]> {
  const manifests = await db.all<{
    repo_id: number;
    name: string;
    digest: Digest;
    size: number;
    subject: string | null;
    created_at: number;
  }>(
    'SELECT m.repo_id, r.name, m.digest, m.size, m.subject, m.created_at FROM manifests m JOIN repositories r ON r.id = m.repo_id',
  );
  const children = await db.all<{ repo_id: number; parent: string; child: string }>(
    'SELECT repo_id, parent, child FROM manifest_refs WHERE kind = 1',
  );
  const tags = await db.all<{ repo_id: number; digest: string }>('SELECT DISTINCT repo_id, digest FROM tags');
  const key = (repo: number, d: string) => `${Number(repo)} ${d}`;
  const edges = new Map<string, string[]>();
  const add = (from: string, to: string) => {
    const list = edges.get(from);
    if (list) list.push(to);
    else edges.set(from, [to]);
  };
  for (const c of children) add(key(c.repo_id, c.parent), key(c.repo_id, c.child));
  for (const m of manifests) if (m.subject) add(key(m.repo_id, m.subject), key(m.repo_id, m.digest));
  const keep = new Set<string>();
  const queue: string[] = [];
  const reach = (k: string) => {
    if (!keep.has(k)) {
      keep.add(k);
      queue.push(k);
    }
  };
  for (const t of tags) reach(key(t.repo_id, t.digest));
  for (const m of manifests) if (Number(m.created_at) >= cutoff) reach(key(m.repo_id, m.digest));
  while (queue.length > 0) for (const next of edges.get(queue.pop()!) ?? []) reach(next);
  return manifests
    .filter((m) => !keep.has(key(m.repo_id, m.digest)))
    .map((m) => ({ repoId: Number(m.repo_id), repo: m.name, digest: m.digest, size: Number(m.size) }));
}

/** Blobs that would be garbage once `doomed` manifests are gone. */
async function unreferencedBlobs(
  db: SqlDb,
  cutoff: number,
  doomed: Set<string>,
): Promise<{ digest: Digest; size: number }[]> {
  const free = await db.all<{ digest: Digest; size: number }>(
    `SELECT b.digest, b.size FROM blobs b WHERE b.state = 'live' AND b.touched_at < ?
     AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.child = b.digest AND r.kind = 0)
     AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.digest = b.digest)
     AND NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = b.digest AND l.linked_at >= ?)`,
    [cutoff, cutoff],
  );
  const out = free.map((b) => ({ digest: b.digest, size: Number(b.size) }));
  if (doomed.size === 0) return out;
  // Blobs referenced only by doomed manifests go too.
  const refs = await db.all<{ repo_id: number; parent: string; child: Digest; size: number }>(
    `SELECT r.repo_id, r.parent, r.child, b.size FROM manifest_refs r JOIN blobs b ON b.digest = r.child
     WHERE r.kind = 0 AND b.state = 'live' AND b.touched_at < ?
     AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.digest = b.digest)
     AND NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = b.digest AND l.linked_at >= ?)`,
    [cutoff, cutoff],
  );
  const kept = new Set<string>();
  const candidates = new Map<string, number>();
  for (const r of refs) {
    if (doomed.has(`${Number(r.repo_id)} ${r.parent}`)) candidates.set(r.child, Number(r.size));
    else kept.add(r.child);
  }
  for (const [digest, size] of candidates) if (!kept.has(digest)) out.push({ digest: digest as Digest, size });
  return out;
}

/** Deletes doomed manifests, parents before children, each re-checked (no tag, no parent) in its transaction. */
async function deleteManifests(db: SqlDb, doomed: ManifestRow[], cutoff: number): Promise<GcReport['manifests']> {
  const done: GcReport['manifests'] = [];
  let left = doomed;
  for (let progress = true; progress && left.length > 0; ) {
    progress = false;
    const next: ManifestRow[] = [];
    for (let i = 0; i < left.length; i += BATCH) {
      const batch = left.slice(i, i + BATCH);
      const deleted = await db.tx(async (q) => {
        const ok: ManifestRow[] = [];
        for (const m of batch) {
          const row = await q.get(
            `SELECT 1 AS x FROM manifests WHERE repo_id = ? AND digest = ? AND created_at < ?${db.dialect.forUpdate}`,
            [m.repoId, m.digest, cutoff],
          );
          if (!row) continue;
          const r = await q.run(
            `DELETE FROM manifests WHERE repo_id = ? AND digest = ?
             AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = ? AND t.digest = ?)
             AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.repo_id = ? AND r.child = ? AND r.kind = 1)`,
            [m.repoId, m.digest, m.repoId, m.digest, m.repoId, m.digest],
          );
          if (r.changes > 0) ok.push(m);
        }
        return ok;
      });
      const gone = new Set(deleted);
      for (const m of batch) if (!gone.has(m)) next.push(m);
      for (const m of deleted) done.push({ repo: m.repo, digest: m.digest, size: m.size });
      if (deleted.length > 0) progress = true;
      await yieldLoop();
    }
    left = next;
  }
  return done;
}

/**
 * Unlinks blobs from repositories where no manifest of that repository references them and the link is old, for
 * blobs still referenced elsewhere (the links of garbage blobs go with the blobs, in deleteBlobs).
 */
async function deleteLinks(db: SqlDb, cutoff: number): Promise<number> {
  const stale = await db.all<{ repo_id: number; digest: string }>(
    `SELECT l.repo_id, l.digest FROM repo_blobs l JOIN blobs b ON b.digest = l.digest
     WHERE l.linked_at < ? AND b.touched_at < ?
     AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.repo_id = l.repo_id AND r.child = l.digest AND r.kind = 0)
     AND EXISTS (SELECT 1 FROM manifest_refs r WHERE r.child = l.digest AND r.kind = 0)`,
    [cutoff, cutoff],
  );
  let n = 0;
  for (let i = 0; i < stale.length; i += BATCH) {
    const batch = stale.slice(i, i + BATCH);
    n += await db.tx(async (q) => {
      let c = 0;
      for (const l of batch) {
        await q.get(`SELECT state FROM blobs WHERE digest = ?${db.dialect.forUpdate}`, [l.digest]);
        const r = await q.run(
          `DELETE FROM repo_blobs WHERE repo_id = ? AND digest = ? AND linked_at < ?
           AND EXISTS (SELECT 1 FROM blobs b WHERE b.digest = repo_blobs.digest AND b.touched_at < ?)
           AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.repo_id = repo_blobs.repo_id AND r.child = repo_blobs.digest AND r.kind = 0)`,
          [l.repo_id, l.digest, cutoff, cutoff],
        );
        c += r.changes;
      }
      return c;
    });
    await yieldLoop();
  }
  return n;
}

const GARBAGE = `touched_at < ?
  AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.child = blobs.digest AND r.kind = 0)
  AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.digest = blobs.digest)
  AND NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = blobs.digest AND l.linked_at >= ?)`;

/**
 * Removes garbage blobs (and finishes removals a crash interrupted), a batch at a time: lock the rows, mark those
 * still garbage `deleting` and drop their (old) links in one transaction, delete the bytes, then the rows.
 */
async function deleteBlobs(reg: Registry, db: SqlDb, cutoff: number): Promise<{ digest: Digest; size: number }[]> {
  const candidates = await db.all<{ digest: Digest }>(
    `SELECT digest FROM blobs WHERE state = 'deleting' OR (state = 'live' AND ${GARBAGE})`,
    [cutoff, cutoff],
  );
  const gone: { digest: Digest; size: number }[] = [];
  for (let i = 0; i < candidates.length; i += BATCH) {
    const batch = candidates.slice(i, i + BATCH).map((c) => c.digest);
    const marks = batch.map(() => '?').join(', ');
    const marked = await db.tx(async (q) => {
      await q.all(`SELECT digest FROM blobs WHERE digest IN (${marks}) ORDER BY digest${db.dialect.forUpdate}`, batch);
      const rows = await q.all<{ digest: Digest; size: number }>(
        `UPDATE blobs SET state = 'deleting' WHERE digest IN (${marks}) AND (state = 'deleting' OR (${GARBAGE}))
         RETURNING digest, size`,
        [...batch, cutoff, cutoff],
      );
      if (rows.length > 0)
        await q.run(
          `DELETE FROM repo_blobs WHERE digest IN (${rows.map(() => '?').join(', ')})`,
          rows.map((r) => r.digest),
        );
      return rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
    });
    for (let j = 0; j < marked.length; j += PARALLEL_DELETES) {
      await Promise.all(
        marked.slice(j, j + PARALLEL_DELETES).map(async (b) => {
          try {
            await reg.blobs.delete(b.digest);
          } catch (err) {
            if (!(isBerthError(err) && err.code === 'NOT_FOUND')) throw err;
          }
        }),
      );
    }
    if (marked.length > 0) {
      await db.run(
        `DELETE FROM blobs WHERE state = 'deleting' AND digest IN (${marked.map(() => '?').join(', ')})`,
        marked.map((b) => b.digest),
      );
    }
    gone.push(...marked);
    await yieldLoop();
  }
  return gone;
}

/** Uploads untouched for the grace window: their rows and partial blobs go. */
async function purgeUploads(reg: Registry, db: SqlDb, cutoff: number): Promise<number> {
  const stale = await db.all<{ id: string }>('SELECT id FROM uploads WHERE updated_at < ?', [cutoff]);
  for (const u of stale) await reg.purgeUpload(u.id);
  // Partial blobs without an upload row (a crash between the two) go as well, once old.
  const known = new Set((await db.all<{ id: string }>('SELECT id FROM uploads')).map((u) => u.id));
  let n = stale.length;
  for await (const p of reg.blobs.partials()) {
    if (!known.has(p.ref) && p.updatedAt < cutoff) {
      await reg.blobs.abort(p.ref);
      n++;
    }
  }
  return n;
}
