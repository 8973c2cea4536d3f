/**
 * Load benchmark: the same docker-archive loaded into berthd and into Debian's dockerd with the same docker CLI
 * (and with `berth load`), beside GNU tar extracting the same layer tars as the unpack floor. Between runs each
 * engine removes the image and prunes, so every run really unpacks again; `sync` runs (untimed) before each
 * timed step so one run's writeback does not land in the next. The steps of one round are interleaved so that
 * noise on the machine spreads over all of them.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuiltImage } from './lib/archive.ts';
import { BERTH, DOCKER, dockerEnv, type Engine } from './lib/engines.ts';
import { MiB, resetPeak, run, sampleRss, stats, statusKiB, type Stats } from './lib/proc.ts';

export interface LoadFigures {
  image: string;
  layers: number;
  /** Uncompressed layer tar bytes, summed over layers. */
  layerBytes: number;
  archiveBytes: number;
  gzip: boolean;
  runs: number;
  /** Wall seconds per step. */
  dockerd: Stats;
  berthdDockerCli: Stats;
  berthdBerthCli: Stats;
  tar: Stats;
  /** Peak RSS (MiB) during a load: berthd (sampled every 20 ms, and VmHWM after a reset), dockerd + containerd. */
  berthdPeakRss: Stats;
  berthdHwm: Stats;
  dockerdPeakRss: Stats;
}

/** A load that takes longer than this is a hang, reported as an error rather than waited on. */
export const LOAD_TIMEOUT_MS = 300_000;

async function removeImage(e: Engine, name: string): Promise<void> {
  const env = dockerEnv(e);
  await run(DOCKER, ['rmi', '-f', `${name}:latest`], { env, allowFail: true });
  await run(DOCKER, ['image', 'prune', '-a', '-f'], { env });
  const left = await e.layerDirs();
  if (left.length > 0)
    throw new Error(
      `${e.name} still holds ${left.length} layer directories after rmi and prune: ${left.slice(0, 3).join(', ')}`,
    );
}

/** One timed load; returns wall seconds and the engine's peak RSS (sampled) and VmHWM (MiB). */
async function timedLoad(
  e: Engine,
  image: BuiltImage,
  client: 'docker' | 'berth',
): Promise<{ seconds: number; peak: number; hwm: number }> {
  await run('sync', []);
  for (const pid of e.pids()) await resetPeak(pid);
  const sampler = sampleRss(e.pids(), 20);
  const r =
    client === 'docker'
      ? await run(DOCKER, ['load', '-q', '-i', image.archive], { env: dockerEnv(e), timeoutMs: LOAD_TIMEOUT_MS })
      : await run(BERTH, ['-H', e.host, 'load', '-q', '-i', image.archive], { timeoutMs: LOAD_TIMEOUT_MS });
  const peak = sampler.stop() / 1024;
  const hwm = e.pids().reduce((s, pid) => s + (statusKiB(pid, 'VmHWM') ?? 0), 0) / 1024;
  if (!r.stdout.includes(image.name))
    throw new Error(`${client} load into ${e.name} printed no "${image.name}": ${r.stdout}${r.stderr}`);
  await removeImage(e, image.name);
  return { seconds: r.seconds, peak, hwm };
}

/** GNU tar extracting each layer (gzip form with -z when the archive's layers are gzip) into a fresh dir. */
async function timedTar(image: BuiltImage, scratch: string): Promise<number> {
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch);
  const script = image.layers
    .map((l, i) => `mkdir ${scratch}/${i} && tar ${image.gzip ? '-xzf' : '-xf'} ${l.gz ?? l.tar} -C ${scratch}/${i}`)
    .join(' && ');
  await run('sync', []);
  const r = await run('sh', ['-c', script]);
  await rm(scratch, { recursive: true, force: true });
  return r.seconds;
}

export async function benchLoad(
  image: BuiltImage,
  engines: { berthd: Engine; dockerd: Engine },
  opts: { runs: number; scratch: string; log: (s: string) => void },
): Promise<LoadFigures> {
  const t = {
    dockerd: [] as number[],
    berthdDockerCli: [] as number[],
    berthdBerthCli: [] as number[],
    tar: [] as number[],
  };
  const rss = { berthdPeak: [] as number[], berthdHwm: [] as number[], dockerdPeak: [] as number[] };
  // One warm-up round (not counted): page cache, the CLIs' compile caches, both engines' first-load paths.
  await timedLoad(engines.dockerd, image, 'docker');
  await timedLoad(engines.berthd, image, 'docker');
  for (let i = 0; i < opts.runs; i++) {
    const d = await timedLoad(engines.dockerd, image, 'docker');
    t.dockerd.push(d.seconds);
    rss.dockerdPeak.push(d.peak);
    const b = await timedLoad(engines.berthd, image, 'docker');
    t.berthdDockerCli.push(b.seconds);
    rss.berthdPeak.push(b.peak);
    rss.berthdHwm.push(b.hwm);
    const bb = await timedLoad(engines.berthd, image, 'berth');
    t.berthdBerthCli.push(bb.seconds);
    rss.berthdPeak.push(bb.peak);
    rss.berthdHwm.push(bb.hwm);
    const tar = await timedTar(image, join(opts.scratch, 'tar-floor'));
    t.tar.push(tar);
    opts.log(
      `  ${image.name} run ${i + 1}/${opts.runs}: dockerd ${d.seconds.toFixed(2)}s, berthd ${b.seconds.toFixed(2)}s (berth CLI ${bb.seconds.toFixed(2)}s), ` +
        `tar ${tar.toFixed(2)}s; peak RSS berthd ${b.peak.toFixed(0)} MiB, dockerd+containerd ${d.peak.toFixed(0)} MiB`,
    );
  }
  return {
    image: image.name,
    layers: image.layers.length,
    layerBytes: image.layers.reduce((s, l) => s + l.tarBytes, 0),
    archiveBytes: image.archiveBytes,
    gzip: image.gzip,
    runs: opts.runs,
    dockerd: stats(t.dockerd),
    berthdDockerCli: stats(t.berthdDockerCli),
    berthdBerthCli: stats(t.berthdBerthCli),
    tar: stats(t.tar),
    berthdPeakRss: stats(rss.berthdPeak),
    berthdHwm: stats(rss.berthdHwm),
    dockerdPeakRss: stats(rss.dockerdPeak),
  };
}

/** Throughput in MiB of layer tar per second, from a time. */
export function throughput(bytes: number, seconds: number): number {
  return bytes / MiB / seconds;
}
