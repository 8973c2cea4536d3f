import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parsePid, readPid, readPidSync } from './pidfile.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-pidfile-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('parsePid takes the leading decimal number; anything else is 0', () => {
  assert.equal(parsePid('1234\n'), 1234);
  assert.equal(parsePid('77'), 77);
  for (const text of ['', '\n', 'abc', '0', '-5']) assert.equal(parsePid(text), 0, JSON.stringify(text));
});

test('readPid and readPidSync give the file’s PID, 0 for an absent file, and throw on other errors', async () => {
  const file = join(dir, 'x.pid');
  await writeFile(file, '4321\n');
  assert.equal(await readPid(file), 4321);
  assert.equal(readPidSync(file), 4321);
  assert.equal(await readPid(join(dir, 'absent.pid')), 0);
  assert.equal(readPidSync(join(dir, 'absent.pid')), 0);
  await assert.rejects(readPid(dir), { code: 'EISDIR' });
  assert.throws(() => readPidSync(dir), { code: 'EISDIR' });
});
