import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DataLossError } from '../util/errors.ts';
import { type Location, readsInWindows, WindowReader } from './windows.ts';

const MiB = 1 << 20;

/** A host file of `sizes` files laid end to end (as a spool holds them), and their locations. */
async function spool(dir: string, name: string, sizes: number[]): Promise<{ data: Buffer; at: Location[] }> {
  const data = randomFillSync(Buffer.alloc(sizes.reduce((a, b) => a + b, 0)));
  const path = join(dir, name);
  await writeFile(path, data);
  let offset = 0;
  const at = sizes.map((size) => {
    const l = { path, offset, size };
    offset += size;
    return l;
  });
  return { data, at };
}

async function gather(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe('WindowReader', () => {
  it('serves each file of a spool in order, across windows, with a file larger than a window among them', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-windows-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const sizes = [...Array.from({ length: 600 }, (_, i) => 20_000 + i), 9 * MiB, 0, 7, ...Array(300).fill(30_001)];
    const { data, at } = await spool(dir, 'spool', sizes);
    const r = new WindowReader();
    let sync = 0;
    for (const l of at) {
      let got = r.bytes(l);
      if (got instanceof Promise) got = await got;
      else sync++;
      // compared at once: a body is valid only until the next is asked for
      assert.ok(got.equals(data.subarray(l.offset, l.offset + l.size)), `the ${l.size} bytes at ${l.offset}`);
    }
    // most files lie in the window already read: no wait for them
    assert.ok(sync > at.length / 2, `${sync} of ${at.length} served at once`);
    // and as streamed bodies, in another order (a jump back reads that window again)
    for (const l of [at[700]!, at[3]!, at[601]!, at[4]!]) {
      assert.ok((await gather(r.body(l))).equals(data.subarray(l.offset, l.offset + l.size)));
    }
    await r.close();
  });

  it('reads from two host files, and a file the host file ends before is a DataLossError', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-windows-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const a = await spool(dir, 'a', [100, 200, 300]);
    const b = await spool(dir, 'b', [5000, 6000]);
    const r = new WindowReader();
    for (const l of [a.at[0]!, b.at[1]!, a.at[2]!, b.at[0]!]) {
      const src = l.path.endsWith('/a') ? a.data : b.data;
      assert.ok((await r.bytes(l)).equals(src.subarray(l.offset, l.offset + l.size)));
    }
    const past = { path: b.at[1]!.path, offset: 10_000, size: 2000 };
    await assert.rejects(async () => await r.bytes(past), DataLossError);
    await r.close();
  });

  it('readsInWindows: forward reads suit windows; many jumps back do not', () => {
    const path = '/spool';
    const forward = Array.from({ length: 100 }, (_, i) => ({ path, offset: i * 1000, size: 1000 }));
    assert.equal(readsInWindows(forward), true);
    assert.equal(readsInWindows([...forward].reverse()), false);
    // a few jumps are allowed
    const some = [...forward.slice(50), ...forward.slice(0, 50)];
    assert.equal(readsInWindows(some), true);
  });
});
