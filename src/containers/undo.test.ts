import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UndoStack } from './undo.ts';

test('a failure undoes what was acquired, last first, and the error is the one thrown', async () => {
  const log: string[] = [];
  await assert.rejects(
    UndoStack.run(async (undo) => {
      const a = await undo.acquire(
        'a',
        () => 'A',
        async (v) => log.push(`release ${v}`),
      );
      assert.equal(a, 'A');
      undo.push('b', async () => log.push('undo b'));
      await undo.acquire(
        'c',
        async () => 'C',
        async (v) => log.push(`release ${v}`),
      );
      throw new Error('step 4 failed');
    }),
    /step 4 failed/,
  );
  assert.deepEqual(log, ['release C', 'undo b', 'release A']);
});

test('an acquire that fails has nothing to undo; an undo that fails is reported and the others still run', async () => {
  const log: string[] = [];
  const warnings: string[] = [];
  await assert.rejects(
    UndoStack.run(
      async (undo) => {
        undo.push('a', async () => log.push('undo a'));
        undo.push('b', async () => {
          throw new Error('busy');
        });
        await undo.acquire(
          'c',
          () => Promise.reject(new Error('no c')),
          async () => log.push('undo c'),
        );
      },
      (m) => warnings.push(m),
    ),
    /no c/,
  );
  assert.deepEqual(log, ['undo a']);
  assert.deepEqual(warnings, ['undoing b: busy']);
});

test('success keeps everything', async () => {
  const log: string[] = [];
  const out = await UndoStack.run(async (undo) => {
    await undo.acquire(
      'a',
      () => 1,
      async () => log.push('undo a'),
    );
    return 42;
  });
  assert.equal(out, 42);
  assert.deepEqual(log, []);
});
