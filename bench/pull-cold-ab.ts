/**
 * The cold 50-layer pull as an A/B (issue 11): the `--layers` gzip image (default 50 × 1 MiB) pulled through the
 * API (`POST /images/create`) from one local docker-registry into several berthds, each round first cold (once
 * every berthd's unpack threads have stopped, as after 10 s without an unpack) and then warm, the berthds' order
 * turned each round, beside `skopeo copy` into an OCI directory. Berthd's CPU by thread for each step.
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
import { type Engine, removeDir, startBerthd } from './lib/engines.ts';
import { apiPull, seedRegistry, skopeoPullArgs } from './lib/pull-probe.ts';
import { cpuSeconds, run, stats, threadSched, unpackThreadsStopped } from './lib/proc.ts';

const rounds = Number(process.argv[2] ?? 3);
const specs = process.argv.slice(3).map((s) => {
  const [label, rest] = s.split('=') as [string, string];
  const [bin, ...more] = rest.split(',');
  // An argument K:V is an environment variable for that berthd instead.
  const env = Object.fromEntries(
    more.filter((a) => /^[A-Z_]+:/.test(a)).map((a) => a.split(':', 2) as [string, string]),
  );
  const args = more.filter((a) => !/^[A-Z_]+:/.test(a));
  return { label, bin: bin === '.' ? undefined : bin, args, env };
});
const layers = Number(process.env.LAYERS ?? 50);
const scratch = await mkdtemp(join(tmpdir(), 'berth-bench-cold-'));
const cleanups: (() => Promise<unknown>)[] = [];
try {
  const image = await buildImage(scratch, 'dp-many', manyLayers(layers, 1024), { gzip: true });
  const reg = await startRegistry('plain');
  cleanups.push(() => reg.stop());
  const ref = await seedRegistry(reg, image);
  const engines: { label: string; e: Engine }[] = [];
  for (const s of specs) {
    const e = await startBerthd({ ...(s.bin ? { bin: s.bin } : {}), args: s.args, env: s.env });
    cleanups.push(() => e.stop());
    engines.push({ label: s.label, e });
  }
  const samples: Record<string, { s: number; cpu: number; threads: Record<string, number>; reg: number }[]> = {};
  const add = (k: string, v: { s: number; cpu: number; threads: Record<string, number>; reg: number }): void =>
    void (samples[k] ??= []).push(v);
  const api = async (e: Engine) => {
    await run('sync', []);
    const before = threadSched(e.pid);
    const r0 = cpuSeconds([reg.pid]);
    const m = await apiPull(e.socket, ref);
    const reg1 = cpuSeconds([reg.pid]) - r0;
    const threads: Record<string, number> = {};
    let cpu = 0;
    for (const [k, v] of Object.entries(threadSched(e.pid))) {
      threads[k] = v.cpu - (before[k]?.cpu ?? 0);
      cpu += threads[k];
    }
    await clearDocker(e, ref);
    return { s: m['pull answered']!, cpu, threads, reg: reg1 };
  };
  const first = loadavg()[0]!;
  // A warm-up: every berthd's modules and the strip cache.
  for (const { e } of engines) await api(e);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? engines : [...engines].reverse();
    await Promise.all(engines.map(({ e }) => unpackThreadsStopped(e.pid)));
    for (const { label, e } of order) add(`cold ${label}`, await api(e));
    for (const { label, e } of order) add(`warm ${label}`, await api(e));
    const dir = await mkdtemp(join(tmpdir(), 'berth-bench-oci-'));
    try {
      await run('sync', []);
      const r0 = cpuSeconds([reg.pid]);
      const s = await timed('skopeo', skopeoPullArgs(ref, `oci:${join(dir, 'out')}`));
      add('skopeo', { s: s.seconds, cpu: s.cpu ?? 0, threads: {}, reg: cpuSeconds([reg.pid]) - r0 });
    } finally {
      await removeDir(dir);
    }
    console.error(`round ${r + 1}/${rounds} done, load ${loadavg()[0]!.toFixed(1)}`);
  }
  const med = (xs: number[]): number => stats(xs).median;
  console.log(`load average ${first.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${rounds} rounds`);
  for (const [k, xs] of Object.entries(samples)) {
    const names = new Set(xs.flatMap((x) => Object.keys(x.threads)));
    const th = [...names]
      .map((n) => ({ n, cpu: med(xs.map((x) => x.threads[n] ?? 0)) }))
      .filter((t) => t.cpu >= 0.005)
      .map((t) => `${t.n} ${t.cpu.toFixed(3)}`)
      .join('; ');
    console.log(
      `${k.padEnd(14)} ${med(xs.map((x) => x.s)).toFixed(3)} [${xs.map((x) => x.s.toFixed(3)).join(' ')}] cpu ${med(xs.map((x) => x.cpu)).toFixed(3)} reg ${med(xs.map((x) => x.reg)).toFixed(2)} | ${th}`,
    );
  }
  const sk = samples.skopeo?.map((x) => x.s) ?? [];
  for (const k of Object.keys(samples).filter((k) => k !== 'skopeo')) {
    const ratios = samples[k]!.map((x, i) => x.s / sk[i]!);
    console.log(`${k} / skopeo: median ${med(ratios).toFixed(2)}× [${ratios.map((x) => x.toFixed(2)).join(' ')}]`);
  }
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await removeDir(scratch);
}
