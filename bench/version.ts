/**
 * `version` end to end, timed by hyperfine (no shell, warm-up runs first): `berth version` against berthd (its
 * bundle, and from source), `docker version` against berthd and against dockerd, and Node's own start (`node -e 0`,
 * the floor issue 9's goal is set against); with `base`, another tree's `berth version` (e.g. main before a change)
 * against the same berthd. Each is a whole client process: start-up, one connection, GET /version, print. The runs
 * are split into rounds, each round running every command in turn, so that the machine's other load falls on all
 * of them alike; ratios are taken within the run.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BERTH, DOCKER, NODE, type Engine } from './lib/engines.ts';
import { run, type Stats } from './lib/proc.ts';

export interface VersionFigures {
  runs: number;
  rounds: number;
  /** Seconds per command: the median, min and max of every run; mean and stddev beside; CPU from hyperfine. */
  results: { command: string; label: string; stats: Stats; mean: number; stddev: number; cpu: Stats }[];
}

interface HyperfineJson {
  results: { command: string; times: number[]; user: number; system: number }[];
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

export async function benchVersion(
  engines: { berthd: Engine; dockerd: Engine },
  opts: { runs: number; scratch: string; rounds?: number; base?: string },
): Promise<VersionFigures> {
  const out = join(opts.scratch, 'hyperfine.json');
  const host = engines.berthd.host;
  const commands: [string, string][] = [
    ['node -e 0', `${NODE} -e 0`],
    ['berth version → berthd', `${BERTH} -H ${host} version`],
    ['berth version → berthd (source)', `env BERTH_BUNDLE=0 ${BERTH} -H ${host} version`],
    ...(opts.base ? [['berth version → berthd (base)', `${join(opts.base, 'bin', 'berth')} -H ${host} version`]] : []),
    ['docker version → berthd', `${DOCKER} -H ${host} version`],
    ['docker version → dockerd', `${DOCKER} -H ${engines.dockerd.host} version`],
  ] as [string, string][];
  const rounds = Math.max(1, Math.min(opts.rounds ?? 5, opts.runs));
  const perRound = Math.max(1, Math.round(opts.runs / rounds));
  const times = commands.map(() => [] as number[]);
  const cpu = commands.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    // DOCKER_CONFIG points at an empty dir so the user's docker config (contexts, plugins) plays no part.
    await run(
      'hyperfine',
      [
        '-N',
        '--warmup',
        r === 0 ? '3' : '1',
        '--runs',
        String(perRound),
        '--export-json',
        out,
        ...commands.map(([, c]) => c),
      ],
      { env: { DOCKER_CONFIG: join(opts.scratch, 'docker-config') }, timeoutMs: 600_000 },
    );
    const json = JSON.parse(await readFile(out, 'utf8')) as HyperfineJson;
    json.results.forEach((res, i) => {
      times[i]!.push(...res.times);
      cpu[i]!.push(res.user + res.system);
    });
  }
  await rm(out, { force: true });
  return {
    runs: perRound * rounds,
    rounds,
    results: commands.map(([label, command], i) => {
      const t = times[i]!;
      const mean = t.reduce((a, b) => a + b, 0) / t.length;
      const stddev = Math.sqrt(t.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, t.length - 1));
      return { command, label, stats: stats(t), mean, stddev, cpu: stats(cpu[i]!) };
    }),
  };
}
