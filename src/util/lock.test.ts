import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedMutex, Limit, mapLimit, RWLock } from './lock.ts';

const tick = () => new Promise((r) => setImmediate(r));

test('KeyedMutex serialises one key and not others', async () => {
  const m = new KeyedMutex();
  const log: string[] = [];
  const job = (k: string, name: string) =>
    m.run(k, async () => {
      log.push(`${name}+`);
      await tick();
      log.push(`${name}-`);
    });
  await Promise.all([job('a', 'a1'), job('a', 'a2'), job('b', 'b1')]);
  assert.ok(log.indexOf('a1-') < log.indexOf('a2+'));
  assert.ok(log.indexOf('b1+') < log.indexOf('a1-'));
});

test('RWLock lets readers share and writers exclude', async () => {
  const l = new RWLock();
  let active = 0;
  let maxReaders = 0;
  let writerSawOthers = false;
  const reader = () =>
    l.read(async () => {
      active++;
      maxReaders = Math.max(maxReaders, active);
      await tick();
      active--;
    });
  const writer = () =>
    l.write(async () => {
      if (active !== 0) writerSawOthers = true;
      active++;
      await tick();
      active--;
    });
  await Promise.all([reader(), reader(), writer(), reader()]);
  assert.equal(maxReaders, 2);
  assert.equal(writerSawOthers, false);
});

test('RWLock: a read inside a read does not wait behind a queued writer', async () => {
  const l = new RWLock();
  const order: string[] = [];
  let writer: Promise<void> | undefined;
  await l.read(async () => {
    writer = l.write(async () => {
      order.push('write');
    });
    await tick();
    await l.read(async () => {
      order.push('inner read');
    });
  });
  await writer;
  assert.deepEqual(order, ['inner read', 'write']);
});

test('KeyedMutex.acquire: a hold that outlives a callback; run waits for it; releasing twice is harmless', async () => {
  const m = new KeyedMutex();
  const order: string[] = [];
  const release = await m.acquire('k');
  const later = m.run('k', async () => {
    order.push('run');
  });
  await new Promise((r) => setTimeout(r, 20));
  order.push('release');
  release();
  release();
  await later;
  assert.deepEqual(order, ['release', 'run']);
  const again = await m.acquire('k');
  again();
});

test('Limit: at most n holders, waiters served in order, tryTake only when a slot is free', async () => {
  const l = new Limit(2);
  let active = 0;
  let most = 0;
  const order: number[] = [];
  const job = (i: number) =>
    l.run(async () => {
      active++;
      most = Math.max(most, active);
      order.push(i);
      await tick();
      active--;
    });
  await Promise.all([0, 1, 2, 3, 4].map(job));
  assert.equal(most, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.equal(l.tryTake(), true);
  assert.equal(l.tryTake(), true);
  assert.equal(l.tryTake(), false, 'both slots taken');
  const waiter = l.take().then(() => 'got');
  l.release();
  assert.equal(l.tryTake(), false, 'the released slot went to the waiter, not to a later tryTake');
  assert.equal(await waiter, 'got');
  assert.equal(new Limit(0).tryTake(), true, 'a limit below 1 counts as 1');
});

test('Limit.resize: larger serves waiters at once; smaller lets holders finish and serves no one until below it', async () => {
  const l = new Limit(2);
  assert.equal(l.tryTake(), true);
  assert.equal(l.tryTake(), true);
  const served: string[] = [];
  const w1 = l.take().then(() => served.push('w1'));
  const w2 = l.take().then(() => served.push('w2'));
  l.resize(3);
  await w1;
  assert.deepEqual(served, ['w1'], 'one new slot: the first waiter only');
  // Three held, limit down to one: two slots given back go to no one, the third to the waiter.
  l.resize(1);
  l.release();
  l.release();
  await tick();
  assert.deepEqual(served, ['w1']);
  l.release();
  await w2;
  assert.deepEqual(served, ['w1', 'w2']);
  assert.equal(l.tryTake(), false, 'one held of one');
  l.release();
  assert.equal(l.tryTake(), true);
  assert.equal(l.tryTake(), false);
  l.resize(0);
  assert.equal(l.tryTake(), false, 'a limit below 1 counts as 1');
});

test('mapLimit: bounded, and after a failure starts nothing new and rejects with the first error', async () => {
  let active = 0;
  let most = 0;
  const seen: number[] = [];
  await mapLimit([1, 2, 3, 4, 5, 6], 3, async (i) => {
    active++;
    most = Math.max(most, active);
    seen.push(i);
    await tick();
    active--;
  });
  assert.equal(most, 3);
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);

  const started: number[] = [];
  let settled = 0;
  await assert.rejects(
    mapLimit([1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      await tick();
      settled++;
      if (i === 1) throw new Error('first');
      if (i === 2) throw new Error('second');
    }),
    /first/,
  );
  assert.deepEqual(started, [1, 2], 'nothing started after the failure');
  assert.equal(settled, 2, 'the started calls settled before the rejection');
  await mapLimit([], 2, async () => assert.fail('no items'));
});
