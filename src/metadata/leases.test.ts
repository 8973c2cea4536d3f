import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MetadataDB } from './db.ts';
import { LeaseRecords } from './leases.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-leases-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const open = (name: string) => new MetadataDB(join(dir, `${name}.db`));

test('a lease keeps its resources until deleted; deleting it deletes them', () => {
  const db = open('keep');
  const l = new LeaseRecords(db);
  l.create({ id: 'a', created: 1, expires: null });
  l.add('a', 'content', 'sha256:1');
  l.add('a', 'content', 'sha256:1');
  l.add('a', 'content', 'sha256:2');
  l.add('a', 'snapshot', 'snap');
  assert.deepEqual(l.resourcesOf('a', 'content'), ['sha256:1', 'sha256:2']);
  assert.deepEqual([...l.kept('content', 100)].sort(), ['sha256:1', 'sha256:2']);
  assert.deepEqual([...l.kept('snapshot', 100)], ['snap']);
  l.delete('a');
  assert.equal(l.get('a'), undefined);
  assert.deepEqual([...l.kept('content', 100)], []);
  assert.deepEqual(l.resourcesOf('a', 'content'), [], 'the resources went with the lease');
  db.close();
});

test('an expiring lease keeps its resources until it expires; expire() deletes it then', () => {
  const db = open('expire');
  const l = new LeaseRecords(db);
  l.create({ id: 'pull', created: 0, expires: 1000 });
  l.add('pull', 'content', 'sha256:p');
  assert.deepEqual([...l.kept('content', 999)], ['sha256:p']);
  assert.deepEqual([...l.kept('content', 1000)], [], 'not in force at its expiry');
  assert.equal(l.expire(999), 0);
  assert.equal(l.expire(1000), 1);
  assert.deepEqual(l.all(), []);
  db.close();
});

test('start-up repair: leases of dead operations go, expiring ones stay and say what they keep (across a reopen)', () => {
  const db = open('repair');
  const l = new LeaseRecords(db);
  l.create({ id: 'load', created: 1, expires: null });
  l.add('load', 'content', 'sha256:load');
  l.create({ id: 'pull', created: 2, expires: 5000 });
  l.add('pull', 'content', 'sha256:pulled');
  l.create({ id: 'old', created: 0, expires: 10 });
  l.add('old', 'content', 'sha256:old');
  db.close();
  const again = open('repair');
  const r = new LeaseRecords(again).repair(100);
  assert.equal(r.deleted, 1);
  assert.deepEqual([...(r.kept.get('content') ?? [])], ['sha256:pulled'], 'an expired lease keeps nothing');
  assert.deepEqual(
    new LeaseRecords(again).all().map((x) => x.id),
    ['old', 'pull'],
    'expired leases are left for the collection to delete',
  );
  again.close();
});
