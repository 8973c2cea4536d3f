/**
 * Running containers side by side: berthd, Debian's dockerd 20.10 (bridge, iptables and forwarding off) and podman
 * (root, runc, its own --root/--runroot), all with `--network none` and the same busybox image (berthd's seed,
 * `save`d and loaded into the others).
 * - `run --rm busybox true` through each CLI (hyperfine -N): docker → berthd, berth → berthd, docker → dockerd,
 *   podman;
 * - the Engine API cycle create + start + wait + delete over the unix socket (berthd, dockerd, and podman's
 *   Docker-compatible `podman system service`);
 * - `--parallel` containers (default 20) started at once with `run -d … sleep`, wall time until every CLI returned;
 * - memory per running container, with those containers up: the engine's RSS growth divided by their number, plus
 *   the RSS of each container's monitor (conmon for berthd and podman, containerd-shim-runc-v2 for dockerd).
 * Everything started is stopped by PID and every temp dir removed; no network device or rule is made.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiCycle, type ApiCycle } from './lib/api.ts';
import {
  BERTH,
  DOCKER,
  dockerEnv,
  startBerthd,
  startDockerd,
  type Engine,
  podmanSetup,
  removeDir,
  waitForBusybox,
} from './lib/engines.ts';
import { hyperfine } from './lib/hyperfine.ts';
import { ping, run, sleep, stats, statusKiB, stopPid, type Stats } from './lib/proc.ts';

export interface ContainerFigures {
  runs: number;
  parallel: number;
  engines: EngineContainerFigures[];
}

export interface EngineContainerFigures {
  engine: string;
  /** `run --rm --network none busybox true` through each CLI that drives this engine (hyperfine), seconds. */
  runRm: { cli: string; stats: Stats; mean: number; stddev: number }[];
  /** create + start + wait + delete over the Engine API, seconds: the whole cycle and each call. */
  apiCycle?: Stats;
  apiSteps?: { create: Stats; start: Stats; wait: Stats; remove: Stats };
  /** Wall time for `parallel` `run -d` at once, seconds. */
  parallelStart?: Stats;
  /** With `parallel` containers running: the engine's RSS growth per container, and each monitor's RSS / PSS, KiB. */
  memory?: {
    engineKiBPerContainer: number;
    monitor: string;
    monitorRssKiB: Stats;
    monitorPssKiB: Stats;
    engineIdleKiB: number;
  };
  errors: string[];
}

type Log = (s: string) => void;

/** One engine as the benchmark drives it. */
export interface Peer {
  name: string;
  /** The CLIs that drive it, each as argv (no shell) and its environment. */
  clis: { name: string; argv: string[]; env: Record<string, string> }[];
  /** Its Engine API socket (podman's: a `system service` started for the API cycle). */
  apiSocket(): Promise<string | undefined>;
  /** PIDs whose memory is the engine's own (not the containers' monitors). */
  enginePids(): number[];
  /** The monitor processes of this engine's containers (conmon, or containerd's shim). */
  monitors(): number[];
  monitorName: string;
  stop(): Promise<void>;
}

/** Every PID whose command line mentions `needle` and whose command name is `name`. */
export function processes(name: string, needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() !== name) continue;
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(needle)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function pssKiB(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export const rssSum = (pids: number[]) => pids.reduce((a, p) => a + (statusKiB(p, 'VmRSS') ?? 0), 0);

export function berthPeer(e: Engine): Peer {
  const env = dockerEnv(e);
  return {
    name: 'berthd',
    clis: [
      { name: 'docker', argv: [DOCKER, '-H', e.host], env },
      { name: 'berth', argv: [BERTH, '-H', e.host], env: {} },
    ],
    apiSocket: async () => e.socket,
    enginePids: () => e.pids(),
    monitors: () => processes('conmon', e.dir),
    monitorName: 'conmon',
    stop: () => e.stop(),
  };
}

export function dockerPeer(e: Engine & { containerd: number | undefined }): Peer {
  return {
    name: 'dockerd',
    clis: [{ name: 'docker', argv: [DOCKER, '-H', e.host], env: dockerEnv(e) }],
    apiSocket: async () => e.socket,
    enginePids: () => e.pids(),
    monitors: () => processes('containerd-shim', e.dir),
    monitorName: 'containerd-shim-runc-v2',
    stop: () => e.stop(),
  };
}

/** podman (root) on its own storage and run root, runc, cgroupfs, file events; no network configuration used. */
export async function podmanPeer(): Promise<Peer> {
  const { dir, base, env } = await podmanSetup('/tmp/podman-bench-ctr-');
  let service: { pid: number; socket: string } | undefined;
  const cli = (args: string[], allowFail = false) =>
    run('podman', [...base, ...args], { env, allowFail, timeoutMs: 120_000 });
  return {
    name: 'podman',
    clis: [{ name: 'podman', argv: ['podman', ...base], env }],
    async apiSocket() {
      if (service) return service.socket;
      const socket = join(dir, 'api.sock');
      const p = spawn('podman', [...base, 'system', 'service', '--time=0', `unix://${socket}`], {
        env: { ...process.env, ...env },
        stdio: 'ignore',
      });
      service = { pid: p.pid!, socket };
      for (let i = 0; i < 300 && !(await ping(socket)); i++) await sleep(20);
      return (await ping(socket)) ? socket : undefined;
    },
    enginePids: () => (service ? [service.pid] : []),
    monitors: () => processes('conmon', dir),
    monitorName: 'conmon',
    async stop() {
      if (service) await stopPid(service.pid);
      await cli(['rm', '-a', '-f'], true);
      await cli(['rmi', '-a', '-f'], true);
      await removeDir(dir);
    },
  };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const stddev = (xs: readonly number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

/** One engine's measurements as they accumulate over the rounds. */
export class Tally {
  readonly runRm = new Map<string, number[]>();
  readonly api: ApiCycle[] = [];
  readonly parallel: number[] = [];
  memory: EngineContainerFigures['memory'];
  readonly errors: string[] = [];
}

/**
 * One round on one engine: `run --rm` through each of its CLIs (hyperfine, `perRound` runs), `perRound` API cycles,
 * and `parallel` containers started at once (memory read with them up, in the last round).
 */
export async function round(
  peer: Peer,
  t: Tally,
  o: { perRound: number; parallel: number; scratch: string; last: boolean; log: Log },
): Promise<void> {
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      const msg = `${what}: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`;
      if (!t.errors.includes(msg)) t.errors.push(msg);
      o.log(`containers: ${peer.name} ${what}: ${(err as Error).message}`);
    }
  };
  const main = peer.clis[0]!;
  const cli = (args: string[], allowFail = false) =>
    run(main.argv[0]!, [...main.argv.slice(1), ...args], { env: main.env, allowFail, timeoutMs: 120_000 });
  for (const c of peer.clis) {
    await attempt(`run --rm (${c.name})`, async () => {
      const times = await hyperfine([...c.argv, 'run', '--rm', '--network', 'none', 'busybox', 'true'], {
        env: c.env,
        runs: o.perRound,
        scratch: o.scratch,
      });
      t.runRm.set(c.name, [...(t.runRm.get(c.name) ?? []), ...times]);
    });
  }
  await attempt('API cycle', async () => {
    const socket = await peer.apiSocket();
    if (!socket) throw new Error('no Engine API socket');
    await apiCycle(socket);
    for (let i = 0; i < o.perRound; i++) t.api.push(await apiCycle(socket));
  });
  await attempt(`${o.parallel} in parallel`, async () => {
    await sleep(500);
    const engineBefore = rssSum(peer.enginePids());
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: o.parallel }, () => cli(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'])),
    );
    t.parallel.push(Number(process.hrtime.bigint() - t0) / 1e9);
    try {
      if (o.last) {
        await sleep(2000);
        const mons = peer.monitors();
        if (mons.length < o.parallel)
          throw new Error(`found ${mons.length} ${peer.monitorName} processes for ${o.parallel} containers`);
        t.memory = {
          engineKiBPerContainer: (rssSum(peer.enginePids()) - engineBefore) / o.parallel,
          engineIdleKiB: engineBefore,
          monitor: peer.monitorName,
          monitorRssKiB: stats(mons.map((p) => statusKiB(p, 'VmRSS') ?? 0)),
          monitorPssKiB: stats(mons.map((p) => pssKiB(p) ?? 0)),
        };
      }
    } finally {
      const ids = (await cli(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await cli(['rm', '-f', ...ids]);
    }
  });
}

/**
 * Runs the container benchmarks on berthd, dockerd and podman (those in `engines`), all up at once and measured in
 * interleaved rounds (each round visits every engine), so that the machine's other load falls on all of them alike.
 */
export async function benchContainers(o: {
  runs: number;
  parallel: number;
  scratch: string;
  log: Log;
  engines?: readonly string[];
  rounds?: number;
}): Promise<ContainerFigures> {
  const want = o.engines ?? ['berthd', 'dockerd', 'podman'];
  const rounds = o.rounds ?? Math.min(5, o.runs);
  const perRound = Math.max(1, Math.ceil(o.runs / rounds));
  const figures: ContainerFigures = { runs: perRound * rounds, parallel: o.parallel, engines: [] };
  const links = (await run('ip', ['-o', 'link'], { allowFail: true })).stdout.split('\n').length;
  const peers: Peer[] = [];
  const failed: EngineContainerFigures[] = [];
  try {
    const berthd = await startBerthd({ seed: true });
    const bp = berthPeer(berthd);
    peers.push(bp);
    const archive = join(o.scratch, 'busybox.tar');
    const env = dockerEnv(berthd);
    await waitForBusybox(env);
    await run(DOCKER, ['save', '-o', archive, 'busybox'], { env });
    const starts: [string, () => Promise<Peer>][] = [
      ['dockerd', async () => dockerPeer(await startDockerd())],
      ['podman', podmanPeer],
    ];
    for (const [name, start] of starts) {
      if (!want.includes(name)) continue;
      let peer: Peer | undefined;
      try {
        peer = await start();
        const c = peer.clis[0]!;
        await run(c.argv[0]!, [...c.argv.slice(1), 'load', '-i', archive], { env: c.env });
        if (peer.name === 'podman')
          await run(
            c.argv[0]!,
            [...c.argv.slice(1), 'tag', 'localhost/busybox:latest', 'docker.io/library/busybox:latest'],
            { env: c.env, allowFail: true },
          );
        peers.push(peer);
      } catch (err) {
        if (peer) await peer.stop().catch(() => {});
        failed.push({ engine: name, runRm: [], errors: [(err as Error).message.split('\n')[0] ?? ''] });
        o.log(`containers: ${name}: ${(err as Error).message}`);
      }
    }
    const measured = peers.filter((p) => want.includes(p.name));
    const tallies = new Map(measured.map((p) => [p.name, new Tally()]));
    for (let r = 0; r < rounds; r++) {
      for (const peer of measured) {
        o.log(`containers: round ${r + 1}/${rounds}: ${peer.name}`);
        await round(peer, tallies.get(peer.name)!, {
          perRound,
          parallel: o.parallel,
          scratch: o.scratch,
          last: r === rounds - 1,
          log: o.log,
        });
      }
    }
    for (const peer of measured) {
      const t = tallies.get(peer.name)!;
      figures.engines.push({
        engine: peer.name,
        runRm: [...t.runRm].map(([cli, xs]) => ({ cli, stats: stats(xs), mean: mean(xs), stddev: stddev(xs) })),
        ...(t.api.length
          ? {
              apiCycle: stats(t.api.map((x) => x.total)),
              apiSteps: {
                create: stats(t.api.map((x) => x.create)),
                start: stats(t.api.map((x) => x.start)),
                wait: stats(t.api.map((x) => x.wait)),
                remove: stats(t.api.map((x) => x.remove)),
              },
            }
          : {}),
        ...(t.parallel.length ? { parallelStart: stats(t.parallel) } : {}),
        ...(t.memory ? { memory: t.memory } : {}),
        errors: t.errors,
      });
    }
    figures.engines.push(...failed);
  } finally {
    for (const p of peers.reverse())
      await p.stop().catch((err) => o.log(`containers: stopping ${p.name}: ${(err as Error).message}`));
  }
  const linksAfter = (await run('ip', ['-o', 'link'], { allowFail: true })).stdout.split('\n').length;
  if (linksAfter !== links)
    o.log(
      `containers: the host had ${links - 1} network links before and ${linksAfter - 1} after (other work on the machine, or a leak)`,
    );
  return figures;
}

const ms = (s: Stats | undefined) =>
  s === undefined || s.n === 0
    ? 'n/a'
    : `${(s.median * 1000).toFixed(0)} (${(s.min * 1000).toFixed(0)}–${(s.max * 1000).toFixed(0)}) ms`;
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** The figures as the Markdown tables bench/README.md keeps. */
export function containersReport(f: ContainerFigures): string {
  const lines = [
    `### Containers (\`--network none\`, runc; median (min–max); ${f.runs} runs each, ${f.parallel} in parallel)`,
    '',
    '| engine | CLI | `run --rm busybox true` (hyperfine -N) | mean ± σ |',
    '|---|---|---|---|',
  ];
  for (const e of f.engines)
    for (const r of e.runRm)
      lines.push(
        `| ${e.engine} | ${r.cli} | ${ms(r.stats)} | ${(r.mean * 1000).toFixed(0)} ± ${(r.stddev * 1000).toFixed(0)} ms |`,
      );
  lines.push('', '| engine | API create | start | wait | delete |', '|---|---|---|---|---|');
  for (const e of f.engines)
    lines.push(
      `| ${e.engine} | ${ms(e.apiSteps?.create)} | ${ms(e.apiSteps?.start)} | ${ms(e.apiSteps?.wait)} | ${ms(e.apiSteps?.remove)} |`,
    );
  lines.push(
    '',
    `| engine | API create+start+wait+delete | ${f.parallel} \`run -d\` in parallel | engine RSS per container | monitor | monitor RSS | monitor PSS | engine RSS before |`,
    '|---|---|---|---|---|---|---|---|',
  );
  for (const e of f.engines) {
    const m = e.memory;
    lines.push(
      `| ${e.engine} | ${ms(e.apiCycle)} | ${ms(e.parallelStart)} | ${m ? mib(m.engineKiBPerContainer) : 'n/a'} | ${m?.monitor ?? 'n/a'} | ${m ? mib(m.monitorRssKiB.median) : 'n/a'} | ${m ? mib(m.monitorPssKiB.median) : 'n/a'} | ${m ? mib(m.engineIdleKiB) : 'n/a'} |`,
    );
  }
  lines.push('');
  for (const e of f.engines) for (const err of e.errors) lines.push(`- ${e.engine}: ${err}`);
  lines.push('');
  return lines.join('\n');
}
