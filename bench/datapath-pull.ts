/**
 * The data path's pull step alone, as an A/B (issue 11): the `--mib` single-layer gzip image and the `--layers`
 * image pulled from one local docker-registry (started here, seeded by skopeo) by this tree's berthd and by
 * `--base`'s (e.g. main before a change), each through the API (`POST /images/create`, CPU by thread) and through
 * its own `berth pull -q` (the CLI included; once with berthd's unpack threads running, as after another pull, and
 * once with them stopped, as after 10 s without one), beside `skopeo copy` into an OCI directory (no unpack) in the same
 * rounds. Steps interleaved in each round, the order turned each round, after a warm-up round, `sync` before each
 * step, the image removed and pruned after it. No timing is asserted.
 */
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../src/distribution/remote/testkit.ts';
import { clearDocker, type Sample, timed } from './datapath.ts';
import { bigLayer, buildImage, manyLayers } from './lib/archive.ts';
import { BERTH, type Engine, removeDir, startBerthd } from './lib/engines.ts';
import { apiPull, seedRegistry, skopeoPullArgs } from './lib/pull-probe.ts';
import { cpuSeconds, hasUnpackThreads, run, stats, threadSched, unpackThreadsStopped } from './lib/proc.ts';
import { type Group, interleavedRounds, type Step } from './lib/rounds.ts';

export interface DatapathPullFigures {
  rounds: number;
  /** `${image} ${step}` → samples. */
  samples: Record<string, Sample[]>;
  load: { first: number; last: number };
}

/** An API pull through `e`, timed, with berthd's CPU by thread. */
async function timedApi(e: Engine, ref: string): Promise<Sample> {
  await run('sync', []);
  const load = loadavg()[0]!;
  const before = threadSched(e.pid);
  const m = await apiPull(e.socket, ref);
  const threads: Record<string, number> = {};
  let cpu = 0;
  for (const [k, v] of Object.entries(threadSched(e.pid))) {
    threads[k] = v.cpu - (before[k]?.cpu ?? 0);
    cpu += threads[k];
  }
  return { seconds: m['pull answered']!, load, cpu, threads };
}

export async function benchDatapathPull(o: {
  rounds: number;
  mib: number;
  layers: number;
  layerKib: number;
  base?: string;
  scratch: string;
  log: (s: string) => void;
  cleanups: (() => Promise<unknown>)[];
}): Promise<DatapathPullFigures> {
  const images = [
    await buildImage(o.scratch, 'dp-big', [bigLayer(o.mib)], { gzip: true }),
    await buildImage(o.scratch, 'dp-many', manyLayers(o.layers, o.layerKib), { gzip: true }),
  ];
  const reg = await startRegistry('plain');
  o.cleanups.push(() => reg.stop());
  const refs = new Map<string, string>();
  for (const image of images) {
    refs.set(image.name, await seedRegistry(reg, image));
  }
  const engines: { label: string; e: Engine; berth: string }[] = [];
  const start = async (label: string, e: Promise<Engine>, berth: string): Promise<void> => {
    const got = await e;
    o.cleanups.push(() => got.stop());
    engines.push({ label, e: got, berth });
  };
  await start('berthd', startBerthd(), BERTH);
  if (o.base !== undefined)
    await start('base', startBerthd({ bin: join(o.base, 'bin', 'berthd') }), join(o.base, 'bin', 'berth'));
  const first = loadavg()[0]!;
  const groups = images.flatMap((image): Group<Sample>[] => {
    const ref = refs.get(image.name)!;
    const steps: [string, () => Promise<Sample>][] = [];
    const cold: [string, () => Promise<Sample>][] = [];
    for (const { label, e, berth } of engines) {
      steps.push([
        `api → ${label}`,
        async () => {
          const s = await timedApi(e, ref);
          await clearDocker(e, ref);
          return s;
        },
      ]);
      steps.push([
        `berth pull → ${label}`,
        async () => {
          const s = await timed(berth, ['-H', e.host, 'pull', '-q', ref], {}, e.pids(), e.pid);
          await clearDocker(e, ref);
          return s;
        },
      ]);
      // The first pull after an idle spell: berthd's unpack threads stopped (10 s without an unpack), so this
      // pull pays their start, as skopeo pays its own start in every step. After the other steps (below).
      cold.push([
        `berth pull cold → ${label}`,
        async () => {
          const s = await timed(berth, ['-H', e.host, 'pull', '-q', ref], {}, e.pids(), e.pid);
          if (!hasUnpackThreads(e.pid)) throw new Error('no unpack thread seen after a pull: renamed?');
          await clearDocker(e, ref);
          return s;
        },
      ]);
    }
    steps.push([
      'skopeo copy',
      async () => {
        const dir = await mkdtemp(join(tmpdir(), 'berth-bench-oci-'));
        try {
          return await timed('skopeo', skopeoPullArgs(ref, `oci:${join(dir, 'out')}`));
        } finally {
          await removeDir(dir);
        }
      },
    ]);
    const keyed = (xs: [string, () => Promise<Sample>][]): Step<Sample>[] =>
      xs.map(([name, step]) => [
        `${image.name} ${name}`,
        async () => {
          const regBefore = cpuSeconds([reg.pid]);
          const s = await step();
          // The registry's CPU in the step (it serves every client alike; on 2 CPUs it shares them with the client).
          s.threads = { ...s.threads, registry: cpuSeconds([reg.pid]) - regBefore };
          return s;
        },
      ]);
    return [
      {
        // Untimed, one pull of this image per berthd first: the unpack threads as a pull of it leaves them (the
        // previous image's cold pulls start one reader; this one may use six), so that every warm step is warm.
        before: async () => {
          for (const { e } of engines) {
            await apiPull(e.socket, ref);
            await clearDocker(e, ref);
          }
        },
        steps: keyed(steps),
      },
      // The cold pulls last, once every berthd's unpack threads have stopped: one idle spell for all of them, and
      // no warm step after it (it would find its threads stopped too).
      {
        before: async () => {
          for (const { e } of engines) await unpackThreadsStopped(e.pid);
        },
        steps: keyed(cold),
      },
    ];
  });
  const samples = await interleavedRounds({ ...o, digits: 3 }, groups);
  return { rounds: o.rounds, samples, load: { first, last: loadavg()[0]! } };
}

const median = (xs: number[]): number => stats(xs).median;

export function datapathPullReport(f: DatapathPullFigures): string {
  const lines = [
    `### pull A/B (${f.rounds} rounds after a warm-up; load average ${f.load.first.toFixed(1)} → ${f.load.last.toFixed(1)})`,
    '',
    '| image step | time s, median [rounds] | CPU s | berthd by thread, and the registry: CPU s |',
    '| --- | --- | --- | --- |',
  ];
  for (const [k, xs] of Object.entries(f.samples)) {
    const names = new Set(xs.flatMap((s) => Object.keys(s.threads ?? {})));
    const threads = [...names]
      .map((n) => ({ n, cpu: median(xs.map((s) => s.threads?.[n] ?? 0)) }))
      .filter((t) => t.cpu >= 0.005)
      .map((t) => `${t.n} ${t.cpu.toFixed(2)}`)
      .join('; ');
    const secs = xs.map((s) => s.seconds);
    lines.push(
      `| ${k} | ${median(secs).toFixed(3)} [${secs.map((s) => s.toFixed(3)).join(' ')}] | ${median(xs.map((s) => s.cpu ?? 0)).toFixed(2)} | ${threads} |`,
    );
  }
  lines.push('');
  for (const image of new Set(Object.keys(f.samples).map((k) => k.split(' ')[0]!))) {
    const per = (a: string, b: string): string | undefined => {
      const xa = f.samples[`${image} ${a}`];
      const xb = f.samples[`${image} ${b}`];
      if (!xa || !xb) return undefined;
      const ratios = xa.map((s, i) => s.seconds / (xb[i]?.seconds ?? Number.NaN));
      return `- ${image}: ${a} / ${b} ${median(ratios).toFixed(2)}× (median of per-round ratios: ${ratios.map((x) => x.toFixed(2)).join(' ')})`;
    };
    for (const [a, b] of [
      ['api → berthd', 'api → base'],
      ['berth pull → berthd', 'berth pull → base'],
      ['berth pull → berthd', 'skopeo copy'],
      ['berth pull → base', 'skopeo copy'],
      ['berth pull cold → berthd', 'berth pull cold → base'],
      ['berth pull cold → berthd', 'skopeo copy'],
      ['berth pull cold → base', 'skopeo copy'],
      ['api → berthd', 'skopeo copy'],
    ] as const) {
      const l = per(a, b);
      if (l) lines.push(l);
    }
  }
  return lines.join('\n');
}
