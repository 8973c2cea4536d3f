import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MS_BIND, MS_NOSUID, MS_RDONLY, MS_REC } from '../sys/index.ts';
import { isMountPoint, mountAll, parseMountOptions, unmountAll } from './mount.ts';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-mount-'));
});
after(async () => {
  await unmountAll(join(tmp, 'target'), { detach: true });
  await rm(tmp, { recursive: true, force: true });
});

test('parseMountOptions splits flags, propagation and filesystem data', () => {
  assert.deepEqual(parseMountOptions(['rbind', 'ro', 'nosuid', 'rprivate']), {
    flags: MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID,
    propagation: [0x40000 | MS_REC],
    data: '',
  });
  assert.deepEqual(parseMountOptions(['ro', 'rw', 'lowerdir=/a:/b', 'upperdir=/u']), {
    flags: 0,
    propagation: [],
    data: 'lowerdir=/a:/b,upperdir=/u',
  });
});

test('mountAll stacks mounts; a read-only bind is really read-only; unmountAll takes them all off', async () => {
  const a = join(tmp, 'a');
  const b = join(tmp, 'b');
  const target = join(tmp, 'target');
  for (const d of [a, b, target]) await mkdir(d);
  await writeFile(join(a, 'f'), 'a');
  await writeFile(join(b, 'f'), 'b');
  mountAll(
    [
      { type: 'bind', source: a, options: ['rbind', 'rw'] },
      { type: 'bind', source: b, options: ['rbind', 'ro'] },
    ],
    target,
  );
  assert.equal(await readFile(join(target, 'f'), 'utf8'), 'b');
  await assert.rejects(writeFile(join(target, 'g'), 'x'), { code: 'EROFS' });
  assert.equal(await unmountAll(target), 2);
  assert.equal(await isMountPoint(target), false);
});

test('mountAll undoes what it mounted when a later mount fails', async () => {
  const a = join(tmp, 'a');
  const target = join(tmp, 'target');
  assert.throws(
    () =>
      mountAll(
        [
          { type: 'bind', source: a, options: ['rbind'] },
          { type: 'overlay', source: 'overlay', options: [`lowerdir=${join(tmp, 'missing')}`] },
        ],
        target,
      ),
    { syscall: 'mount' },
  );
  assert.equal(await isMountPoint(target), false);
});
