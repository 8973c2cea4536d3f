import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGoDuration, ramInBytes } from './units.ts';

test('sizes as go-units RAMInBytes reads them: binary multiples, optional i/b and a space', () => {
  assert.equal(ramInBytes('32'), 32);
  assert.equal(ramInBytes('32b'), 32);
  assert.equal(ramInBytes('1k'), 1024);
  assert.equal(ramInBytes('64m'), 64 * 1024 * 1024);
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
  assert.throws(() => ramInBytes(' 1k'), { message: 'strconv.ParseFloat: parsing " 1": invalid syntax' });
  assert.throws(() => ramInBytes('1k '), { message: 'strconv.ParseFloat: parsing "1k": invalid syntax' });
});

test('what go-units takes beyond the obvious: exponents, underscores, a bare point, up to p', () => {
  assert.equal(ramInBytes('1e3'), 1000);
  assert.equal(ramInBytes('1e3k'), 1000 * 1024);
  assert.equal(ramInBytes('1_000'), 1000);
  assert.equal(ramInBytes('5.'), 5);
  assert.equal(ramInBytes('.5k'), 512);
  assert.equal(ramInBytes('1 k'), 1024);
  assert.equal(ramInBytes('1pb'), 1024 ** 5);
});

test("durations as Go's time.ParseDuration reads them, in nanoseconds", () => {
  assert.equal(parseGoDuration('1h2m3.5s'), 3723.5e9);
  assert.equal(parseGoDuration('300ms'), 3e8);
  assert.equal(parseGoDuration('2us'), 2000);
  assert.equal(parseGoDuration('2µs'), 2000);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('-1.5s'), -1.5e9);
  assert.equal(parseGoDuration('-2ms'), -2e6);
  assert.throws(() => parseGoDuration('abc'), { message: 'time: invalid duration "abc"' });
  assert.throws(() => parseGoDuration('1'), /missing unit in duration "1"/);
  assert.throws(() => parseGoDuration('1y'), /unknown unit "y" in duration "1y"/);
  assert.throws(() => parseGoDuration(''), /invalid duration ""/);
  assert.throws(() => parseGoDuration('.s'), /invalid duration/);
  assert.throws(() => parseGoDuration(' 1s'), { message: 'time: invalid duration " 1s"' });
  assert.throws(() => parseGoDuration('1s '), { message: 'time: unknown unit "s " in duration "1s "' });
  assert.throws(() => parseGoDuration('1..5s'), { message: 'time: missing unit in duration "1..5s"' });
});

test('durations: every unit, fractions truncated to whole nanoseconds, and the int64 limits', () => {
  assert.equal(parseGoDuration('1h2m3s4ms5us6ns'), 3_723_004_005_006);
  assert.equal(parseGoDuration('1μs'), 1000, 'Greek mu as well as the micro sign');
  assert.equal(parseGoDuration('1.5ns'), 1);
  assert.equal(parseGoDuration('5.s'), 5e9);
  assert.equal(parseGoDuration('+0'), 0);
  assert.equal(parseGoDuration('2562047h'), 2562047 * 3600e9);
  assert.equal(parseGoDuration('9223372036854775807ns'), 2 ** 63 - 1);
  assert.equal(parseGoDuration('-9223372036854775808ns'), -(2 ** 63));
  assert.throws(() => parseGoDuration('9223372036854775808ns'), {
    message: 'time: invalid duration "9223372036854775808ns"',
  });
  assert.throws(() => parseGoDuration('3000000h'), { message: 'time: invalid duration "3000000h"' });
});
