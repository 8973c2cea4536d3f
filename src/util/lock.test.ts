import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedMutex, RWLock } from './lock.ts';

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
