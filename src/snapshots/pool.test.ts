import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CanceledError, InvalidArgumentError, UnavailableError } from '../util/errors.ts';
import { extract, pack } from '../util/tar/index.ts';
import type { PackEntry } from '../util/tar/index.ts';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { storeAndUnpackTar, unpackLayer, unpackTar } from './apply.ts';
import { UnpackPool } from './pool.ts';
import { scratch, tarOf } from './pool-testkit.ts';

// The unpack threads (pool.ts): more unpacks at once than readers, failures, cancels, big bodies, blobs read from a
// file or handed over as they arrive, compressed or not.
const tmp = scratch('berth-apply-worker-');
const root = (): Promise<string> => tmp.root();

test('eight unpacks at once (more than the worker threads) all complete, each into its own root', async () => {
  const roots = await Promise.all(Array.from({ length: 8 }, root));
  await Promise.all(
    roots.map((r, i) =>
      unpackLayer(
        r,
        extract(pack([{ header: { name: 'd/' } }, { header: { name: 'd/f' }, body: Buffer.from(`layer ${i}`) }])),
        { whiteouts: 'overlay' },
      ),
    ),
  );
  for (const [i, r] of roots.entries()) assert.equal(await readFile(join(r, 'd/f'), 'utf8'), `layer ${i}`);
});

test("a worker's error arrives as its class, and the next unpack works", async () => {
  const bad = await root();
  await assert.rejects(
    unpackLayer(
      bad,
      extract(
        pack([
          { header: { name: 'a' }, body: Buffer.from('x') },
          { header: { name: 'l', type: 'link', linkname: 'missing' } },
        ]),
      ),
      { whiteouts: 'overlay' },
    ),
    (err: unknown) =>
      err instanceof InvalidArgumentError && /links to "missing", which does not exist/.test(err.message),
  );
  const good = await root();
  await unpackLayer(good, extract(pack([{ header: { name: 'ok' }, body: Buffer.from('fine') }])), {
    whiteouts: 'overlay',
  });
  assert.equal(await readFile(join(good, 'ok'), 'utf8'), 'fine');
});

test('more failed unpacks than worker threads give every slot back: the next unpacks still run', async () => {
  const badLayer = () =>
    extract(
      pack([
        { header: { name: 'a' }, body: Buffer.from('x') },
        { header: { name: 'l', type: 'link', linkname: 'missing' } },
      ]),
    );
  for (let i = 0; i < 5; i++)
    await assert.rejects(unpackLayer(await root(), badLayer(), { whiteouts: 'overlay' }), InvalidArgumentError);
  const roots = await Promise.all(Array.from({ length: 4 }, root));
  await Promise.all(
    roots.map((r, i) =>
      unpackLayer(r, extract(pack([{ header: { name: 'f' }, body: Buffer.from(`after ${i}`) }])), {
        whiteouts: 'overlay',
      }),
    ),
  );
  for (const [i, r] of roots.entries()) assert.equal(await readFile(join(r, 'f'), 'utf8'), `after ${i}`);
});

test('a body larger than the flow-control window lands whole, and the size counts every block', async () => {
  const big = Buffer.alloc(40 << 20);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
  const small: PackEntry[] = Array.from({ length: 300 }, (_, i) => ({
    header: { name: `s/${i}` },
    body: Buffer.from(String(i)),
  }));
  const r = await root();
  const { size } = await unpackLayer(r, extract(pack([{ header: { name: 'big' }, body: big }, ...small])), {
    whiteouts: 'overlay',
  });
  assert.deepEqual(await readFile(join(r, 'big')), big);
  assert.equal((await readdir(join(r, 's'))).length, 300);
  assert.equal(size, 512 + big.length + 300 * 1024 + 1024);
});

test('a canceled unpack stops its worker before it returns: nothing more lands in the root', async () => {
  const ac = new AbortController();
  async function* entries(): AsyncIterable<PackEntry> {
    for (let i = 0; i < 100_000; i++) {
      if (i === 50) ac.abort();
      yield { header: { name: `f${i}` }, body: Buffer.from('x') };
    }
  }
  const r = await root();
  await assert.rejects(
    unpackLayer(r, extract(pack(entries())), { whiteouts: 'overlay', signal: ac.signal }),
    CanceledError,
  );
  const count = (await readdir(r)).length;
  assert.ok(count <= 50, `${count} files`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal((await readdir(r)).length, count);
  assert.ok((await stat(r)).isDirectory());
});

test('a blob from a file or from its bytes, plain, gzip or zstd: the diff ID, sizes and the bytes read', async () => {
  const entries: PackEntry[] = [
    { header: { name: 'dir/' } },
    { header: { name: 'dir/big' }, body: Buffer.alloc(3 << 20, 7) },
    { header: { name: 'dir/small' }, body: Buffer.from('small') },
  ];
  const tar = await tarOf(entries);
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const forms = { none: tar, gzip: gzipSync(tar), zstd: zstdCompressSync(tar) } as const;
  for (const [compression, blob] of Object.entries(forms) as [keyof typeof forms, Buffer][]) {
    const file = join(tmp.dir, `blob.${compression}`);
    await writeFile(file, blob);
    async function* arriving(): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < blob.length; off += 100_000) yield blob.subarray(off, off + 100_000);
    }
    for (const source of [{ file }, arriving()]) {
      const r = await root();
      let read = 0;
      const got = await unpackTar(r, source, { whiteouts: 'overlay', compression, onRead: (n) => (read = n) });
      const what = `${compression} from ${'file' in source ? 'a file' : 'its bytes'}`;
      assert.deepEqual(got, { diffId, size: tar.length, fileBytes: (3 << 20) + 5, read: blob.length }, what);
      assert.equal(read, blob.length, what);
      assert.deepEqual(await readFile(join(r, 'dir/big')), entries[1]!.body, what);
    }
  }
});

test("a corrupt gzip blob fails with zlib's error; a source that fails stops the unpack before it rejects", async () => {
  const tar = await tarOf([{ header: { name: 'f' }, body: Buffer.alloc(1 << 20, 1) }]);
  const gz = gzipSync(tar);
  gz[gz.length >> 1] = gz[gz.length >> 1]! ^ 0xff;
  await assert.rejects(unpackTar(await root(), [gz], { whiteouts: 'overlay', compression: 'gzip' }), (err: Error) =>
    /invalid|incorrect|check/i.test(err.message),
  );
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield tar.subarray(0, 4096);
    throw new Error('the network went away');
  }
  const r = await root();
  await assert.rejects(unpackTar(r, failing(), { whiteouts: 'overlay' }), /the network went away/);
  const after = await readdir(r);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(await readdir(r), after);
});

test('a gzip blob whose check fails at its very end, read from a file or from its bytes, fails and does not hang', async () => {
  const tar = await tarOf([{ header: { name: 'f' }, body: Buffer.alloc(5000, 'h') }]);
  const gz = gzipSync(tar);
  gz[gz.length - 6] = gz[gz.length - 6]! ^ 0xff; // the CRC
  const file = join(tmp.dir, 'crc.gz');
  await writeFile(file, gz);
  for (const source of [{ file }, [gz]]) {
    await assert.rejects(unpackTar(await root(), source, { whiteouts: 'overlay', compression: 'gzip' }), /check/);
  }
});

test('storeAndUnpackTar writes the bytes to the blob file (synced, hashed) as it unpacks them', async () => {
  const tar = await tarOf([{ header: { name: 'd/' } }, { header: { name: 'd/f' }, body: Buffer.alloc(3 << 20, 7) }]);
  const gz = gzipSync(tar);
  const pieces = Array.from({ length: Math.ceil(gz.length / 50_000) }, (_, i) =>
    gz.subarray(i * 50_000, (i + 1) * 50_000),
  );
  const r = await root();
  const blobPath = join(tmp.dir, `blob-${tmp.made}`);
  let heard: { digest: string; size: number } | undefined;
  const got = await storeAndUnpackTar(r, pieces, blobPath, {
    whiteouts: 'overlay',
    compression: 'gzip',
    onStored: (b) => (heard = b),
  });
  const digest = `sha256:${createHash('sha256').update(gz).digest('hex')}`;
  assert.deepEqual(got.blob, { digest, size: gz.length });
  assert.deepEqual(heard, got.blob);
  assert.deepEqual(await readFile(blobPath), gz);
  assert.ok(!(got.unpacked instanceof Error));
  assert.equal(got.unpacked.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
  assert.equal((await stat(join(r, 'd', 'f'))).size, 3 << 20);

  // Bytes that are no layer: stored all the same, and the answer carries the unpack's error.
  const junk = Buffer.concat([gz.subarray(0, 10), Buffer.alloc(200_000, 0xab)]);
  const junkPath = join(tmp.dir, `blob-junk-${tmp.made}`);
  const bad = await storeAndUnpackTar(await root(), [junk], junkPath, { whiteouts: 'overlay', compression: 'gzip' });
  assert.ok(bad.unpacked instanceof Error);
  assert.equal(bad.blob.size, junk.length);
  assert.deepEqual(await readFile(junkPath), junk);

  // A blob path that exists already is never overwritten: the job fails as a whole.
  await assert.rejects(storeAndUnpackTar(await root(), [gz], blobPath, { whiteouts: 'overlay', compression: 'gzip' }), {
    code: 'EEXIST',
  });
});

test('stopping the threads fails the unpack under way; the next one starts them again', async () => {
  const pool = new UnpackPool({ readers: 1, appliers: 2 });
  async function* slow(): AsyncGenerator<Uint8Array> {
    const tar = await tarOf([{ header: { name: 'f' }, body: Buffer.alloc(1 << 20) }]);
    yield tar.subarray(0, 1024);
    await new Promise((resolve) => setTimeout(resolve, 200));
    yield tar.subarray(1024);
  }
  const running = unpackTar(await root(), slow(), { whiteouts: 'overlay', pool });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const failed = assert.rejects(running, UnavailableError);
  await pool.close();
  await failed;
  const r = await root();
  await unpackTar(r, [await tarOf([{ header: { name: 'again' }, body: Buffer.from('yes') }])], {
    whiteouts: 'overlay',
    pool,
  });
  assert.equal(await readFile(join(r, 'again'), 'utf8'), 'yes');
  await pool.close();
});

test('warming starts the appliers and one reader, which the next unpack uses; warming again starts none', async () => {
  const pool = new UnpackPool({ readers: 2, appliers: 2 });
  assert.equal(pool.running, 0);
  pool.warm();
  assert.equal(pool.running, 3);
  pool.warm();
  assert.equal(pool.running, 3);
  const r = await root();
  await unpackTar(r, [await tarOf([{ header: { name: 'warm' }, body: Buffer.from('yes') }])], {
    whiteouts: 'overlay',
    pool,
  });
  assert.equal(await readFile(join(r, 'warm'), 'utf8'), 'yes');
  assert.equal(pool.running, 3, 'the warmed reader served the unpack');
  await pool.close();
  assert.equal(pool.running, 0);
});

test('past `eager` readers, a layer waits for a busy reader to come back; if none does, a new one starts', async () => {
  const pool = new UnpackPool({ readers: 3, eager: 1, appliers: 1 });
  const first = await pool.take();
  assert.equal(pool.running, 2, 'one reader and the applier');
  // Given back before the wait is over: the waiting layer gets the same reader, and no thread is started.
  const second = pool.take();
  await new Promise((resolve) => setImmediate(resolve));
  pool.give(first);
  assert.equal(await second, first);
  assert.equal(pool.running, 2);
  // Not given back: a second reader starts for the waiting layer.
  const third = await pool.take();
  assert.notEqual(third, first);
  assert.equal(pool.running, 3);
  pool.give(third);
  pool.give(first);
  // Both idle: the next two layers take them without waiting or starting any.
  const [a, b] = await Promise.all([pool.take(), pool.take()]);
  assert.deepEqual(new Set([a, b]), new Set([first, third]));
  assert.equal(pool.running, 3);
  // Closing fails a layer still waiting rather than start a thread for it.
  const waiting = pool.take();
  await new Promise((resolve) => setImmediate(resolve));
  const failed = assert.rejects(waiting, UnavailableError);
  await pool.close();
  await failed;
  assert.equal(pool.running, 0);
});

test("an idle stop's lanes leave their shared memory to the next lanes (an idle daemon collects no garbage to free it)", async (t) => {
  const pool = new UnpackPool({ readers: 2, appliers: 1 });
  t.after(() => pool.close());
  const first = [await pool.take({ blobSize: 1000 }), await pool.take({ blobSize: 1000 })];
  for (const r of first) pool.give(r);
  const before = new Set(first.flatMap((r) => [r.input.buffer, r.bodies]));
  assert.equal(before.size, 4);
  await pool.configure({ readers: 2, appliers: 1 }); // nothing under way: the threads stop as they do when idle
  assert.equal(pool.running, 0);
  const again = [await pool.take({ blobSize: 1000 }), await pool.take({ blobSize: 1000 })];
  assert.notEqual(again[0], first[0]);
  // By identity: deepEqual would take two zeroed buffers for the same.
  const reused = again.flatMap((r) => [r.input.buffer, r.bodies]).filter((m) => before.has(m));
  assert.equal(reused.length, 4, 'the same memory, none new');
  for (const r of again) pool.give(r);
  // And the lanes on that memory unpack as new ones do.
  const dir = await root();
  await unpackTar(dir, [await tarOf([{ header: { name: 'reused' }, body: Buffer.from('yes') }])], {
    whiteouts: 'overlay',
    pool,
    blobSize: 1000,
  });
  assert.equal(await readFile(join(dir, 'reused'), 'utf8'), 'yes');
});

test('configure() while layers hold readers: never more layers at once than the readers configured, before or after', async (t) => {
  const pool = new UnpackPool({ readers: 2, appliers: 1 });
  t.after(() => pool.close());
  const a = await pool.take();
  const b = await pool.take();
  const settled = (p: Promise<unknown>) =>
    Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))]);
  // The same number of readers: both are still held, so a third layer waits.
  pool.configure({ readers: 2, appliers: 1 });
  const c = pool.take();
  assert.equal(await settled(c), false, 'a third layer waits while two hold readers');
  pool.give(a);
  const cr = await c;
  // Fewer readers: the two held (b and c) are one too many; a layer waits until both are given back.
  pool.configure({ readers: 1, appliers: 1 });
  const d = pool.take();
  pool.give(b);
  assert.equal(await settled(d), false, 'one layer still holds a reader: the next waits');
  pool.give(cr);
  const dr = await d;
  const e = pool.take();
  assert.equal(await settled(e), false, 'one reader configured, one held');
  // More readers: a waiting layer gets one of the new slots at once.
  pool.configure({ readers: 2, appliers: 1 });
  const er = await e;
  const f = pool.take();
  assert.equal(await settled(f), false, 'two held of two');
  pool.give(dr);
  pool.give(await f);
  pool.give(er);
  await pool.close();
  assert.equal(pool.running, 0);
});

test('small layers share one reader thread, each on a lane of its own, and start no applier; any other has a thread to itself', async (t) => {
  const pool = new UnpackPool({ readers: 4, eager: 3, appliers: 1 });
  t.after(() => pool.close());
  const small = { blobSize: 1 << 20 };
  const [a, b, c] = await Promise.all([pool.take(small), pool.take(small), pool.take(small)]);
  assert.equal(pool.running, 1, 'one reader thread, no applier');
  assert.equal(new Set([a, b, c]).size, 3, 'three lanes');
  assert.ok(a.home === b.home && b.home === c.home);
  // Past `readers` layers at once, a layer waits for one to be given back.
  const x = await pool.take(small);
  assert.equal(x.home, a.home);
  const d = pool.take(small);
  await new Promise((resolve) => setImmediate(resolve));
  pool.give(b);
  assert.equal(await d, b);
  pool.give(x);
  assert.equal(pool.running, 1);
  // A layer that is not small (or of no known size) gets a thread of its own, and the applier.
  const big = await pool.take({ blobSize: 64 << 20 });
  assert.notEqual(big.home, a.home);
  assert.equal(pool.running, 3);
  for (const r of [a, b, c]) pool.give(r);
  // Its thread's lanes are all idle now, but a small layer does not join a thread serving a big one.
  const e = await pool.take(small);
  assert.equal(e.home, a.home);
  pool.give(e);
  pool.give(big);
  // A big layer takes a lane of a thread with no other layer under way, and has it to itself meanwhile.
  const f = await pool.take({ blobSize: 100 << 20 });
  assert.equal(f.home.busy, 1);
  const g = await pool.take(small);
  assert.notEqual(g.home, f.home);
  pool.give(g);
  pool.give(f);
  await pool.close();
  assert.equal(pool.running, 0);
});

test('a small layer behind layers that are not small starts its thread at once while fewer than `eager` run', async (t) => {
  const pool = new UnpackPool({ readers: 4, eager: 3, appliers: 1 });
  t.after(() => pool.close());
  const big = await pool.take({ blobSize: 64 << 20 });
  assert.equal(pool.running, 2, 'its reader and the applier');
  let started: Promise<unknown> | undefined;
  const small = pool.take({ blobSize: 1 << 20 });
  void small.then((r) => (started = Promise.resolve(r)));
  // Not after START_AFTER_MS (50 ms) of waiting for the big layer's thread: a thread of its own, now.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(started !== undefined, 'the small layer has its reader without waiting');
  const s = await small;
  assert.notEqual(s.home, big.home);
  assert.equal(pool.running, 3);
  pool.give(s);
  pool.give(big);
});

test('small layers unpacking at once on one thread each get their own files, and one failing fails none of the others', async (t) => {
  const pool = new UnpackPool({ readers: 6, eager: 3, appliers: 1 });
  t.after(() => pool.close());
  // Random bodies: the gzip streams are ~300 KiB, many pieces each.
  const bodies = Array.from({ length: 10 }, () => Array.from({ length: 20 }, (_, k) => randomBytes(10_000 + k * 1000)));
  const layer = async (i: number): Promise<Buffer> =>
    gzipSync(
      await tarOf([
        { header: { name: 'd/' } },
        ...bodies[i]!.map((body, k) => ({ header: { name: `d/f${k}` }, body })),
      ]),
    );
  // Each handed over in small pieces with pauses, so that the three take turns on the thread.
  async function* pieces(gz: Buffer): AsyncGenerator<Uint8Array> {
    for (let off = 0; off < gz.length; off += 4096) {
      yield gz.subarray(off, off + 4096);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const roots = await Promise.all([root(), root(), root()]);
  const whole = await layer(9);
  const bad = whole.subarray(0, whole.length >> 1); // cut short: a truncated gzip stream
  const results = await Promise.allSettled(
    roots.map(async (r, i) =>
      unpackTar(r, pieces(i === 1 ? bad : await layer(i)), {
        whiteouts: 'overlay',
        compression: 'gzip',
        blobSize: 50_000,
        pool,
      }),
    ),
  );
  assert.equal(pool.running, 1, 'one reader thread served the three');
  assert.equal(results[0]!.status, 'fulfilled');
  assert.equal(results[1]!.status, 'rejected');
  assert.equal(results[2]!.status, 'fulfilled');
  for (const i of [0, 2]) {
    for (let k = 0; k < 20; k++) {
      assert.deepEqual(await readFile(join(roots[i]!, `d/f${k}`)), bodies[i]![k]);
    }
  }
  await pool.close();
});

test('a reader given back after its thread died, last of the layers, still lets the threads go idle (the process can exit)', async () => {
  // In a process of its own: a layer whose thread died meanwhile, given back after a layer on the threads started
  // since, must still unref them and arm the idle stop, or they hold the process (and their memory) for ever.
  const script = join(tmp.dir, 'dead-last.ts');
  await writeFile(
    script,
    `import { UnpackPool } from ${JSON.stringify(new URL('./pool.ts', import.meta.url).href)};
const pool = new UnpackPool({ readers: 2, eager: 2, appliers: 1 });
const big = { blobSize: 64 << 20 };
const a = await pool.take(big);
const died = new Promise((resolve) => (a.onDeath = resolve));
await a.home.thread.worker.terminate();
await died;
const b = await pool.take(big);
pool.give(b);
pool.give(a);
`,
  );
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [script], { stdio: 'inherit' });
  const code = await new Promise<number | null | 'hung'>((resolve) => {
    const timer = setTimeout(() => resolve('hung'), 15_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  if (code === 'hung') child.kill('SIGKILL');
  assert.equal(code, 0);
});

test("a shared reader thread's death fails every small layer on its lanes; the next unpack starts a fresh set", async (t) => {
  // Four layers at once: three unpacking, and a fourth lane taken to reach the thread.
  const pool = new UnpackPool({ readers: 4, eager: 3, appliers: 1 });
  t.after(() => pool.close());
  const tar = await tarOf([{ header: { name: 'f' }, body: Buffer.alloc(64 << 10) }]);
  // Each hands over its first piece and then holds the rest until the thread is gone.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  async function* stalled(): AsyncGenerator<Uint8Array> {
    yield tar.subarray(0, 1024);
    await held;
    yield tar.subarray(1024);
  }
  const unpacks = await Promise.all([root(), root(), root()]).then((roots) =>
    roots.map((r) => unpackTar(r, stalled(), { whiteouts: 'overlay', blobSize: tar.length, pool })),
  );
  const settled = Promise.allSettled(unpacks);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(pool.running, 1, 'the three share one thread');
  const taken = await pool.take({ blobSize: 1 });
  assert.equal(pool.running, 1, 'the fourth lane is on the same thread');
  const thread = taken.home.thread.worker;
  pool.give(taken);
  await thread.terminate();
  release();
  const results = await settled;
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(
      (r as PromiseRejectedResult).reason instanceof UnavailableError,
      String((r as PromiseRejectedResult).reason),
    );
  }
  assert.equal(pool.running, 0, 'the set stopped');
  const again = await root();
  await unpackTar(again, [tar], { whiteouts: 'overlay', blobSize: tar.length, pool });
  assert.equal((await readFile(join(again, 'f'))).length, 64 << 10);
});
