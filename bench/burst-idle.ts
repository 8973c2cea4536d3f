/**
 * When the CPUs idle during a burst of 20 `docker run -d --network none busybox sleep` into berthd, and who ran
 * meanwhile: `perf record -e sched:sched_switch -a` (CLOCK_MONOTONIC, the clock of `process.hrtime`) through
 * `--bursts` bursts after one untimed warm-up, then each CPU's timeline rebuilt from the switches and cut into
 * `--bucket` ms slices from the burst's start: per slice the idle ms of all CPUs and the busy ms by party (berthd,
 * the benchmark's Node, the CLIs, conmon, `runc create`, the containers' runc init, kernel threads, the rest).
 * `node bench/burst-idle.ts [--bursts N] [--bucket MS] [--tree DIR]` (`--tree`: another tree's bin/berthd).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { DOCKER, dockerEnv, startBerthd, useTree, waitForBusybox } from './lib/engines.ts';
import { burstsUnderPerf, type PerfBurst } from './lib/perf-bursts.ts';
import { run } from './lib/proc.ts';

const { values } = parseArgs({
  options: {
    bursts: { type: 'string', default: '3' },
    bucket: { type: 'string', default: '50' },
    tree: { type: 'string' },
  },
});
if (values.tree) useTree(values.tree);
const bucketMs = Number(values.bucket);
const cpus = availableParallelism();
const dir = await mkdtemp('/tmp/berth-bench-idle-');
const e = await startBerthd({ seed: true });
const env = dockerEnv(e);
const one = () => run(DOCKER, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'], { env });
const clean = async () => {
  const ids = (await run(DOCKER, ['ps', '-aq'], { env })).stdout.split('\n').filter(Boolean);
  if (ids.length) await run(DOCKER, ['rm', '-f', ...ids], { env, timeoutMs: 120_000 });
};
/** Threads (tid → party) of berthd and of this process, read around each burst. */
const threads = new Map<number, string>();
const readThreads = async (pid: number, party: string) => {
  for (const t of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) threads.set(Number(t), party);
};
let bursts: PerfBurst[] = [];
try {
  await waitForBusybox(env);
  bursts = await burstsUnderPerf({
    bursts: Number(values.bursts),
    one,
    clean,
    perfArgs: ['-e', 'sched:sched_switch', '-a', '-k', 'CLOCK_MONOTONIC'],
    dir,
    perfStartMs: 400,
    around: async () => {
      await readThreads(e.pid, 'berthd');
      await readThreads(process.pid, 'benchmark (Node)');
    },
  });
} finally {
  await e.stop();
}

function party(tid: number, comm: string): string {
  if (tid === 0) return 'idle';
  const t = threads.get(tid);
  if (t) return t;
  if (comm.startsWith('runc:[2:INIT]') || comm === 'sleep') return 'containers (runc init)';
  // runc from berthd's sealed copy runs as /proc/self/fd/N: its comm is the descriptor's number.
  if (comm.startsWith('runc') || /^\d+$/.test(comm) || comm.startsWith('memfd:')) return 'runc create';
  if (comm === 'conmon') return 'conmon';
  if (comm === 'docker') return 'docker CLIs';
  if (comm === 'perf') return 'perf';
  if (/^(kworker|ksoftirqd|rcu|migration|kthreadd|cpuhp|jbd2|kcompactd|khugepaged)/.test(comm)) return 'kernel threads';
  return 'other load';
}

const SWITCH =
  /^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:sched_switch:\s+prev_comm=(.*?) prev_pid=(\d+) .*?==> next_comm=(.*?) next_pid=(\d+)/;
const allParties = new Set<string>();
const perBurst: { wall: number; slices: Map<string, number>[]; total: Map<string, number> }[] = [];
for (const b of bursts) {
  const text = (await run('perf', ['script', '-i', b.file, '-F', 'comm,tid,cpu,time,event,trace'], { allowFail: true }))
    .stdout;
  const n = Math.ceil((b.t1 - b.t0) / bucketMs);
  const slices = Array.from({ length: n }, () => new Map<string, number>());
  const total = new Map<string, number>();
  const current = new Map<number, { since: number; who: string }>();
  const add = (who: string, from: number, to: number) => {
    from = Math.max(from, b.t0);
    to = Math.min(to, b.t1);
    while (from < to) {
      const i = Math.floor((from - b.t0) / bucketMs);
      const end = Math.min(to, b.t0 + (i + 1) * bucketMs);
      slices[i]!.set(who, (slices[i]!.get(who) ?? 0) + (end - from));
      total.set(who, (total.get(who) ?? 0) + (end - from));
      allParties.add(who);
      from = end;
    }
  };
  for (const line of text.split('\n')) {
    const m = SWITCH.exec(line);
    if (!m) continue;
    const cpu = Number(m[3]);
    const ts = Number(m[4]) * 1000;
    const prev = current.get(cpu);
    // A CPU's first switch: what ran before it is the switch's prev task, from the trace's start.
    const prevWho = prev?.who ?? party(Number(m[6]), m[5]!);
    add(prevWho, prev?.since ?? b.t0, ts);
    current.set(cpu, { since: ts, who: party(Number(m[8]), m[7]!) });
  }
  for (const c of current.values()) add(c.who, c.since, b.t1);
  perBurst.push({ wall: b.t1 - b.t0, slices, total });
}

const order = [...allParties].sort((a, c) => (a === 'idle' ? -1 : c === 'idle' ? 1 : a.localeCompare(c)));
console.log(`# Idle CPU through bursts of 20 \`docker run -d\` into berthd (${cpus} CPUs, ${bucketMs} ms slices)\n`);
for (const [i, b] of perBurst.entries()) {
  console.log(`\n## burst ${i + 1}: wall ${b.wall.toFixed(1)} ms, ${(b.wall * cpus).toFixed(0)} ms of CPU time\n`);
  console.log(`| slice (ms) | ${order.join(' | ')} |`);
  console.log(`|---|${order.map(() => '---').join('|')}|`);
  for (const [k, s] of b.slices.entries())
    console.log(
      `| ${k * bucketMs}–${(k + 1) * bucketMs} | ${order.map((p) => (s.get(p) ?? 0).toFixed(1)).join(' | ')} |`,
    );
  console.log(`| **all** | ${order.map((p) => (b.total.get(p) ?? 0).toFixed(1)).join(' | ')} |`);
}
await rm(dir, { recursive: true, force: true });
