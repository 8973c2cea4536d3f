import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCPUs, parseGoDuration, ramInBytes, memSwapBytes } from './numbers.ts';

describe('ramInBytes (go-units RAMInBytes)', () => {
  it('reads binary multiples with optional i/b and a space', () => {
    assert.equal(ramInBytes('32'), 32);
    assert.equal(ramInBytes('32b'), 32);
    assert.equal(ramInBytes('1k'), 1024);
    assert.equal(ramInBytes('64m'), 64 * 1024 * 1024);
    assert.equal(ramInBytes('64M'), 64 * 1024 * 1024);
    assert.equal(ramInBytes('1.5g'), 1.5 * 1024 ** 3);
    assert.equal(ramInBytes('2GiB'), 2 * 1024 ** 3);
    assert.equal(ramInBytes('2gb'), 2 * 1024 ** 3);
    assert.equal(ramInBytes('1 t'), 1024 ** 4);
    assert.equal(ramInBytes('0.5k'), 512);
    assert.equal(ramInBytes('1.7'), 1);
  });
  it("fails with docker's messages", () => {
    assert.throws(() => ramInBytes('abc'), { message: "invalid size: 'abc'" });
    assert.throws(() => ramInBytes('1q'), { message: "invalid suffix: 'q'" });
    assert.throws(() => ramInBytes('1kx'), { message: "invalid suffix: 'kx'" });
    assert.throws(
      () => ramInBytes('1kib2'),
      { message: 'strconv.ParseFloat: parsing "1kib2": invalid syntax' },
      'a trailing digit makes all of it the number',
    );
    assert.throws(() => ramInBytes('1bb'), { message: "invalid suffix: 'bb'" });
    assert.throws(() => ramInBytes('1mbytes'), { message: "invalid suffix: 'mbytes'" });
    assert.throws(() => ramInBytes('-1'), { message: /invalid syntax|invalid size/ });
    assert.throws(() => ramInBytes('1.2.3'), { message: 'strconv.ParseFloat: parsing "1.2.3": invalid syntax' });
  });
  it('takes -1 for swap only', () => {
    assert.equal(memSwapBytes('-1'), -1);
    assert.equal(memSwapBytes('1g'), 1024 ** 3);
  });
});

describe('parseCPUs', () => {
  it('turns a rational number into nano CPUs', () => {
    assert.equal(parseCPUs('1.5'), 1_500_000_000);
    assert.equal(parseCPUs('3/2'), 1_500_000_000);
    assert.equal(parseCPUs('0.01'), 10_000_000);
    assert.equal(parseCPUs('1e-3'), 1_000_000);
    assert.equal(parseCPUs('-1'), -1_000_000_000, 'ranges are checked by the engine');
  });
  it('refuses text and too fine values', () => {
    assert.throws(() => parseCPUs('abc'), { message: 'failed to parse abc as a rational number' });
    assert.throws(() => parseCPUs('0.0000000001'), { message: 'value is too precise' });
  });
});

describe('time.ParseDuration', () => {
  it('durations as Go parses them', () => {
    assert.equal(parseGoDuration('1h30m'), 5400e9);
    assert.equal(parseGoDuration('1.5s'), 1.5e9);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('-2ms'), -2e6);
    assert.throws(() => parseGoDuration('5'), { message: 'time: missing unit in duration "5"' });
    assert.throws(() => parseGoDuration('5q'), { message: 'time: unknown unit "q" in duration "5q"' });
    assert.throws(() => parseGoDuration('abc'), { message: 'time: invalid duration "abc"' });
  });
});
