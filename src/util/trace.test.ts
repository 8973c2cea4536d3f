import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { PHASE_CHANNEL, phase, phaseEnd, phaseStart, phaseSync, type PhaseMessage } from './trace.ts';

describe('phases on the berth:phase channel', () => {
  it('publishes nothing and measures nothing without a subscriber', async () => {
    assert.equal(phaseStart(), undefined);
    assert.equal(await phase('x', 'id', async () => 7), 7);
    assert.equal(
      phaseSync('x', 'id', () => 8),
      8,
    );
  });

  it('publishes each phase with its id and epoch-millisecond start and end, also when it throws', async () => {
    const got: PhaseMessage[] = [];
    const onMessage = (m: unknown) => got.push(m as PhaseMessage);
    subscribe(PHASE_CHANNEL, onMessage);
    try {
      const before = Date.now();
      assert.equal(
        await phase('runtime.create', 'c1', async () => {
          await new Promise((r) => setTimeout(r, 5));
          return 'ok';
        }),
        'ok',
      );
      assert.throws(() =>
        phaseSync('database', 'c2', () => {
          throw new RangeError('boom');
        }),
      );
      const t = phaseStart();
      assert.ok(t !== undefined);
      phaseEnd('exit.notice', 'c3', t);
      assert.deepEqual(
        got.map((m) => [m.phase, m.id]),
        [
          ['runtime.create', 'c1'],
          ['database', 'c2'],
          ['exit.notice', 'c3'],
        ],
      );
      const first = got[0]!;
      assert.ok(first.start >= before - 1 && first.start <= Date.now() + 1, `start ${first.start} is epoch ms`);
      assert.ok(first.end - first.start >= 4, `a 5 ms phase took ${first.end - first.start} ms`);
    } finally {
      unsubscribe(PHASE_CHANNEL, onMessage);
    }
  });
});
