import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { test } from 'node:test';
import { pidfdOpen, pidfdsExited } from './pidfd.ts';

test('pidfds: one poll tells which processes have exited; a gone PID opens none; a closed fd counts as exited', async (t) => {
  const a = spawn('sleep', ['60'], { stdio: 'ignore' });
  const b = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => {
    a.kill('SIGKILL');
    b.kill('SIGKILL');
  });
  const fa = pidfdOpen(a.pid!)!;
  const fb = pidfdOpen(b.pid!)!;
  t.after(() => {
    closeSync(fa);
    closeSync(fb);
  });
  assert.ok(fa >= 0 && fb >= 0);
  assert.deepEqual(pidfdsExited([fa, fb]), [false, false]);
  const gone = once(a, 'exit');
  a.kill('SIGKILL');
  await gone;
  assert.deepEqual(pidfdsExited([fa, fb]), [true, false], 'the killed one, reaped by now, and not the other');
  // A PID that names no process (pid_max is one past the largest) opens none.
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  assert.equal(pidfdOpen(pidMax), undefined);
  assert.deepEqual(pidfdsExited([]), []);
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  const fc = pidfdOpen(c.pid!)!;
  c.kill('SIGKILL');
  await once(c, 'exit');
  closeSync(fc);
  assert.deepEqual(pidfdsExited([fc, fb]), [true, false], 'a closed descriptor (POLLNVAL) counts as exited');
});
