import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLog } from './events.ts';

test('EventLog: legacy fields for containers and images, times that never go back, since and subscribe', () => {
  const log = new EventLog(2);
  const seen: string[] = [];
  const unsubscribe = log.subscribe((e) => seen.push(e.Action));
  const run = log.publish('container', 'start', 'c1', { image: 'app:1', name: 'web' });
  const net = log.publish('network', 'create', 'n1', { name: 'front' });
  assert.deepEqual([run.status, run.id, run.from], ['start', 'c1', 'app:1']);
  assert.deepEqual([net.status, net.id, net.from], [undefined, undefined, undefined]);
  assert.ok(net.timeNano >= run.timeNano, 'times never go back');
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
