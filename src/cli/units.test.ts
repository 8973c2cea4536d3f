import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesSize,
  formatG,
  formatGoTime,
  formatRFC3339,
  formatRFC3339NanoFixed,
  goDurationSeconds,
  humanDuration,
  humanSize,
  humanSizeWithPrecision,
  reformatDate,
} from './units.ts';

describe('sizes (docker/go-units)', () => {
  it('formats like Go %g', () => {
    assert.equal(formatG(1.982269, 3), '1.98');
    assert.equal(formatG(100, 3), '100');
    assert.equal(formatG(2, 4), '2');
    assert.equal(formatG(999.9, 3), '1e+03');
    assert.equal(formatG(0.0001234, 3), '0.000123');
    assert.equal(formatG(0.00001234, 3), '1.23e-05');
  });

  it('prints decimal sizes as docker images and system df do', () => {
    assert.equal(humanSizeWithPrecision(1982269, 3), '1.98MB');
    assert.equal(humanSize(3964532), '3.965MB');
    assert.equal(humanSize(0), '0B');
    assert.equal(humanSize(999), '999B');
    assert.equal(humanSizeWithPrecision(999_999, 3), '1e+03kB');
    assert.equal(humanSizeWithPrecision(4_270_000, 3), '4.27MB');
  });

  it('prints binary sizes as docker info does', () => {
    assert.equal(bytesSize(8335126528), '7.763GiB');
    assert.equal(bytesSize(1024), '1KiB');
  });
});

describe('HumanDuration', () => {
  const s = 1000;
  const cases: [number, string][] = [
    [0, 'Less than a second'],
    [999, 'Less than a second'],
    [1 * s, '1 second'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [120 * s, '2 minutes'],
    [3599 * s, '59 minutes'],
    [3600 * s, 'About an hour'],
    [90 * 60 * s, '2 hours'],
    [47 * 3600 * s, '47 hours'],
    [48 * 3600 * s, '2 days'],
    [14 * 86400 * s, '2 weeks'],
    [60 * 86400 * s, '2 months'],
    [730 * 86400 * s, '2 years'],
  ];
  for (const [ms, text] of cases) {
    it(`${ms} ms is "${text}"`, () => assert.equal(humanDuration(ms), text));
  }
});

describe('times', () => {
  it('formats in Go layouts (UTC here)', { skip: new Date().getTimezoneOffset() !== 0 }, () => {
    assert.equal(formatRFC3339(1700000000), '2023-11-14T22:13:20Z');
    assert.equal(formatGoTime(1700000000), '2023-11-14 22:13:20 +0000 UTC');
    assert.equal(formatRFC3339NanoFixed(1700000000000000123n), '2023-11-14T22:13:20.000000123Z');
  });

  it('reformats RFC 3339 build times as ANSIC', () => {
    assert.equal(reformatDate('2026-05-07T21:09:36.000000000+00:00'), 'Thu May  7 21:09:36 2026');
    assert.equal(reformatDate('not a date'), 'not a date');
  });

  it('prints Go durations', () => {
    assert.equal(goDurationSeconds(0), '0s');
    assert.equal(goDurationSeconds(90), '1m30s');
    assert.equal(goDurationSeconds(3723), '1h2m3s');
  });
});
