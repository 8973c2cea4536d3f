import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { memSwapBytes, parseCPUs } from './numbers.ts';

describe('memSwapBytes', () => {
  it('takes -1 for swap only', () => {
    assert.equal(memSwapBytes('-1'), -1);
    assert.equal(memSwapBytes('1g'), 1024 ** 3);
    assert.throws(() => memSwapBytes('-2'), RangeError);
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
