import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGoDuration, parseGoFloat, ramInBytes } from './units.ts';

test('sizes as go-units RAMInBytes reads them: binary multiples, optional i/b and a space', () => {
  assert.equal(ramInBytes('32'), 32);
  assert.equal(ramInBytes('32b'), 32);
  assert.equal(ramInBytes('1k'), 1024);
  assert.equal(ramInBytes('64M'), 64 * 1024 * 1024);
  assert.equal(ramInBytes('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(ramInBytes('1.5GiB'), 1.5 * 1024 ** 3);
  assert.equal(ramInBytes('2gb'), 2 * 1024 ** 3);
  assert.equal(ramInBytes('1 t'), 1024 ** 4);
  assert.equal(ramInBytes('0.5k'), 512);
  assert.equal(ramInBytes('1.7'), 1);
  assert.equal(ramInBytes('512'), 512);
});

test("bad sizes fail with go-units' messages", () => {
  assert.throws(() => ramInBytes('abc'), { message: "invalid size: 'abc'" });
  assert.throws(() => ramInBytes('1q'), { message: "invalid suffix: 'q'" });
  assert.throws(() => ramInBytes('1kx'), { message: "invalid suffix: 'kx'" });
  assert.throws(() => ramInBytes('1bb'), { message: "invalid suffix: 'bb'" });
  assert.throws(() => ramInBytes('1MBytes'), { message: "invalid suffix: 'MBytes'" });
  assert.throws(() => ramInBytes('1kib2'), { message: 'strconv.ParseFloat: parsing "1kib2": invalid syntax' });
  assert.throws(() => ramInBytes('1.2.3'), { message: 'strconv.ParseFloat: parsing "1.2.3": invalid syntax' });
  assert.throws(() => ramInBytes('-1'), RangeError);
});

test('numbers as strconv.ParseFloat reads them', () => {
  assert.equal(parseGoFloat('1e3'), 1000);
  assert.equal(parseGoFloat('.5'), 0.5);
  assert.equal(parseGoFloat('1_000'), 1000);
  assert.equal(parseGoFloat('-Inf'), Number.NEGATIVE_INFINITY);
  assert.throws(() => parseGoFloat('1x'), { message: 'strconv.ParseFloat: parsing "1x": invalid syntax' });
});

test("durations as Go's time.ParseDuration reads them, in nanoseconds", () => {
  assert.equal(parseGoDuration('1h2m3.5s'), 3723.5e9);
  assert.equal(parseGoDuration('300ms'), 3e8);
  assert.equal(parseGoDuration('2us'), 2000);
  assert.equal(parseGoDuration('2µs'), 2000);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('-1.5s'), -1.5e9);
  assert.throws(() => parseGoDuration('1'), /missing unit in duration "1"/);
  assert.throws(() => parseGoDuration('1y'), /unknown unit "y" in duration "1y"/);
  assert.throws(() => parseGoDuration(''), /invalid duration ""/);
  assert.throws(() => parseGoDuration('.s'), /invalid duration/);
});
