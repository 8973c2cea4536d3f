import { setImmediate as yieldLoop } from 'node:timers/promises';
import type { Digest } from '../util/digest.ts';
import { isBerthError } from '../util/errors.ts';
import { RegistryError } from './errors.ts';
import type { SqlDb } from './meta/sql.ts';
import type { Registry } from './service.ts';

/** What a scrub found in storage without a metadata row, and what it did with each. */
export interface ScrubReport {
  /** Blobs an interrupted upload had committed: linked to its repository, as the upload's end would have. */
  adopted: { digest: string; size: number; repo: string }[];
  /** Blobs nothing claims: removed (listed only, on a dry run). */
  orphans: { digest: string; size: number }[];
}

const BATCH = 512;

/**
 * Finds blobs the backend holds but the metadata does not list. A crash between an upload's commit (the bytes
 * placed under their digest) and the transaction that records the blob leaves one; so does a quota refused after
 * the commit. The metadata decides what exists, so such a blob is never served, but it takes space.
 *
 * One that an upload still claims (`uploads.digest`, set before the commit) is adopted: linked to the upload's
 * repository and the upload closed, exactly what `linkUploaded` would have done (it is idempotent, so a process
 * still finishing that upload is not disturbed; a quota refusal leaves it for later). One nothing claims is
 * removed under the collector's protocol: in one transaction that holds the digest's lock, re-checked (no row, no
 * claim) and recorded as `deleting`, so an upload of the same digest waits (`claimDigest`); then the bytes go, then
 * the row. A crash in between leaves a `deleting` row, which the next collection finishes.
 */
export async function scrub(reg: Registry, opts: { dryRun: boolean }): Promise<ScrubReport> {
  const db = reg.store.db;
  const report: ScrubReport = { adopted: [], orphans: [] };
  const found: Digest[] = [];
  // Digests only: nearly every blob is listed, and only the few that are not need their size (a stat or a HEAD).
  for await (const d of reg.blobs.digests()) {
    found.push(d);
    if (found.length >= BATCH) await scrubBatch(reg, db, found.splice(0), opts, report);
  }
  if (found.length > 0) await scrubBatch(reg, db, found, opts, report);
  return report;
}

async function scrubBatch(
  reg: Registry,
  db: SqlDb,
  digests: Digest[],
  opts: { dryRun: boolean },
  report: ScrubReport,
): Promise<void> {
  const marks = digests.map(() => '?').join(', ');
  const known = new Set(
    (await db.all<{ digest: string }>(`SELECT digest FROM blobs WHERE digest IN (${marks})`, digests)).map(
      (r) => r.digest,
    ),
  );
  for (const digest of digests) {
    if (known.has(digest)) continue;
    let b: { digest: Digest; size: number };
    try {
      b = await reg.blobs.info(digest);
    } catch (err) {
      // Gone since the listing (a collection or another process's scrub removed it).
      if (isBerthError(err) && err.code === 'NOT_FOUND') continue;
      throw err;
    }
    const claim = await db.get<{ id: string }>('SELECT id FROM uploads WHERE digest = ? ORDER BY updated_at DESC', [
      b.digest,
    ]);
    if (claim) {
      const u = await reg.store.upload(claim.id);
      if (!u) continue;
      if (opts.dryRun) {
        report.adopted.push({ digest: b.digest, size: b.size, repo: u.repo });
        continue;
      }
      try {
        await reg.store.linkUploaded(u, b.digest, b.size);
        report.adopted.push({ digest: b.digest, size: b.size, repo: u.repo });
      } catch (err) {
        // A quota that refuses it still: left for the collection after the upload is purged.
        if (!(err instanceof RegistryError && err.oci === 'DENIED')) throw err;
      }
      continue;
    }
    if (opts.dryRun) {
      report.orphans.push(b);
      continue;
    }
    const marked = await db.tx(async (q) => {
      if (db.dialect.lockKey) await q.get(db.dialect.lockKey, [b.digest]);
      if (await q.get('SELECT 1 AS x FROM blobs WHERE digest = ?', [b.digest])) return false;
      if (await q.get('SELECT 1 AS x FROM uploads WHERE digest = ?', [b.digest])) return false;
      const t = Date.now();
      await q.run(`INSERT INTO blobs (digest, size, state, created_at, touched_at) VALUES (?, ?, 'deleting', ?, ?)`, [
        b.digest,
        b.size,
        t,
        t,
      ]);
      return true;
    });
    if (!marked) continue;
    try {
      await reg.blobs.delete(b.digest);
    } catch (err) {
      if (!(isBerthError(err) && err.code === 'NOT_FOUND')) throw err;
    }
    await db.run(`DELETE FROM blobs WHERE digest = ? AND state = 'deleting'`, [b.digest]);
    report.orphans.push(b);
  }
  await yieldLoop();
}
