import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { PackEntry } from '../util/tar/index.ts';
import { unpackTar } from './apply.ts';
import { UnpackPool } from './pool.ts';
import { scratch, tarOf } from './pool-testkit.ts';

// The idle stop (pool.ts, `#stopIdle`): every thread stops but the reader thread that served small layers, which is
// kept with its lanes until `close` or its death.
const tmp = scratch('berth-pool-idle-');
const root = (): Promise<string> => tmp.root();

const small = { blobSize: 1 << 20 };
const big = { blobSize: 64 << 20 };

/** Whether `w` has exited, as a function read later. */
function exited(w: Worker): () => boolean {
  let gone = false;
  w.once('exit', () => (gone = true));
  return () => gone;
}

/** Takes a small layer's reader and gives it back: the thread it is on. */
async function smallHome(pool: UnpackPool): Promise<unknown> {
  const r = await pool.take(small);
  pool.give(r);
  return r.home;
}

/** Waits until `pool.running` is at most `max` (the idle stop has run), up to 15 s (IDLE_MS is 10 s). */
async function runningAtMost(pool: UnpackPool, max: number): Promise<void> {
  const t0 = Date.now();
  while (pool.running > max && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 20));
  // The stopped threads' exit events come a turn after `running` drops.
  await new Promise((r) => setTimeout(r, 50));
}

test('the idle stop keeps the reader thread that served small layers, with its lanes; the appliers and a big layer’s thread stop', async (t) => {
  const pool = new UnpackPool({ readers: 3, eager: 3, appliers: 1 }, { idleMs: 100 });
  t.after(() => pool.close());
  const [a, b] = [await pool.take(small), await pool.take(small)];
  const g = await pool.take(big);
  assert.equal(pool.running, 3, 'the small layers’ thread, the big layer’s and the applier');
  assert.notEqual(g.home, a.home);
  const smallGone = exited(a.home.thread.worker);
  const bigGone = exited(g.home.thread.worker);
  for (const r of [a, b, g]) pool.give(r);
  await runningAtMost(pool, 1);
  assert.equal(pool.running, 1, 'one thread left after the idle stop');
  assert.equal(bigGone(), true, 'the big layer’s thread stopped');
  assert.equal(smallGone(), false, 'the small layers’ thread kept');
  // The next small layers take the kept lanes: no thread, no lane, no memory made.
  const again = [await pool.take(small), await pool.take(small)];
  assert.deepEqual(new Set(again), new Set([a, b]));
  assert.equal(pool.running, 1);
  for (const r of again) pool.give(r);
  // And they unpack as before.
  const dir = await root();
  const tar = await tarOf([{ header: { name: 'kept' }, body: Buffer.from('yes') }]);
  await unpackTar(dir, [tar], { whiteouts: 'overlay', pool, blobSize: tar.length });
  assert.equal(await readFile(join(dir, 'kept'), 'utf8'), 'yes');
  assert.equal(smallGone(), false);
});

test('a big layer after the idle stop takes a kept lane with appliers started anew: its files all land', async (t) => {
  // The kept lanes' links to the stopped appliers are dropped; a link left to a stopped applier would take some of
  // the big layer's files to a thread that is gone (a hang or missing files).
  const pool = new UnpackPool({ readers: 2, eager: 2, appliers: 2 }, { idleMs: 100 });
  t.after(() => pool.close());
  const [a, g] = [await pool.take(small), await pool.take(big)];
  const kept = a.home;
  pool.give(a);
  pool.give(g);
  await runningAtMost(pool, 1);
  assert.equal(pool.running, 1);
  const entries: PackEntry[] = [{ header: { name: 'd/' } }];
  for (let i = 0; i < 400; i++) entries.push({ header: { name: `d/f${i}` }, body: Buffer.alloc(4096 + i, i % 251) });
  const tar = await tarOf(entries);
  for (let round = 0; round < 2; round++) {
    const dir = await root();
    const done = unpackTar(dir, [tar], { whiteouts: 'overlay', pool, blobSize: big.blobSize });
    const hung = new Promise((_, reject) => setTimeout(() => reject(new Error('the big layer hung')), 10_000).unref());
    await Promise.race([done, hung]);
    assert.equal(pool.running, 3, 'the kept thread and two new appliers');
    assert.equal((await readdir(join(dir, 'd'))).length, 400);
    for (const i of [0, 199, 399]) {
      const body = await readFile(join(dir, 'd', `f${i}`));
      assert.ok(body.equals(Buffer.alloc(4096 + i, i % 251)), `d/f${i}`);
    }
    // Idle again: the appliers stop, the thread that served small layers (and now a big one) is kept.
    await runningAtMost(pool, 1);
    assert.equal(pool.running, 1);
    assert.equal(await smallHome(pool), kept);
  }
});

test('close() and the kept thread’s death end it', async (t) => {
  const pool = new UnpackPool({ readers: 2, eager: 2, appliers: 1 }, { idleMs: 100 });
  t.after(() => pool.close());
  /** A small layer and a big one, given back; resolves once the idle stop has stopped the applier and big thread. */
  const idle = async () => {
    const [s, g] = [await pool.take(small), await pool.take(big)];
    pool.give(s);
    pool.give(g);
    await runningAtMost(pool, 1);
    assert.equal(pool.running, 1, 'kept by the idle stop');
    return s;
  };
  const a = await idle();
  const gone = exited(a.home.thread.worker);
  await pool.close();
  assert.equal(pool.running, 0);
  assert.equal(gone(), true, 'close ended it');
  // Started again by the next small layer, kept by the next idle stop, ended by its death.
  const b = await idle();
  assert.notEqual(b.home, a.home);
  await b.home.thread.worker.terminate();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pool.running, 0, 'its death ended the set');
  const c = await pool.take(small);
  assert.notEqual(c.home, b.home);
  pool.give(c);
});

test('warming beside a kept thread starts the appliers (a load’s) but no reader; a pull’s warming starts nothing', async (t) => {
  const pool = new UnpackPool({ readers: 2, eager: 2, appliers: 2 }, { idleMs: 100 });
  t.after(() => pool.close());
  const [s, g] = [await pool.take(small), await pool.take(big)];
  pool.give(s);
  pool.give(g);
  await runningAtMost(pool, 1);
  assert.equal(pool.running, 1);
  pool.warm({ appliers: false });
  assert.equal(pool.running, 1, 'the kept thread is the reader a pull warms');
  pool.warm();
  assert.equal(pool.running, 3, 'the kept thread and two appliers');
  // The warmed appliers stop again at the next idle stop; the kept thread stays.
  await runningAtMost(pool, 1);
  assert.equal(pool.running, 1);
  assert.equal(await smallHome(pool), s.home);
});
