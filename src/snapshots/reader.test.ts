import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, open, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnavailableError } from '../util/errors.ts';
import { pack } from '../util/tar/index.ts';
import { storeAndUnpackTar, unpackTar } from './apply.ts';
import { UnpackPool, writebackCount } from './pool.ts';
import { WRITEBACKS } from './unpack-protocol.ts';

// The reader threads' writebacks of stored blobs (reader.ts, BlobSink): fdatasyncs on libuv's pool, which every
// thread of the process shares. Here that pool is held busy on purpose (opens of FIFOs nobody writes to), so that
// every writeback started stays queued: how many start at once, and what stopping the threads under them leaves.
let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-reader-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function tarOf(name: string, bytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of pack([{ header: { name }, body: Buffer.alloc(bytes, name.charCodeAt(0)) }])) parts.push(c);
  return Buffer.concat(parts);
}

function pieces(buf: Buffer, size: number): Buffer[] {
  return Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => buf.subarray(i * size, (i + 1) * size));
}

/** Holds every thread of libuv's pool in an open() of a FIFO; `release` lets them go and closes what they opened. */
function holdLibuvPool(dir: string): { release: () => Promise<void> } {
  const n = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const fifos = Array.from({ length: n }, (_, i) => join(dir, `fifo-${i}`));
  const opened = fifos.map((f) => {
    execFileSync('mkfifo', [f]);
    return new Promise<void>((resolve, reject) =>
      open(f, 'r', (err, fd) => {
        if (err) reject(err);
        else {
          closeSync(fd);
          resolve();
        }
      }),
    );
  });
  return {
    release: async () => {
      for (const f of fifos) closeSync(openSync(f, 'w'));
      await Promise.all(opened);
    },
  };
}

/** This process's open files whose paths start with `prefix`. */
function openFilesUnder(prefix: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(prefix)) out.push(target);
    } catch {
      // closed since the listing
    }
  }
  return out;
}

test('writebacks are limited for the whole process, and stopping the threads under them leaks no file or count', async () => {
  const dir = join(tmp, 'limit');
  await mkdir(dir);
  const roots = ['a', 'b', 'c', 'warm-a', 'warm-b', 'warm-c'].map((r) => join(dir, r));
  for (const r of roots) await mkdir(r);
  // Three readers, each starting a writeback every 256 KiB: six wanted at once if the limit were per blob.
  const pool = new UnpackPool({ readers: 3, appliers: 1 }, { writebackEvery: 256 << 10 });
  const small = await tarOf('w', 10);
  // Every thread started before the pool is held (a thread's start reads its modules through it).
  await Promise.all(roots.slice(3).map((r) => unpackTar(r, [small], { whiteouts: 'overlay', pool })));
  const layers = await Promise.all(['a', 'b', 'c'].map((name) => tarOf(name, 2 << 20)));
  const held = holdLibuvPool(dir);
  let released = false;
  try {
    writebackCount.resetPeak();
    assert.equal(writebackCount.running(), 0);
    // Two layers stored to their end; the third still arriving when the threads are stopped.
    const done = await Promise.all(
      [0, 1].map((i) =>
        storeAndUnpackTar(roots[i]!, pieces(layers[i]!, 64 << 10), join(dir, `blob-${i}`), {
          whiteouts: 'overlay',
          pool,
        }),
      ),
    );
    for (const [i, d] of done.entries()) {
      assert.equal(d.blob.digest, `sha256:${createHash('sha256').update(layers[i]!).digest('hex')}`);
      assert.deepEqual(readFileSync(join(dir, `blob-${i}`)), layers[i]);
    }
    let more!: () => void;
    const wait = new Promise<void>((resolve) => (more = resolve));
    let fed = 0;
    async function* arriving(): AsyncGenerator<Uint8Array> {
      for (const p of pieces(layers[2]!, 64 << 10)) {
        fed += p.length;
        yield p;
        if (fed >= 1 << 20) await wait;
      }
    }
    const third = storeAndUnpackTar(roots[2]!, arriving(), join(dir, 'blob-2'), { whiteouts: 'overlay', pool });
    const failed = assert.rejects(third, UnavailableError);
    while (fed < 1 << 20) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the reader takes in what it was sent
    // Every writeback started is still queued behind the held pool: never more than the process's limit.
    assert.equal(writebackCount.peak(), WRITEBACKS);
    assert.equal(writebackCount.running(), WRITEBACKS);
    await pool.close();
    more();
    await failed;
    // The threads ended with their writebacks queued: their count is given back, and none of the blobs is open.
    assert.equal(writebackCount.running(), 0);
    assert.deepEqual(openFilesUnder(join(dir, 'blob-')), []);
    await held.release();
    released = true;
    // The next stores start writebacks again.
    writebackCount.resetPeak();
    const again = await storeAndUnpackTar(join(dir, 'warm-a'), pieces(layers[0]!, 64 << 10), join(dir, 'blob-3'), {
      whiteouts: 'overlay',
      pool,
    });
    assert.equal(again.blob.size, layers[0]!.length);
    assert.ok(writebackCount.peak() >= 1);
  } finally {
    if (!released) await held.release();
    await pool.close();
  }
});
