import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_LAYER } from '../../images/index.ts';
import { Tasks } from './layers.ts';
import { DEFAULT_REGISTRY_CONFIG } from './types.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('max-concurrent-downloads bounds the blobs downloading at once; a slot is free again at its last byte', async () => {
  const tasks = new Tasks({ ...DEFAULT_REGISTRY_CONFIG, maxConcurrentDownloads: 2 }, undefined);
  let downloading = 0;
  let mostDownloading = 0;
  let finishing = 0;
  let mostBusy = 0;
  const order: string[] = [];
  for (let i = 0; i < 6; i++)
    tasks.start(8 << 20, async (received) => {
      downloading++;
      mostDownloading = Math.max(mostDownloading, downloading);
      order.push(`start ${i}`);
      await tick(5);
      downloading--;
      finishing++;
      received();
      received(); // a second call gives nothing more back
      mostBusy = Math.max(mostBusy, downloading + finishing);
      await tick(30); // the layer's tail: the next download runs meanwhile
      finishing--;
      order.push(`end ${i}`);
    });
  await tasks.settle();
  assert.equal(tasks.failure, undefined);
  assert.equal(mostDownloading, 2, 'never more than max-concurrent-downloads blobs downloading');
  assert.ok(mostBusy > 2, `downloads went on while earlier layers finished (at most ${mostBusy} at once)`);
  assert.ok(order.indexOf('start 2') < order.indexOf('end 0'), order.join(', '));
});

test('a task that fails before its last byte gives its slot back once, and the others stop', async () => {
  const tasks = new Tasks({ ...DEFAULT_REGISTRY_CONFIG, maxConcurrentDownloads: 1 }, undefined);
  const ran: number[] = [];
  tasks.start(8 << 20, async () => {
    ran.push(0);
    throw new Error('cut');
  });
  tasks.start(8 << 20, async () => {
    ran.push(1);
  });
  await tasks.settle();
  assert.equal((tasks.failure as Error).message, 'cut');
  assert.deepEqual(ran, [0], 'after the first failure no other download starts');
});

test('blobs of small layers (up to SMALL_LAYER, those sharing an unpack thread) download in the wider pool', async () => {
  const mostAtOnce = async (size: number): Promise<number> => {
    const tasks = new Tasks({ ...DEFAULT_REGISTRY_CONFIG, maxConcurrentDownloads: 2 }, undefined);
    let now = 0;
    let most = 0;
    for (let i = 0; i < 12; i++)
      tasks.start(size, async () => {
        most = Math.max(most, ++now);
        await tick(5);
        now--;
      });
    await tasks.settle();
    return most;
  };
  assert.equal(await mostAtOnce(SMALL_LAYER), 8, 'a layer of SMALL_LAYER bytes: 4 × max-concurrent-downloads');
  assert.equal(await mostAtOnce((1 << 20) + 4096), 8, 'a 1 MiB layer with its tar and gzip overhead is small too');
  assert.equal(await mostAtOnce(SMALL_LAYER + 1), 2, 'a larger one: max-concurrent-downloads');
});
