import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveUser } from './users.ts';

const root = await mkdtemp(join(tmpdir(), 'berth-users-'));
await mkdir(join(root, 'etc'));
await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
await writeFile(join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nwheel:x:10:app\naudio:x:29:\n');
after(() => rm(root, { recursive: true, force: true }));

test('names and numbers, the primary group then groups from /etc/group (unless a group is given), --group-add', async () => {
  assert.deepEqual(await resolveUser(root, ''), { uid: 0, gid: 0, additionalGids: [0], home: '/root' });
  assert.deepEqual(await resolveUser(root, 'app'), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000, 10],
    home: '/home/app',
  });
  assert.deepEqual(await resolveUser(root, '1000:audio'), {
    uid: 1000,
    gid: 29,
    additionalGids: [29],
    home: '/home/app',
  });
  assert.deepEqual(await resolveUser(root, '4242:4343', ['audio', '77']), {
    uid: 4242,
    gid: 4343,
    additionalGids: [4343, 29, 77],
    home: '/',
  });
  await assert.rejects(resolveUser(root, 'nobody'), /unable to find user nobody/);
  await assert.rejects(resolveUser(root, 'app:nogroup'), /unable to find group nogroup/);
});
