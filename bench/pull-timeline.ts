/**
 * A timeline of one berthd's API pull of the `--layers` image (default 50 layers of 1 MiB, gzip) from a local
 * docker-registry: each layer's download slot, last byte, unpack answer (the blob written, hashed and unpacked on
 * an unpack thread; its fsync after the thread is given back) and adoption into the content store, and the
 * pull's phases (the registry client's modules loaded, the registry's pings, manifest, config, layers, snapshot
 * commits, the blob directory's sync, the image record; an unpack thread's start to its first JavaScript), from
 * berthd's `berth:phase` channel (src/util/trace.ts, bench/lib/phase-recorder.ts), and berthd's CPU by thread in the
 * pull. Milliseconds from the request, per round after a warm-up. `--after-start`: berthd stopped and started again
 * on its roots before every round, so that each pull is the first after a daemon start (bench/lib/engines.ts
 * `restartBerthd`). `node bench/pull-timeline.ts [--after-start] [rounds] [layers]`; BERTHD_NODE_OPTIONS adds Node
 * flags to berthd's (profiling: see below). No timing is asserted.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../src/distribution/remote/testkit.ts';
import { clearDocker } from './datapath.ts';
import { buildImage, manyLayers } from './lib/archive.ts';
import { restartBerthd, startBerthd } from './lib/engines.ts';
import { seedRegistry } from './lib/pull-probe.ts';
import { afterIdle, run, stats, threadCpuSince, threadSched } from './lib/proc.ts';
import { berthdNodeFlags, workerFloor } from './lib/worker-floor.ts';

const now = (): number => performance.timeOrigin + performance.now();
const scratch = await mkdtemp(join(tmpdir(), 'berth-bench-tl-'));
const afterStart = process.argv.includes('--after-start');
const afterIdleRounds = process.argv.includes('--after-idle');
const argv = process.argv.slice(2).filter((a) => a !== '--after-start' && a !== '--after-idle');
const rounds = Number(argv[0] ?? 3);
const image = await buildImage(scratch, 'dp-many', manyLayers(Number(argv[1] ?? 50), 1024), { gzip: true });
const reg = await startRegistry('plain');
const ref = await seedRegistry(reg, image);
const log = join(scratch, 'phases.jsonl');
// BERTHD_NODE_OPTIONS (inherited; bin/berthd puts it on node's command line, which its threads inherit): more of
// Node's and V8's flags, e.g. `--cpu-prof --cpu-prof-dir=DIR` (a V8 profile per thread) or `--perf-basic-prof`
// (JavaScript's names for perf).
const opts = {
  env: {
    NODE_OPTIONS: `--import=${join(import.meta.dirname, 'lib', 'phase-recorder.ts')}`,
    BERTH_PHASE_LOG: log,
  },
};
let e = await startBerthd(opts);
function pull(): Promise<{ t0: number; end: number; ev: { id: string; s: string; t: number }[] }> {
  const t0 = now();
  const ev: { id: string; s: string; t: number }[] = [];
  return new Promise((resolve, reject) => {
    const path = `/v1.41/images/create?fromImage=${encodeURIComponent(ref.slice(0, ref.lastIndexOf(':')))}&tag=1`;
    const req = request({ socketPath: e.socket, method: 'POST', path }, (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        const t = now();
        buf += c.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          const m = JSON.parse(line);
          if (m.error) reject(new Error(m.error));
          ev.push({ id: m.id ?? '', s: m.status ?? '', t });
        }
      });
      res.on('end', () => resolve({ t0, end: now(), ev }));
    });
    req.on('error', reject);
    req.end();
  });
}
/** What a round's pull is measured by, for the summary: ms from the request, and berthd's CPU ms by thread. */
interface Marks {
  marks: Record<string, number>;
  cpu: Record<string, number>;
}

/** One timed pull, printed with its phases and layers; the image removed after it. */
async function timedPull(label: string): Promise<Marks> {
  await run('sync', []);
  const before = threadSched(e.pid);
  const p = await pull();
  const after = threadCpuSince(e.pid, before);
  await new Promise((res) => setTimeout(res, 400));
  const phases = (await readFile(log, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((m) => m.phase && m.start >= p.t0 - 1 && m.start <= p.end);
  await rm(log, { force: true });
  const rel = (t: number) => (t - p.t0).toFixed(1);
  const cpu = Object.fromEntries(
    Object.entries(after.threads)
      .map(([name, s]) => [name, s * 1000] as const)
      .filter(([, ms]) => ms >= 1),
  );
  const cpuText = Object.entries(cpu).map(([name, ms]) => `${name} ${ms.toFixed(0)}`);
  console.log(`${label}: answered ${rel(p.end)} ms; CPU ms ${cpuText.join(', ')}`);
  for (const m of phases.filter((m) => m.id === '')) console.log(`  ${m.phase} ${rel(m.start)}–${rel(m.end)}`);
  const syncs = phases.filter((m) => m.phase === 'blob.sync').map((m) => m.end - m.start);
  syncs.sort((a, b) => a - b);
  if (syncs.length > 0)
    console.log(
      `  blob.sync ×${syncs.length} (after the reader is given back): median ${syncs[syncs.length >> 1]!.toFixed(2)} ms, sum ${syncs.reduce((a, b) => a + b, 0).toFixed(1)} ms`,
    );
  const ids = [...new Set(phases.filter((m) => m.phase.startsWith('pull.layer.')).map((m) => m.id))];
  const rows = ids.map((id) => {
    const of = (n: string) => phases.find((m) => m.id === id && m.phase === n);
    const q = of('pull.layer.queued'),
      b = of('pull.layer.bytes'),
      u = of('pull.layer.unpack'),
      a = of('pull.layer.adopt');
    const fd = p.ev.find((x) => x.id === id && x.s === 'Downloading');
    const pc = p.ev.find((x) => x.id === id && x.s === 'Pull complete');
    return {
      id,
      start: q?.end ?? 0,
      complete: pc ? pc.t - p.t0 : Number.NaN,
      s: `${id} slot ${rel(q?.end ?? 0)} firstprog ${fd ? rel(fd.t) : '-'} lastbyte ${b ? rel(b.end) : '-'} unpacked ${u ? rel(u.end) : '-'} adopted ${a ? rel(a.end) : '-'} complete@client ${pc ? rel(pc.t) : '-'}`,
    };
  });
  rows.sort((a, b) => a.start - b.start);
  for (const r of rows) console.log(`  ${r.s}`);
  await clearDocker(e, ref);
  // The summary's marks: where the main thread's path to the first layer goes, and the whole pull.
  const phaseOf = (n: string) => phases.find((m) => m.phase === n && m.id === '');
  const span = (n: string) => {
    const m = phaseOf(n);
    return m ? m.end - m.start : 0;
  };
  const marks: Record<string, number> = {
    'registry client modules loaded': span('pull.modules'),
    'https attempt (ping)': span('registry.ping.https'),
    'manifest requested': (phaseOf('pull.manifest')?.start ?? p.t0) - p.t0,
    'first layer given a download slot': Math.min(...rows.map((r) => r.start)) - p.t0,
    'first layer complete (client)': Math.min(...rows.map((r) => r.complete)),
    'layers phase': span('pull.layers'),
    answered: p.end - p.t0,
  };
  const online = phaseOf('unpack.reader.online');
  if (online) marks['reader thread: new Worker → online'] = online.end - online.start;
  return { marks, cpu };
}

/** Medians of each mark and thread over rounds, two cases side by side, and their difference. */
function summary(a: string, as: Marks[], b: string, bs: Marks[]): void {
  const med = (xs: number[]) => stats(xs.filter((x) => Number.isFinite(x))).median;
  console.log(`\nmedians of ${as.length} rounds, ms | ${a} | ${b} | difference`);
  const keys = [...new Set([...as, ...bs].flatMap((m) => Object.keys(m.marks)))];
  for (const k of keys) {
    const x = med(as.map((m) => m.marks[k] ?? Number.NaN));
    const y = med(bs.map((m) => m.marks[k] ?? 0));
    console.log(`  ${k} | ${x.toFixed(1)} | ${y.toFixed(1)} | ${(x - y).toFixed(1)}`);
  }
  const threads = [...new Set([...as, ...bs].flatMap((m) => Object.keys(m.cpu)))];
  const total = (m: Marks) => Object.values(m.cpu).reduce((s, v) => s + v, 0);
  for (const t of threads) {
    const x = med(as.map((m) => m.cpu[t] ?? 0));
    const y = med(bs.map((m) => m.cpu[t] ?? 0));
    console.log(`  CPU ${t} | ${x.toFixed(0)} | ${y.toFixed(0)} | ${(x - y).toFixed(0)}`);
  }
  const x = med(as.map(total));
  const y = med(bs.map(total));
  console.log(`  CPU berthd in all | ${x.toFixed(0)} | ${y.toFixed(0)} | ${(x - y).toFixed(0)}`);
}

await timedPull('warm-up');
const first: Marks[] = [];
const warm: Marks[] = [];
for (let r = 1; r <= rounds; r++) {
  if (afterStart) {
    e = await restartBerthd(e, opts);
    first.push(await timedPull(`round ${r} (after start)`));
    warm.push(await timedPull(`round ${r} (warm, at once)`));
  } else if (afterIdleRounds) {
    await afterIdle(e.pid, performance.now() - 400);
    first.push(await timedPull(`round ${r} (after idle)`));
    warm.push(await timedPull(`round ${r} (warm, at once)`));
  } else {
    warm.push(await timedPull(`round ${r}`));
  }
}
if (first.length > 0) summary(afterStart ? 'after start' : 'after idle', first, 'warm', warm);
if (afterStart) {
  // Node's own floor for a thread's start, beside: an empty worker in a fresh node with berthd's flags.
  const f = await workerFloor(10);
  console.log(
    `  an empty worker (node ${berthdNodeFlags().join(' ')}), medians of 10: new Worker → online ${f.onlineMs.toFixed(1)} ms, its thread's CPU by then ${f.cpuMs.toFixed(1)} ms`,
  );
}
await e.stop();
await reg.stop();
await rm(scratch, { recursive: true, force: true });
