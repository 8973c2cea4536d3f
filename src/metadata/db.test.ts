import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MetadataDB } from './db.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-db-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('prepare hands back the same statement for the same SQL text, and it runs again with new values', () => {
  const db = new MetadataDB(join(dir, 'same.db'));
  try {
    const sql = 'INSERT INTO volumes (name, driver, created) VALUES (?, ?, ?)';
    const a = db.prepare(sql);
    assert.equal(db.prepare(sql), a);
    a.run('v1', 'local', 1);
    db.prepare(sql).run('v2', 'local', 2);
    const names = db.prepare('SELECT name FROM volumes ORDER BY name').all() as { name: string }[];
    assert.deepEqual(
      names.map((r) => r.name),
      ['v1', 'v2'],
    );
  } finally {
    db.close();
  }
});

test('SQL with varying text does not grow the cache without bound: the least recently used statement goes', () => {
  const db = new MetadataDB(join(dir, 'bound.db'));
  try {
    const kept = db.prepare('SELECT 0 AS n');
    const first = db.prepare('SELECT 1 AS n');
    for (let i = 2; i < 1000; i++) {
      assert.equal((db.prepare(`SELECT ${i} AS n`).get() as { n: number }).n, i);
      // Used all along, so it stays the most recently used and is never dropped.
      assert.equal(db.prepare('SELECT 0 AS n'), kept);
    }
    assert.notEqual(db.prepare('SELECT 1 AS n'), first, 'the oldest statement was dropped and prepared anew');
    assert.equal((db.prepare('SELECT 1 AS n').get() as { n: number }).n, 1);
  } finally {
    db.close();
  }
});
