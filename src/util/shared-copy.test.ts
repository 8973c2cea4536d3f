import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyToShared } from './shared-copy.ts';

test('copyToShared copies exactly the range asked into shared memory, from a Buffer or a plain view at an offset', () => {
  const dst = Buffer.from(new SharedArrayBuffer(16));
  const src = Buffer.from('abcdefghij');
  copyToShared(dst, 3, src, 2, 5);
  assert.equal(dst.toString('latin1'), '\0\0\0cdefg\0\0\0\0\0\0\0\0');
  const view = new Uint8Array(Buffer.from('0123456789')).subarray(4);
  copyToShared(dst, 0, view, 1, 3);
  assert.equal(dst.subarray(0, 8).toString('latin1'), '567cdefg');
  copyToShared(dst, 16, src, 10, 0);
  assert.throws(() => copyToShared(dst, 14, src, 0, 3), RangeError);
  assert.throws(() => copyToShared(dst, 0, src, 8, 3), RangeError);
  assert.equal(dst.subarray(8).toString('latin1'), '\0'.repeat(8), 'nothing written past the range');
});
