import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTimestamp } from './timestamp.ts';

test('until/since values: unix seconds, RFC 3339, Go durations before now; anything else is refused', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');
  assert.equal(parseTimestamp('1700000000', now), 1700000000);
  assert.equal(parseTimestamp('1700000000.5', now), 1700000000.5);
  assert.equal(parseTimestamp('2026-11-22T11:00:00Z', now), now / 1000 - 3600);
  assert.equal(parseTimestamp('1.5h', now), now / 1000 - 5400);
  assert.equal(parseTimestamp('30ms', now), now / 1000 - 0.03);
  assert.equal(parseTimestamp('10m', now), now / 1000 - 600);
  assert.equal(parseTimestamp('1h30m', now), now / 1000 - 5400);
  assert.throws(() => parseTimestamp('yesterday', now), /invalid timestamp "yesterday"/);
});
