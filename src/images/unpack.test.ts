import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Digest } from '../util/digest.ts';
import { DataLossError, NotFoundError } from '../util/errors.ts';
import { chainIds } from './chain.ts';
import { makeImage, type TestEngine, testEngine } from './testkit.ts';
import { LayerUnpacker, type UnpackedLayer } from './unpack.ts';

let e: TestEngine;
let copy: TestEngine;
before(async () => {
  e = await testEngine();
  copy = await testEngine(undefined, 'copy');
});
after(async () => {
  await e.cleanup();
  await copy.cleanup();
});

const file = (name: string, text: string) => ({ header: { name }, body: Buffer.from(text) });

test('each layer unpacks once into a snapshot keyed by its chain ID, reported with its size', async () => {
  const seen: UnpackedLayer[] = [];
  const u = new LayerUnpacker({ content: e.content, snapshotter: e.snapshotter, onUnpacked: (l) => seen.push(l) });
  const a = await makeImage(e.content, [[file('base', 'base')], [file('a', 'aaaa')]], { gzip: true });
  const b = await makeImage(e.content, [[file('base', 'base')], [file('b', 'bb')]]);
  const [ca, cb] = await Promise.all([u.unpack(a.manifest, a.config), u.unpack(b.manifest, b.config)]);
  assert.deepEqual(ca, chainIds(a.config.rootfs.diff_ids));
  assert.equal(ca[0], cb[0], 'the same base layer');
  for (const c of [...ca, ...cb]) assert.equal((await e.snapshotter.stat(c)).kind, 'committed');
  assert.equal((await e.snapshotter.stat(ca[1]!)).parent, ca[0]);
  assert.deepEqual(
    seen.map((l) => [l.chainId, l.parent, l.size]).sort(),
    [
      [ca[0], null, 4],
      [ca[1], ca[0], 4],
      [cb[1], cb[0], 2],
    ].sort(),
    'the shared layer unpacked once',
  );
  assert.deepEqual(await u.unpack(a.manifest, a.config), ca, 'nothing left to unpack');
  assert.equal(seen.length, 3);
});

test('a layer unpacked ahead from its bytes is committed by unpack; a bad diff ID leaves nothing', async () => {
  const u = new LayerUnpacker({ content: e.content, snapshotter: e.snapshotter });
  const img = await makeImage(e.content, [[file('x', '1')], [file('y', '2')]]);
  const chain = chainIds(img.config.rootfs.diff_ids);
  const l1 = img.manifest.layers[1]!;
  const key = await u.unpackLayerFrom(l1, img.config.rootfs.diff_ids[1]!, chain[1]!, e.content.read(l1.digest));
  assert.equal((await e.snapshotter.stat(key)).kind, 'active');
  await u.unpack(img.manifest, img.config, { prepared: new Map([[chain[1]!, key]]) });
  assert.equal((await e.snapshotter.stat(chain[1]!)).parent, chain[0]);
  await assert.rejects(e.snapshotter.stat(key), NotFoundError, 'the prepared key became the committed layer');

  const before = await e.snapshots();
  const wrong = `sha256:${'0'.repeat(64)}` as Digest;
  await assert.rejects(
    u.unpackLayerFrom(l1, wrong, wrong, e.content.read(l1.digest)),
    (err: Error) => err instanceof DataLossError && err.message.includes(wrong),
  );
  assert.deepEqual(await e.snapshots(), before, 'no snapshot left behind');
});

test('where a layer needs its parent (copy), unpack goes in order and unpacking ahead is refused', async () => {
  const u = new LayerUnpacker({ content: copy.content, snapshotter: copy.snapshotter });
  const img = await makeImage(copy.content, [[file('x', '1')], [file('y', '2')]]);
  const chain = await u.unpack(img.manifest, img.config);
  assert.equal((await copy.snapshotter.stat(chain[1]!)).parent, chain[0]);
  const l = img.manifest.layers[0]!;
  await assert.rejects(
    u.unpackLayerFrom(l, img.config.rootfs.diff_ids[0]!, chain[0]!, copy.content.read(l.digest)),
    TypeError,
  );
});
