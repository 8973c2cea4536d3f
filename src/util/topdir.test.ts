import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { markTopDir } from './topdir.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-topdir-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** Whether the file system under `d` keeps ext2/3/4 attributes (lsattr reads them), and its `T` is set. */
function attrs(d: string): string | undefined {
  try {
    return execFileSync('lsattr', ['-d', d], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(' ')[0];
  } catch {
    return undefined;
  }
}

test('markTopDir makes the directory and, where the file system has the attribute, sets T on it', async () => {
  const d = join(dir, 'a', 'snapshots');
  const marked = await markTopDir(d);
  assert.ok(statSync(d).isDirectory());
  const a = attrs(d);
  if (a === undefined) {
    assert.equal(marked, false, 'no attributes here, so no mark');
    return;
  }
  assert.equal(marked, a.includes('T'), `lsattr says ${a}`);
  if (attrs(dir)?.includes('e')) assert.ok(marked, 'ext4 (extents) keeps T');
  assert.equal(await markTopDir(d), marked, 'marking again is the same');
});

test('markTopDir resolves false, never rejects, where the directory cannot be made', async () => {
  const file = join(dir, 'file');
  writeFileSync(file, 'x');
  assert.equal(await markTopDir(join(file, 'snapshots')), false);
  assert.ok(!existsSync(join(file, 'snapshots')));
});

test('markTopDir marks several directories with one call, and says false when one cannot be made', async () => {
  const a = join(dir, 'b', 'one');
  const b = join(dir, 'b', 'two');
  const marked = await markTopDir(a, b);
  assert.ok(statSync(a).isDirectory() && statSync(b).isDirectory());
  const attrsA = attrs(a);
  if (attrsA === undefined) {
    assert.equal(marked, false);
    return;
  }
  assert.equal(marked, attrsA.includes('T') && (attrs(b) ?? '').includes('T'));
  const file = join(dir, 'b', 'file');
  writeFileSync(file, 'x');
  const c = join(dir, 'b', 'three');
  assert.equal(await markTopDir(c, join(file, 'x')), false, 'one of the two cannot be made');
  assert.equal(attrs(c)?.includes('T'), marked, 'the one that could be made is marked all the same');
});
