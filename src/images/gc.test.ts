import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseReference } from '../oci/reference.ts';
import { makeImage, type TestEngine, testEngine } from './testkit.ts';

let e: TestEngine;
before(async () => {
  e = await testEngine();
});
after(() => e.cleanup());

const file = (name: string, text: string) => ({ header: { name }, body: Buffer.from(text) });

test('a lease keeps its blobs from a collection only while its operation runs; the collection waits for it', async () => {
  const blob = await e.content.put(Buffer.from('leased while the operation runs'));
  let collected: Promise<{ blobs: string[] }> | undefined;
  let collectedEarly = false;
  await e.images.withLease(async (lease) => {
    lease(blob.digest);
    assert.equal(e.leases.all().length, 1, 'the lease is recorded in metadata');
    assert.deepEqual(e.leases.resourcesOf(e.leases.all()[0]!.id, 'content'), [blob.digest]);
    collected = e.images.collect();
    void collected.then(() => {
      collectedEarly = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(collectedEarly, false, 'the collection waits for the leased operation');
  });
  assert.deepEqual(e.leases.all(), [], 'the lease ends with its operation');
  assert.ok((await collected!).blobs.includes(blob.digest), 'then nothing keeps the blob');
});

test('start-up repair: a crashed load keeps nothing, a crashed pull keeps its blobs until its lease expires', async () => {
  const img = await makeImage(e.content, [[file('kept', 'k')]]);
  await e.images.register(img.desc, { tags: [parseReference('kept:1')] });
  const pulled = await e.content.put(Buffer.from('verified by a pull that the daemon died in'));
  const loaded = await e.content.put(Buffer.from('written by a load that the daemon died in'));
  const expired = await e.content.put(Buffer.from('kept by a lease that has expired'));
  // What the previous process left in metadata when it died.
  const now = Date.now();
  e.leases.create({ id: 'pull', created: now, expires: now + 60_000 });
  e.leases.add('pull', 'content', pulled.digest);
  e.leases.create({ id: 'load', created: now, expires: null });
  e.leases.add('load', 'content', loaded.digest);
  e.leases.create({ id: 'old-pull', created: now - 120_000, expires: now - 60_000 });
  e.leases.add('old-pull', 'content', expired.digest);

  assert.deepEqual(e.images.repairLeases(), { deleted: 1, keptBlobs: 1 });
  const gc = await e.images.collect();
  assert.deepEqual(gc.blobs.sort(), [loaded.digest, expired.digest].sort());
  assert.ok(await e.content.has(pulled.digest), "the pull's verified blob stays for the repeated pull");
  assert.ok(await e.content.has(img.desc.digest), "an image's blobs stay");
  assert.deepEqual(
    e.leases.all().map((l) => l.id),
    ['pull'],
    'the expired lease is deleted by the collection',
  );
  e.leases.delete('pull');
  assert.ok((await e.images.collect()).blobs.includes(pulled.digest));
});
