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
  let first: number;
  try {
    const records = new SnapshotRecords(db);
    first = records.create('a', null, 'active').id;
    assert.ok(Number.isInteger(first) && first >= 1 && first <= 999, `first id ${first}`);
    assert.equal(records.create('b', null, 'active').id, first + 1);
    records.delete('b');
    assert.equal(records.create('c', null, 'active').id, first + 2);
    records.delete('c');
    records.delete('a');
    assert.equal(records.create('d', null, 'active').id, first + 3);
    assert.throws(() => records.create('d', null, 'active'));
    assert.equal(records.create('e', null, 'active').id, first + 4, 'a refused insert gives no id out');
  } finally {
    db.close();
  }
  const again = new MetadataDB(file);
  try {
    assert.equal(new SnapshotRecords(again).create('f', null, 'active').id, first + 5);
  } finally {
    again.close();
  }
});

test('fresh data roots start their snapshot ids at different points', () => {
  const firsts = new Set<number>();
  for (let i = 0; i < 8; i++) {
    const db = new MetadataDB(join(dir, `fresh-${i}.db`));
    try {
      firsts.add(new SnapshotRecords(db).create('a', null, 'active').id);
    } finally {
      db.close();
    }
  }
  // Eight draws below 1000 all alike: about one chance in 10^20.
  assert.ok(firsts.size > 1, `first ids ${[...firsts]}`);
});
