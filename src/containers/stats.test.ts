import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { readCgroupStats } from './stats.ts';

// A real cgroup of our own (v1 controllers on this kind of host), with this test process's own usage.
const group = `berth-stats-test-${process.pid}`;
const made: string[] = [];
after(async () => {
  for (const d of made.reverse()) {
    await writeFile(`${d.replace(/\/[^/]+$/, '')}/cgroup.procs`, String(process.pid)).catch(() => {});
    await rmdir(d).catch(() => {});
  }
});

test('reads memory, pids and cpu of a real cgroup', { skip: !existsSync('/sys/fs/cgroup/memory') && 'no cgroup v1 memory controller' }, async () => {
  for (const c of ['memory', 'pids', 'cpuacct']) {
    const d = `/sys/fs/cgroup/${c}/${group}`;
    await mkdir(d);
    made.push(d);
  }
  await writeFile(`/sys/fs/cgroup/memory/${group}/memory.limit_in_bytes`, String(256 << 20));
  await writeFile(`/sys/fs/cgroup/pids/${group}/pids.max`, '77');
  for (const c of ['memory', 'pids', 'cpuacct']) await writeFile(`/sys/fs/cgroup/${c}/${group}/cgroup.procs`, String(process.pid));
  let x = 0;
  for (let i = 0; i < 2e7; i++) x += i;
  const s = await readCgroupStats(group);
  assert.ok(x > 0);
  assert.equal(s.memory.limit, 256 << 20);
  assert.ok((s.memory.usage ?? 0) > 0);
  assert.equal(s.pids.limit, 77);
  assert.ok((s.pids.current ?? 0) >= 1);
  assert.ok(s.cpu.cpu_usage.total_usage > 0);
  assert.ok((s.cpu.system_cpu_usage ?? 0) > 0);
});
