import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONMessage } from '../client/index.ts';
import { displayJSONMessages, progressString, StreamError } from './jsonmessage.ts';

async function* from(messages: JSONMessage[]): AsyncGenerator<JSONMessage> {
  yield* messages;
}

function sink(
  isTerminal: boolean,
  columns?: number,
): { out: { write(s: string): void; isTerminal: boolean; columns?: number }; text(): string } {
  let buf = '';
  return {
    out: { write: (s: string) => void (buf += s), isTerminal, ...(columns !== undefined ? { columns } : {}) },
    text: () => buf,
  };
}

const LOAD: JSONMessage[] = [
  { status: 'Loading layer', progressDetail: { current: 32768, total: 1987072 }, id: '9907c16cdd03' },
  { status: 'Loading layer', progressDetail: { current: 1987072, total: 1987072 }, id: '9907c16cdd03' },
  { stream: 'Loaded image: busybox:1\n' },
];

describe('displayJSONMessages', () => {
  it('rewrites progress lines in place on a terminal (docker load, 80 columns)', async () => {
    const s = sink(true, 80);
    await displayJSONMessages(from(LOAD), s.out);
    assert.equal(
      s.text(),
      '\n' +
        '\x1b[1A\x1b[2K\r9907c16cdd03: Loading layer  32.77kB/1.987MB\r\x1b[1B' +
        '\x1b[1A\x1b[2K\r9907c16cdd03: Loading layer  1.987MB/1.987MB\r\x1b[1B' +
        'Loaded image: busybox:1\n',
    );
  });

  it('prints only plain lines off a terminal', async () => {
    const s = sink(false);
    await displayJSONMessages(from([...LOAD, { status: 'sha256:abc' }, { status: 'Done', progressDetail: {} }]), s.out);
    assert.equal(s.text(), 'Loaded image: busybox:1\nsha256:abc\nDone\n');
  });

  it('moves to the right line for interleaved ids', async () => {
    const s = sink(true, 80);
    await displayJSONMessages(
      from([
        { id: 'a', status: 'Waiting', progressDetail: {} },
        { id: 'b', status: 'Waiting', progressDetail: {} },
        { id: 'a', status: 'Done', progressDetail: {} },
      ]),
      s.out,
    );
    assert.equal(
      s.text(),
      '\n\x1b[1A\x1b[2K\ra: Waiting \r\x1b[1B' +
        '\n\x1b[1A\x1b[2K\rb: Waiting \r\x1b[1B' +
        '\x1b[2A\x1b[2K\ra: Done \r\x1b[2B',
    );
  });

  it('writes the lines of messages that came in together at once, and all before it returns or fails', async () => {
    const writes: string[] = [];
    const out = { write: (t: string) => void writes.push(t), isTerminal: true, columns: 80 };
    async function* twoReads(): AsyncGenerator<JSONMessage> {
      yield { id: 'a', status: 'Waiting', progressDetail: {} };
      yield { id: 'b', status: 'Waiting', progressDetail: {} };
      // The next read comes at a later turn of the event loop (after what was already queued for this one).
      await new Promise((resolve) => setImmediate(resolve));
      yield { id: 'a', status: 'Done', progressDetail: {} };
      yield { stream: 'end\n' };
    }
    await displayJSONMessages(twoReads(), out);
    assert.deepEqual(writes, [
      '\n\x1b[1A\x1b[2K\ra: Waiting \r\x1b[1B\n\x1b[1A\x1b[2K\rb: Waiting \r\x1b[1B',
      '\x1b[2A\x1b[2K\ra: Done \r\x1b[2Bend\n',
    ]);
    const failed: string[] = [];
    await assert.rejects(
      displayJSONMessages(from([{ stream: 'ok\n' }, { errorDetail: { message: 'gone' } }]), {
        write: (t: string) => void failed.push(t),
        isTerminal: false,
      }),
      /gone/,
    );
    assert.deepEqual(failed, ['ok\n']);
  });

  it('an aux callback that writes to the same output writes after the lines drawn before its message', async () => {
    const writes: string[] = [];
    const out = { write: (t: string) => void writes.push(t), isTerminal: false };
    await displayJSONMessages(from([{ stream: 'before\n' }, { aux: { ID: 'x' } }, { stream: 'after\n' }]), out, {
      onAux: () => out.write('aux\n'),
    });
    assert.equal(writes.join(''), 'before\naux\nafter\n');
  });

  it('hands aux messages to the callback and fails on errorDetail', async () => {
    const aux: unknown[] = [];
    const s = sink(false);
    await assert.rejects(
      displayJSONMessages(
        from([
          { aux: { ID: 'sha256:1' } },
          { stream: 'ok\n' },
          { errorDetail: { message: 'no space left' }, error: 'no space left' },
          { stream: 'never\n' },
        ]),
        s.out,
        { onAux: (m) => aux.push(m.aux) },
      ),
      (err: unknown) => err instanceof StreamError && err.message === 'no space left',
    );
    assert.deepEqual(aux, [{ ID: 'sha256:1' }]);
    assert.equal(s.text(), 'ok\n');
  });
});

describe('progressString', () => {
  it('draws a bar on wide terminals and an estimate when a start time is known', () => {
    const now = 1_000_010_000;
    assert.equal(
      progressString({ current: 500_000, total: 1_000_000, start: 1_000_000 }, 120, now),
      `[${'='.repeat(25)}>${' '.repeat(25)}]    500kB/1MB 10s`,
    );
    assert.equal(progressString({ current: 2048 }, 80, now), ' 2.048kB');
    assert.equal(progressString({ current: 3, total: 10, units: 'items' }, 80, now), '3/10 items');
    assert.equal(progressString({}, 80, now), '');
  });
});
