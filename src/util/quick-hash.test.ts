import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quickHash } from './quick-hash.ts';

test('quickHash is 16 hex digits, stable, and tells parts and their boundaries apart', () => {
  const h = quickHash('h', '/src/app');
  assert.match(h, /^[0-9a-f]{16}$/);
  // a fixed value: cache file names and kept-context IDs written by one version are found by the next
  assert.equal(h, '569b16ba788cfc81');
  assert.equal(quickHash(''), quickHash(''));
  assert.notEqual(quickHash('h', '/src/app2'), h);
  assert.notEqual(quickHash('g', '/src/app'), h);
  assert.notEqual(quickHash('h/src', '/app'), h);
  assert.notEqual(quickHash('h/src/app'), h);
  assert.notEqual(quickHash(''), quickHash('', ''));
  // UTF-16 code units: characters beyond Latin-1 count whole
  assert.notEqual(quickHash('\u0100'), quickHash('\u0000'));
});
