import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mknod, S_IFIFO } from '../sys/index.ts';
import { REMOVED_PREFIX, RemovedTrees } from './removed.ts';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-removed-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A snapshot-like tree: `<root>/<id>/fs` with files, a symlink, a fifo and nested directories. */
async function tree(root: string): Promise<{ home: string; dirs: number; files: number }> {
  const home = join(root, String(++n));
  await mkdir(join(home, 'fs', 'a', 'b'), { recursive: true });
  await mkdir(join(home, 'work', 'work'), { recursive: true });
  for (let i = 0; i < 150; i++) await writeFile(join(home, 'fs', 'a', `f${i}`), 'x');
  await writeFile(join(home, 'fs', 'a', 'b', 'deep'), 'y');
  await symlink('/nowhere', join(home, 'fs', 'link'));
  mknod(join(home, 'fs', 'fifo'), S_IFIFO | 0o644, 0);
  return { home, dirs: 6, files: 153 };
}

/** Every entry under `d`, 'd' or 'f' by kind. */
async function kinds(d: string): Promise<{ dirs: number; files: number }> {
  let dirs = 0;
  let files = 0;
  for (const e of await readdir(d, { withFileTypes: true, recursive: true })) {
    if (e.isDirectory()) dirs++;
    else files++;
  }
  return { dirs, files };
}

async function rootDir(): Promise<string> {
  const root = join(dir, `root-${++n}`);
  await mkdir(root);
  return root;
}

test('bury unlinks every file at once, keeps the directories aside, and the timer removes them later', async () => {
  const root = await rootDir();
  const removed = new RemovedTrees(root, { keepMs: 300 });
  const t = await tree(root);
  await removed.bury(t.home, '7');
  assert.ok(!existsSync(t.home), 'nothing left under the id');
  const aside = join(root, `${REMOVED_PREFIX}7`);
  // The tree's directories below the top one (fs, a, b, work, work/work): its files are gone.
  assert.deepEqual(await kinds(aside), { dirs: t.dirs - 1, files: 0 });
  assert.equal(removed.size, 1);
  await sleep(700);
  assert.ok(!existsSync(aside), 'removed once its time is over');
  assert.equal(removed.size, 0);
  await removed.close();
});

test('adopt removes a skeleton whose time is over; a skeleton name left over is replaced', async () => {
  const root = await rootDir();
  const removed = new RemovedTrees(root, { keepMs: 200 });
  const first = await tree(root);
  await removed.bury(first.home, 'a');
  await removed.close(); // its timer stopped: a restart's repair finds the skeleton
  const again = new RemovedTrees(root, { keepMs: 200 });
  // A skeleton of that name left by a crash: replaced by the new one.
  await mkdir(join(root, `${REMOVED_PREFIX}b`, 'junk'), { recursive: true });
  await sleep(300);
  const second = await tree(root);
  assert.equal(await again.adopt(`${REMOVED_PREFIX}a`), true, 'its time is over');
  await again.bury(second.home, 'b');
  assert.deepEqual(await readdir(root), [`${REMOVED_PREFIX}b`]);
  assert.deepEqual(await readdir(join(root, `${REMOVED_PREFIX}b`)), ['fs', 'work']);
  await again.close();
});

test('adopt finishes a skeleton interrupted by a crash and keeps it for the rest of its time', async () => {
  const root = await rootDir();
  const t = await tree(root);
  const name = `${REMOVED_PREFIX}${n}`;
  await rename(t.home, join(root, name)); // renamed, files not yet unlinked: the crash
  const removed = new RemovedTrees(root, { keepMs: 60_000 });
  assert.equal(await removed.adopt(name), false);
  assert.deepEqual(await kinds(join(root, name)), { dirs: t.dirs - 1, files: 0 });
  assert.equal(removed.size, 1);
  await removed.close();
  // With no time to keep (or its time over), the skeleton goes.
  assert.equal(await new RemovedTrees(root, { keepMs: 0 }).adopt(name), true);
  assert.ok(!existsSync(join(root, name)));
});

test('with keepMs 0, bury removes the whole tree; a missing tree is no error', async () => {
  const root = await rootDir();
  const removed = new RemovedTrees(root, { keepMs: 0 });
  const t = await tree(root);
  await removed.bury(t.home, 'x');
  assert.deepEqual(await readdir(root), []);
  await new RemovedTrees(root).bury(join(root, 'absent'), 'y');
  assert.deepEqual(await readdir(root), []);
  await assert.rejects(lstat(join(root, `${REMOVED_PREFIX}y`)), { code: 'ENOENT' });
});
