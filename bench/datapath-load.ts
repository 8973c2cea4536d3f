/**
 * The data path's `docker load` step alone, as an A/B (issue 11): `docker load -i` of the single-layer image's
 * archives (gzip and uncompressed) into this tree's berthd, into `--base`'s berthd (e.g. main before a change) and
 * into dockerd, interleaved in each round with the order turned each round, after a warm-up round, `sync` before
 * each load, the image removed and pruned after it. Each berthd load also records its CPU by thread name and the
 * times its threads were put on a CPU (wake-ups and preemptions). With `afterRemoval`, each engine first loads and
 * removes the same image, untimed, right before its timed load: the timed one then comes 3 s after a removal of the
 * same layer, as a pull after an `rmi` does (and every round of `datapath`, where one client's
 * pull follows the other's removal), which on ext4 without a journal decides where its files go (docs/design-notes.md,
 * "Where a layer's files go on ext4"). No timing is asserted.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { type Sample, timedLoad } from './datapath.ts';
import { bigLayer, buildImage, type BuiltImage } from './lib/archive.ts';
import { type Engine, startBerthd, startDockerd } from './lib/engines.ts';
import { sleep, stats } from './lib/proc.ts';
import { interleavedRounds, type Step } from './lib/rounds.ts';

/** The pause between an engine's removal of the image and its timed load, with `afterRemoval`. */
const AFTER_REMOVAL_MS = 3000;

export interface DatapathLoadFigures {
  rounds: number;
  mib: number;
  afterRemoval?: boolean;
  /** `${image} → ${engine}` → samples. */
  samples: Record<string, Sample[]>;
  load: { first: number; last: number };
}

export async function benchDatapathLoad(o: {
  rounds: number;
  mib: number;
  compression: ('none' | 'gzip')[];
  base?: string;
  dockerd: boolean;
  /** Each timed load right after the engine's own untimed load and removal of the same image. */
  afterRemoval?: boolean;
  scratch: string;
  log: (s: string) => void;
  cleanups: (() => Promise<unknown>)[];
}): Promise<DatapathLoadFigures> {
  const images: BuiltImage[] = [];
  for (const c of o.compression)
    images.push(
      await buildImage(o.scratch, c === 'gzip' ? 'dp-big' : 'dp-big-raw', [bigLayer(o.mib)], { gzip: c === 'gzip' }),
    );
  const engines: (Engine & { label: string })[] = [];
  const start = async (label: string, e: Promise<Engine>): Promise<void> => {
    const got = await e;
    o.cleanups.push(() => got.stop());
    engines.push({ ...got, label });
  };
  await start('berthd', startBerthd());
  if (o.base !== undefined) await start('base berthd', startBerthd({ bin: join(o.base, 'bin', 'berthd') }));
  if (o.dockerd) await start('dockerd', startDockerd());
  const first = loadavg()[0]!;
  const samples = await interleavedRounds(
    o,
    images.map((image) => ({
      steps: engines.map(
        (e): Step<Sample> => [
          `${image.name} → ${e.label}`,
          async () => {
            if (o.afterRemoval) {
              await timedLoad(e, image);
              // ext4 counts an inode freed in the current second as free: a removal within the same second as the
              // next file's creation costs nothing, one a second or more before it does. A pull or load after an
              // `rmi` comes seconds later.
              await sleep(AFTER_REMOVAL_MS);
            }
            return timedLoad(e, image);
          },
        ],
      ),
    })),
  );
  return {
    rounds: o.rounds,
    mib: o.mib,
    ...(o.afterRemoval ? { afterRemoval: true } : {}),
    samples,
    load: { first, last: loadavg()[0]! },
  };
}

const median = (xs: number[]): number => stats(xs).median;

export function datapathLoadReport(f: DatapathLoadFigures): string {
  const lines = [
    `### docker load A/B (${f.rounds} rounds after a warm-up, ${f.mib} MiB layer${f.afterRemoval ? ', each right after its own load and removal' : ''}; load average ${f.load.first.toFixed(1)} → ${f.load.last.toFixed(1)})`,
    '',
    '| load → engine | time s, median [rounds] | CPU s | by thread: CPU s (waiting for a CPU s) [times put on a CPU] |',
    '| --- | --- | --- | --- |',
  ];
  for (const [k, xs] of Object.entries(f.samples)) {
    const names = new Set(xs.flatMap((s) => Object.keys(s.threads ?? {})));
    const threads = [...names]
      .map((n) => {
        const cpu = median(xs.map((s) => s.threads?.[n] ?? 0));
        const wait = median(xs.map((s) => s.waits?.[n] ?? 0));
        const runs = median(xs.map((s) => s.runs?.[n] ?? 0));
        return { n, cpu, wait, runs };
      })
      .filter((t) => t.cpu >= 0.005)
      .map((t) => `${t.n} ${t.cpu.toFixed(2)} (${t.wait.toFixed(2)}) [${t.runs.toFixed(0)}]`)
      .join('; ');
    const secs = xs.map((s) => s.seconds);
    lines.push(
      `| ${k} | ${median(secs).toFixed(2)} [${secs.map((s) => s.toFixed(2)).join(' ')}] | ${median(xs.map((s) => s.cpu ?? 0)).toFixed(2)} | ${threads} |`,
    );
  }
  const keys = Object.keys(f.samples);
  for (const k of keys) {
    const m = /^(.*) → dockerd$/.exec(k);
    if (!m) continue;
    for (const b of keys.filter((x) => x.startsWith(`${m[1]} → `) && x !== k)) {
      const per = f.samples[b]!.map((s, i) => s.seconds / (f.samples[k]![i]?.seconds ?? Number.NaN));
      lines.push(
        '',
        `- ${b} / dockerd: ${(median(f.samples[b]!.map((s) => s.seconds)) / median(f.samples[k]!.map((s) => s.seconds))).toFixed(2)}× (per round ${per.map((x) => x.toFixed(2)).join(' ')})`,
      );
    }
  }
  return lines.join('\n');
}
