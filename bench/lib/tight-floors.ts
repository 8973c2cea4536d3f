/**
 * `start-burst`'s tight floors: the same 20 containers and 20 CLIs as its first floors, but run as berthd runs runc
 * (from a sealed memfd copy, src/sys/memfd.ts, so that no runc init copies itself) and started by the cheapest
 * spawner (bench/lib/burst-spawn.c: one process, posix_spawn, wait4), with the machine's CPU during each accounted by
 * kind (bench/lib/cpu-kinds.ts): the parties, the spawner, the benchmark's own process, the kernel's threads, irq
 * and softirq, and the rest (other load). The kernel threads, irq and softirq are also measured in an idle window
 * just before, so that what the burst adds is shown apart from what runs anyway; and the containers' teardown
 * (`runc delete` of the 20, then 1 s for the kernel's deferred work: netns cleanup, cgroup release) is accounted the
 * same way, though no burst's wall includes it.
 */
import { execFile } from 'node:child_process';
import { cpuUsage } from 'node:process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type SealedProgram, sealedCopy } from '../../src/sys/index.ts';
import {
  between,
  buildSpawner,
  type CpuKinds,
  jobOutputs,
  type SpawnedBurst,
  snapshot,
  spawnBurst,
} from './cpu-kinds.ts';
import { cpuMs, sleep } from './proc.ts';
import type { RuncBed } from './runc.ts';
import type { RunStub } from './run-stub.ts';

/** The spawner and the sealed runc, made once. */
export interface TightBed {
  spawner: string;
  runc: SealedProgram;
  close(): void;
}

/** `spawner`: `burst-spawn` when already built (else built into `dir`). */
export async function tightBed(bed: RuncBed, dir: string, built?: string): Promise<TightBed> {
  const spawner = built ?? (await buildSpawner(dir));
  const runc = await sealedCopy(bed.runc, 'runc');
  return { spawner, runc, close: () => runc.close() };
}

/** One tight floor burst, ms. */
export interface TightSample {
  wall: number;
  /**
   * the parties: runc create / start (or the CLIs as `create`, `start` 0), the containers' processes (their live
   * threads' schedstat, ns: the Go threads runc init had before its exec are not in it)
   */
  create: number;
  start: number;
  containers: number;
  /** the same from /proc/PID/stat, as the first floor reads it (10 ms ticks; it read ~half the schedstat figure here) */
  containersTicks?: number;
  /** runc init's intermediate processes (they make the namespaces), orphaned and reaped by the spawner */
  orphans: number;
  /** of the parties' CPU, the kernel's (system time; the user/system split is sampled at the tick) */
  partiesSys: number;
  spawner: number;
  /** the benchmark's own process (Node: one spawn, the reads) */
  bench: number;
  /** the engine answering (the CLI floor: berthd answering `docker version`) */
  engine: number;
  kinds: CpuKinds;
  /** the same kinds over an idle window just before, scaled to the burst's wall */
  idle: CpuKinds;
  /** the teardown: `runc delete` of the 20 (their CPU) and the machine's kinds over it and 1 s after */
  teardown?: { delete: number; kinds: CpuKinds; idle: CpuKinds };
}

const scale = (k: CpuKinds, f: number): CpuKinds =>
  Object.fromEntries(Object.entries(k).map(([n, v]) => [n, v * f])) as unknown as CpuKinds;

/** ns on a CPU of a process's live threads (schedstat). */
function threadsNs(pid: number): number {
  let ns = 0;
  for (const t of (() => {
    try {
      return readdirSync(`/proc/${pid}/task`);
    } catch {
      return [];
    }
  })()) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended
    }
  }
  return ns;
}

async function idleWindow(ms: number): Promise<CpuKinds> {
  const a = snapshot();
  await sleep(ms);
  return scale(between(a, snapshot()), 1 / ms);
}

/**
 * `n` × `runc create` + `start` of `sleep 1000` from the sealed copy (or, with `plain`, from runc's file: each runc
 * init then copies itself), spawned by `burst-spawn`.
 */
export async function runcTight(bed: RuncBed, t: TightBed, n: number, plain = false): Promise<TightSample> {
  const spec = JSON.parse(await readFile(join(bed.bundle, 'config.json'), 'utf8')) as {
    process: { args: string[] };
    linux: { cgroupsPath: string };
  };
  const dirs = Array.from({ length: n }, (_, i) => join(bed.bundle, '..', `benchtight${i}`));
  for (const [i, dir] of dirs.entries()) {
    await mkdir(dir, { recursive: true });
    spec.process.args = ['sleep', '1000'];
    spec.linux.cgroupsPath = `/berth-bench-floor/benchtight${i}`;
    await writeFile(join(dir, 'config.json'), JSON.stringify(spec));
  }
  const runc = [plain ? bed.runc : t.runc.path, '--root', bed.root];
  const rate = await idleWindow(500);
  const dirT = join(bed.bundle, '..', 'benchtight{}');
  let created = false;
  try {
    const u0 = cpuUsage();
    const s0 = snapshot();
    created = true;
    const b = await spawnBurst(
      t.spawner,
      n,
      [...runc, 'create', '--bundle', dirT, '--pid-file', join(dirT, 'pid'), 'benchtight{}'],
      [...runc, 'start', 'benchtight{}'],
    );
    const s1 = snapshot();
    const u1 = cpuUsage(u0);
    let containers = 0;
    let containersTicks = 0;
    let containersSys = 0;
    for (const dir of dirs) {
      const pid = Number((await readFile(join(dir, 'pid'), 'utf8').catch(() => '0')).trim());
      if (pid > 0) containersTicks += cpuMs(pid).own;
      if (pid > 0) containers += threadsNs(pid) / 1e6;
      const f = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.split(' ');
      if (f) containersSys += (Number(f[12]) * 1000) / 100;
    }
    // The teardown, with its own idle window (the deferred work lands after the deletes return).
    const rateT = await idleWindow(500);
    const s2 = snapshot();
    const d = await spawnBurst(t.spawner, n, [...runc, 'delete', '--force', 'benchtight{}']);
    created = false;
    await sleep(1000);
    const s3 = snapshot();
    const tdMs = d.wallMs + 1000;
    return {
      wall: b.wallMs,
      create: b.step1Ms,
      start: b.step2Ms,
      containers,
      containersTicks,
      orphans: b.orphansMs,
      partiesSys: b.step1SysMs + b.step2SysMs + containersSys,
      spawner: b.selfMs,
      bench: (u1.user + u1.system) / 1000,
      engine: 0,
      kinds: between(s0, s1),
      idle: scale(rate, b.wallMs),
      teardown: { delete: d.step1Ms + d.selfMs, kinds: between(s2, s3), idle: scale(rateT, tdMs) },
    };
  } finally {
    if (created) await spawnBurst(t.spawner, n, [...runc, 'delete', '--force', 'benchtight{}']).catch(() => {});
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `n` × the docker CLI's `argv` at once, spawned by `burst-spawn` (which rejects unless every CLI exits 0), with the
 * machine's CPU by kind; `engineMs` reads the CPU (ms) of whatever answers them.
 */
async function cliBurst(
  t: TightBed,
  n: number,
  argv: string[],
  env: Record<string, string>,
  engineMs: () => number,
): Promise<TightSample> {
  const rate = await idleWindow(500);
  const u0 = cpuUsage();
  const e0 = engineMs();
  const s0 = snapshot();
  const b = await spawnBurst(t.spawner, n, argv, [], env);
  const s1 = snapshot();
  const e1 = engineMs();
  const u1 = cpuUsage(u0);
  return {
    wall: b.wallMs,
    create: b.step1Ms,
    start: 0,
    containers: 0,
    orphans: b.orphansMs,
    partiesSys: b.step1SysMs,
    spawner: b.selfMs,
    bench: (u1.user + u1.system) / 1000,
    engine: e1 - e0,
    kinds: between(s0, s1),
    idle: scale(rate, b.wallMs),
  };
}

/** `n` × `docker version` at once, spawned by `burst-spawn`; `engineMs` reads the engine's CPU (ms). */
export function cliTight(
  t: TightBed,
  n: number,
  docker: string,
  env: Record<string, string>,
  engineMs: () => number,
): Promise<TightSample> {
  return cliBurst(t, n, [docker, 'version'], env, engineMs);
}

/**
 * The CLIs' own floor for `run -d`: `n` × `docker run -d --network none busybox sleep 1000` at once against the stub
 * (bench/lib/run-stub.ts: every request answered at once, no engine work). The stub answers in the benchmark's own
 * process: its CPU is in `bench`. Every burst must have made `n` creates and `n` starts.
 */
export async function cliRunTight(t: TightBed, n: number, docker: string, stub: RunStub): Promise<TightSample> {
  const env = { DOCKER_HOST: stub.host, DOCKER_CONFIG: join(stub.socket, '..', 'docker-config') };
  stub.reset();
  const argv = [docker, 'run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'];
  const sample = await cliBurst(t, n, argv, env, () => 0);
  const starts = stub.routes.get('POST /containers/{id}/start') ?? 0;
  if (stub.ids.length !== n || starts !== n)
    throw new Error(`the stub saw ${stub.ids.length} creates and ${starts} starts, not ${n} of each`);
  return sample;
}

/**
 * One `docker run -d` against the stub, read as a user would: it must exit 0, print the ID the stub gave and nothing
 * on stderr. Resolves with what the CLI sent (routes and counts) or rejects with what differed.
 */
export async function checkRunStub(docker: string, stub: RunStub): Promise<string> {
  stub.reset();
  const env = { ...process.env, DOCKER_HOST: stub.host, DOCKER_CONFIG: join(stub.socket, '..', 'docker-config') };
  const r = await promisify(execFile)(docker, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'], {
    env,
  });
  if (stub.ids.length !== 1 || r.stdout !== `${stub.ids[0]}\n` || r.stderr !== '')
    throw new Error(
      `\`docker run -d\` against the stub printed ${JSON.stringify(r.stdout)} and ${JSON.stringify(r.stderr)}`,
    );
  if (stub.unknown.length > 0) throw new Error(`the stub answered 404 to ${stub.unknown.join(', ')}`);
  return [...stub.routes].map(([route, k]) => `${route}${k > 1 ? ` × ${k}` : ''}`).join(', ');
}

/** Rejects unless every CLI of a `run -d` burst exited 0 and printed a container's ID, as a user would check. */
export function checkRunBurst(b: SpawnedBurst, dir: string, n: number): void {
  const { outs, errs } = jobOutputs(dir, n);
  const bad = outs.flatMap((out, j) =>
    b.codes[j] === 0 && /^[0-9a-f]{64}\n$/.test(out)
      ? []
      : [`CLI ${j}: exit ${b.codes[j]}, stdout ${JSON.stringify(out.slice(0, 80))}, ${errs[j]!.trim().slice(-200)}`],
  );
  if (bad.length > 0) throw new Error(`${bad.length} of ${n} \`docker run -d\` failed: ${bad.join('; ')}`);
}

/** The kernel's share a burst adds over the idle window: its threads, irq and softirq, ms. */
export function kernelExcess(k: CpuKinds, idle: CpuKinds): number {
  return (['kworker', 'ksoftirqd', 'rcu', 'kthreadOther', 'irq', 'softirq'] as const).reduce(
    (a, n) => a + Math.max(0, k[n] - idle[n]),
    0,
  );
}

/** What the floor needs whatever the engine: the parties, the cheapest spawner, the kernel's added work, ms of CPU. */
export function floorCpu(s: TightSample): number {
  return s.create + s.start + s.containers + s.orphans + s.spawner + kernelExcess(s.kinds, s.idle);
}

// ---- report ---------------------------------------------------------------------------------------------

const med = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const f1 = (x: number) => (Number.isNaN(x) ? '' : x.toFixed(1));

/** The tight floors' table and lines; `dockerdCli` is dockerd's `run -d` burst wall in the same rounds (ms). */
export function tightReport(
  plain: readonly TightSample[],
  runc: readonly TightSample[],
  cli: readonly TightSample[],
  n: number,
  cpus: number,
  dockerdCli: number | undefined,
  /** the CLIs' floor for `run -d` against the stub, and what one CLI sent it (checkRunStub) */
  cliRun: readonly TightSample[] = [],
  stubRoutes?: string,
  /** berthd's `run -d` bursts in the same rounds: its own CPU, its conmons', the benchmark's process with its spawner, the wall (ms). */
  berthd: readonly { engine: number; conmons: number; bench: number; wall: number }[] = [],
): string[] {
  if (runc.length === 0 || cli.length === 0) return [];
  const kthreads = ['kworker', 'ksoftirqd', 'rcu', 'kthreadOther', 'irq', 'softirq'] as const;
  const names: Record<(typeof kthreads)[number] | 'user' | 'system', string> = {
    kworker: 'kernel threads: kworkers',
    ksoftirqd: 'kernel threads: ksoftirqd',
    rcu: 'kernel threads: rcu',
    kthreadOther: 'kernel threads: the others',
    irq: '/proc/stat irq',
    softirq: '/proc/stat softirq',
    user: '/proc/stat user (all CPUs)',
    system: '/proc/stat system (all CPUs)',
  };
  const accounted = (s: TightSample) =>
    s.create +
    s.start +
    s.containers +
    s.orphans +
    s.spawner +
    s.bench +
    s.engine +
    kthreads.reduce((a, k) => a + s.kinds[k], 0);
  const td = runc.filter((s) => s.teardown).map((s) => s.teardown!);
  type Col = (s: TightSample) => number;
  const row = (
    what: string,
    a: Col | undefined,
    b: Col | undefined,
    c?: (t: NonNullable<TightSample['teardown']>) => number,
  ) =>
    `| ${what} | ${a ? f1(med(runc.map(a))) : ''} | ${b ? f1(med(cli.map(b))) : ''} | ${b ? f1(med(cliRun.map(b))) : ''} | ${c && td.length ? f1(med(td.map(c))) : ''} |`;
  /** A row whose two floors read the same field. */
  const both = (what: string, col: Col, c?: (t: NonNullable<TightSample['teardown']>) => number) =>
    row(what, col, col, c);
  const out = [
    '',
    `#### Tight floors: runc from a sealed copy, one spawner (\`burst-spawn\`: posix_spawn + wait4), the machine's CPU by kind (median of ${runc.length}, ms; "idle" is the same kind over an idle window just before, scaled to the same length)`,
    '',
    `| kind | ${n} × \`runc create\` + \`start\` | ${n} × \`docker version\` → berthd | ${n} × \`docker run -d\` → a stub answering at once | teardown: ${n} × \`runc delete\` + 1 s |`,
    '|---|---|---|---|---|',
    both('wall', (s) => s.wall),
    both(
      'parties: `runc create` (with what it reaped) / the CLIs',
      (s) => s.create,
      (t) => t.delete,
    ),
    row('parties: `runc start`', (s) => s.start, undefined),
    row('parties: the containers (runc init, then `sleep`; schedstat)', (s) => s.containers, undefined),
    row('the same from /proc/PID/stat, as the first floor reads it', (s) => s.containersTicks ?? 0, undefined),
    both("of the parties', the kernel's (system time)", (s) => s.partiesSys),
    both('the spawner (`burst-spawn`)', (s) => s.spawner),
    both("the benchmark's own process (Node; for the stub's column, with the stub's answers)", (s) => s.bench),
    row('berthd answering (the stub: 0, in the row above)', undefined, (s) => s.engine),
  ];
  for (const k of kthreads) {
    out.push(
      both(
        names[k],
        (s) => s.kinds[k],
        (t) => t.kinds[k],
      ),
    );
    out.push(
      both(
        `${names[k]}, idle`,
        (s) => s.idle[k],
        (t) => t.idle[k],
      ),
    );
  }
  for (const k of ['user', 'system'] as const)
    out.push(
      both(
        names[k],
        (s) => s.kinds[k],
        (t) => t.kinds[k],
      ),
    );
  out.push(
    both(
      'machine (user + system + irq + softirq + steal)',
      (s) => s.kinds.machine,
      (t) => t.kinds.machine,
    ),
    both(
      'machine, idle',
      (s) => s.idle.machine,
      (t) => t.idle.machine,
    ),
    both('the rest (machine − the rows above: other load)', (s) => s.kinds.machine - accounted(s)),
    '',
  );
  const r = med(runc.map(floorCpu));
  const c = med(cli.map(floorCpu));
  const mr = med(runc.map((s) => s.kinds.machine));
  const mc = med(cli.map((s) => s.kinds.machine));
  const ratio = (ms: number) => (dockerdCli ? ` = **${(ms / dockerdCli).toFixed(2)}×** dockerd's \`run -d\`` : '');
  out.push(
    `- tight floor by sum: runc's parties + spawner + the kernel's added work ${f1(r)} ms of CPU, the CLIs' ${f1(c)} (berthd's answers left out): ${f1(r + c)} on ${cpus} CPUs, no \`run -d\` burst under ${f1((r + c) / cpus)} ms${ratio((r + c) / cpus)}${dockerdCli ? ` (goal 0.25×: ${f1(0.25 * dockerdCli)} ms)` : ''}`,
    `- tight floor by each floor's whole machine CPU (other load included): ${f1(mr)} + ${f1(mc)} on ${cpus} CPUs = ${f1((mr + mc) / cpus)} ms${ratio((mr + mc) / cpus)}; walls one after the other ${f1(med(runc.map((s) => s.wall)) + med(cli.map((s) => s.wall)))} ms${ratio(med(runc.map((s) => s.wall)) + med(cli.map((s) => s.wall)))}`,
    `- per container, ms of CPU: runc create + start ${f1(med(runc.map((s) => (s.create + s.start) / n)))}, the container ${f1(med(runc.map((s) => s.containers / n)))}, of which the kernel's in the parties' own context (namespaces, mounts, cgroup, seccomp, exec) ${f1(med(runc.map((s) => s.partiesSys / n)))}; the kernel's threads + irq + softirq added ${f1(med(runc.map((s) => kernelExcess(s.kinds, s.idle) / n)))}; teardown: \`runc delete\` ${f1(med(td.map((t) => t.delete / n)))}, the kernel's deferred work added ${f1(med(td.map((t) => kernelExcess(t.kinds, t.idle) / n)))}`,
  );
  if (cliRun.length > 0) {
    const cr = med(cliRun.map(floorCpu));
    const cpuOf = (xs: readonly TightSample[]) => med(xs.map((s) => s.create));
    const bound = (r + cr) / cpus;
    out.push(
      `- the CLIs' own floor for \`run -d\`: ${n} × \`docker run -d --network none busybox sleep 1000\` at once against a stub that answers every request at once (bench/lib/run-stub.ts; each CLI sent ${stubRoutes ?? 'n/a'}; each exits 0 and prints the ID it was given): wall ${f1(med(cliRun.map((s) => s.wall)))} ms, the CLIs' CPU ${f1(cpuOf(cliRun))} ms (${f1(cpuOf(cliRun) / n)} each) against ${f1(cpuOf(cli))} for \`docker version\` (${(cpuOf(cliRun) / cpuOf(cli)).toFixed(2)}×); with the spawner and the kernel's added work ${f1(cr)}`,
      `- tight floor by sum with the \`run -d\` CLIs: runc's ${f1(r)} + the CLIs' ${f1(cr)} = ${f1(r + cr)} ms of CPU on ${cpus} CPUs, no \`run -d\` burst under ${f1(bound)} ms${ratio(bound)}${dockerdCli ? `; the goal (0.25×: ${f1(0.25 * dockerdCli)} ms) leaves an engine (its own CPU, its monitors', the benchmark's and other load) ${f1(0.25 * dockerdCli * cpus - r - cr)} ms of CPU in all, ${f1(0.25 * dockerdCli - bound)} ms on ${cpus} CPUs` : ''}`,
    );
  }
  if (cliRun.length > 0 && dockerdCli) {
    // berthd on runc runs no `runc start` process: it starts each container through runc's exec fifo, so its floor
    // is runc's without the `start` column (the kernel's added work, spawner and containers kept), plus the CLIs'.
    const rb = med(runc.map((s) => floorCpu(s) - s.start));
    const cr = med(cliRun.map(floorCpu));
    const bound = (rb + cr) / cpus;
    const left = 0.25 * dockerdCli * cpus - rb - cr;
    const b = (g: (x: (typeof berthd)[number]) => number) => med(berthd.map(g));
    const used = berthd.length > 0 ? b((x) => x.engine + x.conmons) : Number.NaN;
    out.push(
      `- **berthd's floor on runc** (what berthd runs when its runtime is runc: \`runc create\` and the containers as above, no \`runc start\`, which berthd does through runc's exec fifo, and the \`run -d\` CLIs; berthd's default is crun where it works, whose create and containers cost less, so its bursts can go under this floor): ${f1(rb)} + ${f1(cr)} = ${f1(rb + cr)} ms of CPU on ${cpus} CPUs, no berthd \`run -d\` burst under ${f1(bound)} ms${ratio(bound)}; the goal (0.25×: ${f1(0.25 * dockerdCli)} ms) leaves an engine ${f1(left)} ms of CPU per burst (${f1(left / n)} per container) for its own work, its monitors', the benchmark's spawning and any idle CPU${
        berthd.length > 0
          ? `; berthd in the same rounds: itself ${f1(b((x) => x.engine))}, its conmons ${f1(b((x) => x.conmons))} (= ${f1(used)}, ${f1(used / n)} per container), the benchmark's process and its spawner ${f1(b((x) => x.bench))}, wall ${f1(b((x) => x.wall))} ms against its floor's ${f1(bound)} + (berthd + conmons) / ${cpus} = ${f1(bound + used / cpus)}`
          : ''
      }`,
    );
  }
  if (plain.length > 0) {
    const p = (g: (s: TightSample) => number) => f1(med(plain.map(g)));
    out.push(
      `- the same runc floor with runc run from its file (each runc init copies itself first), same spawner and rounds: wall ${p((s) => s.wall)} ms, \`runc create\` ${p((s) => s.create)}, \`start\` ${p((s) => s.start)}, the containers ${p((s) => s.containers)}, of the parties' the kernel's ${p((s) => s.partiesSys)}, machine ${p((s) => s.kinds.machine)} ms of CPU`,
    );
  }
  return out;
}
