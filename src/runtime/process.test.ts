import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parentPid, pidRunning, statFields } from './process.ts';

test('the fields of a /proc stat line after the command, whatever the command name holds', () => {
  assert.deepEqual(statFields('1234 (sh) S 1200 1234')?.slice(0, 2), ['S', '1200']);
  assert.equal(parentPid('1234 (sh) S 1200 1234 1234 0 -1 4194560'), 1200);
  assert.equal(parentPid('77 (a b) (c)) R 5 77 77'), 5);
  assert.equal(statFields('garbage'), undefined);
  assert.equal(parentPid('garbage'), undefined);
  assert.equal(parentPid(readFileSync('/proc/self/stat', 'utf8')), process.ppid);
});

test('pidRunning: this process runs; a PID beyond pid_max does not', () => {
  assert.equal(pidRunning(process.pid), true);
  assert.equal(pidRunning(Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1), false);
  assert.equal(pidRunning(0), false);
});
