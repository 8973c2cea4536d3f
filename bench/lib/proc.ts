/** Process helpers for the benchmarks: running commands, timing them, reading memory from /proc, statistics. */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { statFields } from '../../src/runtime/process.ts';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, in seconds. */
  seconds: number;
}

/**
 * Runs a command to its end; throws with its output when it exits non-zero (unless `allowFail`). With
 * `timeoutMs`, the command is killed (SIGKILL) and an error thrown when it runs longer.
 */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; allowFail?: boolean; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const p = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            p.kill('SIGKILL');
          }, opts.timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${opts.timeoutMs! / 1000} s (killed)`));
        return;
      }
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const r = { code: code ?? -1, stdout, stderr, seconds };
      if (r.code !== 0 && !opts.allowFail) {
        reject(
          new Error(`${cmd} ${args.join(' ')} exited with ${r.code}:\n${stderr.slice(-2000)}${stdout.slice(-2000)}`),
        );
      } else {
        resolve(r);
      }
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** /proc/PID/stat's fields after the command (the state first, as `statFields` numbers them); undefined once gone. */
export function procStat(pid: number | 'self'): string[] | undefined {
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** True while a process with this PID exists (and is not a zombie). */
export function alive(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM), or undefined when the process is gone. */
export function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A process's idle RSS in MiB: the least VmRSS over a second, `afterMs` from now (at a high load average a
 * daemon's start-up is still settling 3 s after it answers, and a single sample then read ~30 MiB high).
 */
export async function idleRssMiB(pid: number, afterMs = 5000): Promise<number> {
  await sleep(afterMs);
  let idle = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++, await sleep(100)) idle = Math.min(idle, (statusKiB(pid, 'VmRSS') ?? 0) / 1024);
  return idle;
}

/** Resets a process's peak RSS (VmHWM) to its current RSS (Linux ≥ 4.0: `echo 5 > /proc/PID/clear_refs`). */
export async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

/** Clock ticks per second of /proc/PID/stat and /proc/stat. */
const HZ = 100;

/**
 * ms of CPU of a process, from one read of /proc/PID/stat: its own (utime + stime, all threads) and that of the
 * children it waited for (cutime + cstime); zeros once it is gone.
 */
export function cpuMs(pid: number | 'self'): { own: number; reaped: number } {
  const f = procStat(pid)?.map(Number);
  // After the command: state(0) … utime(11) stime(12) cutime(13) cstime(14).
  if (f === undefined) return { own: 0, reaped: 0 };
  return { own: ((f[11]! + f[12]!) * 1000) / HZ, reaped: ((f[13]! + f[14]!) * 1000) / HZ };
}

/**
 * CPU seconds (user + system, all threads, and children that were waited for) used so far by some processes, from
 * /proc/PID/stat; a process that is gone counts 0.
 */
export function cpuSeconds(pids: number[]): number {
  let ms = 0;
  for (const pid of pids) {
    const c = cpuMs(pid);
    ms += c.own + c.reaped;
  }
  return ms / 1000;
}

/**
 * Waits until the machine is idle: under `maxBusy` of one CPU busy (/proc/stat) over a 200 ms window, or `maxMs` in
 * all; resolves with how long it waited. For a step that should not run into what the step before left going (an
 * engine's removal of an image, its collector, the kernel's writeback).
 */
export async function settle(maxBusy = 0.1, maxMs = 5000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const a = machineBusy();
    await sleep(200);
    if ((machineBusy() - a) / 200 < maxBusy || performance.now() - t0 > maxMs) return performance.now() - t0;
  }
}

/** ms of CPU the whole machine has spent, from /proc/stat's text (every CPU, idle and iowait left out). */
export function machineBusy(stat = readFileSync('/proc/stat', 'utf8')): number {
  const f = stat.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return ((f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) * 1000) / HZ;
}

/**
 * Per kind of thread of a process (by thread name): CPU seconds, seconds spent runnable but waiting for a CPU (the
 * run queue), and how many times it was put on a CPU, from `/proc/PID/task/TID/schedstat` (nanoseconds), with the
 * number of threads of that name. Threads that ended are missed.
 */
export function threadSched(pid: number): Record<string, { cpu: number; wait: number; runs: number; n: number }> {
  const out: Record<string, { cpu: number; wait: number; runs: number; n: number }> = {};
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      const [cpu, wait, runs] = readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const o = (out[name] ??= { cpu: 0, wait: 0, runs: 0, n: 0 });
      o.cpu += (cpu ?? 0) / 1e9;
      o.wait += (wait ?? 0) / 1e9;
      o.runs += runs ?? 0;
      o.n++;
    } catch {
      // the thread ended
    }
  }
  return out;
}

/**
 * Whether berthd `pid` runs an unpack thread (named `unpack-reader` / `unpack-applier`: src/snapshots/pool.ts). A
 * cold step checks it after its pull, so that renamed threads cannot make it silently warm.
 */
export function hasUnpackThreads(pid: number): boolean {
  return Object.keys(threadSched(pid)).some((n) => n.startsWith('unpack-'));
}

/**
 * How long after a berthd's last pull its "after idle" pull comes: its idle stop (IDLE_MS, 10 s in
 * src/snapshots/pool.ts) has run by then, with a margin.
 */
export const AFTER_IDLE_MS = 12_000;

/** The unpack threads berthd `pid` runs now, by kind. */
export function unpackThreads(pid: number): { readers: number; appliers: number } {
  const t = threadSched(pid);
  return { readers: t['unpack-reader']?.n ?? 0, appliers: t['unpack-applier']?.n ?? 0 };
}

/**
 * Waits until `AFTER_IDLE_MS` after `since` (a `performance.now()` at or after berthd `pid`'s last pull), so that
 * the next pull is one after an idle spell, then checks that the idle stop ran: no applier and at most one reader
 * thread (the one kept for small layers, src/snapshots/pool.ts; none in a tree before it), else throws (a daemon
 * whose idle stop does not run, or threads renamed, would make the step silently warm). Resolves with the readers
 * left (0 or 1).
 */
export async function afterIdle(pid: number, since: number): Promise<number> {
  await sleep(Math.max(0, since + AFTER_IDLE_MS - performance.now()));
  const t = unpackThreads(pid);
  if (t.appliers > 0 || t.readers > 1)
    throw new Error(`berthd ${pid}: ${t.readers} readers and ${t.appliers} appliers ${AFTER_IDLE_MS} ms after a pull`);
  return t.readers;
}

/**
 * How long after a restarted berthd answers its "first pull after a daemon start" comes: its start's own work
 * (module loads, the stores' first reads) settled, as a pull a while after the daemon's start finds it.
 */
export const AFTER_START_MS = 2000;

/** PIDs of a process's direct children (spawned by any of its threads). */
export function childrenOf(pid: number): number[] {
  const out = new Set<number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/))
        if (c) out.add(Number(c));
    } catch {
      // the thread ended
    }
  }
  return [...out];
}

/** The command name of a process (`/proc/PID/comm`), or '' when it is gone. */
export function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * Samples the summed VmRSS of some processes every `everyMs` until stopped; `stop()` returns the largest sum
 * seen, in KiB.
 */
export function sampleRss(pids: number[], everyMs = 20): { stop(): number } {
  let peak = 0;
  const take = () => {
    let sum = 0;
    for (const pid of pids) sum += statusKiB(pid, 'VmRSS') ?? 0;
    peak = Math.max(peak, sum);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}

/** Sends a signal and waits for the process to be gone; SIGKILL after `graceMs`. */
export async function stopPid(pid: number, graceMs = 15_000): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    while (alive(pid)) await sleep(50);
  }
}

/** GET /_ping on a unix socket: true on a 200. */
export function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET' }, (r) => {
      r.resume();
      resolve(r.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

export interface Stats {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stats(xs: readonly number[]): Stats {
  if (xs.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/** "median (min–max)" with the given number of decimals. */
/**
 * The CPU seconds each kind of thread of `pid` used since `before` (a `threadSched(pid)` taken then), by thread name,
 * and their sum.
 */
export function threadCpuSince(
  pid: number,
  before: ReturnType<typeof threadSched>,
): { threads: Record<string, number>; cpu: number } {
  const threads: Record<string, number> = {};
  let cpu = 0;
  for (const [k, v] of Object.entries(threadSched(pid))) {
    threads[k] = v.cpu - (before[k]?.cpu ?? 0);
    cpu += threads[k];
  }
  return { threads, cpu };
}

/**
 * Per-thread CPU over samples (each a thread name → seconds map): every thread's median, those of at least `min`
 * seconds, as "name 0.123; …" (pull-cold-ab and pull-idle-seq print it beside each case).
 */
export function threadMedians(xs: readonly { threads: Record<string, number> }[], min: number): string {
  const names = new Set(xs.flatMap((x) => Object.keys(x.threads)));
  return [...names]
    .map((n) => ({ n, cpu: stats(xs.map((x) => x.threads[n] ?? 0)).median }))
    .filter((t) => t.cpu >= min)
    .map((t) => `${t.n} ${t.cpu.toFixed(3)}`)
    .join('; ');
}

export function fmt(s: Stats, decimals = 2): string {
  if (s.n === 0) return 'n/a';
  return `${s.median.toFixed(decimals)} (${s.min.toFixed(decimals)}–${s.max.toFixed(decimals)})`;
}

export const MiB = 1 << 20;

/** A promise that rejects with `what` named when `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** ns on a CPU and ns waiting for one, summed over a process's threads (or one thread with `tid`). */
export function schedstat(pid: number, tid?: number): { onCpu: number; runQueue: number } {
  let onCpu = 0;
  let runQueue = 0;
  let tasks: string[];
  try {
    tasks = tid !== undefined ? [String(tid)] : readdirSync(`/proc/${pid}/task`);
  } catch {
    return { onCpu, runQueue };
  }
  for (const t of tasks) {
    try {
      const [a, b] = readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').trim().split(' ').map(Number);
      onCpu += a!;
      runQueue += b!;
    } catch {
      // the thread ended
    }
  }
  return { onCpu, runQueue };
}

/** The machine's busy CPU so far (ms, /proc/stat) and the processes and threads made since boot. */
export function machineCpu(): { busy: number; forks: number } {
  const s = readFileSync('/proc/stat', 'utf8');
  return { busy: machineBusy(s), forks: Number(/^processes (\d+)/m.exec(s)?.[1] ?? 0) };
}
