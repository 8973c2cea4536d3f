/**
 * The 50-layer pull's three cases as an A/B (issue 11): the `LAYERS` gzip image (default 50 × 1 MiB) pulled through
 * the API (`POST /images/create`) from one local docker-registry into several berthds, beside `skopeo copy` into an
 * OCI directory (no unpack; a fresh process each time, so it pays its own start in every round). Each round:
 * - **after idle**: each berthd's pull AFTER_IDLE_MS (12 s) after the round's last pull, its idle stop run (checked:
 *   no applier, at most the one reader thread kept for small layers; bench/lib/proc.ts `afterIdle`), with berthd's
 *   idle RSS read in the second before it (the least VmRSS of 10 samples);
 * - **warm**: each berthd's pull again at once (its threads as the pull before left them);
 * - skopeo;
 * - **after start**: every berthd stopped and started again on the same roots (the image removed), AFTER_START_MS
 *   (2 s) for its start to settle, no unpack thread running (checked), then its pull: the first after a daemon
 *   start, which pays the unpack thread's start and warm-up.
 * The berthds' order turned each round; one untimed warm-up pull each first. Berthd's CPU by thread for each step,
 * and the pull's marks (the first layer unpacked, the answer). Ratios to skopeo are per round.
 * `node bench/pull-cold-ab.ts ROUNDS LABEL=BIN[,ARG…] …` (BIN a tree's bin/berthd, or `.` for this tree's; an ARG
 * `NAME:VALUE` is an environment variable of that berthd).
 * No timing is asserted.
 */
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../src/distribution/remote/testkit.ts';
import { clearDocker, timed } from './datapath.ts';
import { buildImage, manyLayers } from './lib/archive.ts';
import { type Berthd, type BerthdOptions, berthdSpec, removeDir, restartBerthd, startBerthd } from './lib/engines.ts';
import { apiPull, seedRegistry, skopeoPullArgs } from './lib/pull-probe.ts';
import {
  AFTER_IDLE_MS,
  afterIdle,
  cpuSeconds,
  idleRssMiB,
  run,
  stats,
  threadMedians,
  threadCpuSince,
  threadSched,
} from './lib/proc.ts';

const rounds = Number(process.argv[2] ?? 3);
const specs = process.argv.slice(3).map((s) => berthdSpec(s));
const layers = Number(process.env.LAYERS ?? 50);
const scratch = await mkdtemp(join(tmpdir(), 'berth-bench-cold-'));
const cleanups: (() => Promise<unknown>)[] = [];
interface Sample {
  s: number;
  cpu: number;
  threads: Record<string, number>;
  reg: number;
  marks: Record<string, number>;
}
try {
  const image = await buildImage(scratch, 'dp-many', manyLayers(layers, 1024), { gzip: true });
  const reg = await startRegistry('plain');
  cleanups.push(() => reg.stop());
  const ref = await seedRegistry(reg, image);
  const engines: { label: string; e: Berthd; opts: BerthdOptions }[] = [];
  for (const s of specs) {
    const entry = { label: s.label, e: await startBerthd(s.opts), opts: s.opts };
    cleanups.push(() => entry.e.stop());
    engines.push(entry);
  }
  const samples: Record<string, Sample[]> = {};
  const rss: Record<string, number[]> = {};
  const add = (k: string, v: Sample): void => void (samples[k] ??= []).push(v);
  let lastPull = performance.now();
  const api = async (e: Berthd): Promise<Sample> => {
    await run('sync', []);
    const before = threadSched(e.pid);
    const r0 = cpuSeconds([reg.pid]);
    const marks = await apiPull(e.socket, ref);
    const reg1 = cpuSeconds([reg.pid]) - r0;
    const { threads, cpu } = threadCpuSince(e.pid, before);
    await clearDocker(e, ref);
    lastPull = performance.now();
    return { s: marks['pull answered']!, cpu, threads, reg: reg1, marks };
  };
  const first = loadavg()[0]!;
  // A warm-up: every berthd's modules and the strip cache.
  for (const { e } of engines) await api(e);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? engines : [...engines].reverse();
    // After idle: the RSS in the second before AFTER_IDLE_MS, then the idle stop checked and the pulls.
    const since = lastPull;
    const idle = await Promise.all(
      engines.map(({ e }) => idleRssMiB(e.pid, Math.max(0, since + AFTER_IDLE_MS - 1000 - performance.now()))),
    );
    const kept = await Promise.all(engines.map(({ e }) => afterIdle(e.pid, since)));
    engines.forEach(({ label }, i) => void (rss[`${label} [${kept[i]} reader]`] ??= []).push(idle[i]!));
    for (const { label, e } of order) add(`after idle ${label}`, await api(e));
    for (const { label, e } of order) add(`warm ${label}`, await api(e));
    const dir = await mkdtemp(join(tmpdir(), 'berth-bench-oci-'));
    try {
      await run('sync', []);
      const r0 = cpuSeconds([reg.pid]);
      const s = await timed('skopeo', skopeoPullArgs(ref, `oci:${join(dir, 'out')}`));
      add('skopeo', { s: s.seconds, cpu: s.cpu ?? 0, threads: {}, reg: cpuSeconds([reg.pid]) - r0, marks: {} });
    } finally {
      await removeDir(dir);
    }
    // After a daemon start: every berthd restarted on its roots (at once, then AFTER_START_MS), then the pulls.
    await Promise.all(engines.map(async (x) => void (x.e = await restartBerthd(x.e, x.opts))));
    for (const { label, e } of order) add(`after start ${label}`, await api(e));
    console.error(`round ${r + 1}/${rounds} done, load ${loadavg()[0]!.toFixed(1)}`);
  }
  const med = (xs: number[]): number => stats(xs).median;
  console.log(`load average ${first.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${rounds} rounds`);
  for (const [k, xs] of Object.entries(samples)) {
    const th = threadMedians(xs, 0.005);
    const firstLayer = xs.every((x) => x.marks['first layer unpacked'] !== undefined)
      ? ` first layer ${med(xs.map((x) => x.marks['first layer unpacked']!)).toFixed(3)}`
      : '';
    console.log(
      `${k.padEnd(20)} ${med(xs.map((x) => x.s)).toFixed(3)} [${xs.map((x) => x.s.toFixed(3)).join(' ')}]${firstLayer} cpu ${med(xs.map((x) => x.cpu)).toFixed(3)} reg ${med(xs.map((x) => x.reg)).toFixed(2)} | ${th}`,
    );
  }
  const sk = samples.skopeo?.map((x) => x.s) ?? [];
  for (const k of Object.keys(samples).filter((k) => k !== 'skopeo')) {
    const ratios = samples[k]!.map((x, i) => x.s / sk[i]!);
    console.log(`${k} / skopeo: median ${med(ratios).toFixed(2)}× [${ratios.map((x) => x.toFixed(2)).join(' ')}]`);
  }
  for (const [k, xs] of Object.entries(rss))
    console.log(
      `idle RSS ${AFTER_IDLE_MS / 1000 - 1} s after a pull, ${k}: ${xs.map((x) => x.toFixed(1)).join(' ')} MiB`,
    );
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await removeDir(scratch);
}
