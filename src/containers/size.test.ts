import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { apparentSize } from './size.ts';

test("apparent size as moby's directory.Size: files and symlinks, each inode once, directories not counted", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-size-'));
  try {
    assert.equal(await apparentSize(dir), 0, 'an empty directory');
    await mkdir(join(dir, 'a/b'), { recursive: true });
    await writeFile(join(dir, 'a/b/f'), Buffer.alloc(3000));
    await link(join(dir, 'a/b/f'), join(dir, 'hard'));
    await symlink('/a/b/f', join(dir, 'lnk'));
    await writeFile(join(dir, 'empty'), '');
    assert.equal(await apparentSize(dir), 3000 + '/a/b/f'.length);
    assert.equal(await apparentSize(join(dir, 'missing')), 0, 'a directory that is not there');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
