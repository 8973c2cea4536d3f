import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CanceledError } from './errors.ts';
import { sleep } from './sleep.ts';

test('sleep: waits, and an abort before or during the wait ends it with CanceledError', async () => {
  const t0 = Date.now();
  await sleep(20);
  assert.ok(Date.now() - t0 >= 15, 'it waited');
  await assert.rejects(sleep(10, AbortSignal.abort()), CanceledError);
  const ac = new AbortController();
  const during = sleep(60_000, ac.signal);
  ac.abort();
  await assert.rejects(during, CanceledError);
});
