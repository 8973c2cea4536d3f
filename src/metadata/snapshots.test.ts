import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MetadataDB } from './db.ts';
import { SnapshotRecords } from './snapshots.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-snaprec-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('a removed snapshot id is not given out again while the process runs, and a new process goes on from the highest kept', () => {
  const file = join(dir, 'ids.db');
  const db = new MetadataDB(file);
  try {
    const records = new SnapshotRecords(db);
    assert.equal(records.create('a', null, 'active').id, 1);
    assert.equal(records.create('b', null, 'active').id, 2);
    records.delete('b');
    assert.equal(records.create('c', null, 'active').id, 3);
    records.delete('c');
    records.delete('a');
    assert.equal(records.create('d', null, 'active').id, 4);
    assert.throws(() => records.create('d', null, 'active'));
    assert.equal(records.create('e', null, 'active').id, 5, 'a refused insert gives no id out');
  } finally {
    db.close();
  }
  const again = new MetadataDB(file);
  try {
    assert.equal(new SnapshotRecords(again).create('f', null, 'active').id, 6);
  } finally {
    again.close();
  }
});
