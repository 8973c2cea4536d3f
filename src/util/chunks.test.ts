import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { coalesce, drained, releaseChunk } from './chunks.ts';

async function collect(sizes: number[], target: number): Promise<{ lengths: number[]; bytes: Buffer }> {
  let n = 0;
  async function* source(): AsyncGenerator<Uint8Array> {
    for (const s of sizes) yield Uint8Array.from({ length: s }, () => n++ & 0xff);
  }
  const out: Buffer[] = [];
  for await (const c of coalesce(source(), target)) out.push(Buffer.from(c));
  return { lengths: out.map((c) => c.length), bytes: Buffer.concat(out) };
}

test('small chunks are gathered into chunks of the size asked for, in order; the last one is shorter', async () => {
  const r = await collect([3, 5, 4, 1, 9], 4);
  assert.deepEqual(r.lengths, [4, 4, 4, 4, 4, 2]);
  assert.deepEqual(
    [...r.bytes],
    Array.from({ length: 22 }, (_, i) => i),
  );
});

test('a large chunk arriving alone passes as it is; one arriving after a partial one is split', async () => {
  assert.deepEqual((await collect([10, 2, 10], 4)).lengths, [10, 4, 4, 4]);
  assert.deepEqual((await collect([], 4)).lengths, []);
});

test('with reuse, one buffer is filled again for each gathered chunk, and the bytes are the same', async () => {
  let n = 0;
  async function* source(): AsyncGenerator<Uint8Array> {
    for (const s of [3, 2, 3, 1, 2, 3, 3]) yield Uint8Array.from({ length: s }, () => n++ & 0xff);
  }
  const seen = new Set<ArrayBufferLike>();
  const bytes: number[] = [];
  for await (const c of coalesce(source(), 4, { reuse: true })) {
    seen.add(c.buffer);
    bytes.push(...c);
  }
  assert.equal(seen.size, 1);
  assert.deepEqual(
    bytes,
    Array.from({ length: 17 }, (_, i) => i),
  );
});

/** A writable whose writes finish only when `release` is called: a write past its 1-byte mark returns false. */
function slowWritable(): { w: Writable; release: () => void } {
  let pending: (() => void) | undefined;
  const w = new Writable({
    highWaterMark: 1,
    write(_chunk, _enc, cb) {
      pending = cb;
    },
  });
  return { w, release: () => pending?.() };
}

test('drained is true once the writer drains, and leaves no listener behind', async () => {
  const { w, release } = slowWritable();
  assert.equal(w.write('ab'), false);
  const wait = drained(w);
  release();
  assert.equal(await wait, true);
  for (const ev of ['drain', 'close', 'error']) assert.equal(w.listenerCount(ev), 0, ev);
});

test('drained is false when the writer closes or fails first, or is already gone', async () => {
  const closed = slowWritable().w;
  closed.write('ab');
  const onClose = drained(closed);
  closed.destroy();
  assert.equal(await onClose, false);
  assert.equal(await drained(closed), false);

  const failed = slowWritable().w;
  failed.write('ab');
  const onError = drained(failed);
  failed.destroy(new Error('gone'));
  assert.equal(await onError, false);
});

test('releaseChunk frees a chunk that is the whole of its buffer, and leaves parts and small buffers alone', () => {
  const whole = Buffer.alloc(64 << 10, 1);
  const other = new Uint8Array(whole.buffer); // a second view of the same memory
  assert.equal(releaseChunk(whole), true);
  assert.equal(whole.length, 0, 'every view of the freed buffer is empty');
  assert.equal(other.length, 0);
  assert.equal(releaseChunk(whole), false, 'freed already');

  const big = Buffer.alloc(128 << 10, 2);
  assert.equal(releaseChunk(big.subarray(0, 64 << 10)), false, 'part of a larger buffer');
  assert.equal(releaseChunk(big.subarray(64 << 10)), false);
  assert.equal(big.length, 128 << 10);
  assert.equal(big[100], 2);

  const pooled = Buffer.from('a small one, from the shared slab');
  assert.equal(releaseChunk(pooled), false);
  assert.equal(pooled.toString(), 'a small one, from the shared slab');
  const small = Buffer.alloc(1024);
  assert.equal(releaseChunk(small), false, 'not worth a detach');
  assert.equal(small.length, 1024);

  const shared = Buffer.from(new SharedArrayBuffer(64 << 10));
  assert.equal(releaseChunk(shared), false, 'shared memory is never freed from here');
  assert.equal(shared.length, 64 << 10);
});
