/**
 * The CPU time of the processes that exit during a burst, in nanoseconds, from the kernel's taskstats exit records
 * (bench/lib/exit-cpu.c). /proc/PID/stat gives what a process waited for (cutime + cstime) in 10 ms ticks, each
 * rounded down: for a monitor that waited for one `runc create` of ~15 ms that is most of the figure lost. The exit
 * records give each exiting thread's time on a CPU (the scheduler's sum, as schedstat), and its parent.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './engines.ts';

/** One exited task (thread). */
export interface ExitRecord {
  pid: number;
  tgid: number;
  /** its parent's process ID when it exited */
  ppid: number;
  /** ns on a CPU */
  ns: number;
  comm: string;
}

export async function buildExitCpu(dir: string): Promise<string> {
  const out = join(dir, 'exit-cpu');
  await promisify(execFile)('cc', ['-O2', '-o', out, join(ROOT, 'bench', 'lib', 'exit-cpu.c')]);
  return out;
}

/** A listener started: `stop` ends it (SIGTERM, by its PID) and returns what exited meanwhile. */
export interface ExitListener {
  /** `ms`: the listener's own CPU (it reads every exit on the machine), part of the machine's CPU meanwhile. */
  stop(): Promise<{ records: ExitRecord[]; lost: number; ms: number }>;
}

/** Starts the listener and resolves once it is registered (rejects when taskstats is not available). */
export function listenExits(bin: string): Promise<ExitListener> {
  const child: ChildProcess = spawn(bin, [], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      if (!out.startsWith('ready\n')) return;
      child.stdout!.off('data', onData);
      child.stdout!.on('data', (more: Buffer) => (out += more));
      resolve({
        stop: async () => {
          let ms = 0;
          try {
            ms = Number(readFileSync(`/proc/${child.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
          } catch {
            // gone already
          }
          child.kill('SIGTERM');
          await exited;
          const records: ExitRecord[] = [];
          let lost = 0;
          for (const line of out.split('\n').slice(1)) {
            const f = line.split(' ');
            if (f[0] === 'lost') lost = Number(f[1]);
            else if (f.length >= 5)
              records.push({ pid: +f[0]!, tgid: +f[1]!, ppid: +f[2]!, ns: +f[3]!, comm: f.slice(4).join(' ') });
          }
          return { records, lost, ms };
        },
      });
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`exit-cpu exited (${code}) before it was ready: ${err.trim()}`)));
  });
}

/**
 * ms of CPU of the processes that exited with one of `parents` as their parent (every thread), and of those that
 * exited under them in turn: what the parents waited for, as cutime + cstime counts it, to the nanosecond but for
 * each process's end. The kernel takes the record in do_exit before the process's memory is released, and without
 * the time on the CPU since the scheduler's last update: wait4 gave 1.0–1.5 ms more per process here (20 ×
 * `runc --version`: 108.1 against 88.1 ms; 20 × `docker --version`: 263.4 against 232.7; a shell loop: 437.5
 * against 407.0; 2026-12-07 12:29 UTC, load average 14), against up to 20 ms less per process from the ticks.
 */
export function exitedUnder(records: readonly ExitRecord[], parents: Iterable<number>): number {
  return taskTree(records, parents).ms;
}

/** How many processes `exitedUnder` counts. */
export function processesUnder(records: readonly ExitRecord[], parents: Iterable<number>): number {
  return taskTree(records, parents).processes;
}

function taskTree(records: readonly ExitRecord[], parents: Iterable<number>): { ms: number; processes: number } {
  const under = new Set(parents);
  const taken = new Set<ExitRecord>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of records) {
      if (taken.has(r) || !under.has(r.ppid)) continue;
      taken.add(r);
      if (!under.has(r.tgid)) {
        under.add(r.tgid);
        grew = true;
      }
    }
  }
  let ns = 0;
  const tgids = new Set<number>();
  for (const r of taken) {
    ns += r.ns;
    tgids.add(r.tgid);
  }
  return { ms: ns / 1e6, processes: tgids.size };
}

/**
 * Runs `fn` with a listener (when `bin` is given): its value and, when no record was dropped, the ms of CPU of what
 * exited under this process meanwhile (its children and theirs).
 */
export async function underThisProcess<T>(
  bin: string | undefined,
  fn: () => Promise<T>,
): Promise<{ v: T; ms?: number }> {
  const l = bin ? await listenExits(bin).catch(() => undefined) : undefined;
  const v = await fn();
  const ex = await l?.stop();
  return ex && ex.lost === 0 ? { v, ms: exitedUnder(ex.records, [process.pid]) } : { v };
}
