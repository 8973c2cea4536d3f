import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLog, nextNano } from './events.ts';

test('EventLog: legacy fields for containers and images, times strictly increasing, since and subscribe', () => {
  const log = new EventLog(2);
  const seen: string[] = [];
  const unsubscribe = log.subscribe((e) => seen.push(e.Action));
  const run = log.publish('container', 'start', 'c1', { image: 'app:1', name: 'web' });
  const net = log.publish('network', 'create', 'n1', { name: 'front' });
  assert.deepEqual([run.status, run.id, run.from], ['start', 'c1', 'app:1']);
  assert.deepEqual([net.status, net.id, net.from], [undefined, undefined, undefined]);
  assert.ok(net.timeNano > run.timeNano, 'each event is strictly after the one before');
  assert.equal(run.time, Math.floor(run.timeNano / 1e9));
  unsubscribe();
  const pull = log.publish('image', 'pull', 'busybox:latest');
  assert.deepEqual(seen, ['start', 'create'], 'an unsubscribed listener hears nothing more');
  assert.equal(pull.from, undefined, 'only container events have `from`');
  assert.deepEqual(
    log.since(0).map((e) => e.Action),
    ['create', 'pull'],
    'only the last `keep` events are kept',
  );
  assert.deepEqual(
    log.since(pull.timeNano).map((e) => e.Action),
    ['pull'],
  );
});

test('nextNano: a tie or a clock gone back still gives a later time, near 2^53 and far beyond it', () => {
  const now = 1_796_000_000_123_456_800; // December 2026 in ns: above 2^60, where doubles are 256 apart
  assert.equal(nextNano(0, now), now);
  assert.ok(nextNano(now, now) > now, 'a tie moves on');
  assert.ok(nextNano(now, now - 1e6) > now, 'a clock that went back does not take the time back');
  assert.equal(nextNano(now, now) - now, 256);
  assert.equal(nextNano(5, 5), 6, 'small numbers move on by 1');
  let t = now;
  for (let i = 0; i < 1000; i++) {
    const next = nextNano(t, now);
    assert.ok(next > t);
    t = next;
  }
});
