/**
 * Garbage collection of `n` blobs while serving: a registry root seeded with n blobs (tiny files), half referenced
 * by n/20 tagged manifests of 10 layers, half linked to a repository but referenced by nothing, all older than the
 * grace window. With the registry serving, wrk measures GET manifest by tag alone, then again while a collection
 * runs through the admin API: the collection's marking and sweeping times, and p99 with and without it.
 * distribution cannot collect while serving (`garbage-collect` wants the registry stopped or read-only); its
 * offline `garbage-collect` over n unreferenced blobs is timed beside, for scale.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { migrate } from '../src/registry/meta/schema.ts';
import { SqliteDb } from '../src/registry/meta/sql.ts';
import { serveRegistry } from '../src/registry/testkit.ts';
import { buildImage } from './lib/archive.ts';
import { type LoadFigures, wrk } from './lib/load.ts';
import { run } from './lib/proc.ts';

export interface GcFigures {
  blobs: number;
  deleted: number;
  markMs: number;
  sweepMs: number;
  gcSeconds: number;
  alone: LoadFigures;
  during: LoadFigures;
  distributionSeconds: number;
  distributionDeleted: number;
}

const hex = () => randomBytes(32).toString('hex');

/** Writes n blob files and their rows into a fresh registry root, as the registry would have left them. */
export async function seedBerth(root: string, n: number): Promise<void> {
  const dir = join(root, 'blobs', 'sha256');
  await mkdir(dir, { recursive: true });
  await mkdir(join(root, 'ingest'), { recursive: true });
  const db = new SqliteDb(join(root, 'registry.db'));
  await migrate(db, async (sql) => db.exec(sql));
  const old = Date.now() - 2 * 3_600_000;
  const digests: string[] = [];
  for (let i = 0; i < n; i++) {
    const h = hex();
    writeFileSync(join(dir, h), h);
    digests.push(`sha256:${h}`);
  }
  await db.tx(async (q) => {
    await q.run('INSERT INTO repositories (name, created_at) VALUES (?, ?)', ['gc/app', old]);
    for (const d of digests) {
      await q.run(`INSERT INTO blobs (digest, size, state, created_at, touched_at) VALUES (?, 64, 'live', ?, ?)`, [
        d,
        old,
        old,
      ]);
      await q.run('INSERT INTO repo_blobs (repo_id, digest, linked_at) VALUES (1, ?, ?)', [d, old]);
    }
    const kept = digests.slice(0, n / 2);
    for (let m = 0; m * 10 < kept.length; m++) {
      const layers = kept.slice(m * 10, m * 10 + 10);
      const content = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: layers[0], size: 64 },
          layers: layers.map((digest) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: 64 })),
        }),
      );
      const digest = `sha256:${hex()}`;
      await q.run(
        'INSERT INTO manifests (repo_id, digest, media_type, size, content, created_at) VALUES (1, ?, ?, ?, ?, ?)',
        [digest, 'application/vnd.oci.image.manifest.v1+json', content.length, content, old],
      );
      for (const l of layers)
        await q.run('INSERT INTO manifest_refs (repo_id, parent, child, kind) VALUES (1, ?, ?, 0)', [digest, l]);
      await q.run('INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (1, ?, ?, ?)', [`t${m}`, digest, old]);
    }
  });
  await db.close();
}

/** n unreferenced blobs in distribution's storage layout. */
function seedDistribution(root: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const h = hex();
    const d = join(root, 'docker', 'registry', 'v2', 'blobs', 'sha256', h.slice(0, 2), h);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'data'), h);
  }
  mkdirSync(join(root, 'docker', 'registry', 'v2', 'repositories'), { recursive: true });
}

export async function benchGc(work: string, n: number, seconds: number): Promise<GcFigures> {
  const root = join(work, 'gc-berth');
  await seedBerth(root, n);
  const reg = await serveRegistry(undefined, { root });
  try {
    const img = await buildImage(work, 'gcimg', [{ dirs: [], files: [{ path: 'f', size: 2048 }] }], { gzip: true });
    await run('skopeo', [
      '--insecure-policy',
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `docker-archive:${img.archive}`,
      `docker://${reg.host}/bench/app:v1`,
    ]);
    // The start-up repair walks the seeded blobs in a worker: the measurement alone starts after it.
    for (let i = 0; i < 1200 && !/repair: /.test(reg.log()); i++) await new Promise((r) => setTimeout(r, 100));
    const url = `${reg.url}/v2/bench/app/manifests/v1`;
    const accept = { Accept: 'application/vnd.docker.distribution.manifest.v2+json' };
    const alone = await wrk(url, seconds, accept);
    const during = wrk(url, seconds * 3, accept);
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = performance.now();
    const res = await fetch(`${reg.url}/admin/v1/gc`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    const report = (await res.json()) as { blobs: unknown[]; markMs: number; sweepMs: number };
    const gcSeconds = (performance.now() - t0) / 1000;
    const duringFigures = await during;
    // distribution, offline, over n unreferenced blobs.
    const droot = join(work, 'gc-dist');
    seedDistribution(droot, n);
    const config = join(work, 'gc-dist.yml');
    await writeFile(
      config,
      `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${droot}\n  delete:\n    enabled: true\n`,
    );
    await run('sync', []);
    const t1 = performance.now();
    const deleted = await new Promise<number>((resolve, reject) => {
      const p = spawn('/usr/bin/docker-registry', ['garbage-collect', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      let count = 0;
      let tail = '';
      p.stdout.on('data', (d: Buffer) => {
        const s = tail + d.toString();
        const lines = s.split('\n');
        tail = lines.pop() ?? '';
        for (const l of lines) if (/blob eligible for deletion/.test(l)) count++;
      });
      p.stderr.resume();
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(count) : reject(new Error(`garbage-collect exited ${code}`))));
    });
    const distributionSeconds = (performance.now() - t1) / 1000;
    await rm(droot, { recursive: true, force: true });
    return {
      blobs: n,
      deleted: report.blobs.length,
      markMs: report.markMs,
      sweepMs: report.sweepMs,
      gcSeconds,
      alone,
      during: duringFigures,
      distributionSeconds,
      distributionDeleted: deleted,
    };
  } finally {
    await reg.stop();
    await rm(root, { recursive: true, force: true });
  }
}

export function gcReport(f: GcFigures): string {
  return [
    `\n## GC of ${f.blobs} blobs while serving (half referenced by tagged manifests, half garbage)`,
    `- berth: ${f.deleted} blobs deleted; marking ${f.markMs} ms, sweeping ${f.sweepMs} ms (${f.gcSeconds.toFixed(1)} s end to end)`,
    `- GET manifest by tag alone: ${f.alone.rps.toFixed(0)} req/s, p99 ${f.alone.p99Ms.toFixed(1)} ms; during the collection: ${f.during.rps.toFixed(0)} req/s, p99 ${f.during.p99Ms.toFixed(1)} ms (${(f.during.p99Ms / f.alone.p99Ms).toFixed(2)}×)`,
    `- distribution 2.8 garbage-collect, offline (registry stopped), ${f.blobs} unreferenced blobs: ${f.distributionSeconds.toFixed(1)} s, ${f.distributionDeleted} reported eligible`,
  ].join('\n');
}
