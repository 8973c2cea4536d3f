/**
 * The start path, side by side in one run (issue 9), in interleaved rounds so the machine's other load falls on
 * every engine alike:
 * - the floors: Node's own start (`node -e 0`), the bare `runc run` of `true` in a busybox bundle, and `runc create`,
 *   `start`, `delete` as separate commands (bench/lib/runc.ts);
 * - per engine (berthd, dockerd, podman where it runs): the Engine API cycle create+start+wait+delete, `run --rm
 *   --network none busybox true` through the docker CLI (podman's own), 20 `run -d` at once (bench/containers.ts);
 * - the CLIs: `berth version` and `docker version` against berthd, `docker version` against dockerd, `berth run --rm`
 *   beside the docker CLI's against the same berthd;
 * - berthd's phases during its API cycles, from its `berth:phase` diagnostics channel (src/util/trace.ts, read by
 *   bench/lib/phase-recorder.ts loaded through NODE_OPTIONS), so each call's time is accounted for;
 * - berthd's RSS after a start on a data root it already knows, and after 20 containers came and went.
 */
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiCycle } from './lib/api.ts';
import { berthPeer, dockerPeer, type Peer, podmanPeer, round, Tally } from './containers.ts';
import { BERTH, DOCKER, dockerEnv, NODE, ROOT, startBerthd, startDockerd, waitForBusybox } from './lib/engines.ts';
import { hyperfine } from './lib/hyperfine.ts';
import { type PhaseLine, readPhaseLines } from './lib/phases.ts';
import { run, sleep, stats, type Stats } from './lib/proc.ts';
import { runcBed, runcParallel, runcSteps } from './lib/runc.ts';

type Log = (s: string) => void;

/** One row of the breakdown: a phase within one of the cycle's calls, ms per cycle. */
export interface PhaseRow {
  call: 'create' | 'start' | 'wait' | 'delete';
  phase: string;
  ms: Stats;
}

export interface MemoryFigures {
  /** KiB: VmRSS, RssAnon, RssFile. */
  afterStart: { rss: number; anon: number; file: number };
  after20: { rss: number; anon: number; file: number };
  /** The floors, read the same way: `node` idle, and `node` with the built-ins berthd uses and no Berth code. */
  nodeIdle: { rss: number; anon: number; file: number };
  nodeBuiltins: { rss: number; anon: number; file: number };
}

/**
 * A Node process with what berthd takes from Node and nothing of Berth: an HTTP server listening on a unix socket,
 * a SQLite database in WAL mode, a SHA-256, gzip, a worker thread module, a UDP socket, a child process, an inotify
 * watch. Run with berthd's V8 flags.
 */
const BUILTINS_FLOOR = `
const get = (m) => process.getBuiltinModule(m);
const dir = process.argv[1];
get('node:http').createServer().listen(dir + '/floor.sock');
const { DatabaseSync } = get('node:sqlite');
const db = new DatabaseSync(dir + '/floor.db'); db.exec('PRAGMA journal_mode = WAL'); db.exec('CREATE TABLE t (a)');
get('node:crypto').createHash('sha256').update('x').digest('hex');
get('node:zlib').gzipSync('x');
get('node:worker_threads');
get('node:dgram').createSocket('udp4').bind(0);
get('node:child_process').spawnSync('true');
get('node:fs').watch(dir);
setInterval(() => {}, 1000);
`;

async function floorMemory(code: string | undefined): Promise<{ rss: number; anon: number; file: number }> {
  const dir = await mkdtemp('/tmp/berth-bench-floor-mem-');
  const p = spawn(
    NODE,
    ['--max-semi-space-size=1', ...(code ? ['-e', code, dir] : ['-e', 'setInterval(() => {}, 1000)'])],
    {
      stdio: 'ignore',
    },
  );
  try {
    await sleep(3000);
    return memoryOf(p.pid!);
  } finally {
    p.kill();
    await new Promise((r) => p.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
}

export interface StartFigures {
  rounds: number;
  perRound: number;
  parallel: number;
  /** Seconds. */
  nodeStart: Stats;
  runcRun: Stats;
  /** Milliseconds. */
  runcSteps: { create: Stats; start: Stats; delete: Stats };
  /** Milliseconds: `parallel` runc create+start at once, and `parallel` docker CLI processes (`version`) at once. */
  runcParallel: Stats;
  cliParallel: Stats;
  engines: { engine: string; tally: Tally }[];
  /** Seconds per CLI command line. */
  cli: { label: string; stats: Stats }[];
  phases: PhaseRow[];
  memory?: MemoryFigures;
  errors: string[];
}

const CALLS = ['create', 'start', 'wait', 'delete'] as const;

/** Splits berthd's phases among the calls of each cycle and accounts for the rest of each call's time. */
export function breakdown(cycles: readonly ApiCycle[], lines: readonly PhaseLine[]): PhaseRow[] {
  const per = new Map<string, number[]>();
  const add = (call: string, phase: string, i: number, ms: number) => {
    const key = `${call}\u0000${phase}`;
    const xs = per.get(key) ?? Array<number>(cycles.length).fill(0);
    xs[i]! += ms;
    per.set(key, xs);
  };
  cycles.forEach((c, i) => {
    // The container runs from the end of `runtime start` until conmon writes its exit file (exit.notice's start).
    const started = lines.find(
      (l) => l.phase === 'runtime.start' && l.start >= c.marks[0]! && l.end <= c.marks[4]!,
    )?.end;
    for (let k = 0; k < 4; k++) {
      const from = c.marks[k]!;
      const to = c.marks[k + 1]!;
      const call = CALLS[k]!;
      const inside = lines.filter((l) => l.start >= from - 0.5 && l.start < to && !l.phase.startsWith('api '));
      const api = lines.find((l) => l.phase.startsWith('api ') && l.start >= from - 0.5 && l.end <= to + 0.5);
      const ranFrom = Math.max(from, started ?? from);
      for (const l of inside) {
        // exit.notice starts when conmon wrote the exit file: the time before it is the container's own run.
        if (l.phase === 'exit.notice')
          add(call, 'container ran, conmon wrote its exit file', i, Math.max(0, l.start - ranFrom));
        add(call, l.phase, i, l.end - l.start);
      }
      // The union of the phases (they may overlap), the server's whole answer, and the call as the client saw it.
      const spans = inside
        .map((l) => [l.phase === 'exit.notice' ? Math.min(l.start, ranFrom) : l.start, l.end] as const)
        .sort((a, b) => a[0] - b[0]);
      let covered = 0;
      let reach = -Infinity;
      for (const [s, e] of spans) {
        if (e <= reach) continue;
        covered += e - Math.max(s, reach);
        reach = e;
      }
      const served = api ? api.end - api.start : to - from;
      add(call, 'berthd, outside these phases (HTTP handling, JS, files)', i, Math.max(0, served - covered));
      add(call, 'client and socket (the call minus berthd’s answer)', i, Math.max(0, to - from - served));
    }
  });
  return [...per].map(([key, xs]) => {
    const [call, phase] = key.split('\u0000') as [PhaseRow['call'], string];
    return { call, phase, ms: stats(xs) };
  });
}

function memoryOf(pid: number): { rss: number; anon: number; file: number } {
  const f = (k: string) => {
    const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  };
  return { rss: f('VmRSS'), anon: f('RssAnon'), file: f('RssFile') };
}

/**
 * berthd's memory: started once to make its data root (busybox seeded), stopped, started again on the same roots
 * (a normal start), read 3 s after it answers; then 20 `run -d` at once, all removed, read again 3 s later.
 */
async function berthdMemory(parallel: number, log: Log): Promise<MemoryFigures> {
  const first = await startBerthd({ seed: true });
  const env = dockerEnv(first);
  await waitForBusybox(env);
  await first.stopKeeping();
  const e = await startBerthd({ dir: first.dir });
  try {
    await sleep(3000);
    const afterStart = memoryOf(e.pid);
    const env2 = dockerEnv(e);
    await Promise.all(
      Array.from({ length: parallel }, () =>
        run(DOCKER, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'], { env: env2 }),
      ),
    );
    const ids = (await run(DOCKER, ['ps', '-aq'], { env: env2 })).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await run(DOCKER, ['rm', '-f', ...ids], { env: env2 });
    await sleep(3000);
    const after20 = memoryOf(e.pid);
    log(`start: berthd RSS ${(afterStart.rss / 1024).toFixed(1)} → ${(after20.rss / 1024).toFixed(1)} MiB`);
    return {
      afterStart,
      after20,
      nodeIdle: await floorMemory(undefined),
      nodeBuiltins: await floorMemory(BUILTINS_FLOOR),
    };
  } finally {
    await e.stop();
  }
}

export async function benchStart(o: {
  rounds: number;
  perRound: number;
  parallel: number;
  scratch: string;
  log: Log;
  engines?: readonly string[];
}): Promise<StartFigures> {
  const want = o.engines ?? ['berthd', 'dockerd', 'podman'];
  const errors: string[] = [];
  const phaseLog = join(o.scratch, 'phases.jsonl');
  await writeFile(phaseLog, '');
  const peers: Peer[] = [];
  const bed = await runcBed(await mkdtemp('/tmp/berth-bench-floor-'));
  const f: StartFigures = {
    rounds: o.rounds,
    perRound: o.perRound,
    parallel: o.parallel,
    nodeStart: stats([]),
    runcRun: stats([]),
    runcSteps: { create: stats([]), start: stats([]), delete: stats([]) },
    runcParallel: stats([]),
    cliParallel: stats([]),
    engines: [],
    cli: [],
    phases: [],
    errors,
  };
  try {
    const berthd = await startBerthd({
      seed: true,
      env: {
        NODE_OPTIONS: `--import=${join(ROOT, 'bench', 'lib', 'phase-recorder.ts')}`,
        BERTH_PHASE_LOG: phaseLog,
      },
    });
    peers.push(berthPeer(berthd));
    const env = dockerEnv(berthd);
    await waitForBusybox(env);
    const archive = join(o.scratch, 'busybox.tar');
    await run(DOCKER, ['save', '-o', archive, 'busybox'], { env });
    let dockerHost: string | undefined;
    for (const [name, start] of [
      ['dockerd', async () => dockerPeer(await startDockerd())],
      ['podman', podmanPeer],
    ] as const) {
      if (!want.includes(name)) continue;
      let peer: Peer | undefined;
      try {
        peer = await start();
        const c = peer.clis[0]!;
        await run(c.argv[0]!, [...c.argv.slice(1), 'load', '-i', archive], { env: c.env });
        if (name === 'podman')
          await run(c.argv[0]!, [...c.argv.slice(1), 'tag', 'localhost/busybox:latest', 'docker.io/library/busybox'], {
            env: c.env,
            allowFail: true,
          });
        if (name === 'dockerd') dockerHost = c.env.DOCKER_HOST;
        peers.push(peer);
      } catch (err) {
        if (peer) await peer.stop().catch(() => {});
        errors.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
        o.log(`start: ${name}: ${(err as Error).message}`);
      }
    }
    const tallies = new Map(peers.map((p) => [p.name, new Tally()]));
    const node: number[] = [];
    const runcRun: number[] = [];
    const steps = { create: [] as number[], start: [] as number[], delete: [] as number[] };
    const parallelFloor: number[] = [];
    const cliFloor: number[] = [];
    const cliLines: { label: string; argv: string[]; env?: Record<string, string> }[] = [
      { label: '`berth version` → berthd', argv: [BERTH, '-H', berthd.host, 'version'] },
      { label: '`docker version` → berthd', argv: [DOCKER, 'version'], env },
      ...(dockerHost
        ? [
            {
              label: '`docker version` → dockerd',
              argv: [DOCKER, 'version'],
              env: { DOCKER_HOST: dockerHost, DOCKER_CONFIG: env.DOCKER_CONFIG! },
            },
          ]
        : []),
    ];
    const cliTimes = new Map<string, number[]>();
    for (let r = 0; r < o.rounds; r++) {
      o.log(`start: round ${r + 1}/${o.rounds}: floors`);
      node.push(...(await hyperfine([NODE, '-e', '0'], { runs: o.perRound, scratch: o.scratch })));
      runcRun.push(...(await hyperfine(bed.runArgv, { runs: o.perRound, scratch: o.scratch })));
      for (let i = 0; i < o.perRound; i++) {
        const s = await runcSteps(bed);
        steps.create.push(s.create);
        steps.start.push(s.start);
        steps.delete.push(s.delete);
      }
      parallelFloor.push((await runcParallel(bed, o.parallel)).wall);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: o.parallel }, () => run(DOCKER, ['version'], { env })));
      cliFloor.push(performance.now() - t0);
      for (const c of cliLines) {
        const xs = await hyperfine(c.argv, { runs: o.perRound, scratch: o.scratch, ...(c.env ? { env: c.env } : {}) });
        cliTimes.set(c.label, [...(cliTimes.get(c.label) ?? []), ...xs]);
      }
      for (const peer of peers) {
        o.log(`start: round ${r + 1}/${o.rounds}: ${peer.name}`);
        await round(peer, tallies.get(peer.name)!, {
          perRound: o.perRound,
          parallel: o.parallel,
          scratch: o.scratch,
          last: false,
          log: o.log,
        });
      }
    }
    f.nodeStart = stats(node);
    f.runcRun = stats(runcRun);
    f.runcSteps = { create: stats(steps.create), start: stats(steps.start), delete: stats(steps.delete) };
    f.runcParallel = stats(parallelFloor);
    f.cliParallel = stats(cliFloor);
    f.cli = [...cliTimes].map(([label, xs]) => ({ label, stats: stats(xs) }));
    f.engines = peers.map((p) => ({ engine: p.name, tally: tallies.get(p.name)! }));
    for (const p of peers) for (const e of tallies.get(p.name)!.errors) errors.push(`${p.name}: ${e}`);
    // The recorder writes every 250 ms.
    await sleep(600);
    const lines = readPhaseLines(phaseLog);
    f.phases = breakdown(tallies.get('berthd')?.api ?? [], lines);
  } finally {
    for (const p of peers.reverse())
      await p.stop().catch((err) => o.log(`start: stopping ${p.name}: ${(err as Error).message}`));
    await bed.cleanup();
  }
  try {
    f.memory = await berthdMemory(o.parallel, o.log);
  } catch (err) {
    errors.push(`memory: ${(err as Error).message.split('\n')[0]}`);
  }
  return f;
}

/**
 * The memory part alone (`start-memory`), `runs` times (each a fresh data root: start, stop, start again, 20
 * containers), for a median: one start's RSS varies by 1–2 MiB with when V8 last collected.
 */
export async function benchStartMemory(o: { runs: number; parallel: number; log: Log }): Promise<MemoryFigures[]> {
  const out: MemoryFigures[] = [];
  for (let i = 0; i < o.runs; i++) {
    o.log(`start-memory: run ${i + 1}/${o.runs}`);
    out.push(await berthdMemory(o.parallel, o.log));
  }
  return out;
}

/** The Markdown of `start-memory`: median (min–max) of each reading. */
export function startMemoryReport(runs: readonly MemoryFigures[], parallel: number): string {
  const mib = (xs: number[]) => {
    const s = stats(xs.map((x) => x / 1024));
    return `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
  };
  const row = (label: string, pick: (m: MemoryFigures) => { rss: number; anon: number; file: number }) => {
    const xs = runs.map(pick);
    return `| ${label} | ${mib(xs.map((x) => x.rss))} | ${mib(xs.map((x) => x.anon))} | ${mib(xs.map((x) => x.file))} |`;
  };
  return [
    `### berthd's RSS (${runs.length} runs: median (min–max), MiB)`,
    '',
    '| reading | VmRSS | RssAnon | RssFile |',
    '|---|---|---|---|',
    row('3 s after a start on a known data root', (m) => m.afterStart),
    row(`3 s after ${parallel} containers came and went`, (m) => m.after20),
    row('floor: `node` idle', (m) => m.nodeIdle),
    row('floor: `node` with the built-ins berthd uses, no Berth code', (m) => m.nodeBuiltins),
    '',
  ].join('\n');
}

// ---- report ---------------------------------------------------------------------------------------------

const ms = (s: Stats | undefined, scale = 1000) =>
  s === undefined || s.n === 0
    ? 'n/a'
    : `${(s.median * scale).toFixed(1)} (${(s.min * scale).toFixed(1)}–${(s.max * scale).toFixed(1)}) ms`;
const median = (xs: readonly number[]) => stats(xs).median;

/** The figures as the Markdown bench/README.md keeps. */
export function startReport(f: StartFigures): string {
  const runc = f.runcRun.median;
  const out = [
    `### Start path (runc; \`--network none\`; ${f.rounds} interleaved rounds × ${f.perRound}: median (min–max))`,
    '',
    '| floor | time |',
    '|---|---|',
    `| Node's own start, \`node -e 0\` | ${ms(f.nodeStart)} |`,
    `| \`runc run\` of \`true\` in a busybox bundle | ${ms(f.runcRun)} |`,
    `| \`runc create\` alone | ${ms(f.runcSteps.create, 1)} |`,
    `| \`runc start\` alone | ${ms(f.runcSteps.start, 1)} |`,
    `| \`runc delete\` alone | ${ms(f.runcSteps.delete, 1)} |`,
    `| ${f.parallel} × \`runc create\` + \`start\` of \`sleep\` at once | ${ms(f.runcParallel, 1)} |`,
    `| ${f.parallel} × \`docker version\` → berthd at once (the CLI processes alone) | ${ms(f.cliParallel, 1)} |`,
    '',
    `| engine | API create | start | wait | delete | API cycle | cycle / \`runc run\` | \`docker run --rm\` | ${f.parallel} \`run -d\` at once |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const parallelOf = new Map<string, number>();
  for (const { engine, tally: t } of f.engines) {
    const cycle = stats(t.api.map((x) => x.total));
    const rm = t.runRm.get(engine === 'podman' ? 'podman' : 'docker') ?? [];
    parallelOf.set(engine, median(t.parallel));
    out.push(
      `| ${engine} | ${ms(stats(t.api.map((x) => x.create)))} | ${ms(stats(t.api.map((x) => x.start)))} | ${ms(stats(t.api.map((x) => x.wait)))} | ${ms(stats(t.api.map((x) => x.remove)))} | **${ms(cycle)}** | **${(cycle.median / runc).toFixed(2)}×** | ${ms(stats(rm))} | ${ms(stats(t.parallel))} |`,
    );
  }
  const berth = f.engines.find((e) => e.engine === 'berthd')?.tally;
  out.push('', '| CLI | time | / Node’s start |', '|---|---|---|');
  for (const c of f.cli)
    out.push(`| ${c.label} | ${ms(c.stats)} | ${(c.stats.median / f.nodeStart.median).toFixed(2)}× |`);
  if (berth) {
    for (const cli of ['berth', 'docker']) {
      const xs = berth.runRm.get(cli);
      if (xs) out.push(`| \`${cli} run --rm --network none busybox true\` → berthd | ${ms(stats(xs))} | |`);
    }
  }
  const pb = parallelOf.get('berthd');
  const pd = parallelOf.get('dockerd');
  out.push(
    '',
    `Ratios: berthd's API cycle / \`runc run\` **${berth ? (median(berth.api.map((x) => x.total)) / runc).toFixed(2) : 'n/a'}×** (goal ≤ 2.5×); ` +
      `${f.parallel} at once, berthd / dockerd **${pb !== undefined && pd !== undefined ? (pb / pd).toFixed(2) : 'n/a'}×** (goal ≤ 0.25×); ` +
      `\`berth version\` / \`node -e 0\` **${f.cli[0] ? (f.cli[0].stats.median / f.nodeStart.median).toFixed(2) : 'n/a'}×** (goal ≤ 2×).`,
    '',
  );
  if (f.phases.length > 0) {
    out.push(
      `#### Where berthd's API cycle goes (${berth?.api.length ?? 0} cycles, ms per cycle: median (min–max))`,
      '',
      '| call | phase | ms |',
      '|---|---|---|',
    );
    for (const call of CALLS) {
      const rows = f.phases.filter((p) => p.call === call).sort((a, b) => b.ms.median - a.ms.median);
      for (const p of rows) out.push(`| ${call} | ${p.phase} | ${ms(p.ms, 1)} |`);
    }
    out.push('');
  }
  if (f.memory) {
    const m = (x: { rss: number; anon: number; file: number }) =>
      `${(x.rss / 1024).toFixed(1)} MiB (anon ${(x.anon / 1024).toFixed(1)}, file ${(x.file / 1024).toFixed(1)})`;
    out.push(
      '| berthd RSS | VmRSS (RssAnon, RssFile) |',
      '|---|---|',
      `| 3 s after a start on a known data root | ${m(f.memory.afterStart)} |`,
      `| 3 s after ${f.parallel} containers came and went | ${m(f.memory.after20)} |`,
      `| floor: \`node\` idle | ${m(f.memory.nodeIdle)} |`,
      `| floor: \`node\` with the built-ins berthd uses (HTTP server, SQLite, crypto, zlib, workers, UDP, a child, inotify), no Berth code | ${m(f.memory.nodeBuiltins)} |`,
      '',
    );
  }
  for (const e of f.errors) out.push(`- ${e}`);
  out.push('');
  return out.join('\n');
}
