import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { conmonPidfd, conmonStatFd, parentPid, pidRunning, statFdGone, statFields } from './process.ts';

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

test('conmonStatFd: follows the conmon of one directory through its /proc stat, as a pidfd does', async () => {
  // A stand-in for conmon (its command line names "conmon" and the container's directory), made by a parent that
  // execs into `sleep` and never reaps it, so that its exit leaves a zombie.
  const dir = '/run/berth-test/conmon/abc123';
  const parent = spawn('/bin/sh', ['-c', `sh -c 'sleep 0.5; :' conmon ${dir} & exec sleep 60`], { stdio: 'ignore' });
  const parentExit = once(parent, 'exit');
  try {
    // once the parent is `sleep` and its child the stand-in (before their execs, both command lines name both)
    const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    let child = 0;
    await until(() => {
      const kids = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim();
      child = Number(kids);
      return cmdline(parent.pid!).startsWith('sleep') && child > 0 && cmdline(child).startsWith('sh\0-c\0sleep');
    });
    assert.ok(child > 0);
    assert.equal(conmonStatFd(child, '/run/berth-test/conmon/other'), undefined, "another directory's");
    assert.equal(conmonStatFd(parent.pid!, dir), undefined, 'not a conmon');
    // The pidfd takes the same checks.
    assert.equal(conmonPidfd(child, '/run/berth-test/conmon/other'), undefined, "another directory's");
    assert.equal(conmonPidfd(parent.pid!, dir), undefined, 'not a conmon');
    const pidfd = conmonPidfd(child, dir);
    assert.ok(pidfd !== undefined && pidfd >= 0);
    closeSync(pidfd);
    const fd = conmonStatFd(child, dir);
    assert.ok(fd !== undefined);
    try {
      assert.equal(statFdGone(fd), false);
      await until(() => readFileSync(`/proc/${child}/stat`, 'latin1').split(') ')[1]![0] === 'Z');
      assert.equal(statFdGone(fd), true, 'a zombie counts as gone');
      assert.equal(conmonStatFd(child, dir), undefined);
    } finally {
      closeSync(fd);
    }
  } finally {
    parent.kill('SIGKILL');
  }
  await parentExit;
  // reaped: a read through a descriptor fails (ESRCH), whatever its PID names later
  const p = spawn('sh', ['-c', 'sleep 60; :', 'conmon', dir], { stdio: 'ignore' });
  let fd: number | undefined;
  await until(() => (fd = conmonStatFd(p.pid!, dir)) !== undefined);
  assert.equal(statFdGone(fd!), false);
  p.kill('SIGKILL');
  await once(p, 'exit');
  assert.equal(statFdGone(fd!), true);
  closeSync(fd!);
  assert.equal(conmonStatFd(0, dir), undefined);
});

/** Resolves once `cond` holds (looked at every 20 ms), or rejects after 5 s. */
async function until(cond: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5000; !cond(); ) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
