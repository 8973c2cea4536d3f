/**
 * `start-burst`: issue 9's "20 containers started at once", narrowed to that one step so that its time can be
 * accounted for. In interleaved rounds, each visiting every step:
 * - the floors: `parallel` × `runc create` + `start` of `sleep` at once (bench/lib/runc.ts), and `parallel` docker
 *   CLI processes at once (`docker version` → berthd: the CLI's own start and two requests);
 * - the tight floors (bench/lib/tight-floors.ts), among them the CLIs' own floor for `run -d`: `parallel` × `docker
 *   run -d` at once against a stub that answers every request at once (bench/lib/run-stub.ts);
 * - per engine (berthd, dockerd; a second berthd from `--base DIR` when given), `parallel` × `docker run -d
 *   --network none busybox sleep 1000` at once, started by the tight floors' spawner (bench/lib/burst-spawn.c:
 *   posix_spawn, wait4; each CLI checked to have exited 0 and printed an ID), as a shell would start them, and the
 *   same containers created and started through the Engine API by the benchmark's own HTTP client (no CLI
 *   processes), each wall time until the last answer;
 * - during each burst: the machine's CPU time (/proc/stat, both vCPUs), the processes forked meanwhile (machine
 *   wide), the engine's CPU time (berthd: every thread; dockerd: dockerd + containerd, not the shims), and berthd's
 *   main thread from its schedstat: on the CPU, waiting for a CPU, and the rest (waiting on I/O, children, clients);
 * - berthd's per-container timeline, from its `berth:phase` channel (bench/lib/phase-recorder.ts): when each
 *   container's create and start arrived and were answered, and the phases between.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { call, epochMs } from './lib/api.ts';
import { DOCKER, dockerEnv, type Engine, ROOT, startBerthd, startDockerd, waitForBusybox } from './lib/engines.ts';
import { readPhaseLines } from './lib/phases.ts';
import { type PhaseSummary, type TimelineRow, timeline } from './lib/timeline.ts';

export type { PhaseSummary, TimelineRow };
import { childrenOf, cpuMs, machineCpu, run, schedstat, sleep, stats, type Stats } from './lib/proc.ts';
import { processes } from './containers.ts';
import {
  between,
  buildSpawner,
  type CpuKinds,
  cpuIdleMs,
  type SpawnedBurst,
  snapshot,
  spawnCollect,
} from './lib/cpu-kinds.ts';
import { buildExitCpu, exitedUnder, listenExits, processesUnder, underThisProcess } from './lib/exit-cpu.ts';
import { runcBed, runcParallel } from './lib/runc.ts';
import { startRunStub } from './lib/run-stub.ts';
import {
  checkRunBurst,
  checkRunStub,
  cliRunTight,
  cliTight,
  runcTight,
  type TightBed,
  type TightSample,
  tightBed,
  tightReport,
} from './lib/tight-floors.ts';

type Log = (s: string) => void;

/** What one burst cost, beside its wall time. */
export interface BurstSample {
  /** ms */
  wall: number;
  /** ms of CPU time of the whole machine (both vCPUs: at most 2 × wall) during the burst. */
  machineCpu: number;
  /** Processes and threads made on the machine during the burst (/proc/stat `processes`: every user's). */
  forks: number;
  /** ms of CPU time of the engine's own processes (every thread). */
  engineCpu: number;
  /**
   * ms of CPU time, read once every container runs: the monitors' own (conmon, containerd-shim), what they waited
   * for (`runc create`, reaped by the monitor), the containers' processes (runc init before the exec, then
   * `sleep`), and the benchmark's children (the docker CLIs).
   */
  monitorCpu: number;
  runtimeCpu: number;
  /** ms of CPU of the children the engine itself waited for during the burst (berthd: the conmons it spawned). */
  reapedCpu: number;
  /**
   * Whether `runtimeCpu` and `reapedCpu` come from the exit records (ns, bench/lib/exit-cpu.ts); else from the
   * monitors' and the engine's /proc/PID/stat (10 ms ticks, each process's rounded down). With the records, the
   * tick readings beside them.
   */
  exact: boolean;
  runtimeTicks?: number;
  reapedTicks?: number;
  /** ms of CPU of the exit listener itself during the burst (in `machineCpu`); processes under the monitors. */
  listenerCpu?: number;
  runtimeProcs?: number;
  containerCpu: number;
  /** the CLIs' CPU (wait4's, µs: the spawner reaps them), and the spawner's own; the API bursts: 0, none */
  clientCpu: number;
  spawnerCpu?: number;
  /** berthd's main thread: ms on a CPU, ms runnable but waiting for one. */
  mainOnCpu?: number;
  mainRunQueue?: number;
  /** The machine's CPU by kind over the burst (bench/lib/cpu-kinds.ts), and the benchmark's own process's, ms. */
  kinds: CpuKinds;
  benchCpu: number;
  /** ms the CPUs (all of them) were idle during the burst, from cpuidle (exact), when the kernel has it. */
  idleCpu?: number;
  /** The burst's boundaries (epoch ms), to place berthd's phases. */
  t0: number;
  t1: number;
}

export interface BurstFigures {
  rounds: number;
  parallel: number;
  runcFloor: number[];
  cliFloor: number[];
  /** ms of CPU of each floor burst: runc create + start (reaped), the containers' processes, the machine's total. */
  runcFloorCpu: { runtime: number; runtimeTicks?: number; container: number; machine: number; bench: number }[];
  /** ms of CPU of each CLI floor burst: the docker CLIs (reaped), the machine's total. */
  cliFloorCpu: { client: number; clientTicks?: number; machine: number; bench: number }[];
  /** The tight floors (bench/lib/tight-floors.ts): runc from a sealed copy, one cheap spawner, CPU by kind. */
  runcTight: TightSample[];
  /** The same with runc from its file (the self-copy each init makes). */
  runcPlain: TightSample[];
  cliTight: TightSample[];
  /** The CLIs' own floor for `run -d` (bench/lib/run-stub.ts), and what one CLI sent the stub. */
  cliRunTight: TightSample[];
  stubRoutes?: string | undefined;
  /** engine → mode (`cli`: docker run -d; `api`: create + start from the benchmark) → samples. */
  engines: { engine: string; cli: BurstSample[]; api: BurstSample[] }[];
  /** berthd's phases per burst mode, per container (ms from the burst's start). */
  timelines: {
    engine: string;
    mode: 'cli' | 'api';
    rows: TimelineRow[];
    phases: PhaseSummary[];
    calls: PhaseSummary[];
  }[];
  errors: string[];
}

/** The CPU time of an engine's running containers and their monitors (`comm` is the monitor's name). */
function containersCpu(
  monitorComm: string,
  needle: string,
): { monitors: number[]; monitor: number; runtime: number; container: number } {
  let monitor = 0;
  let runtime = 0;
  let container = 0;
  const monitors = processes(monitorComm, needle);
  for (const pid of monitors) {
    const waited = cpuMs(pid).reaped;
    // The monitor's own time in ns (schedstat): a conmon uses less than the 10 ms tick of /proc/PID/stat.
    monitor += schedstat(pid).onCpu / 1e6;
    runtime += waited;
    // From schedstat (ns): /proc/PID/stat read about half of it for these short-lived starts (bench/README.md).
    for (const c of childrenOf(pid)) container += schedstat(c).onCpu / 1e6;
  }
  return { monitors, monitor, runtime, container };
}

/** Runs `fn` (the burst) and measures it; with `exits` (the exit-cpu listener), what exited to the nanosecond. */
async function measured(
  e: { pids: number[]; berthd?: number; monitor: string; needle: string; exits?: string | undefined },
  fn: () => Promise<void>,
): Promise<BurstSample> {
  const engine = () => e.pids.reduce((a, p) => a + schedstat(p).onCpu, 0);
  const listener = e.exits ? await listenExits(e.exits) : undefined;
  const k0 = snapshot();
  const self0 = process.cpuUsage();
  const m0 = machineCpu();
  const c0 = cpuMs('self').reaped;
  const r0 = e.pids.reduce((a, p) => a + cpuMs(p).reaped, 0);
  const e0 = engine();
  const main0 = e.berthd !== undefined ? schedstat(e.berthd, e.berthd) : undefined;
  const i0 = cpuIdleMs();
  const t0 = epochMs();
  await fn();
  const t1 = epochMs();
  const i1 = cpuIdleMs();
  const m1 = machineCpu();
  const self1 = process.cpuUsage(self0);
  const k1 = snapshot();
  const e1 = engine();
  const main1 = e.berthd !== undefined ? schedstat(e.berthd, e.berthd) : undefined;
  const c1 = cpuMs('self').reaped;
  const r1 = e.pids.reduce((a, p) => a + cpuMs(p).reaped, 0);
  const ctr = containersCpu(e.monitor, e.needle);
  // (stopped after the reads above: the listener, a child of this process, is reaped outside the burst's figures)
  const exited = await listener?.stop();
  const exact = exited !== undefined && exited.lost === 0;
  return {
    wall: t1 - t0,
    machineCpu: m1.busy - m0.busy,
    forks: m1.forks - m0.forks,
    engineCpu: (e1 - e0) / 1e6,
    monitorCpu: ctr.monitor,
    runtimeCpu: exact ? exitedUnder(exited.records, ctr.monitors) : ctr.runtime,
    reapedCpu: exact ? exitedUnder(exited.records, e.pids) : r1 - r0,
    exact,
    ...(exact
      ? {
          ...{ runtimeTicks: ctr.runtime, reapedTicks: r1 - r0, listenerCpu: exited.ms },
          runtimeProcs: processesUnder(exited.records, ctr.monitors),
        }
      : {}),
    containerCpu: ctr.container,
    clientCpu: c1 - c0,
    kinds: between(k0, k1),
    benchCpu: (self1.user + self1.system) / 1000,
    ...(i0 !== undefined && i1 !== undefined ? { idleCpu: i1 - i0 } : {}),
    ...(main0 && main1
      ? { mainOnCpu: (main1.onCpu - main0.onCpu) / 1e6, mainRunQueue: (main1.runQueue - main0.runQueue) / 1e6 }
      : {}),
    t0,
    t1,
  };
}

interface Target {
  name: string;
  engine: Engine;
  env: Record<string, string>;
  berthd: boolean;
  /** The exit-cpu listener's path, when it works here. */
  exits?: string | undefined;
}

async function removeAll(t: Target): Promise<void> {
  const ids = (await run(DOCKER, ['ps', '-aq'], { env: t.env })).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await run(DOCKER, ['rm', '-f', ...ids], { env: t.env, timeoutMs: 120_000 });
}

/**
 * One burst of `n` containers: `cli`, `n` × `docker run -d` started by `spawner` (bench/lib/burst-spawn.c, as the
 * floors' CLIs: the benchmark's own process makes one spawn, not `n`); `api`, create + start from this process.
 */
async function burst(t: Target, mode: 'cli' | 'api', n: number, spawner: string): Promise<BurstSample> {
  const out = mode === 'cli' ? await mkdtemp('/tmp/berth-bench-cli-') : '';
  const argv = [DOCKER, 'run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'];
  let spawned: SpawnedBurst | undefined;
  const one = async () => {
    const c = (
      await call(t.engine.socket, 'POST', '/v1.41/containers/create', {
        Image: 'busybox',
        Cmd: ['sleep', '1000'],
        HostConfig: { NetworkMode: 'none' },
      })
    ).json as { Id: string };
    await call(t.engine.socket, 'POST', `/v1.41/containers/${c.Id}/start`);
  };
  try {
    const s = await measured(
      {
        pids: t.engine.pids(),
        ...(t.berthd ? { berthd: t.engine.pid } : {}),
        monitor: t.berthd ? 'conmon' : 'containerd-shim',
        needle: t.engine.dir,
        exits: t.exits,
      },
      mode === 'cli'
        ? async () => void (spawned = await spawnCollect(spawner, n, argv, out, t.env, 120_000))
        : async () => void (await Promise.all(Array.from({ length: n }, one))),
    );
    if (!spawned) return s;
    checkRunBurst(spawned, out, n);
    return { ...s, clientCpu: spawned.step1Ms, spawnerCpu: spawned.selfMs };
  } finally {
    await removeAll(t);
    if (out) await rm(out, { recursive: true, force: true });
  }
}

export async function benchStartBurst(o: {
  rounds: number;
  parallel: number;
  scratch: string;
  log: Log;
  /** A second Berth tree (e.g. main before a change), run beside this one as "berthd (base)". */
  base?: string;
  dockerd?: boolean;
}): Promise<BurstFigures> {
  const errors: string[] = [];
  const phaseLog = join(o.scratch, 'burst-phases.jsonl');
  const basePhaseLog = join(o.scratch, 'burst-phases-base.jsonl');
  await writeFile(phaseLog, '');
  await writeFile(basePhaseLog, '');
  const targets: Target[] = [];
  const bed = await runcBed(await mkdtemp('/tmp/berth-bench-floor-'));
  const f: BurstFigures = {
    rounds: o.rounds,
    parallel: o.parallel,
    runcFloor: [],
    cliFloor: [],
    runcFloorCpu: [],
    cliFloorCpu: [],
    runcTight: [],
    runcPlain: [],
    cliTight: [],
    cliRunTight: [],
    engines: [],
    timelines: [],
    errors,
  };
  const seeded = async (name: string, bin: string | undefined, log: string) => {
    const e = await startBerthd({
      seed: true,
      ...(bin ? { bin } : {}),
      env: { NODE_OPTIONS: `--import=${join(ROOT, 'bench', 'lib', 'phase-recorder.ts')}`, BERTH_PHASE_LOG: log },
    });
    const env = dockerEnv(e);
    await waitForBusybox(env);
    targets.push({ name, engine: e, env, berthd: true });
    return e;
  };
  let tight: TightBed | undefined;
  // one spawner for every burst of CLIs: the tight floors' and the engines' `run -d`
  const spawner = await buildSpawner(o.scratch);
  const stub = await startRunStub(join(await mkdtemp('/tmp/berth-bench-stub-'), 'stub.sock'));
  try {
    f.stubRoutes = await checkRunStub(DOCKER, stub).catch((err) => {
      errors.push(`run -d stub: ${(err as Error).message.split('\n')[0]}`);
      return undefined;
    });
    tight = await tightBed(bed, o.scratch, spawner).catch((err) => {
      errors.push(`tight floors: ${(err as Error).message.split('\n')[0]}`);
      return undefined;
    });
    const berthd = await seeded('berthd', undefined, phaseLog);
    if (o.base) await seeded('berthd (base)', join(o.base, 'bin', 'berthd'), basePhaseLog);
    if (o.dockerd ?? true) {
      const archive = join(o.scratch, 'busybox-burst.tar');
      await run(DOCKER, ['save', '-o', archive, 'busybox'], { env: dockerEnv(berthd) });
      try {
        const d = await startDockerd();
        targets.push({ name: 'dockerd', engine: d, env: dockerEnv(d), berthd: false });
        await run(DOCKER, ['load', '-i', archive], { env: dockerEnv(d) });
      } catch (err) {
        errors.push(`dockerd: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    // the exit records (bench/lib/exit-cpu.ts), tried once: without them the tick readings stay
    const exits = await buildExitCpu(o.scratch)
      .then(async (bin) => {
        await (await listenExits(bin)).stop();
        return bin;
      })
      .catch((err) => {
        errors.push(`exit-cpu (the tick readings stay): ${(err as Error).message.split('\n')[0]}`);
        return undefined;
      });
    for (const t of targets) t.exits = exits;
    const samples = new Map(targets.map((t) => [t.name, { cli: [] as BurstSample[], api: [] as BurstSample[] }]));
    // One untimed warm-up burst each.
    for (const t of targets)
      await burst(t, 'cli', o.parallel, spawner).catch((err) => errors.push(`${t.name}: ${err}`));
    for (let r = 0; r < o.rounds; r++) {
      o.log(`start-burst: round ${r + 1}/${o.rounds}`);
      await sleep(500);
      // the floors' reaped children from the exit records too, when they work (what exited under this process)
      const { v: floor, ms: runcExact } = await underThisProcess(exits, () => runcParallel(bed, o.parallel));
      f.runcFloor.push(floor.wall);
      f.runcFloorCpu.push({
        runtime: runcExact ?? floor.runtimeCpu,
        ...(runcExact !== undefined ? { runtimeTicks: floor.runtimeCpu } : {}),
        container: floor.containerCpu,
        machine: floor.machineCpu,
        bench: floor.benchCpu,
      });
      await sleep(500);
      const env = targets[0]!.env;
      const m1 = machineCpu().busy;
      const c1 = cpuMs('self').reaped;
      const self0 = process.cpuUsage();
      let t0 = 0;
      let cliTicks = 0;
      const { ms: cliExact } = await underThisProcess(exits, async () => {
        t0 = epochMs();
        await Promise.all(Array.from({ length: o.parallel }, () => run(DOCKER, ['version'], { env })));
        f.cliFloor.push(epochMs() - t0);
        // (before the listener, also this process's child, is stopped and reaped)
        cliTicks = cpuMs('self').reaped - c1;
      });
      const self = process.cpuUsage(self0);
      f.cliFloorCpu.push({
        client: cliExact ?? cliTicks,
        ...(cliExact !== undefined ? { clientTicks: cliTicks } : {}),
        machine: machineCpu().busy - m1,
        bench: (self.user + self.system) / 1000,
      });
      if (tight) {
        await sleep(500);
        f.runcTight.push(await runcTight(bed, tight, o.parallel));
        await sleep(500);
        f.runcPlain.push(await runcTight(bed, tight, o.parallel, true));
        await sleep(500);
        const pids = targets[0]!.engine.pids();
        const engineMs = () => pids.reduce((a, p) => a + schedstat(p).onCpu, 0) / 1e6;
        f.cliTight.push(await cliTight(tight, o.parallel, DOCKER, env, engineMs));
        await sleep(500);
        if (f.stubRoutes) f.cliRunTight.push(await cliRunTight(tight, o.parallel, DOCKER, stub));
      }
      for (const mode of ['cli', 'api'] as const) {
        for (const t of targets) {
          await sleep(500);
          try {
            samples.get(t.name)![mode].push(await burst(t, mode, o.parallel, spawner));
          } catch (err) {
            const msg = `${t.name} ${mode}: ${(err as Error).message.split('\n')[0]}`;
            if (!errors.includes(msg)) errors.push(msg);
            o.log(`start-burst: ${msg}`);
          }
        }
      }
    }
    f.engines = targets.map((t) => ({ engine: t.name, ...samples.get(t.name)! }));
    await sleep(600);
    for (const t of targets) {
      if (!t.berthd) continue;
      const file = t.name === 'berthd' ? phaseLog : basePhaseLog;
      const lines = readPhaseLines(file);
      for (const mode of ['cli', 'api'] as const)
        f.timelines.push({ engine: t.name, mode, ...timeline(samples.get(t.name)![mode], lines) });
    }
  } finally {
    for (const t of targets.reverse())
      await t.engine.stop().catch((err) => o.log(`start-burst: stopping ${t.name}: ${(err as Error).message}`));
    tight?.close();
    await stub.stop();
    await rm(join(stub.socket, '..'), { recursive: true, force: true });
    await bed.cleanup();
  }
  return f;
}

// ---- report ---------------------------------------------------------------------------------------------

const f1 = (x: number) => x.toFixed(1);
const msStats = (s: Stats) => (s.n === 0 ? 'n/a' : `${f1(s.median)} (${f1(s.min)}–${f1(s.max)})`);
const med = (xs: readonly number[]) => stats(xs).median;

export function startBurstReport(f: BurstFigures): string {
  const out = [
    `### ${f.parallel} containers at once (${f.rounds} interleaved rounds: median (min–max), ms)`,
    '',
    '| what | wall | machine CPU | processes + threads made (machine-wide) | engine CPU | its children (berthd: the conmons it spawned) | monitors | runtime (`runc create`) | containers (runc init) | clients | berthd main thread on CPU / waiting for a CPU |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    `| floor: ${f.parallel} × \`runc create\` + \`start\` at once | ${msStats(stats(f.runcFloor))} | ${f1(med(f.runcFloorCpu.map((x) => x.machine)))} | | | | | ${f1(med(f.runcFloorCpu.map((x) => x.runtime)))} | ${f1(med(f.runcFloorCpu.map((x) => x.container)))} | | |`,
    `| floor: ${f.parallel} × \`docker version\` → berthd at once | ${msStats(stats(f.cliFloor))} | ${f1(med(f.cliFloorCpu.map((x) => x.machine)))} | | | | | | | ${f1(med(f.cliFloorCpu.map((x) => x.client)))} | |`,
  ];
  const dockerd = f.engines.find((e) => e.engine === 'dockerd');
  const ticks: string[] = [];
  for (const mode of ['cli', 'api'] as const) {
    for (const e of f.engines) {
      const s = e[mode];
      if (s.length === 0) continue;
      const exact = s.filter((x) => x.exact);
      if (exact.length > 0)
        ticks.push(
          `${e.engine} ${mode}: runtime ${f1(med(exact.map((x) => x.runtimeTicks!)))}, children ${f1(med(exact.map((x) => x.reapedTicks!)))} (${exact.length} of ${s.length} bursts; runtime's processes ${med(exact.map((x) => x.runtimeProcs ?? 0))}, each ~1–1.5 ms more by wait4; the listener's own CPU ${f1(med(exact.map((x) => x.listenerCpu ?? 0)))})`,
        );
      const what =
        mode === 'cli'
          ? `\`docker run -d\` × ${f.parallel} → ${e.engine}`
          : `API create + start × ${f.parallel} → ${e.engine}`;
      const main =
        s[0]!.mainOnCpu !== undefined
          ? `${f1(med(s.map((x) => x.mainOnCpu!)))} / ${f1(med(s.map((x) => x.mainRunQueue!)))}`
          : '';
      out.push(
        `| ${what} | **${msStats(stats(s.map((x) => x.wall)))}** | ${f1(med(s.map((x) => x.machineCpu)))} | ${med(s.map((x) => x.forks))} | ${f1(med(s.map((x) => x.engineCpu)))} | ${f1(med(s.map((x) => x.reapedCpu)))} | ${f1(med(s.map((x) => x.monitorCpu)))} | ${f1(med(s.map((x) => x.runtimeCpu)))} | ${f1(med(s.map((x) => x.containerCpu)))} | ${f1(med(s.map((x) => x.clientCpu)))} | ${main} |`,
      );
    }
  }
  const runcTicks = f.runcFloorCpu.filter((x) => x.runtimeTicks !== undefined);
  const cliTicks = f.cliFloorCpu.filter((x) => x.clientTicks !== undefined);
  if (runcTicks.length > 0)
    ticks.unshift(
      `the floors' runc ${f1(med(runcTicks.map((x) => x.runtimeTicks!)))}, CLIs ${f1(med(cliTicks.map((x) => x.clientTicks!)))}`,
    );
  out.push('');
  if (ticks.length > 0)
    out.push(
      `- the runtime column (what the monitors waited for: \`runc create\` and the orphans they reaped), the engine's children's and the floors' runc and CLIs (the benchmark's children) are the exit records' (taskstats, ns on a CPU, bench/lib/exit-cpu.ts) for the bursts that had them; the same from /proc/PID/stat's ticks, each process's rounded down to 10 ms, read: ${ticks.join('; ')}`,
      '',
    );
  if (dockerd) {
    for (const e of f.engines) {
      if (e === dockerd) continue;
      for (const mode of ['cli', 'api'] as const) {
        const a = med(e[mode].map((x) => x.wall));
        const b = med(dockerd[mode].map((x) => x.wall));
        out.push(`- ${e.engine} / dockerd, ${mode === 'cli' ? '`docker run -d`' : 'API'}: **${(a / b).toFixed(2)}×**`);
      }
    }
    const floor = med(f.runcFloor) + med(f.cliFloor);
    const dockerdCli = med(dockerd.cli.map((x) => x.wall));
    out.push(`- floor (runc + CLIs, one after the other) / dockerd's \`run -d\`: ${(floor / dockerdCli).toFixed(2)}×`);
    if (f.runcFloorCpu.length > 0 && f.cliFloorCpu.length > 0) {
      // The CPU that 20 `run -d` need whatever the engine: runc's commands, the containers' processes and the CLIs.
      // On `cpus` CPUs no burst can be shorter than that CPU divided by them, however little the engine does.
      const cpus = availableParallelism();
      const runtime = med(f.runcFloorCpu.map((x) => x.runtime + x.container));
      const clients = med(f.cliFloorCpu.map((x) => x.client));
      const bound = (runtime + clients) / cpus;
      out.push(
        `- the benchmark's own CPU (Node spawning and reaping) during these first floors: ${f1(med(f.runcFloorCpu.map((x) => x.bench)))} ms (runc: 40 commands) and ${f1(med(f.cliFloorCpu.map((x) => x.bench)))} ms (20 CLIs)`,
        `- floor by sum: runc create + start and the containers ${f1(runtime)} ms of CPU, the ${f.parallel} CLIs ${f1(clients)}: ${f1(runtime + clients)} ms of CPU on ${cpus} CPUs, so no \`run -d\` burst under ${f1(bound)} ms = **${(bound / dockerdCli).toFixed(2)}×** dockerd's (goal 0.25×: ${f1(0.25 * dockerdCli)} ms)`,
      );
      for (const e of f.engines) {
        const s = e.cli;
        if (s.length === 0 || e === dockerd) continue;
        const parts = {
          engine: med(s.map((x) => x.engineCpu)),
          'conmons (spawned + monitors)': med(s.map((x) => x.reapedCpu + x.monitorCpu)),
          'runc create': med(s.map((x) => x.runtimeCpu)),
          containers: med(s.map((x) => x.containerCpu)),
          CLIs: med(s.map((x) => x.clientCpu)),
        };
        const sum = Object.values(parts).reduce((a, b) => a + b, 0);
        // What fills the wall above the parties' CPU / cpus: the benchmark's own process, the kernel's threads and
        // interrupts, idle CPUs (cpuidle), and the rest (other load, the ticks' rounding).
        const wall = med(s.map((x) => x.wall));
        const bench = med(s.map((x) => x.benchCpu));
        const spawn = med(s.map((x) => x.spawnerCpu ?? 0));
        const kern = med(s.map((x) => x.kinds.kworker + x.kinds.ksoftirqd + x.kinds.rcu + x.kinds.kthreadOther));
        const irq = med(s.map((x) => x.kinds.irq + x.kinds.softirq));
        const idle = s.every((x) => x.idleCpu !== undefined) ? med(s.map((x) => x.idleCpu!)) : Number.NaN;
        const above = wall * cpus - sum;
        out.push(
          `- ${e.engine}'s \`run -d\` wall above its parties' CPU / ${cpus}: ${f1(above / cpus)} ms = ${f1(above)} ms of CPU time, of it the benchmark's process ${f1(bench)} and its spawner (\`burst-spawn\`, starting and reaping the CLIs) ${f1(spawn)}, the kernel's threads ${f1(kern)}, irq + softirq ${f1(irq)}, **idle CPUs ${f1(idle)}** (cpuidle), the rest ${f1(above - bench - spawn - kern - irq - (Number.isNaN(idle) ? 0 : idle))} (other load, 10 ms ticks)`,
        );
        out.push(
          `- ${e.engine}'s \`run -d\` burst by party, ms of CPU: ${Object.entries(parts)
            .map(([k, v]) => `${k} ${f1(v)}`)
            .join(
              ', ',
            )}: ${f1(sum)} in all, ${f1(sum / cpus)} ms on ${cpus} CPUs against a wall of ${f1(med(s.map((x) => x.wall)))}; the machine's CPU in the burst ${f1(med(s.map((x) => x.machineCpu)))} (other load included)`,
        );
      }
    }
    out.push('');
  }
  out.push(
    ...tightReport(
      f.runcPlain,
      f.runcTight,
      f.cliTight,
      f.parallel,
      availableParallelism(),
      dockerd ? med(dockerd.cli.map((x) => x.wall)) : undefined,
      f.cliRunTight,
      f.stubRoutes,
      (f.engines.find((e) => e.engine === 'berthd')?.cli ?? []).map((x) => ({
        engine: x.engineCpu,
        conmons: x.reapedCpu + x.monitorCpu,
        bench: x.benchCpu + (x.spawnerCpu ?? 0),
        wall: x.wall,
      })),
    ),
    '',
  );
  for (const mode of ['cli', 'api'] as const) {
    for (const e of f.engines) {
      const s = e[mode];
      if (s.length === 0) continue;
      out.push(
        `- ${e.engine}, ${mode === 'cli' ? '`run -d`' : 'API'}: the machine's CPU beside the parties, by kind, ms: the benchmark's process (Node: one run of the spawner, or the API client) ${f1(med(s.map((x) => x.benchCpu)))}${mode === 'cli' ? `, the spawner ${f1(med(s.map((x) => x.spawnerCpu ?? 0)))}` : ''}, kworkers ${f1(med(s.map((x) => x.kinds.kworker)))}, ksoftirqd ${f1(med(s.map((x) => x.kinds.ksoftirqd)))}, rcu ${f1(med(s.map((x) => x.kinds.rcu)))}, other kernel threads ${f1(med(s.map((x) => x.kinds.kthreadOther)))}, irq + softirq ${f1(med(s.map((x) => x.kinds.irq + x.kinds.softirq)))}; /proc/stat user ${f1(med(s.map((x) => x.kinds.user)))}, system ${f1(med(s.map((x) => x.kinds.system)))}`,
      );
    }
  }
  out.push('');
  for (const t of f.timelines) {
    out.push(
      `#### ${t.engine}, ${t.mode === 'cli' ? '`docker run -d`' : 'API create + start'}: per container, ms from the burst's start`,
      '',
      '| mark | ms |',
      '|---|---|',
      ...t.rows.map((r) => `| ${r.mark} | ${msStats(r.ms)} |`),
      '',
      '| phase | per container | summed over a burst |',
      '|---|---|---|',
      ...t.phases.map(
        (p) => `| ${p.phase} | ${msStats(p.perContainer)} | ${p.perBurst.n ? msStats(p.perBurst) : ''} |`,
      ),
      '',
      '| API call (arrival → answer) | each | summed over a burst |',
      '|---|---|---|',
      ...t.calls.map(
        (p) => `| ${p.phase} | ${msStats(p.perContainer)} (n = ${p.perContainer.n}) | ${msStats(p.perBurst)} |`,
      ),
      '',
    );
  }
  for (const e of f.errors) out.push(`- ${e}`);
  out.push('');
  return out.join('\n');
}
