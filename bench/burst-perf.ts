/**
 * Machine-wide `perf record -a -g` through bursts of 20 `docker run -d --network none busybox sleep` into berthd
 * (`--api`: the Engine API's create + start from this process instead of the CLIs), after one untimed warm-up burst:
 * where the whole machine's CPU goes, kernel included, by party (berthd, runc create, the containers' runc init,
 * conmon, the docker CLIs, everything else on the machine), and within each how much was ext4 allocating inodes
 * (`__ext4_new_inode`) and libseccomp compiling the filter.
 * `node bench/burst-perf.ts [--bursts N] [--api] [--out DIR]` (the perf data stays in DIR when given).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { call } from './lib/api.ts';
import { DOCKER, dockerEnv, startBerthd, waitForBusybox } from './lib/engines.ts';
import { burstsUnderPerf } from './lib/perf-bursts.ts';
import { run } from './lib/proc.ts';

const { values } = parseArgs({
  options: {
    bursts: { type: 'string', default: '2' },
    api: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const dir = values.out ?? (await mkdtemp('/tmp/berth-bench-perf-'));
await mkdir(dir, { recursive: true });
const e = await startBerthd({ seed: true });
const env = dockerEnv(e);
const one = values.api
  ? async () => {
      const c = (
        await call(e.socket, 'POST', '/v1.41/containers/create', {
          Image: 'busybox',
          Cmd: ['sleep', '1000'],
          HostConfig: { NetworkMode: 'none' },
        })
      ).json as { Id: string };
      await call(e.socket, 'POST', `/v1.41/containers/${c.Id}/start`);
    }
  : () => run(DOCKER, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'], { env }).then(() => {});
const clean = async () => {
  const ids = (await run(DOCKER, ['ps', '-aq'], { env })).stdout.split('\n').filter(Boolean);
  if (ids.length) await run(DOCKER, ['rm', '-f', ...ids], { env, timeoutMs: 120_000 });
};
let walls: number[] = [];
try {
  await waitForBusybox(env);
  const bursts = await burstsUnderPerf({
    bursts: Number(values.bursts),
    one,
    clean,
    perfArgs: ['-a', '-g', '-F', '997'],
    dir,
    perfStartMs: 150,
  });
  walls = bursts.map((b) => b.t1 - b.t0);
} finally {
  await e.stop();
}

/** The party a sample's process belongs to. */
function party(comm: string, pid: number): string {
  if (pid === e.pid) return 'berthd (every thread)';
  if (comm.startsWith('runc:[2:INIT]')) return 'containers (runc init, then the process)';
  if (comm.startsWith('runc:[')) return "runc init's parent and child stages";
  if (comm === 'runc') return 'runc (create)';
  if (comm === 'conmon') return 'conmon';
  if (comm === 'docker') return 'docker CLIs';
  if (comm === 'sleep') return 'containers (runc init, then the process)';
  if (/^(kworker|ksoftirqd|rcu_|kdamond|swapper|migration)/.test(comm)) return 'kernel threads';
  return 'everything else on the machine';
}

for (let b = 0; b < walls.length; b++) {
  const file = join(dir, `burst${b}.data`);
  const text = (await run('perf', ['script', '-i', file, '-F', 'comm,pid,ip,sym,dso'], { allowFail: true })).stdout;
  const total = new Map<string, number>();
  const ext4 = new Map<string, number>();
  const seccomp = new Map<string, number>();
  const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  let n = 0;
  // perf script: a header line per sample (comm, pid), its stack one frame a line, then a blank line.
  for (const sample of text.split('\n\n')) {
    const lines = sample.split('\n').filter((l) => l.trim() !== '');
    const head = /^\s*(.+?)\s+(\d+)\s*$/.exec(lines[0] ?? '');
    if (!head) continue;
    n++;
    const who = party(head[1]!, Number(head[2]));
    add(total, who);
    const frames = lines.slice(1);
    if (frames.some((f) => f.includes('__ext4_new_inode'))) add(ext4, who);
    if (frames[0]?.includes('libseccomp')) add(seccomp, who);
  }
  const pct = (x: number) => `${((100 * x) / n).toFixed(1)} %`;
  console.log(`\nburst ${b + 1}: ${walls[b]!.toFixed(0)} ms, ${n} samples (perf started 150 ms before it)\n`);
  console.log('| party | share of the machine | of it, ext4 allocating inodes | of it, libseccomp |');
  console.log('|---|---|---|---|');
  for (const [k, v] of [...total].sort((a, c) => c[1] - a[1]))
    console.log(`| ${k} | ${pct(v)} | ${pct(ext4.get(k) ?? 0)} | ${pct(seccomp.get(k) ?? 0)} |`);
}
if (!values.out) await rm(dir, { recursive: true, force: true });
