/**
 * The machine's CPU by kind, for the floors of `start-burst`: /proc/stat's user, system, irq and softirq (all CPUs),
 * and the kernel's own threads (kthreadd's children: kworkers, ksoftirqd, rcu, the rest) from their schedstat, in ns.
 * /proc/stat is sampled at the tick. Without CONFIG_IRQ_TIME_ACCOUNTING (this host's kernel) a tick that lands in an
 * irq or softirq counts there in /proc/stat while the time is also charged to the task it interrupted, so those two
 * kinds may overlap the parties' (by a few ticks); with it, they are charged to no task.
 *
 * And the cheapest spawner for a floor (bench/lib/burst-spawn.c), built once with the system's C compiler.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './engines.ts';

const HZ = 100;

export interface CpuKinds {
  /** ms, all CPUs, from /proc/stat (user includes nice). */
  user: number;
  system: number;
  irq: number;
  softirq: number;
  /** ms on a CPU of the kernel's threads, by kind. */
  kworker: number;
  ksoftirqd: number;
  rcu: number;
  kthreadOther: number;
  /** ms of the whole machine: user + system + irq + softirq + steal. */
  machine: number;
}

export const KINDS = ['user', 'system', 'irq', 'softirq', 'kworker', 'ksoftirqd', 'rcu', 'kthreadOther'] as const;

interface Snapshot {
  stat: number[];
  threads: Map<number, { kind: 'kworker' | 'ksoftirqd' | 'rcu' | 'kthreadOther'; ns: number }>;
}

function kindOf(comm: string): 'kworker' | 'ksoftirqd' | 'rcu' | 'kthreadOther' {
  if (comm.startsWith('kworker')) return 'kworker';
  if (comm.startsWith('ksoftirqd')) return 'ksoftirqd';
  if (comm.startsWith('rcu')) return 'rcu';
  return 'kthreadOther';
}

/** The counters now. */
export function snapshot(): Snapshot {
  const stat = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const threads: Snapshot['threads'] = new Map();
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!Number.isInteger(pid)) continue;
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      const comm = s.slice(s.indexOf('(') + 1, close);
      const ppid = Number(s.slice(close + 2).split(' ')[1]);
      if (pid !== 2 && ppid !== 2) continue;
      const ns = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
      threads.set(pid, { kind: kindOf(comm), ns });
    } catch {
      // the process ended
    }
  }
  return { stat, threads };
}

/** What was spent between two snapshots, ms. Kernel threads made in between count from 0; ended ones are missed. */
export function between(a: Snapshot, b: Snapshot): CpuKinds {
  const d = (i: number) => (((b.stat[i] ?? 0) - (a.stat[i] ?? 0)) * 1000) / HZ;
  const out: CpuKinds = {
    user: d(0) + d(1),
    system: d(2),
    irq: d(5),
    softirq: d(6),
    kworker: 0,
    ksoftirqd: 0,
    rcu: 0,
    kthreadOther: 0,
    machine: d(0) + d(1) + d(2) + d(5) + d(6) + d(7),
  };
  for (const [pid, t] of b.threads) out[t.kind] += (t.ns - (a.threads.get(pid)?.ns ?? 0)) / 1e6;
  return out;
}

/** Builds bench/lib/burst-spawn.c into `dir`; resolves with its path. */
export async function buildSpawner(dir: string): Promise<string> {
  const out = join(dir, 'burst-spawn');
  await promisify(execFile)('cc', ['-O2', '-o', out, join(ROOT, 'bench', 'lib', 'burst-spawn.c')]);
  return out;
}

/** What one `burst-spawn` run printed. */
export interface SpawnedBurst {
  wallMs: number;
  /** the spawner's own CPU, ms */
  selfMs: number;
  /** every first and every second step's CPU, with what each reaped, ms */
  step1Ms: number;
  step2Ms: number;
  /** of which in the kernel (system time), ms */
  step1SysMs: number;
  step2SysMs: number;
  /** what the spawner reaped as a subreaper (runc init's intermediate processes), ms */
  orphansMs: number;
  failed: number;
  /** each job's end: its last step's exit code, -SIGNAL when killed, -1000 when it could not be spawned */
  codes: number[];
}

/** Runs `burst-spawn` (its stdout is the JSON line); rejects on a failed job. */
export async function spawnBurst(
  spawner: string,
  n: number,
  step1: readonly string[],
  step2: readonly string[] = [],
  env?: Record<string, string>,
): Promise<SpawnedBurst> {
  const args = [String(n), ...step1, ...(step2.length > 0 ? ['--', ...step2] : [])];
  let stdout: string;
  try {
    stdout = (await promisify(execFile)(spawner, args, env ? { env: { ...process.env, ...env } } : {})).stdout;
  } catch (err) {
    throw new Error(`burst-spawn ${args.join(' ')}: ${(err as Error).message.slice(0, 300)}`);
  }
  return JSON.parse(stdout) as SpawnedBurst;
}

/**
 * `n` × `argv` at once through `burst-spawn -o dir` (`dir` must exist and be empty; read each job's output with
 * `jobOutputs` afterwards), each job's end in `codes`. Resolves even when jobs failed (the caller checks them);
 * rejects when the spawner gave no report, or ran longer than `timeoutMs` (then it is killed).
 */
export async function spawnCollect(
  spawner: string,
  n: number,
  argv: readonly string[],
  dir: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<SpawnedBurst> {
  const args = ['-o', dir, String(n), ...argv];
  let stdout: string;
  try {
    stdout = (await promisify(execFile)(spawner, args, { env: { ...process.env, ...env }, timeout: timeoutMs })).stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; killed?: boolean };
    // exit status 1: some job failed, and the report is there
    if (e.killed || !e.stdout?.startsWith('{'))
      throw new Error(`burst-spawn ${args.join(' ')}: ${e.message.slice(0, 300)}`);
    stdout = e.stdout;
  }
  return JSON.parse(stdout) as SpawnedBurst;
}

/** What each of `spawnCollect`'s `n` jobs wrote to its stdout and stderr, by job number. */
export function jobOutputs(dir: string, n: number): { outs: string[]; errs: string[] } {
  const text = (f: string) => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      return '';
    }
  };
  const jobs = Array.from({ length: n }, (_, j) => j);
  return { outs: jobs.map((j) => text(`${j}.out`)), errs: jobs.map((j) => text(`${j}.err`)) };
}

/**
 * ms all CPUs spent idle so far, from cpuidle's per-state residency (µs, exact: /proc/stat's idle counts 10 ms
 * ticks); undefined where the kernel has no cpuidle driver.
 */
export function cpuIdleMs(): number | undefined {
  let us = 0;
  let found = false;
  for (const cpu of readdirSync('/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d))) {
    const dir = `/sys/devices/system/cpu/${cpu}/cpuidle`;
    let states: string[];
    try {
      states = readdirSync(dir).filter((s) => s.startsWith('state'));
    } catch {
      continue;
    }
    for (const s of states) {
      us += Number(readFileSync(`${dir}/${s}/time`, 'utf8'));
      found = true;
    }
  }
  return found ? us / 1000 : undefined;
}
