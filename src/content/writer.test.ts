import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FileContentStore } from './store.ts';
import { sha256 } from '../util/digest.ts';
import { DataLossError, InvalidArgumentError } from '../util/errors.ts';

let root: string;
let store: FileContentStore;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-writer-'));
  store = new FileContentStore(root);
  await store.init();
});
after(() => rm(root, { recursive: true, force: true }));

test('chunks appended across writers (a restart between them) commit to the whole blob', async () => {
  const w = await store.writer('up1', { size: 0 });
  assert.equal(await w.append(Readable.from([Buffer.from('hello ')])), 6);
  await w.close();
  const again = await store.writer('up1', { size: 6 });
  assert.equal(again.size, 6);
  await again.append(Readable.from([Buffer.from('world')]));
  const info = await again.commit({ digest: sha256('hello world'), size: 11 });
  assert.deepEqual(info, { digest: sha256('hello world'), size: 11, created: true });
  assert.equal((await store.readAll(info.digest)).toString(), 'hello world');
  assert.deepEqual(await readdir(join(root, 'ingest')), []);
});

test('bytes past the acknowledged size (a chunk cut by a crash) are dropped on reopen', async () => {
  const w = await store.writer('up2', { size: 0 });
  await w.append(Readable.from([Buffer.from('abc')]));
  await w.close();
  await appendFile(join(root, 'ingest', 'up2'), 'garbage');
  const again = await store.writer('up2', { size: 3 });
  await again.append(Readable.from([Buffer.from('def')]));
  const info = await again.commit({ digest: sha256('abcdef') });
  assert.equal(info.size, 6);
});

test('a partial shorter than acknowledged is DataLoss', async () => {
  const w = await store.writer('up3', { size: 0 });
  await w.append(Readable.from([Buffer.from('ab')]));
  await w.close();
  await assert.rejects(store.writer('up3', { size: 5 }), DataLossError);
  await store.abort('up3');
});

test('a failed append is cut back, and the hash still matches afterwards', async () => {
  const w = await store.writer('up4', { size: 0 });
  await w.append(Readable.from([Buffer.from('one')]));
  const failing = (async function* () {
    yield Buffer.from('partial');
    throw new Error('client went away');
  })();
  await assert.rejects(w.append(failing), /client went away/);
  assert.equal(w.size, 3);
  await assert.rejects(w.append(Readable.from([Buffer.alloc(20)]), { maxSize: 10 }), InvalidArgumentError);
  await w.append(Readable.from([Buffer.from('two')]));
  const info = await w.commit({ digest: sha256('onetwo'), size: 6 });
  assert.equal(info.digest, sha256('onetwo'));
});

test('a digest mismatch at commit is DataLoss and removes the partial', async () => {
  const w = await store.writer('up5', { size: 0 });
  await w.append(Readable.from([Buffer.from('data')]));
  await assert.rejects(w.commit({ digest: sha256('other') }), DataLossError);
  assert.equal(await store.has(sha256('data')), false);
  assert.deepEqual(await readdir(join(root, 'ingest')), []);
});

test('a blob already stored: commit reports created false', async () => {
  await store.put(Buffer.from('dup'));
  const w = await store.writer('up6', { size: 0 });
  await w.append(Readable.from([Buffer.from('dup')]));
  assert.equal((await w.commit({ digest: sha256('dup') })).created, false);
  const parts = [];
  for await (const p of store.partials()) parts.push(p.ref);
  assert.deepEqual(parts, []);
});

test('an invalid reference is refused', async () => {
  await assert.rejects(store.writer('../x', { size: 0 }), InvalidArgumentError);
});

test('read takes an inclusive end', async () => {
  const { digest } = await store.put(Buffer.from('0123456789'));
  const chunks: Buffer[] = [];
  for await (const c of store.read(digest, { start: 2, end: 4 })) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), '234');
});
