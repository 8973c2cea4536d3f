import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exposedPortKeys, isValidSignal } from './configvalues.ts';

test('ports and signals', () => {
  assert.deepEqual(exposedPortKeys('8000-8002/UDP'), ['8000/udp', '8001/udp', '8002/udp']);
  assert.deepEqual(exposedPortKeys('127.0.0.1:8080:80'), ['80/tcp']);
  assert.throws(() => exposedPortKeys('/tcp'), /no port specified/);
  assert.throws(() => exposedPortKeys('9-8'), /invalid containerPort: 9-8/);
  for (const ok of ['SIGTERM', 'term', 'KILL', '9', 'SIGRTMIN+3', 'rtmax-2']) assert.ok(isValidSignal(ok), ok);
  for (const bad of ['0', 'FOO', 'SIGRTMIN+16', '']) assert.ok(!isValidSignal(bad), bad);
});
