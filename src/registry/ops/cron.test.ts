import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCron } from './cron.ts';

const at = (s: string) => Date.parse(s);
const iso = (ms: number) => new Date(ms).toISOString();

describe('cron', () => {
  it('five fields fire on the minute, in UTC', () => {
    const s = parseCron('30 2 * * *');
    assert.equal(iso(s.next(at('2024-03-03T01:00:00Z'))), '2024-03-03T02:30:00.000Z');
    assert.equal(iso(s.next(at('2024-03-03T02:30:00Z'))), '2024-03-04T02:30:00.000Z');
  });
  it('six fields take seconds first; steps, ranges, lists and names', () => {
    assert.equal(iso(parseCron('*/15 * * * * *').next(at('2024-01-01T00:00:01Z'))), '2024-01-01T00:00:15.000Z');
    const s = parseCron('0 0 9-17/4 * * mon-fri');
    // 2024-03-02 is a Saturday: the next run is Monday 09:00.
    assert.equal(iso(s.next(at('2024-03-02T10:00:00Z'))), '2024-03-04T09:00:00.000Z');
    assert.equal(iso(s.next(at('2024-03-04T09:00:00Z'))), '2024-03-04T13:00:00.000Z');
    assert.equal(iso(parseCron('0 0 1 jan,jul *').next(at('2024-02-01T00:00:00Z'))), '2024-07-01T00:00:00.000Z');
  });
  it('both day fields restricted: either matches; 7 is Sunday', () => {
    const s = parseCron('0 0 13 * 5');
    assert.equal(iso(s.next(at('2024-09-01T00:00:00Z'))), '2024-09-06T00:00:00.000Z');
    assert.equal(iso(parseCron('0 12 * * 7').next(at('2024-03-01T00:00:00Z'))), '2024-03-03T12:00:00.000Z');
  });
  it('macros and @every', () => {
    assert.equal(iso(parseCron('@daily').next(at('2024-03-03T05:00:00Z'))), '2024-03-04T00:00:00.000Z');
    assert.equal(iso(parseCron('@hourly').next(at('2024-03-03T05:00:00Z'))), '2024-03-03T06:00:00.000Z');
    assert.equal(parseCron('@every 90s').next(1000), 91_000);
  });
  it('refuses what does not parse, quoting it', () => {
    for (const bad of [
      '',
      '* * *',
      '61 * * * *',
      '* * * * * * *',
      'a b c d e',
      '*/0 * * * *',
      '5-1 * * * *',
      '0 0 30 2 *',
      '@sometimes',
      '@every soon',
    ])
      assert.throws(
        () => parseCron(bad),
        (e: Error) => e.message.startsWith(`invalid cron expression "${bad.trim()}"`),
        bad,
      );
  });
});
