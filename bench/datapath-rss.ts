/**
 * The data path's memory goal alone (issue 11): peak RSS during a `docker load` of a `--rss-mib` single-layer
 * uncompressed image, berthd beside dockerd + containerd, in `--rounds` interleaved rounds. Each round starts a
 * fresh berthd per variant (this tree as it is, and any `--rss-variant NAME=ENV` given: the same tree with
 * environment variables set, and any `--rss-tree NAME=DIR[,K=V...]`: another tree's bin/berthd, e.g. main's beside a
 * change, maybe with variables set too), takes its idle RSS (the least over a second, 5 s after it answers),
 * then its peak (VmRSS every 20 ms, and VmHWM) and the load's wall time; then dockerd's. No timing or memory is
 * asserted.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { bigLayer, buildImage } from './lib/archive.ts';
import { DOCKER, dockerEnv, startBerthd, startDockerd, type Engine } from './lib/engines.ts';
import { idleRssMiB, resetPeak, run, sampleRss, stats, statusKiB } from './lib/proc.ts';

export interface RssSample {
  idle: number;
  peak: number;
  hwm: number;
  seconds: number;
  load: number;
}

export interface DatapathRssFigures {
  mib: number;
  rounds: number;
  /** Variant name (`berthd`, `dockerd`, or a `--rss-variant`'s) → one sample per round, MiB and seconds. */
  samples: Record<string, RssSample[]>;
}

/** A berthd to measure: this tree's or another's (`bin`), with environment variables added. */
export interface RssVariant {
  name: string;
  env: Record<string, string>;
  bin?: string;
}

/** `NAME=K=V,K=V`: a variant of berthd run with these environment variables. */
export function parseVariant(spec: string): RssVariant {
  const i = spec.indexOf('=');
  if (i <= 0) throw new Error(`--rss-variant wants NAME=K=V[,K=V...], got "${spec}"`);
  return { name: spec.slice(0, i), env: parseEnv(spec, spec.slice(i + 1).split(',')) };
}

/** `NAME=DIR[,K=V...]`: the berthd of the Berth tree in DIR (e.g. main's, beside a change), maybe with variables. */
export function parseTreeVariant(spec: string): RssVariant {
  const i = spec.indexOf('=');
  const [dir, ...kvs] = spec.slice(i + 1).split(',');
  if (i <= 0 || !dir) throw new Error(`--rss-tree wants NAME=DIR[,K=V...], got "${spec}"`);
  const bin = join(resolve(dir), 'bin', 'berthd');
  if (!existsSync(bin)) throw new Error(`--rss-tree "${spec}": ${dir} is not a Berth tree (it has no bin/berthd)`);
  return { name: spec.slice(0, i), env: parseEnv(spec, kvs), bin };
}

function parseEnv(spec: string, kvs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of kvs) {
    const j = kv.indexOf('=');
    if (j <= 0) throw new Error(`"${spec}": "${kv}" is not K=V`);
    env[kv.slice(0, j)] = kv.slice(j + 1);
  }
  return env;
}

export async function benchDatapathRss(o: {
  rounds: number;
  mib: number;
  scratch: string;
  variants: RssVariant[];
  log: (s: string) => void;
  cleanups?: (() => Promise<unknown>)[];
}): Promise<DatapathRssFigures> {
  const cleanups = o.cleanups ?? [];
  const mark = cleanups.length;
  const samples: Record<string, RssSample[]> = {};
  try {
    o.log(`building a ${o.mib} MiB single-layer archive`);
    const image = await buildImage(o.scratch, 'dp-rss', [bigLayer(o.mib)], { gzip: false });
    for (const l of image.layers) await rm(l.tar, { force: true });
    cleanups.push(() => rm(image.archive, { force: true }));
    const dockerd = await startDockerd();
    cleanups.push(() => dockerd.stop());

    const loadOnce = async (e: Engine): Promise<{ peak: number; hwm: number; seconds: number; load: number }> => {
      await run('sync', []);
      for (const pid of e.pids()) await resetPeak(pid);
      const load = loadavg()[0]!;
      const s = sampleRss(e.pids(), 20);
      const r = await run(DOCKER, ['load', '-q', '-i', image.archive], { env: dockerEnv(e), timeoutMs: 600_000 });
      const peak = s.stop() / 1024;
      const hwm = e.pids().reduce((sum, pid) => sum + (statusKiB(pid, 'VmHWM') ?? 0), 0) / 1024;
      await run(DOCKER, ['rmi', '-f', `${image.name}:latest`], { env: dockerEnv(e) });
      return { peak, hwm, seconds: r.seconds, load };
    };

    const berthds: RssVariant[] = [{ name: 'berthd', env: {} }, ...o.variants];
    for (let round = 1; round <= o.rounds; round++) {
      o.log(`round ${round}/${o.rounds}`);
      for (const v of berthds) {
        const b = await startBerthd({ env: v.env, ...(v.bin ? { bin: v.bin } : {}) });
        try {
          const idle = await idleRssMiB(b.pid);
          const s = { idle, ...(await loadOnce(b)) };
          (samples[v.name] ??= []).push(s);
          o.log(
            `  ${v.name}: idle ${idle.toFixed(0)} MiB, peak ${s.peak.toFixed(0)} (+${(s.peak - idle).toFixed(0)}), ` +
              `HWM ${s.hwm.toFixed(0)}, ${s.seconds.toFixed(2)} s (load ${s.load.toFixed(1)})`,
          );
        } finally {
          await b.stop();
        }
      }
      const d = await loadOnce(dockerd);
      (samples.dockerd ??= []).push({ idle: 0, ...d });
      o.log(`  dockerd: peak ${d.peak.toFixed(0)} MiB, ${d.seconds.toFixed(2)} s (load ${d.load.toFixed(1)})`);
    }
    return { mib: o.mib, rounds: o.rounds, samples };
  } finally {
    while (cleanups.length > mark) await cleanups.pop()!().catch((err: Error) => o.log(`cleanup: ${err.message}`));
  }
}

export function datapathRssReport(f: DatapathRssFigures): string {
  const out = [
    `### Data path memory: peak RSS during a \`docker load\` of a ${f.mib} MiB layer (${f.rounds} rounds; median (min–max))`,
    '',
    '| engine | idle MiB | peak MiB | peak − idle | VmHWM MiB | load s | load average |',
    '|---|---|---|---|---|---|---|',
  ];
  const m = (xs: number[], d = 0): string => {
    const s = stats(xs);
    return `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
  };
  for (const [name, xs] of Object.entries(f.samples)) {
    const berth = name !== 'dockerd';
    out.push(
      `| ${name} | ${berth ? m(xs.map((x) => x.idle)) : '–'} | ${m(xs.map((x) => x.peak))} | ${
        berth ? m(xs.map((x) => x.peak - x.idle)) : '–'
      } | ${m(xs.map((x) => x.hwm))} | ${m(
        xs.map((x) => x.seconds),
        2,
      )} | ${m(
        xs.map((x) => x.load),
        1,
      )} |`,
    );
  }
  out.push('');
  return out.join('\n');
}
