/**
 * The data path's memory goal alone (issue 11): peak RSS during a `docker load` of a `--rss-mib` single-layer
 * image (`--compression`: uncompressed, gzip or both), berthd beside dockerd + containerd (unless `--no-dockerd`),
 * in `--rounds` interleaved rounds. Each round starts a fresh berthd per variant and image (this tree as it is,
 * `--base DIR`'s, any `--rss-variant NAME=ENV` given: the same tree with environment variables set, and any
 * `--rss-tree NAME=DIR[,K=V...]`: another tree's bin/berthd, maybe with variables set too; the order of the
 * variants reversed every other round), takes its idle RSS (the least over a second, 5 s after it answers), then
 * its peak (VmRSS every 20 ms, and VmHWM), where the peak's pages are (smaps read at each new high:
 * bench/lib/smaps.ts) and the load's wall time and CPU; then dockerd's. No timing or memory is asserted.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { bigLayer, buildImage } from './lib/archive.ts';
import { DOCKER, dockerEnv, startBerthd, startDockerd, type Engine } from './lib/engines.ts';
import { cpuSeconds, idleRssMiB, resetPeak, run, sampleRss, stats, statusKiB } from './lib/proc.ts';
import { SMAPS_KINDS, sampleSmapsAtPeak, type SmapsBreakdown, smapsBreakdown } from './lib/smaps.ts';

export interface RssSample {
  idle: number;
  peak: number;
  hwm: number;
  seconds: number;
  /** The engine's CPU seconds during the load. */
  cpu: number;
  load: number;
  /** berthd's resident MiB by kind at its highest sample, and idle (right after the idle RSS). */
  smaps?: SmapsBreakdown;
  idleSmaps?: SmapsBreakdown;
}

export interface DatapathRssFigures {
  mib: number;
  rounds: number;
  /** `variant image` (`berthd raw`, `dockerd gzip`, a `--rss-variant`'s name…) → one sample per round. */
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
  compression?: ('none' | 'gzip')[];
  dockerd?: boolean;
  scratch: string;
  variants: RssVariant[];
  log: (s: string) => void;
  cleanups?: (() => Promise<unknown>)[];
}): Promise<DatapathRssFigures> {
  const cleanups = o.cleanups ?? [];
  const mark = cleanups.length;
  const samples: Record<string, RssSample[]> = {};
  try {
    const images: { tag: string; archive: string; name: string }[] = [];
    for (const c of o.compression ?? ['none']) {
      const gzip = c === 'gzip';
      o.log(`building a ${o.mib} MiB single-layer archive${gzip ? ', gzip' : ''}`);
      const image = await buildImage(o.scratch, gzip ? 'dp-rss-gz' : 'dp-rss', [bigLayer(o.mib)], { gzip });
      for (const l of image.layers) await rm(l.tar, { force: true });
      for (const l of image.layers) if (l.gz) await rm(l.gz, { force: true });
      cleanups.push(() => rm(image.archive, { force: true }));
      images.push({ tag: gzip ? 'gzip' : 'raw', archive: image.archive, name: image.name });
    }
    const dockerd = o.dockerd === false ? undefined : await startDockerd();
    if (dockerd) cleanups.push(() => dockerd.stop());

    const loadOnce = async (e: Engine, image: (typeof images)[number]): Promise<Omit<RssSample, 'idle'>> => {
      await run('sync', []);
      for (const pid of e.pids()) await resetPeak(pid);
      const load = loadavg()[0]!;
      const cpu0 = cpuSeconds(e.pids());
      const s = sampleRss(e.pids(), 20);
      const sm = e.name === 'berthd' ? sampleSmapsAtPeak(e.pids()[0]!, 20) : undefined;
      const r = await run(DOCKER, ['load', '-q', '-i', image.archive], { env: dockerEnv(e), timeoutMs: 600_000 });
      const peak = s.stop() / 1024;
      const smaps = sm?.stop();
      const cpu = cpuSeconds(e.pids()) - cpu0;
      const hwm = e.pids().reduce((sum, pid) => sum + (statusKiB(pid, 'VmHWM') ?? 0), 0) / 1024;
      await run(DOCKER, ['rmi', '-f', `${image.name}:latest`], { env: dockerEnv(e) });
      return { peak, hwm, seconds: r.seconds, cpu, load, ...(smaps ? { smaps } : {}) };
    };

    const berthds: RssVariant[] = [{ name: 'berthd', env: {} }, ...o.variants];
    for (let round = 1; round <= o.rounds; round++) {
      o.log(`round ${round}/${o.rounds}`);
      const order = round % 2 === 1 ? berthds : [...berthds].reverse();
      for (const image of images) {
        for (const v of order) {
          const b = await startBerthd({ env: v.env, ...(v.bin ? { bin: v.bin } : {}) });
          try {
            const idle = await idleRssMiB(b.pid);
            const idleSmaps = smapsBreakdown(b.pid);
            const s = { idle, ...(idleSmaps ? { idleSmaps } : {}), ...(await loadOnce(b, image)) };
            (samples[`${v.name} ${image.tag}`] ??= []).push(s);
            o.log(
              `  ${v.name} ${image.tag}: idle ${idle.toFixed(0)} MiB, peak ${s.peak.toFixed(0)} (+${(s.peak - idle).toFixed(0)}), ` +
                `HWM ${s.hwm.toFixed(0)}, ${s.seconds.toFixed(2)} s, CPU ${s.cpu.toFixed(2)} s (load ${s.load.toFixed(1)})` +
                (s.smaps ? `; at the peak ${smapsLine(s.smaps)}` : '') +
                (s.idleSmaps ? `; idle ${smapsLine(s.idleSmaps)}` : ''),
            );
          } finally {
            await b.stop();
          }
        }
        if (dockerd) {
          const d = await loadOnce(dockerd, image);
          (samples[`dockerd ${image.tag}`] ??= []).push({ idle: 0, ...d });
          o.log(
            `  dockerd ${image.tag}: peak ${d.peak.toFixed(0)} MiB, ${d.seconds.toFixed(2)} s (load ${d.load.toFixed(1)})`,
          );
        }
      }
    }
    return { mib: o.mib, rounds: o.rounds, samples };
  } finally {
    while (cleanups.length > mark) await cleanups.pop()!().catch((err: Error) => o.log(`cleanup: ${err.message}`));
  }
}

const smapsLine = (b: SmapsBreakdown): string => SMAPS_KINDS.map((k) => `${k} ${b[k].toFixed(1)}`).join(', ');

export function datapathRssReport(f: DatapathRssFigures): string {
  const out = [
    `### Data path memory: peak RSS during a \`docker load\` of a ${f.mib} MiB layer (${f.rounds} rounds; median (min–max))`,
    '',
    '| engine, layer | idle MiB | peak MiB | peak − idle | VmHWM MiB | load s | CPU s | load average |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const m = (xs: number[], d = 0): string => {
    const s = stats(xs);
    return `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
  };
  for (const [name, xs] of Object.entries(f.samples)) {
    const berth = !name.startsWith('dockerd');
    out.push(
      `| ${name} | ${berth ? m(xs.map((x) => x.idle)) : '–'} | ${m(xs.map((x) => x.peak))} | ${
        berth ? m(xs.map((x) => x.peak - x.idle)) : '–'
      } | ${m(xs.map((x) => x.hwm))} | ${m(
        xs.map((x) => x.seconds),
        2,
      )} | ${m(
        xs.map((x) => x.cpu),
        2,
      )} | ${m(
        xs.map((x) => x.load),
        1,
      )} |`,
    );
  }
  out.push('');
  const withSmaps = Object.entries(f.samples).filter(([, xs]) => xs.some((x) => x.smaps));
  if (withSmaps.length) {
    out.push(
      "berthd's resident MiB by kind at its highest sample, and its growth over idle (smaps; medians of the rounds):",
      '',
      `| engine, layer | ${SMAPS_KINDS.join(' | ')} |`,
      `|---|${SMAPS_KINDS.map(() => '---').join('|')}|`,
    );
    for (const [name, xs] of withSmaps) {
      const med = (f: (x: RssSample) => number | undefined): string => {
        const ys = xs.flatMap((x) => {
          const y = f(x);
          return y === undefined ? [] : [y];
        });
        return ys.length ? stats(ys).median.toFixed(1) : '–';
      };
      const cells = SMAPS_KINDS.map(
        (k) =>
          `${med((x) => x.smaps?.[k])} (+${med((x) => (x.smaps && x.idleSmaps ? x.smaps[k] - x.idleSmaps[k] : undefined))})`,
      );
      out.push(`| ${name} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
