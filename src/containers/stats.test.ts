import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBlkioV1, parseIoStat, parseNetDev, readCgroupStats } from './stats.ts';

// A real cgroup of our own (v1 controllers on this kind of host), with this test process's own usage.
const group = `berth-stats-test-${process.pid}`;
const made: string[] = [];
after(async () => {
  for (const d of made.reverse()) {
    await writeFile(`${d.replace(/\/[^/]+$/, '')}/cgroup.procs`, String(process.pid)).catch(() => {});
    await rmdir(d).catch(() => {});
  }
});

test('reads memory, pids and cpu of a real cgroup', {
  skip: !existsSync('/sys/fs/cgroup/memory') && 'no cgroup v1 memory controller',
}, async () => {
  for (const c of ['memory', 'pids', 'cpuacct']) {
    const d = `/sys/fs/cgroup/${c}/${group}`;
    await mkdir(d);
    made.push(d);
  }
  await writeFile(`/sys/fs/cgroup/memory/${group}/memory.limit_in_bytes`, String(256 << 20));
  await writeFile(`/sys/fs/cgroup/pids/${group}/pids.max`, '77');
  for (const c of ['memory', 'pids', 'cpuacct'])
    await writeFile(`/sys/fs/cgroup/${c}/${group}/cgroup.procs`, String(process.pid));
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

test('parses cgroup v1 blkio files (device lines, without the Total line)', () => {
  const text =
    '254:0 Read 1982464\n254:0 Write 4194304\n254:0 Sync 6176768\n254:0 Async 0\n254:0 Discard 0\n254:0 Total 6176768\nTotal 6176768\n';
  assert.deepEqual(parseBlkioV1(text), [
    { major: 254, minor: 0, op: 'Read', value: 1982464 },
    { major: 254, minor: 0, op: 'Write', value: 4194304 },
    { major: 254, minor: 0, op: 'Sync', value: 6176768 },
    { major: 254, minor: 0, op: 'Async', value: 0 },
    { major: 254, minor: 0, op: 'Discard', value: 0 },
    { major: 254, minor: 0, op: 'Total', value: 6176768 },
  ]);
  assert.deepEqual(parseBlkioV1('Total 0\n'), []);
});

test('parses cgroup v2 io.stat as dockerd converts it (read/write bytes and operations per device)', () => {
  const io = parseIoStat(
    '8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n254:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n',
  );
  assert.deepEqual(io.bytes, [
    { major: 8, minor: 16, op: 'read', value: 1459200 },
    { major: 8, minor: 16, op: 'write', value: 314773504 },
    { major: 254, minor: 0, op: 'read', value: 4096 },
    { major: 254, minor: 0, op: 'write', value: 0 },
  ]);
  assert.deepEqual(io.ios[1], { major: 8, minor: 16, op: 'write', value: 353 });
  assert.deepEqual(parseIoStat(''), { bytes: [], ios: [] });
});

test('reads block I/O of a real v1 blkio cgroup (a throttle rule turns the counting on)', {
  skip: !existsSync('/sys/fs/cgroup/blkio') && 'no cgroup v1 blkio controller',
}, async () => {
  const d = `/sys/fs/cgroup/blkio/${group}`;
  await mkdir(d);
  made.push(d);
  const dir = await mkdtemp(join(tmpdir(), 'berth-blkio-'));
  try {
    const st = await stat(dir);
    const dev = `${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)}`;
    // This kernel keeps the v1 counters in blk-throttle, which counts only on a queue that has a rule.
    await writeFile(join(d, 'blkio.throttle.write_bps_device'), `${dev} ${2 ** 40}`);
    const r = spawnSync('sh', [
      '-c',
      `echo $$ > ${d}/cgroup.procs && dd if=/dev/zero of=${dir}/f bs=1M count=4 oflag=direct 2>/dev/null`,
    ]);
    assert.equal(r.status, 0, String(r.stderr));
    const s = await readCgroupStats(group);
    const written = (s.blkio.io_service_bytes_recursive ?? [])
      .filter((e) => e.op === 'Write')
      .reduce((a, e) => a + e.value, 0);
    assert.ok(written >= 4 << 20, JSON.stringify(s.blkio));
    assert.ok((s.blkio.io_serviced_recursive ?? []).some((e) => e.op === 'Write' && e.value > 0));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parses /proc/<pid>/net/dev into the networks of stats, lo left out; none without another interface', () => {
  const text = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0',
    '  eth0:    1698      19    1    2    0     0          0         0      894      11    3    4    0     0       0          0',
    '',
  ].join('\n');
  assert.deepEqual(parseNetDev(text), {
    eth0: {
      rx_bytes: 1698,
      rx_packets: 19,
      rx_errors: 1,
      rx_dropped: 2,
      tx_bytes: 894,
      tx_packets: 11,
      tx_errors: 3,
      tx_dropped: 4,
    },
  });
  assert.equal(parseNetDev(text.split('\n').slice(0, 3).join('\n')), undefined);
  assert.equal(parseNetDev(''), undefined);
});
