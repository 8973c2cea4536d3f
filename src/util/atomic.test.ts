import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { isTempOpenError, writeFileAtomic, writeFileAtomicSync } from './atomic.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-atomic-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('writeFileAtomic: writes a new file and replaces an old one, leaving no temporary file', async () => {
  const p = join(dir, 'a.json');
  await writeFileAtomic(p, '{"n":1}');
  assert.equal(await readFile(p, 'utf8'), '{"n":1}');
  await writeFileAtomic(p, Buffer.from('{"n":2}'), { fsync: true, fsyncDir: true });
  assert.equal(await readFile(p, 'utf8'), '{"n":2}');
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.startsWith('a.json')),
    ['a.json'],
  );
});

test('writeFileAtomic: the mode and the name of the temporary file are the caller’s', async () => {
  const p = join(dir, 'secret');
  const seen: string[] = [];
  await writeFileAtomic(
    p,
    async () => {
      seen.push(...(await readdir(dir)).filter((f) => f.includes('secret')));
      return 's3cret';
    },
    { tmp: join(dir, `.secret.${process.pid}.tmp`), mode: 0o600 },
  );
  assert.deepEqual(seen, [`.secret.${process.pid}.tmp`]);
  assert.equal((await stat(p)).mode & 0o777, 0o600);
  assert.equal(await readFile(p, 'utf8'), 's3cret');
});

test('writeFileAtomic: a stream for content; one that fails leaves the old file and no temporary', async () => {
  const p = join(dir, 'stream.tar');
  await writeFileAtomic(p, Readable.from([Buffer.from('one '), Buffer.from('two')]), { fsync: true });
  assert.equal(await readFile(p, 'utf8'), 'one two');
  const failing = async function* () {
    yield Buffer.from('half');
    throw new Error('the source broke');
  };
  await assert.rejects(
    writeFileAtomic(p, () => failing()),
    /the source broke/,
  );
  assert.equal(await readFile(p, 'utf8'), 'one two');
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.startsWith('stream.tar')),
    ['stream.tar'],
  );
});

test('writeFileAtomic: exclusive refuses a temporary file that is there and leaves it alone', async () => {
  const p = join(dir, 'key.pub');
  const tmp = join(dir, 'key.pub.tmp-1');
  await writeFile(tmp, 'another writer');
  const refused = await writeFileAtomic(p, 'mine', { tmp, exclusive: true }).catch((err: unknown) => err);
  assert.equal((refused as NodeJS.ErrnoException).code, 'EEXIST');
  assert.equal(isTempOpenError(refused, tmp), true);
  assert.equal(isTempOpenError(refused, p), false);
  assert.equal(await readFile(tmp, 'utf8'), 'another writer');
  await assert.rejects(stat(p), { code: 'ENOENT' });
});

test('writeFileAtomic: a rename that fails removes the temporary file', async () => {
  const p = join(dir, 'taken');
  mkdirSync(join(p, 'inside'), { recursive: true });
  const failed = await writeFileAtomic(p, 'x').catch((err: unknown) => err);
  assert.equal((failed as NodeJS.ErrnoException).code, 'EISDIR');
  assert.equal(isTempOpenError(failed, `${p}.tmp`), false, 'the rename failed, not the open');
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.startsWith('taken')),
    ['taken'],
  );
});

test('writeFileAtomicSync: the same steps, synchronous', () => {
  const p = join(dir, 'monitor.json');
  writeFileAtomicSync(p, '{"pid":1}');
  writeFileAtomicSync(p, '{"pid":2}', { mode: 0o600, fsync: true, fsyncDir: true });
  assert.equal(readFileSync(p, 'utf8'), '{"pid":2}');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('monitor.json')),
    ['monitor.json'],
  );
  const taken = join(dir, 'taken-sync');
  mkdirSync(join(taken, 'inside'), { recursive: true });
  assert.throws(() => writeFileAtomicSync(taken, 'x'), { code: 'EISDIR' });
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('taken-sync')),
    ['taken-sync'],
  );
  assert.ok(statSync(taken).isDirectory());
});
