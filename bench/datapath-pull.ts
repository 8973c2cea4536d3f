/**
 * The data path's pull step alone, as an A/B (issue 11): the `--mib` single-layer gzip image and the `--layers`
 * image pulled from one local docker-registry (started here, seeded by skopeo) by this tree's berthd and by
 * `--base`'s (e.g. main before a change), each through the API (`POST /images/create`, CPU by thread) and through
 * its own `berth pull -q` (the CLI included) three times: warm (berthd's unpack threads as another pull left them),
 * "after idle" (AFTER_IDLE_MS, 12 s, after the round's last pull: the idle stop has run, its appliers and big
 * layers' readers stopped, the reader thread that served small layers kept) and "after start" (every berthd
 * restarted on its roots first, the image removed: the first pull after a daemon start, which pays the unpack
 * thread's start); beside `skopeo copy` into an OCI directory (no unpack, a fresh process each time) in the same
 * rounds. Steps interleaved in each round, the order turned each round, after a warm-up round, `sync` before each
 * step, the image removed and pruned after it. No timing is asserted.
 */
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../src/distribution/remote/testkit.ts';
import { clearDocker, type Sample, timed } from './datapath.ts';
import { bigLayer, buildImage, manyLayers } from './lib/archive.ts';
import { BERTH, type Berthd, type BerthdOptions, removeDir, restartBerthd, startBerthd } from './lib/engines.ts';
import { apiPull, seedRegistry, skopeoPullArgs } from './lib/pull-probe.ts';
import { afterIdle, cpuSeconds, hasUnpackThreads, run, stats, threadCpuSince, threadSched } from './lib/proc.ts';
import { type Group, interleavedRounds, type Step } from './lib/rounds.ts';

export interface DatapathPullFigures {
  rounds: number;
  /** `${image} ${step}` → samples. */
  samples: Record<string, Sample[]>;
  load: { first: number; last: number };
}

/** An API pull through `e`, timed, with berthd's CPU by thread. */
async function timedApi(e: Berthd, ref: string): Promise<Sample> {
  await run('sync', []);
  const load = loadavg()[0]!;
  const before = threadSched(e.pid);
  const m = await apiPull(e.socket, ref);
  const { threads, cpu } = threadCpuSince(e.pid, before);
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
  // Each berthd as it runs now: the "after start" steps restart them.
  const engines: { label: string; e: Berthd; berth: string; opts: BerthdOptions }[] = [];
  const start = async (label: string, opts: BerthdOptions, berth: string): Promise<void> => {
    const entry = { label, e: await startBerthd(opts), berth, opts };
    o.cleanups.push(() => entry.e.stop());
    engines.push(entry);
  };
  await start('berthd', {}, BERTH);
  if (o.base !== undefined) await start('base', { bin: join(o.base, 'bin', 'berthd') }, join(o.base, 'bin', 'berth'));
  const first = loadavg()[0]!;
  /** When the last step ended: the "after idle" steps come AFTER_IDLE_MS after it. */
  let lastStep = performance.now();
  const groups = images.flatMap((image): Group<Sample>[] => {
    const ref = refs.get(image.name)!;
    const steps: [string, () => Promise<Sample>][] = [];
    const idle: [string, () => Promise<Sample>][] = [];
    const started: [string, () => Promise<Sample>][] = [];
    for (const x of engines) {
      const { label, berth } = x;
      const pull = async (): Promise<Sample> => {
        const s = await timed(berth, ['-H', x.e.host, 'pull', '-q', ref], {}, x.e.pids(), x.e.pid);
        if (!hasUnpackThreads(x.e.pid)) throw new Error('no unpack thread seen after a pull: renamed?');
        await clearDocker(x.e, ref);
        return s;
      };
      steps.push([
        `api → ${label}`,
        async () => {
          const s = await timedApi(x.e, ref);
          await clearDocker(x.e, ref);
          return s;
        },
      ]);
      steps.push([`berth pull → ${label}`, pull]);
      // After the other steps (below): the pull after an idle spell, and the first after a daemon start.
      idle.push([`berth pull after idle → ${label}`, pull]);
      started.push([`berth pull after start → ${label}`, pull]);
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
          lastStep = performance.now();
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
      // After the warm steps, one idle spell for every berthd: AFTER_IDLE_MS after the last step, the idle stop
      // checked (bench/lib/proc.ts `afterIdle`).
      {
        before: async () => {
          const since = lastStep;
          for (const { e } of engines) await afterIdle(e.pid, since);
        },
        steps: keyed(idle),
      },
      // Last, every berthd restarted on its roots (the image removed), its start settled, no unpack thread running.
      {
        before: async () => {
          for (const x of engines) x.e = await restartBerthd(x.e, x.opts);
        },
        steps: keyed(started),
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
      ['berth pull after idle → berthd', 'berth pull after idle → base'],
      ['berth pull after idle → berthd', 'skopeo copy'],
      ['berth pull after idle → base', 'skopeo copy'],
      ['berth pull after start → berthd', 'berth pull after start → base'],
      ['berth pull after start → berthd', 'skopeo copy'],
      ['berth pull after start → base', 'skopeo copy'],
      ['api → berthd', 'skopeo copy'],
    ] as const) {
      const l = per(a, b);
      if (l) lines.push(l);
    }
  }
  return lines.join('\n');
}
