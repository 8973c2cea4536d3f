/**
 * The scan worker thread: reads an image's layers from the blob store (its own backend, opened from the same
 * config), builds the SBOM from the layer tars (trust/'s extractors over a pruned scratch tree under
 * `<root>/trust/scratch/`) and matches it against the OSV database at `<root>/trust/osv.db`. One message per image;
 * the answer is the scan report, or an error.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { Digest } from '../../util/digest.ts';
import type { RegistryConfig } from '../config.ts';
import { openBlobs } from '../open.ts';
import type { ScanJob } from './scanner.ts';

const { config } = workerData as { config: RegistryConfig };
const t = await import('../../trust/index.ts');
const blobs = await openBlobs(config);
const dir = join(config.root, 'trust');
const db = new t.VulnDb(join(dir, 'osv.db'));
// What an earlier run left when it stopped mid-scan.
await rm(join(dir, 'scratch'), { recursive: true, force: true });

async function scan(job: ScanJob) {
  if (db.info().advisories === 0)
    throw new Error('the vulnerability database is empty: import one with "berth registry scan db import DIR|ZIP"');
  const scratch = join(dir, 'scratch', randomBytes(8).toString('hex'));
  const sbom = await t.sbomFromLayers(
    job.layers.map((d: Digest) => () => blobs.read(d, {})),
    scratch,
  );
  return t.scanSbom(db, sbom, { image: { name: job.repo, digest: job.digest }, maxAgeDays: job.maxAgeDays });
}

parentPort!.on('message', (msg: { id: number; job: ScanJob }) => {
  scan(msg.job).then(
    (report) => parentPort!.postMessage({ id: msg.id, report }),
    (err: unknown) => parentPort!.postMessage({ id: msg.id, error: (err as Error)?.message ?? String(err) }),
  );
});
