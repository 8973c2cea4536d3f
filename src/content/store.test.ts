import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FileContentStore } from './store.ts';
import { sha256 } from '../util/digest.ts';
import { DataLossError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';

let root: string;
let store: FileContentStore;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-content-'));
  store = new FileContentStore(root);
  await store.init();
});
after(() => rm(root, { recursive: true, force: true }));

test('ingest verifies and commits a blob, readable afterwards', async () => {
  const data = Buffer.from('hello blob');
  const info = await store.ingest(Readable.from([data]), { digest: sha256(data), size: data.length });
  assert.equal(info.digest, sha256(data));
  assert.equal(info.created, true);
  assert.deepEqual(await store.readAll(info.digest), data);
  assert.equal((await store.info(info.digest)).size, data.length);
  const again = await store.put(data);
  assert.equal(again.created, false);
});

test('a digest mismatch is DataLoss and leaves nothing behind', async () => {
  const data = Buffer.from('some bytes');
  const wrong = sha256('other bytes');
  await assert.rejects(store.ingest(Readable.from([data]), { digest: wrong }), DataLossError);
  assert.equal(await store.has(wrong), false);
  assert.equal(await store.has(sha256(data)), false);
  assert.deepEqual(await readdir(join(root, 'ingest')), []);
});

test('a size mismatch is DataLoss', async () => {
  const data = Buffer.from('12345');
  await assert.rejects(store.ingest(Readable.from([data]), { size: 4 }), /larger than the expected 4/);
  await assert.rejects(store.ingest(Readable.from([data]), { size: 6 }), /does not match the expected 6/);
});

test('missing blob is NotFound; walk lists blobs; delete removes', async () => {
  await assert.rejects(store.info(sha256('nope')), NotFoundError);
  const info = await store.put(Buffer.from('walk me'));
  const seen = [];
  for await (const b of store.walk()) seen.push(b.digest);
  assert.ok(seen.includes(info.digest));
  await store.delete(info.digest);
  assert.equal(await store.has(info.digest), false);
});

test('walk lists blobs of every algorithm the store holds, and skips names that are not digests', async () => {
  const data = Buffer.from('a sha512 blob');
  const w = await store.writer('walk-sha512', { size: 0, algorithm: 'sha512' });
  await w.append(Readable.from([data]));
  const placed = await w.commit({});
  const hex512 = createHash('sha512').update(data).digest('hex');
  assert.equal(placed.digest, `sha512:${hex512}`);
  await writeFile(join(root, 'blobs', 'sha512', 'not-a-digest'), 'x');
  const plain = await store.put(Buffer.from('a sha256 blob'));
  const seen = new Map<string, number>();
  for await (const b of store.walk()) seen.set(b.digest, b.size);
  assert.equal(seen.get(`sha512:${hex512}`), data.length);
  assert.equal(seen.get(plain.digest), 13);
  assert.ok(![...seen.keys()].some((d) => d.includes('not-a-digest')));
  await store.delete(`sha512:${hex512}`);
  await store.delete(plain.digest);
});

test('adopt takes in a file written at an ingest path when its digest and size are right, and removes it otherwise', async () => {
  const data = Buffer.from('written by another thread');
  const got = { digest: sha256(data), size: data.length };
  const tmp = store.ingestPath();
  await writeFile(tmp, data);
  const info = await store.adopt(tmp, got, { digest: got.digest, size: got.size });
  assert.deepEqual(info, { ...got, created: true });
  assert.deepEqual(await store.readAll(got.digest), data);
  // The same blob again: already there, the new file goes.
  const again = store.ingestPath();
  await writeFile(again, data);
  assert.equal((await store.adopt(again, got)).created, false);
  // A digest or size other than expected: DataLoss, nothing stored, the file gone.
  const other = Buffer.from('other bytes');
  for (const expected of [{ digest: sha256('something else') }, { size: other.length + 1 }]) {
    const bad = store.ingestPath();
    await writeFile(bad, other);
    await assert.rejects(store.adopt(bad, { digest: sha256(other), size: other.length }, expected), DataLossError);
    assert.equal(await store.has(sha256(other)), false);
  }
  // Only a path under the ingest directory is taken.
  const outside = join(root, 'elsewhere');
  await writeFile(outside, other);
  await assert.rejects(store.adopt(outside, { digest: sha256(other), size: other.length }), InvalidArgumentError);
  assert.deepEqual(await readFile(outside), other); // not the store's to remove
  assert.deepEqual(await readdir(join(root, 'ingest')), []);
});

test('repair removes unfinished ingests', async () => {
  await writeFile(join(root, 'ingest', 'left-over'), 'partial');
  const r = await store.repair();
  assert.equal(r.removed, 1);
  assert.deepEqual(await readdir(join(root, 'ingest')), []);
});

test('read streams a large blob whole, also through gunzip (regression: a wrapped stream stalled near the end)', async () => {
  const { gzipSync, createGunzip } = await import('node:zlib');
  const { randomBytes } = await import('node:crypto');
  const raw = Buffer.concat([randomBytes(3 << 20), Buffer.alloc(5 << 20, 7)]);
  const info = await store.put(gzipSync(raw));
  let total = 0;
  for await (const c of store.read(info.digest).pipe(createGunzip())) total += (c as Buffer).length;
  assert.equal(total, raw.length);
});

test('a blob stored without its directory synced is there at once; syncBlobs makes the names durable', async () => {
  const data = Buffer.from('synced later');
  const info = await store.ingest(Readable.from([data]), { digest: sha256(data) }, { syncDir: false });
  assert.equal(info.created, true);
  assert.deepEqual(await store.readAll(info.digest), data);
  await store.syncBlobs();
  const again = await store.put(Buffer.from('put, synced later'), {}, { syncDir: false });
  assert.equal(await store.has(again.digest), true);
});

test('a deferred blob: listed and sized before it is made, made once on first read, checked against its digest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-content-deferred-'));
  try {
    const s = new FileContentStore(dir);
    await s.init();
    const data = Buffer.from('bytes made again from a snapshot');
    const digest = sha256(data);
    const wrong = sha256('recorded, but made differently');
    await s.defer({ digest, size: data.length, snapshot: 'sha256:chain-a' });
    await s.defer({ digest: wrong, size: data.length, snapshot: 'sha256:chain-b' });
    assert.equal(await s.has(digest), true);
    assert.equal((await s.info(digest)).size, data.length);
    assert.deepEqual(
      new Set((await s.deferred()).map((b) => b.snapshot)),
      new Set(['sha256:chain-a', 'sha256:chain-b']),
    );
    assert.deepEqual(new Set((await Array.fromAsync(s.walk())).map((b) => b.digest)), new Set([digest, wrong]));
    // nothing makes it yet
    await assert.rejects(s.readAll(digest), NotFoundError);
    let made = 0;
    s.setProducer(async function* (b) {
      made++;
      yield b.snapshot === 'sha256:chain-a' ? data : Buffer.from('something else entirely, same size!');
    });
    const [a, b] = await Promise.all([s.readAll(digest), s.read(digest).toArray()]);
    assert.deepEqual(a, data);
    assert.deepEqual(Buffer.concat(b), data);
    assert.equal(made, 1, 'made once for both readers');
    assert.deepEqual(await readFile(s.path(digest)), data);
    assert.deepEqual(
      (await s.deferred()).map((x) => x.digest),
      [wrong],
    );
    // bytes that do not hash to the recorded digest are refused, and nothing is stored
    await assert.rejects(s.materialize(wrong), DataLossError);
    assert.equal(await s.has(wrong), true, 'still deferred');
    await assert.rejects(readFile(s.path(wrong)), /ENOENT/);
    await s.delete(wrong);
    assert.equal(await s.has(wrong), false);
    await assert.rejects(s.delete(wrong), NotFoundError);
    // a blob already stored is not recorded as deferred
    await s.defer({ digest, size: data.length, snapshot: 'sha256:chain-c' });
    assert.deepEqual(await s.deferred(), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
