import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, { closeSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidfdOpen } from '../sys/index.ts';
import { ExitWatcher } from './exits.ts';

async function tmp(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-exits-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Counts the existsSync calls on paths under `dir` (the watcher's looks for its files) until the test ends. */
function countLooks(t: TestContext, dir: string): { n: number } {
  const looks = { n: 0 };
  const real = fs.existsSync;
  fs.existsSync = (p: fs.PathLike) => {
    if (String(p).startsWith(dir)) looks.n++;
    return real(p);
  };
  syncBuiltinESMExports();
  t.after(() => {
    fs.existsSync = real;
    syncBuiltinESMExports();
  });
  return looks;
}

/** An exit file written as conmon writes one: a temporary file renamed into place. */
async function writeExit(dir: string, name: string, code = 0): Promise<void> {
  await writeFile(join(dir, `${name}.tmp`), `${code}`);
  await rename(join(dir, `${name}.tmp`), join(dir, name));
}

/** A signal aborted as the test ends: a failed test leaves no wait (and its watch and timers) behind. */
function ending(t: TestContext): AbortSignal {
  const ac = new AbortController();
  t.after(() => ac.abort());
  return ac.signal;
}

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await sleep(10);
  assert.ok(ok());
}

test('exits are noticed through one watch: no file is looked for and no check runs on a timer meanwhile', async (t) => {
  const dir = await tmp(t);
  const looks = countLooks(t, dir);
  // a poll (were there one) every 20 ms; the checks every minute
  const w = new ExitWatcher(dir, { pollMs: 20, checkMs: 60_000 });
  let checks = 0;
  const check = async (): Promise<boolean> => {
    checks++;
    return false;
  };
  const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
  const seen = new Set<string>();
  const signal = ending(t);
  const waits = names.map((n) => w.waitFor(n, { check, signal }).then(() => seen.add(n)));
  for (const p of waits) p.catch(() => {});
  await sleep(300);
  assert.equal(looks.n, names.length, 'each file looked for once, as its wait started');
  assert.equal(checks, 0);
  assert.equal(w.polling, false, 'the directory is watched');
  assert.equal(seen.size, 0);
  await writeExit(dir, 'c3', 137);
  await until(() => seen.has('c3'));
  assert.equal(seen.size, 1);
  for (const n of names) if (n !== 'c3') await writeExit(dir, n);
  await Promise.all(waits);
  assert.equal(seen.size, names.length);
  assert.equal(checks, 0);
});

test('an exit file already there (written while berthd was down) ends its wait at once', async (t) => {
  const dir = await tmp(t);
  await writeExit(dir, 'gone', 1);
  const w = new ExitWatcher(dir, { pollMs: 60_000, checkMs: 60_000 });
  await w.waitFor('gone', { signal: ending(t) });
});

test('with no watch to be made, the files are looked for every pollMs until one can be made', async (t) => {
  const dir = join(await tmp(t), 'exits');
  const w = new ExitWatcher(dir, { pollMs: 20, checkMs: 60_000 });
  let done = false;
  const wait = w.waitFor('late', { signal: ending(t) }).then(() => (done = true));
  wait.catch(() => {});
  assert.equal(w.polling, true, 'no directory to watch yet');
  await mkdir(dir);
  await until(() => !w.polling);
  await sleep(50);
  assert.equal(done, false);
  await writeExit(dir, 'late');
  await wait;
});

test("a waiter's check runs every checkMs and may end its wait; a canceled wait rejects", async (t) => {
  const dir = await tmp(t);
  const w = new ExitWatcher(dir, { checkMs: 20 });
  let checks = 0;
  await w.waitFor('lost', { check: async () => ++checks >= 3, signal: ending(t) });
  assert.equal(checks, 3);
  await assert.rejects(w.waitFor('never', { signal: AbortSignal.timeout(50) }), { name: 'CanceledError' });
});

test("waiters' pidfds are looked at every checkMs, all in one poll: the wait of a process that exits ends", async (t) => {
  const dir = await tmp(t);
  const w = new ExitWatcher(dir, { checkMs: 20 });
  const kids = Array.from({ length: 5 }, () => spawn('sleep', ['60'], { stdio: 'ignore' }));
  const fds = kids.map((k) => pidfdOpen(k.pid!)!);
  t.after(() => {
    for (const k of kids) k.kill('SIGKILL');
    for (const fd of fds) closeSync(fd);
  });
  const seen = new Set<number>();
  const signal = ending(t);
  const waits = fds.map((pidfd, i) => w.waitFor(`k${i}`, { pidfd, signal }).then(() => seen.add(i)));
  for (const p of waits) p.catch(() => {});
  await sleep(150);
  assert.equal(seen.size, 0, 'no process has exited: no wait ends');
  kids[2]!.kill('SIGKILL');
  await until(() => seen.has(2));
  assert.deepEqual([...seen], [2]);
  for (const k of kids) k.kill('SIGKILL');
  await Promise.all(waits);
  assert.equal(seen.size, kids.length);
});
