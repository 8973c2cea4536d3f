/**
 * `version` end to end, timed by hyperfine (no shell, warm-up runs first): `berth version` against berthd,
 * `docker version` against berthd, and `docker version` against dockerd. Each is a whole client process:
 * start-up, one connection, GET /version, print.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BERTH, DOCKER, type Engine } from './lib/engines.ts';
import { run, type Stats } from './lib/proc.ts';

export interface VersionFigures {
  runs: number;
  /** Seconds per command: hyperfine's median, min and max (mean and stddev beside). */
  results: { command: string; label: string; stats: Stats; mean: number; stddev: number }[];
}

interface HyperfineJson {
  results: {
    command: string;
    mean: number;
    stddev: number;
    median: number;
    min: number;
    max: number;
    times: number[];
  }[];
}

export async function benchVersion(
  engines: { berthd: Engine; dockerd: Engine },
  opts: { runs: number; scratch: string },
): Promise<VersionFigures> {
  const out = join(opts.scratch, 'hyperfine.json');
  const commands: [string, string][] = [
    ['berth version → berthd', `${BERTH} -H ${engines.berthd.host} version`],
    ['docker version → berthd', `${DOCKER} -H ${engines.berthd.host} version`],
    ['docker version → dockerd', `${DOCKER} -H ${engines.dockerd.host} version`],
  ];
  // DOCKER_CONFIG points at an empty dir so the user's docker config (contexts, plugins) plays no part.
  await run(
    'hyperfine',
    ['-N', '--warmup', '3', '--runs', String(opts.runs), '--export-json', out, ...commands.map(([, c]) => c)],
    {
      env: { DOCKER_CONFIG: join(opts.scratch, 'docker-config') },
    },
  );
  const json = JSON.parse(await readFile(out, 'utf8')) as HyperfineJson;
  await rm(out, { force: true });
  return {
    runs: opts.runs,
    results: json.results.map((r, i) => ({
      command: r.command,
      label: commands[i]![0],
      stats: { median: r.median, min: r.min, max: r.max, n: r.times.length },
      mean: r.mean,
      stddev: r.stddev,
    })),
  };
}
