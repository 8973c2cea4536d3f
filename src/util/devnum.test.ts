import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deviceNumbers } from './devnum.ts';

test('deviceNumbers: glibc major() and minor(), small and large numbers', () => {
  assert.deepEqual(deviceNumbers(0x0103), { major: 1, minor: 3 }); // /dev/null
  assert.deepEqual(deviceNumbers(0x0800), { major: 8, minor: 0 }); // /dev/sda
  assert.deepEqual(deviceNumbers(0x0a00 | 229), { major: 10, minor: 229 }); // /dev/fuse
  // major 259 (block extended), minor 300: minor's high bits sit above the major's low ones.
  assert.deepEqual(deviceNumbers(2 ** 44), { major: 4096, minor: 0 }, 'a major above 12 bits');
  assert.deepEqual(deviceNumbers((259 << 8) | (300 & 0xff) | ((300 & ~0xff) << 12)), { major: 259, minor: 300 });
});
