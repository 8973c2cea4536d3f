/**
 * Idle memory: each engine started fresh (berthd with --no-seed; dockerd with the containerd it starts), its
 * RSS read after it answers /_ping and settles, then again after one `images` call. dockerd's figure is dockerd's
 * RSS plus its containerd's, since that pair is what Docker needs running to do what berthd alone does.
 */
import { BERTH, DOCKER, dockerEnv, startBerthd, startDockerd, type Engine } from './lib/engines.ts';
import { run, sleep, stats, statusKiB, type Stats } from './lib/proc.ts';

export interface IdleFigures {
  runs: number;
  settleMs: number;
  berthdStart: Stats;
  berthdIdle: Stats;
  berthdAfterImages: Stats;
  dockerdStart: Stats;
  dockerdIdle: Stats;
  /** dockerd alone, after images (containerd's share is the difference). */
  dockerdOnlyAfterImages: Stats;
  dockerdAfterImages: Stats;
}

const rssMiB = (pids: number[]): number => pids.reduce((s, p) => s + (statusKiB(p, 'VmRSS') ?? 0), 0) / 1024;

async function measure(
  e: Engine,
  settleMs: number,
  imagesCmd: () => Promise<unknown>,
): Promise<{ idle: number; after: number; daemonOnly: number }> {
  await sleep(settleMs);
  const idle = rssMiB(e.pids());
  await imagesCmd();
  await sleep(settleMs);
  return { idle, after: rssMiB(e.pids()), daemonOnly: rssMiB([e.pid]) };
}

export async function benchIdle(opts: {
  runs: number;
  settleMs: number;
  log: (s: string) => void;
}): Promise<IdleFigures> {
  const b = { start: [] as number[], idle: [] as number[], after: [] as number[] };
  const d = { start: [] as number[], idle: [] as number[], after: [] as number[], only: [] as number[] };
  for (let i = 0; i < opts.runs; i++) {
    const berthd = await startBerthd();
    try {
      const m = await measure(berthd, opts.settleMs, () => run(BERTH, ['-H', berthd.host, 'images']));
      b.start.push(berthd.startSeconds);
      b.idle.push(m.idle);
      b.after.push(m.after);
    } finally {
      await berthd.stop();
    }
    const dockerd = await startDockerd();
    try {
      const m = await measure(dockerd, opts.settleMs, () => run(DOCKER, ['images'], { env: dockerEnv(dockerd) }));
      d.start.push(dockerd.startSeconds);
      d.idle.push(m.idle);
      d.after.push(m.after);
      d.only.push(m.daemonOnly);
    } finally {
      await dockerd.stop();
    }
    opts.log(
      `  idle run ${i + 1}/${opts.runs}: berthd ${b.idle.at(-1)!.toFixed(1)} → ${b.after.at(-1)!.toFixed(1)} MiB; ` +
        `dockerd+containerd ${d.idle.at(-1)!.toFixed(1)} → ${d.after.at(-1)!.toFixed(1)} MiB`,
    );
  }
  return {
    runs: opts.runs,
    settleMs: opts.settleMs,
    berthdStart: stats(b.start),
    berthdIdle: stats(b.idle),
    berthdAfterImages: stats(b.after),
    dockerdStart: stats(d.start),
    dockerdIdle: stats(d.idle),
    dockerdOnlyAfterImages: stats(d.only),
    dockerdAfterImages: stats(d.after),
  };
}
