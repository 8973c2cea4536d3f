import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseBytes, parseDuration, shellSplit } from './units.ts';

test('durations: Go syntax and bare seconds, in milliseconds', () => {
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('10'), 10_000);
  assert.equal(parseDuration(3), 3000);
  assert.throws(() => parseDuration('10 s'), /invalid duration "10 s"/);
  assert.throws(() => parseDuration('s'), RangeError);
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(250), '250ms');
});

test('sizes: binary units, optional b/ib', () => {
  assert.equal(parseBytes('64m'), 64 * 1024 ** 2);
  assert.equal(parseBytes('1GB'), 1024 ** 3);
  assert.equal(parseBytes('512KiB'), 512 * 1024);
  assert.equal(parseBytes('1024'), 1024);
  assert.equal(parseBytes(7), 7);
  assert.throws(() => parseBytes('lots'), /invalid size "lots"/);
});

test('command lines split as a shell splits words', () => {
  assert.deepEqual(shellSplit(`sh -c 'echo "$HOME"; exit 1'`), ['sh', '-c', 'echo "$HOME"; exit 1']);
  assert.deepEqual(shellSplit('a\\ b "c\\"d" \'\''), ['a b', 'c"d', '']);
  assert.deepEqual(shellSplit('  '), []);
  assert.throws(() => shellSplit('echo "open'), /unterminated quote/);
});
