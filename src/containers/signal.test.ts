import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parentPid, signalFor } from './signal.ts';

test('signal names and numbers as process.kill takes them; unknown ones are left to the runtime', () => {
  assert.equal(signalFor('SIGTERM'), 'SIGTERM');
  assert.equal(signalFor('term'), 'SIGTERM');
  assert.equal(signalFor('KILL'), 'SIGKILL');
  assert.equal(signalFor('9'), 9);
  assert.equal(signalFor('SIGRTMIN+3'), undefined);
  assert.equal(signalFor('NOPE'), undefined);
  assert.equal(signalFor('999'), undefined);
});

test('the parent PID of a /proc stat line, whatever the command name holds', () => {
  assert.equal(parentPid('1234 (sh) S 1200 1234 1234 0 -1 4194560'), 1200);
  assert.equal(parentPid('77 (a b) (c)) R 5 77 77'), 5);
  assert.equal(parentPid('garbage'), undefined);
});
