import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataDB, VolumeRecords } from '../metadata/index.ts';
import { EventLog } from '../util/events.ts';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { ANONYMOUS_LABEL, VolumeService } from './service.ts';

let root: string;
let db: MetadataDB;
let events: EventLog;
let inUse = new Set<string>();
let vols: VolumeService;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-volumes-'));
  db = new MetadataDB(join(root, 'berth.db'));
  events = new EventLog();
  vols = new VolumeService({
    root,
    records: new VolumeRecords(db),
    events,
    usedBy: (n) => (inUse.has(n) ? ['c0ffee'] : []),
  });
});
after(async () => {
  db.close();
  await rm(root, { recursive: true, force: true });
});

test('create, inspect, list with filters, idempotent create, events', async () => {
  const v = await vols.create({ Name: 'data', Labels: { app: 'web' } });
  assert.equal(v.Name, 'data');
  assert.equal(v.Driver, 'local');
  assert.equal(v.Mountpoint, join(root, 'volumes', 'data', '_data'));
  assert.ok((await stat(v.Mountpoint)).isDirectory());
  assert.deepEqual(v.Labels, { app: 'web' });
  assert.deepEqual((await vols.create({ Name: 'data' })).CreatedAt, v.CreatedAt);
  const anon = await vols.create();
  assert.match(anon.Name, /^[0-9a-f]{64}$/);
  assert.ok(anon.Labels && ANONYMOUS_LABEL in anon.Labels);
  assert.deepEqual(
    vols.list(new Map([['label', ['app=web']]])).map((x) => x.Name),
    ['data'],
  );
  assert.deepEqual(
    vols.list(new Map([['name', ['dat']]])).map((x) => x.Name),
    ['data'],
  );
  assert.equal(vols.inspect('data').Name, 'data');
  // As dockerd: the second create of the same volume is logged too.
  assert.equal(
    events.since(0).filter((e) => e.Type === 'volume' && e.Action === 'create' && e.Actor.ID === 'data').length,
    2,
  );
});

test('bad names, drivers and options are refused with the value named', async () => {
  await assert.rejects(vols.create({ Name: 'a' }), /"a" includes invalid characters/);
  await assert.rejects(vols.create({ Name: '/abs' }), InvalidArgumentError);
  await assert.rejects(vols.create({ Name: 'x1', Driver: 'nfsplugin' }), /plugin "nfsplugin" not found/);
  await assert.rejects(vols.create({ Name: 'x2', DriverOpts: { colour: 'red' } }), /invalid option: "colour"/);
  assert.throws(() => vols.inspect('nosuch'), NotFoundError);
});

test('remove refuses a volume in use; prune takes only unused anonymous volumes unless all', async () => {
  await vols.create({ Name: 'busy' });
  await writeFile(join(vols.mountpoint('busy'), 'f'), 'hello');
  inUse.add('busy');
  await assert.rejects(vols.remove('busy'), ConflictError);
  inUse = new Set();
  const p1 = await vols.prune();
  assert.equal(p1.VolumesDeleted?.length, 1, 'only the anonymous one');
  assert.ok(vols.inspect('busy'));
  const p2 = await vols.prune(
    new Map([
      ['all', ['true']],
      ['label!', ['app=web']],
    ]),
  );
  await assert.rejects(vols.prune(new Map([['colour', ['red']]])), /invalid filter 'colour'/);
  assert.ok(p2.VolumesDeleted?.includes('busy'));
  assert.ok(!p2.VolumesDeleted?.includes('data'));
  assert.ok(p2.SpaceReclaimed >= 5);
  await vols.remove('data');
  await assert.rejects(vols.remove('data'), /no such volume/);
  await vols.remove('data', { force: true });
});

test('a volume with driver options is mounted while in use (tmpfs)', async () => {
  await vols.create({ Name: 'scratch', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });
  const p = await vols.acquire('scratch');
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  assert.ok(mounts.includes(` ${p} `), 'mounted');
  await vols.release('scratch');
  assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${p} `), 'unmounted');
  await vols.remove('scratch');
});

test('repair recreates a lost directory and never deletes unknown ones', async () => {
  await vols.create({ Name: 'lost' });
  await rm(join(root, 'volumes', 'lost'), { recursive: true });
  await writeFile(join(root, 'volumes', 'stranger'), '');
  const r = await vols.repair();
  assert.deepEqual(r.recreated, ['lost']);
  assert.ok(r.unknown.includes('stranger'));
  assert.ok((await stat(vols.mountpoint('lost'))).isDirectory());
});

test('Options as dockerd gives them back: DriverOpts {} stays {}, none is null', async () => {
  assert.deepEqual((await vols.create({ Name: 'opts-empty', DriverOpts: {} })).Options, {});
  assert.deepEqual(vols.inspect('opts-empty').Options, {});
  assert.equal((await vols.create({ Name: 'opts-none' })).Options, null);
  assert.equal(vols.list(new Map([['name', ['opts-none']]]))[0]?.Options, null);
  await vols.remove('opts-empty');
  await vols.remove('opts-none');
});

test("system df's volumes: the bytes of files and symlinks, and the containers using each", async () => {
  const v = await vols.create({ Name: 'du' });
  await writeFile(join(v.Mountpoint, 'x'), 'hello\n');
  await symlink('/nowhere', join(v.Mountpoint, 'lnk'));
  inUse.add('du');
  try {
    const du = (await vols.diskUsage()).find((x) => x.Name === 'du');
    assert.deepEqual(du?.UsageData, { RefCount: 1, Size: 6 + '/nowhere'.length });
  } finally {
    inUse.delete('du');
  }
  assert.equal((await vols.diskUsage()).find((x) => x.Name === 'du')?.UsageData?.RefCount, 0);
  await vols.remove('du');
});
