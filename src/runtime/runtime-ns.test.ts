import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UNIFIED_ROOT } from './hostfiles.ts';
import { ensureNsHelper } from './testkit.ts';

const HYBRID = existsSync(join(UNIFIED_ROOT, 'cgroup.controllers'));

/** Whether `path` is a mount point in this process's mount namespace. */
function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
}

test('runtime-ns: the runtime runs without the unified mount, in its unified cgroup; nothing it mounts reaches the host, what the host mounts reaches it (rslave binds, as under runc)', {
  skip: !HYBRID && 'not a hybrid cgroup host',
}, async (t) => {
  const helper = ensureNsHelper();
  const dir = await mkdtemp(join(tmpdir(), 'berth-runtime-ns-'));
  // A shared mount of the host's (a typical systemd host's / is shared; this one's may not be)
  const shared = join(dir, 'shared');
  await mkdir(shared);
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', shared]);
  execFileSync('mount', ['--make-shared', shared]);
  const cgroup = `berth-runtime-ns-test-${process.pid}`;
  t.after(async () => {
    for (const m of [join(shared, 'host'), join(shared, 'inner'), shared])
      if (mounted(m)) execFileSync('umount', ['-l', m]);
    await rmdir(join(UNIFIED_ROOT, cgroup)).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });
  await mkdir(join(shared, 'host'));
  await mkdir(join(shared, 'inner'));

  // The "runtime": a shell that mounts on the shared mount, then waits for the host to mount beside it.
  const script = [
    'grep -c " /sys/fs/cgroup/unified " /proc/self/mountinfo',
    'cat /proc/self/cgroup | grep "^0::"',
    `mount -t tmpfs tmpfs ${shared}/inner && touch ${shared}/inner/made && echo mounted`,
    `while [ ! -e ${dir}/go ]; do sleep 0.02; done`,
    `ls ${shared}/host`,
  ].join('; ');
  const child = spawn(helper, [`--join-unified=${cgroup}`, '/bin/sh', '-c', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b));
  child.stderr.on('data', (b: Buffer) => (err += b));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  while (!out.includes('mounted') && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  assert.match(out, /mounted/, err);
  // the runtime's mount stayed in its namespace
  assert.equal(existsSync(join(shared, 'inner', 'made')), false, "the runtime's mount reached the host");
  assert.equal(mounted(join(shared, 'inner')), false);
  // the host's mount made now reaches it
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(shared, 'host')]);
  writeFileSync(join(shared, 'host', 'hello'), '');
  writeFileSync(join(dir, 'go'), '');
  assert.equal(await exited, 0, err);
  const lines = out.trim().split('\n');
  assert.equal(lines[0], '0', 'no unified mount in its view');
  assert.equal(lines[1], `0::/${cgroup}`, 'in its unified cgroup');
  assert.equal(lines.at(-1), 'hello', "the host's mount made after its start did not reach it");
  // and the host keeps its own
  assert.equal(mounted(UNIFIED_ROOT), true);
});
