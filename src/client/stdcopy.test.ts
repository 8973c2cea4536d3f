import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { demultiplex, frame, stdCopy } from './stdcopy.ts';

function sink(): Writable & { text(): string } {
  let buf = '';
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      buf += chunk.toString();
      cb();
    },
  });
  return Object.assign(w, { text: () => buf });
}

/** Yields the bytes in pieces of `size`, so frames and headers are split across chunks. */
async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

describe('stdcopy', () => {
  it('keeps stdout and stderr apart however the bytes are chunked', async () => {
    const data = Buffer.concat([
      frame(1, 'out1\n'),
      frame(2, 'err1\n'),
      frame(0, 'in-as-out\n'),
      frame(1, ''),
      frame(2, 'x'.repeat(70_000)),
    ]);
    for (const size of [1, 3, 7, 8, 9, 4096, data.length]) {
      const out = sink();
      const err = sink();
      const n = await stdCopy(pieces(data, size), out, err);
      assert.equal(out.text(), 'out1\nin-as-out\n', `chunk size ${size}`);
      assert.equal(err.text(), `err1\n${'x'.repeat(70_000)}`);
      assert.equal(n, 5 + 5 + 10 + 70_000);
    }
  });

  it('ends quietly on a truncated frame, fails on a bad header or an engine error frame', async () => {
    const out = sink();
    await stdCopy(pieces(Buffer.concat([frame(1, 'ok'), frame(1, 'cut').subarray(0, 9)]), 4), out, undefined);
    assert.equal(out.text(), 'ok');
    await assert.rejects(stdCopy(pieces(Buffer.from([9, 0, 0, 0, 0, 0, 0, 1, 65]), 9), sink(), sink()), {
      message: 'Unrecognized input header: 9',
    });
    await assert.rejects(stdCopy(pieces(frame(3, 'boom'), 100), sink(), sink()), {
      message: 'error from daemon in stream: boom',
    });
  });

  it('drops a stream that has no destination and yields typed chunks', async () => {
    const chunks = [];
    for await (const c of demultiplex(pieces(Buffer.concat([frame(2, 'e'), frame(1, 'o')]), 5)))
      chunks.push([c.stream, c.data.toString()]);
    assert.deepEqual(chunks, [
      [2, 'e'],
      [1, 'o'],
    ]);
    const out = sink();
    await stdCopy(pieces(Buffer.concat([frame(2, 'e'), frame(1, 'o')]), 5), out, undefined);
    assert.equal(out.text(), 'o');
  });

  it('waits for a slow destination (backpressure)', async () => {
    const slow = new PassThrough({ highWaterMark: 4 });
    const got: Buffer[] = [];
    const done = stdCopy(pieces(Buffer.concat([frame(1, 'aaaaaaaa'), frame(1, 'bbbbbbbb')]), 100), slow, undefined);
    await new Promise((r) => setTimeout(r, 20));
    for (let c = slow.read(); c !== null; c = slow.read()) got.push(c as Buffer);
    await new Promise((r) => setTimeout(r, 20));
    for (let c = slow.read(); c !== null; c = slow.read()) got.push(c as Buffer);
    await done;
    assert.equal(Buffer.concat(got).toString(), 'aaaaaaaabbbbbbbb');
  });
});
