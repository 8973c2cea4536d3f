import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ImageService } from '../images/index.ts';
import type { Snapshotter } from '../snapshots/index.ts';
import { NotFoundError } from '../util/errors.ts';
import type { Row } from './model.ts';
import { apparentSize, containerSize } from './size.ts';

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

test('a container whose snapshot went away meanwhile (removed at once) counts nothing; other errors stay errors', async () => {
  const images = {
    resolve: () => {
      throw new NotFoundError('no such image');
    },
  } as unknown as ImageService;
  const row = { snapshot: 'gone', imageId: 'sha256:x' } as unknown as Row;
  const gone = {
    mounts: () => Promise.reject(new NotFoundError('snapshot "gone" not found')),
  } as unknown as Snapshotter;
  assert.deepEqual(await containerSize(gone, images, row), { SizeRw: 0, SizeRootFs: 0 });
  const broken = { mounts: () => Promise.reject(new Error('EIO')) } as unknown as Snapshotter;
  await assert.rejects(containerSize(broken, images, row), /EIO/);
});
