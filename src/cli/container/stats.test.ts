import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StatsResponse } from '../../client/index.ts';
import { cpuPercentUnix, emptyEntry, entryFromSample, memUsageNoCache, renderStats, streamFrame } from './stats.ts';

const SAMPLE: StatsResponse = {
  name: '/web',
  id: 'accb50bdbcf5'.padEnd(64, '1'),
  cpu_stats: { cpu_usage: { total_usage: 2_000_000 }, system_cpu_usage: 110_000_000, online_cpus: 2 },
  precpu_stats: { cpu_usage: { total_usage: 1_000_000 }, system_cpu_usage: 100_000_000 },
  memory_stats: { usage: 10 * 1024 * 1024, limit: 1024 * 1024 * 1024, stats: { total_inactive_file: 2 * 1024 * 1024 } },
  blkio_stats: {
    io_service_bytes_recursive: [
      { op: 'Read', value: 4096 },
      { op: 'write', value: 1000 },
      { op: 'Total', value: 5096 },
    ],
  },
  networks: { eth0: { rx_bytes: 1500, tx_bytes: 700 }, eth1: { rx_bytes: 500, tx_bytes: 300 } },
  pids_stats: { current: 3 },
};

describe('stats computations (docker stats_helpers.go)', () => {
  it('computes CPU % from the sample and its precpu stats', () => {
    assert.equal(cpuPercentUnix(SAMPLE), 20);
    assert.equal(cpuPercentUnix({ ...SAMPLE, precpu_stats: SAMPLE.cpu_stats ?? {} }), 0);
    assert.equal(
      cpuPercentUnix({
        ...SAMPLE,
        cpu_stats: {
          ...SAMPLE.cpu_stats,
          online_cpus: 0,
          cpu_usage: { total_usage: 2_000_000, percpu_usage: [1, 2, 3, 4] },
        },
      }),
      40,
    );
  });

  it('takes the page cache out of memory use (cgroup v1 and v2 names)', () => {
    assert.equal(memUsageNoCache(SAMPLE.memory_stats), 8 * 1024 * 1024);
    assert.equal(memUsageNoCache({ usage: 100, stats: { inactive_file: 30 } }), 70);
    assert.equal(memUsageNoCache({ usage: 100, stats: { inactive_file: 300 } }), 100);
  });
});

describe('stats table', () => {
  it("draws docker's default columns", async () => {
    const entry = entryFromSample('web', SAMPLE, 'linux');
    const text = await renderStats(
      [entry, { ...emptyEntry('gone'), id: 'f'.repeat(64), name: '/gone', isInvalid: true }],
      'table',
      'linux',
      true,
    );
    assert.equal(
      text,
      'CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O     BLOCK I/O     PIDS\n' +
        'accb50bdbcf5   web       20.00%    8MiB / 1GiB         0.78%     2kB / 1kB   4.1kB / 1kB   3\n' +
        'ffffffffffff   gone      --        -- / --             --        --          --            --\n',
    );
  });

  it('renders templates over the same fields and redraws in place when streaming', async () => {
    const entry = entryFromSample('web', SAMPLE, 'linux');
    assert.equal(
      await renderStats([entry], '{{.Container}}: {{.CPUPerc}} {{.MemPerc}} {{.PIDs}}', 'linux', true),
      'web: 20.00% 0.78% 3\n',
    );
    assert.equal(streamFrame('A\nB\n'), '\x1b[HA\nB\n\x1b[HA \x1b[K\nB \x1b[K\n \x1b[K\n\x1b[J');
  });
});
