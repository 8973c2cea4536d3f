/**
 * The CPU time of the processes that exit during a burst, in nanoseconds, from the kernel's taskstats exit records
 * (bench/lib/exit-cpu.c). /proc/PID/stat gives what a process waited for (cutime + cstime) in 10 ms ticks, each
 * rounded down: for a monitor that waited for one `runc create` of ~15 ms that is most of the figure lost. The exit
 * records give each exiting thread's time on a CPU (the scheduler's sum, as schedstat), and its parent.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
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
  stop(): Promise<{ records: ExitRecord[]; lost: number }>;
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
          return { records, lost };
        },
      });
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`exit-cpu exited (${code}) before it was ready: ${err.trim()}`)));
  });
}

/**
 * ms of CPU of the processes that exited with one of `parents` as their parent (every thread), and of those that
 * exited under them in turn: what the parents waited for, as cutime + cstime counts it, to the nanosecond.
 */
export function exitedUnder(records: readonly ExitRecord[], parents: Iterable<number>): number {
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
  for (const r of taken) ns += r.ns;
  return ns / 1e6;
}
