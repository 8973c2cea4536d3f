import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { initialEntries } from './watch.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('initial_sync: the files newer than the image, with the directories leading to them; ignored ones and .git left out', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-watch-'));
  dirs.push(root);
  const src = join(root, 'src');
  const files = ['new.txt', 'old.txt', 'sub/deep/n.txt', 'tmp/x.txt', '.git/HEAD'];
  for (const f of files) {
    await mkdir(join(src, f, '..'), { recursive: true });
    await writeFile(join(src, f), f);
  }
  const image = Date.now() - 60_000;
  const before = new Date(image - 60_000);
  await utimes(join(src, 'old.txt'), before, before);
  const rule = { path: src, action: 'sync' as const, target: '/app/code', ignore: ['tmp/'], initial_sync: true };
  const entries = await initialEntries(rule, '/app/code', image);
  assert.deepEqual(
    entries.map((e) => [e.header.name, e.header.type ?? 'file']),
    [
      ['code/', 'directory'],
      ['code/new.txt', 'file'],
      ['code/sub/', 'directory'],
      ['code/sub/deep/', 'directory'],
      ['code/sub/deep/n.txt', 'file'],
    ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
  );
  assert.equal(String(entries.find((e) => e.header.name === 'code/new.txt')?.body), 'new.txt');
  // Nothing newer: nothing to copy. A rule on a single file names the target itself.
  assert.deepEqual(await initialEntries(rule, '/app/code', Date.now() + 60_000), []);
  const one = await initialEntries({ ...rule, path: join(src, 'new.txt') }, '/etc/app.conf', image);
  assert.deepEqual(
    one.map((e) => e.header.name),
    ['app.conf'],
  );
});
