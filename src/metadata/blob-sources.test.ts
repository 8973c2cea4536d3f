import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BlobSourceRecords } from './blob-sources.ts';
import { MetadataDB } from './db.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-blob-sources-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('mount sources: most recent first, same registry only, never the repository pushed to', () => {
  const db = new MetadataDB(join(dir, 'a.db'));
  const s = new BlobSourceRecords(db);
  s.note('sha256:a', 'reg:5000', 'team/one');
  s.note('sha256:a', 'other:5000', 'team/two');
  s.note('sha256:a', 'reg:5000', 'team/three');
  assert.equal(s.mountSource('sha256:a', 'reg:5000', 'x/y'), 'team/three');
  assert.equal(s.mountSource('sha256:a', 'reg:5000', 'team/three'), 'team/one');
  assert.equal(s.mountSource('sha256:a', 'reg:500', 'x/y'), undefined, 'a registry is matched whole');
  assert.equal(s.mountSource('sha256:b', 'reg:5000', 'x/y'), undefined);
  // Noting again makes an entry the most recent.
  s.note('sha256:a', 'reg:5000', 'team/one');
  assert.equal(s.mountSource('sha256:a', 'reg:5000', 'x/y'), 'team/one');
  s.forget('sha256:a', 'reg:5000', 'team/one');
  assert.equal(s.mountSource('sha256:a', 'reg:5000', 'x/y'), 'team/three');
  db.close();
});

test('at most four repositories per blob, the least recently noted dropped; the record outlives the process', () => {
  const path = join(dir, 'b.db');
  const db = new MetadataDB(path);
  const s = new BlobSourceRecords(db);
  for (let i = 1; i <= 6; i++) s.note('sha256:c', 'reg', `r${i}`);
  s.note('sha256:d', 'reg', 'other');
  assert.deepEqual(s.sourcesOf('sha256:c'), ['reg/r6', 'reg/r5', 'reg/r4', 'reg/r3']);
  db.close();
  const again = new MetadataDB(path);
  const t = new BlobSourceRecords(again);
  assert.deepEqual(t.sourcesOf('sha256:c'), ['reg/r6', 'reg/r5', 'reg/r4', 'reg/r3']);
  assert.deepEqual(t.sourcesOf('sha256:d'), ['reg/other']);
  again.close();
});

test('noteAll: one transaction, each entry more recent than the one before, the same limits as note', () => {
  const db = new MetadataDB(join(dir, 'c.db'));
  const s = new BlobSourceRecords(db);
  s.note('sha256:e', 'reg', 'before');
  s.noteAll([]);
  s.noteAll([
    ...[1, 2, 3, 4, 5].map((i) => ({ digest: 'sha256:e', registry: 'reg', repo: `r${i}` })),
    { digest: 'sha256:f', registry: 'reg', repo: 'f' },
    { digest: 'sha256:e', registry: 'reg', repo: 'r2' },
  ]);
  assert.deepEqual(s.sourcesOf('sha256:e'), ['reg/r2', 'reg/r5', 'reg/r4', 'reg/r3']);
  assert.equal(s.mountSource('sha256:f', 'reg', 'x'), 'f');
  db.close();
});
