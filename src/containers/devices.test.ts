import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../util/errors.ts';
import { type DeviceStat, deviceInput } from './devices.ts';

const node = (kind: 'c' | 'b' | 'f', rdev: number, mode = 0o20666, uid = 0, gid = 5): DeviceStat => ({
  rdev,
  mode,
  uid,
  gid,
  isCharacterDevice: () => kind === 'c',
  isBlockDevice: () => kind === 'b',
});

test('deviceInput: the node in the container, its numbers, mode and owner from the host, rwm by default', () => {
  assert.deepEqual(deviceInput({ PathOnHost: '/dev/fuse' }, node('c', 0x0a00 | 229, 0o20666, 0, 0)), {
    path: '/dev/fuse',
    type: 'c',
    major: 10,
    minor: 229,
    permissions: 'rwm',
    fileMode: 0o666,
    uid: 0,
    gid: 0,
  });
  const sda = deviceInput(
    { PathOnHost: '/dev/sda', PathInContainer: '/dev/xvda', CgroupPermissions: 'r' },
    node('b', 0x0800, 0o60660, 0, 6),
  );
  assert.deepEqual(sda, {
    path: '/dev/xvda',
    type: 'b',
    major: 8,
    minor: 0,
    permissions: 'r',
    fileMode: 0o660,
    uid: 0,
    gid: 6,
  });
});

test('deviceInput: a missing node and a node that is no device are refused, naming the path', () => {
  assert.throws(
    () => deviceInput({ PathOnHost: '/dev/nope' }, undefined),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      e.message ===
        'error gathering device information while adding custom device "/dev/nope": no such file or directory',
  );
  assert.throws(
    () => deviceInput({ PathOnHost: '/etc/passwd' }, node('f', 0, 0o100644)),
    /adding custom device "\/etc\/passwd": not a device node$/,
  );
});
