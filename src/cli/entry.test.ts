import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EngineClient } from '../client/index.ts';
import type { OutStream, Streams } from './command.ts';
import { runProgram } from './entry.ts';
import { ExitStatusError } from './errors.ts';

function memoryStreams(): Streams & { errText(): string } {
  let err = '';
  const out = (write: (t: string) => void): OutStream =>
    ({ stream: undefined as never, isTerminal: false, columns: undefined, write }) as OutStream;
  return {
    in: undefined as never,
    out: out(() => {}),
    err: out((t) => {
      err += t;
    }),
    errText: () => err,
  };
}

test("runProgram: the body's status, an error's status and message, the client closed once", async () => {
  const streams = memoryStreams();
  assert.equal(await runProgram(streams, async () => 3), 3);
  let closed = 0;
  const fake = { close: () => closed++ } as unknown as EngineClient;
  const status = await runProgram(streams, async (run) => {
    assert.equal(
      run.client(() => fake),
      run.client(() => assert.fail('made twice')),
    );
    throw new ExitStatusError('no such thing', 7);
  });
  assert.equal(status, 7);
  assert.equal(streams.errText(), 'no such thing\n');
  assert.equal(closed, 1);
});

test('runProgram: SIGINT aborts the signal and the status is 130; the handlers are gone afterwards', async () => {
  const before = process.listenerCount('SIGINT');
  const status = await runProgram(memoryStreams(), async (run) => {
    process.emit('SIGINT');
    assert.equal(run.signal.aborted, true);
    throw new Error('interrupted');
  });
  assert.equal(status, 130);
  assert.equal(process.listenerCount('SIGINT'), before);
  const released = await runProgram(memoryStreams(), async (run) => {
    run.releaseSignals();
    assert.equal(process.listenerCount('SIGINT'), before);
    return 0;
  });
  assert.equal(released, 0);
});
