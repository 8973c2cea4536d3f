import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import type { Socket } from 'node:net';
import { spawnDirect } from './spawn.ts';

function collect(s: Socket | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    s!.setEncoding('utf8');
    s!.on('data', (d: string) => (out += d));
    s!.on('end', () => resolve(out));
    s!.on('error', reject);
  });
}

test('spawnDirect: argv, environment, working directory, pipes both ways, exit code', async () => {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'berth-spawn-')));
  try {
    const c = await spawnDirect(
      '/bin/sh',
      ['sh', '-c', 'echo "$0 $FOO"; pwd; echo oops >&2; read x <&3; echo "got $x"; exit 7'],
      {
        env: { FOO: 'bar', PATH: '/usr/bin:/bin' },
        cwd: dir,
        fds: ['null', 'out', 'out', 'in'],
      },
    );
    assert.ok(c.pid > 0);
    const out = collect(c.pipes[1]);
    const err = collect(c.pipes[2]);
    c.pipes[3]!.end('hello\n');
    assert.deepEqual(await c.exited, { code: 7, signal: null });
    assert.equal(await out, `sh bar\n${dir}\ngot hello\n`);
    assert.equal(await err, 'oops\n');
    assert.equal(c.done, true);
    assert.equal(c.pipes[0], undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('spawnDirect: the child starts with no signal blocked or ignored (Node ignores SIGPIPE)', async () => {
  const c = await spawnDirect('/bin/grep', ['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status'], {
    env: {},
    cwd: '/',
    fds: ['null', 'out', 'null'],
  });
  const out = await collect(c.pipes[1]);
  await c.exited;
  assert.match(out, /^SigBlk:\s+0+$/m);
  assert.match(out, /^SigIgn:\s+0+$/m);
});

test('spawnDirect: the child inherits no more descriptors than a child_process child does', async () => {
  const c = await spawnDirect('/bin/ls', ['ls', '/proc/self/fd'], { env: {}, cwd: '/', fds: ['null', 'out', 'null'] });
  const out = await collect(c.pipes[1]);
  await c.exited;
  // What a process running this test inherited without close-on-exec (a test runner's), plus the dir ls lists.
  const viaNode = execFileSync('ls', ['/proc/self/fd'], { encoding: 'utf8' });
  assert.deepEqual(out.trim().split('\n').sort(), viaNode.trim().split('\n').sort());
});

test('spawnDirect: kill, and the signal that ended the child', async () => {
  const c = await spawnDirect('/bin/sleep', ['sleep', '30'], { env: {}, cwd: '/', fds: ['null', 'null', 'null'] });
  c.kill('SIGKILL');
  assert.deepEqual(await c.exited, { code: null, signal: 9 });
  c.kill('SIGKILL'); // reaped: nothing is sent to a pid that may be another process's now
});

test('spawnDirect: a program that is not there is an ENOENT', async () => {
  await assert.rejects(
    spawnDirect('/nonexistent/prog', ['prog'], { env: {}, cwd: '/', fds: ['null', 'null', 'null'] }),
    (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && /nonexistent\/prog/.test(e.message),
  );
});

test('spawnDirect: many children at once are each reaped', async () => {
  const kids = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      spawnDirect('/bin/sh', ['sh', '-c', `exit ${i}`], { env: {}, cwd: '/', fds: ['null', 'null', 'null'] }),
    ),
  );
  assert.deepEqual(
    (await Promise.all(kids.map((k) => k.exited))).map((e) => e.code),
    Array.from({ length: 20 }, (_, i) => i),
  );
});
