import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseReference } from '../oci/reference.ts';
import { ConflictError, DataLossError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { makeImage, testEngine, type TestEngine } from './testkit.ts';

let e: TestEngine;
before(async () => {
  e = await testEngine();
});
after(() => e.cleanup());

const file = (name: string, text: string) => ({ header: { name }, body: Buffer.from(text) });

test('register unpacks layers once, and two images share a layer snapshot', async () => {
  const base = [file('etc/os', 'base')];
  const a = await makeImage(e.content, [base, [file('a', 'a')]], { gzip: true });
  const b = await makeImage(e.content, [base, [file('b', 'b')]]);
  await e.images.register(a.desc, { tags: [parseReference('app:a')] });
  const snapsBefore = (await readdir(join(e.root, 'snapshots'))).length;
  await e.images.register(b.desc, { tags: [parseReference('app:b')] });
  const snapsAfter = (await readdir(join(e.root, 'snapshots'))).length;
  assert.equal(snapsAfter - snapsBefore, 1, 'only the new top layer is unpacked');
  assert.equal(e.images.resolve('app:a').configDigest, a.configDigest);
  assert.equal(e.images.resolve(a.configDigest.slice(7, 19)).configDigest, a.configDigest);
  assert.equal(e.images.resolve(a.configDigest).manifestDigest, a.desc.digest);
});

test('the same image registered twice at once gives one image', async () => {
  const img = await makeImage(e.content, [[file('x', '1')], [file('y', '2')], [file('z', '3')]], { gzip: true });
  await Promise.all([
    e.images.register(img.desc, { tags: [parseReference('twice:1')] }),
    e.images.register(img.desc, { tags: [parseReference('twice:1')] }),
  ]);
  assert.equal(e.images.list().filter((r) => r.configDigest === img.configDigest).length, 1);
  const snaps = [];
  for await (const s of e.images.snapshotter.walk()) snaps.push(s);
  assert.equal(snaps.filter((s) => s.kind === 'active').length, 0, 'no transient snapshot left');
});

test('a layer whose content does not match its diff ID is refused, leaving no snapshot', async () => {
  const img = await makeImage(e.content, [[file('good', 'g')]]);
  // Register a manifest whose config claims a different diff ID.
  const badConfig = {
    ...img.config,
    rootfs: { type: 'layers' as const, diff_ids: [`sha256:${'0'.repeat(64)}` as const] },
  };
  const c = await e.content.put(Buffer.from(JSON.stringify(badConfig)));
  const m = await e.content.put(
    Buffer.from(
      JSON.stringify({ ...img.manifest, config: { ...img.manifest.config, digest: c.digest, size: c.size } }),
    ),
  );
  const before = [];
  for await (const s of e.images.snapshotter.walk()) before.push(s.key);
  await assert.rejects(
    e.images.register({ mediaType: img.desc.mediaType, digest: m.digest, size: m.size }),
    DataLossError,
  );
  const afterKeys = [];
  for await (const s of e.images.snapshotter.walk()) afterKeys.push(s.key);
  assert.deepEqual(afterKeys.sort(), before.sort());
});

test('a manifest naming a missing blob, or of an unknown media type, is refused', async () => {
  const img = await makeImage(e.content, [[file('m', 'm')]]);
  const missing = {
    ...img.manifest,
    layers: [{ ...img.manifest.layers[0]!, digest: `sha256:${'1'.repeat(64)}` as const }],
  };
  const m1 = await e.content.put(Buffer.from(JSON.stringify(missing)));
  await assert.rejects(
    e.images.register({ mediaType: img.desc.mediaType, digest: m1.digest, size: m1.size }),
    NotFoundError,
  );
  const unknown = { ...img.manifest, layers: [{ ...img.manifest.layers[0]!, mediaType: 'application/x-weird' }] };
  const m2 = await e.content.put(Buffer.from(JSON.stringify(unknown)));
  await assert.rejects(
    e.images.register({ mediaType: img.desc.mediaType, digest: m2.digest, size: m2.size }),
    /unsupported layer media type "application\/x-weird"/,
  );
  const s1 = await e.content.put(Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] })));
  await assert.rejects(
    e.images.register({
      mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
      digest: s1.digest,
      size: s1.size,
    }),
    /schema 1/,
  );
});

test('tag history, rollback one step at a time and to a digest', async () => {
  const v1 = await makeImage(e.content, [[file('v', '1')]]);
  const v2 = await makeImage(e.content, [[file('v', '2')]]);
  const v3 = await makeImage(e.content, [[file('v', '3')]]);
  for (const v of [v1, v2, v3]) await e.images.register(v.desc, { tags: [parseReference('web:prod')] });
  assert.equal(e.images.resolve('web:prod').manifestDigest, v3.desc.digest);
  const h = e.images.tagHistory('web:prod');
  assert.deepEqual(
    h.map((x) => x.manifestDigest),
    [v3.desc.digest, v2.desc.digest, v1.desc.digest],
  );
  let r = e.images.rollback('web:prod');
  assert.equal(r.to, v2.desc.digest);
  r = e.images.rollback('web:prod');
  assert.equal(r.to, v1.desc.digest);
  await assert.rejects(async () => e.images.rollback('web:prod'), /no earlier version/);
  r = e.images.rollback('web:prod', v3.configDigest.slice(7, 20));
  assert.equal(r.to, v3.desc.digest);
  assert.equal(e.images.resolve('web:prod').manifestDigest, v3.desc.digest);
  assert.throws(() => e.images.rollback('web:prod', 'sha256:abcdef'), NotFoundError);
  // Old versions are dangling but kept by history from prune, unless asked.
  const pruned = await e.images.prune({});
  assert.ok(!(pruned.ImagesDeleted ?? []).some((d) => d.Deleted === v1.configDigest));
  assert.ok(e.images.records.get(v1.desc.digest));
  const all = await e.images.prune({ history: true });
  assert.ok((all.ImagesDeleted ?? []).some((d) => d.Deleted === v1.configDigest));
  assert.equal(e.images.records.get(v1.desc.digest), undefined);
  assert.ok(all.SpaceReclaimed > 0);
});

test('rmi: untag one of several tags; refuse an ID with tags in several repos unless forced; errors', async () => {
  const img = await makeImage(e.content, [[file('r', 'r')]]);
  await e.images.register(img.desc, { tags: [parseReference('one:1'), parseReference('two:1')] });
  assert.deepEqual(await e.images.remove('one:1'), [{ Untagged: 'one:1' }]);
  e.images.tag('two:1', 'three:1');
  await assert.rejects(e.images.remove(img.configDigest.slice(7, 19)), ConflictError);
  const out = await e.images.remove(img.configDigest.slice(7, 19), { force: true });
  assert.deepEqual(out.slice(0, 3), [{ Untagged: 'three:1' }, { Untagged: 'two:1' }, { Deleted: img.configDigest }]);
  assert.equal(await e.content.has(img.desc.digest), false, 'manifest blob collected');
  assert.equal(await e.content.has(img.manifest.layers[0]!.digest), false, 'layer blob collected');
  await assert.rejects(e.images.remove('nosuch:tag'), /No such image: nosuch:tag/);
  assert.throws(() => e.images.resolve('UPPER/case'), InvalidArgumentError);
  assert.throws(() => e.images.resolve('a:b:c'), /invalid reference format/);
});

test('collect removes blobs and snapshots nothing needs, keeps what images need', async () => {
  const keep = await makeImage(e.content, [[file('k', 'k')]]);
  await e.images.register(keep.desc, { tags: [parseReference('keep:1')] });
  const orphan = await e.content.put(Buffer.from('orphan blob'));
  await e.images.snapshotter.prepare('orphan-active', undefined, { labels: {} });
  await e.images.snapshotter.commit('orphan-committed', 'orphan-active');
  const gc = await e.images.collect();
  assert.ok(gc.blobs.includes(orphan.digest));
  await assert.rejects(e.images.snapshotter.stat('orphan-committed'), NotFoundError);
  assert.ok(await e.content.has(keep.desc.digest));
  assert.ok(await e.content.has(keep.manifest.layers[0]!.digest));
});

test('find: the Engine API filters, one entry per image ID, newest first; matching tags only with reference', async () => {
  const f = (o: Record<string, string[]>) => new Map(Object.entries(o));
  const old = await makeImage(e.content, [[file('f', 'old')]], { created: '2020-01-01T00:00:00Z', labels: { a: '1' } });
  const mid = await makeImage(e.content, [[file('f', 'mid')]], { created: '2022-01-01T00:00:00Z', labels: { a: '2' } });
  const dang = await makeImage(e.content, [[file('f', 'dangling')]], { created: '2023-01-01T00:00:00Z' });
  await e.images.register(old.desc, { tags: [parseReference('find/old:1'), parseReference('find/old:keep')] });
  await e.images.register(mid.desc, { tags: [parseReference('find/mid:1')] });
  await e.images.register(dang.desc);
  const ids = async (filters: Record<string, string[]>) =>
    (await e.images.find(f(filters)))
      .map((i) => i.record.configDigest)
      .filter((d) => [old, mid, dang].some((x) => x.configDigest === d));
  assert.deepEqual(await ids({}), [dang.configDigest, mid.configDigest, old.configDigest], 'newest first');
  assert.deepEqual(await ids({ dangling: ['true'] }), [dang.configDigest]);
  assert.ok(!(await ids({ dangling: ['false'] })).includes(dang.configDigest));
  assert.deepEqual(await ids({ label: ['a'] }), [mid.configDigest, old.configDigest]);
  assert.deepEqual(await ids({ label: ['a!=2'] }), [dang.configDigest, old.configDigest], 'no label a passes too');
  assert.deepEqual(await ids({ before: ['find/mid:1'] }), [old.configDigest]);
  assert.deepEqual(await ids({ since: ['find/old:1'] }), [dang.configDigest, mid.configDigest]);
  assert.deepEqual(await ids({ until: ['2021-01-01T00:00:00Z'] }), [old.configDigest]);
  const byRef = await e.images.find(f({ reference: ['find/old:k*'] }));
  assert.deepEqual(
    byRef.map((i) => i.tags),
    [['docker.io/find/old:keep']],
    'only the matching tags',
  );
  await assert.rejects(e.images.find(f({ dangling: ['maybe'] })), InvalidArgumentError);
  await assert.rejects(e.images.find(f({ colour: ['red'] })), /invalid filter 'colour'/);
  await assert.rejects(e.images.find(f({ before: ['no/such:image'] })), NotFoundError);
});

test('history: steps newest first with the size of the layer each made; disk usage counts shared layers', async () => {
  const base = [file('etc/base', '12345678')];
  const one = await makeImage(e.content, [base, [file('one', '123')]]);
  const two = await makeImage(e.content, [base, [file('two', '12')]]);
  await e.images.register(one.desc, { tags: [parseReference('hist:1')] });
  await e.images.register(two.desc, { tags: [parseReference('hist:2')] });
  const h = await e.images.history('hist:1');
  assert.equal(h.image.record.configDigest, one.configDigest);
  assert.deepEqual(
    h.steps.map((s) => [s.createdBy, s.size]),
    [
      ['layer 1', 3],
      ['layer 0', 8],
    ],
  );
  const du = await e.images.diskUsage();
  const entry = (c: string) => du.images.find((i) => i.image.record.configDigest === c)!;
  assert.equal(entry(one.configDigest).sharedSize, 8, 'the base layer is shared');
  assert.equal(entry(two.configDigest).sharedSize, 8);
  assert.ok(du.layersSize >= 8 + 3 + 2);
  assert.equal(e.images.size(one.config), 11);
});

test('prune takes the Engine API filters: dangling=false for all, until, label and label!', async () => {
  const f = (o: Record<string, string[]>) => new Map(Object.entries(o));
  const a = await makeImage(e.content, [[file('p', 'a')]], { created: '2020-01-01T00:00:00Z', labels: { keep: 'no' } });
  const b = await makeImage(e.content, [[file('p', 'b')]], {
    created: '2020-01-01T00:00:00Z',
    labels: { keep: 'yes' },
  });
  await e.images.register(a.desc, { tags: [parseReference('prune/a:1')] });
  await e.images.register(b.desc, { tags: [parseReference('prune/b:1')] });
  await assert.rejects(e.images.prune({ filters: f({ colour: ['red'] }) }), /invalid filter 'colour'/);
  const none = await e.images.prune({ filters: f({ label: ['keep=no'] }) });
  assert.ok(
    !(none.ImagesDeleted ?? []).some((d) => d.Deleted === a.configDigest),
    'tagged images stay without dangling=false',
  );
  const r = await e.images.prune({
    filters: f({ dangling: ['false'], 'label!': ['keep=yes'], until: ['2021-01-01T00:00:00Z'] }),
  });
  const deleted = (r.ImagesDeleted ?? []).map((d) => d.Deleted ?? d.Untagged);
  assert.ok(deleted.includes('prune/a:1') && deleted.includes(a.configDigest));
  assert.ok(!deleted.includes(b.configDigest), 'label! spares the other');
  assert.ok(e.images.records.get(b.desc.digest));
});

test('an image read again comes from the kept text, parsed anew: a change to one read never shows in the next', async () => {
  const img = await makeImage(e.content, [[file('kept', 'k')]]);
  await e.images.register(img.desc, { tags: [parseReference('kept:1')] });
  const first = await e.images.load(e.images.resolve('kept:1'));
  assert.equal(first.config.rootfs.diff_ids.length, 1);
  first.config.rootfs.diff_ids.push(`sha256:${'2'.repeat(64)}`);
  first.manifest.layers.length = 0;
  // Counted: a second load reads nothing from the content store.
  const readAll = e.content.readAll.bind(e.content);
  let reads = 0;
  e.content.readAll = (...args: Parameters<typeof readAll>) => {
    reads++;
    return readAll(...args);
  };
  try {
    const again = await e.images.load(e.images.resolve('kept:1'));
    assert.equal(reads, 0);
    assert.equal(again.config.rootfs.diff_ids.length, 1);
    assert.equal(again.manifest.layers.length, 1);
    assert.notEqual(again.config, first.config);
  } finally {
    e.content.readAll = readAll;
  }
});
