import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalesce } from './chunks.ts';

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
