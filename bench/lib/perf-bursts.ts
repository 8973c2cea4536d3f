/**
 * Bursts of containers started at once under `perf record` (bench/burst-perf.ts, bench/burst-idle.ts): one untimed
 * warm-up burst, then each burst after an idle spell, perf started before it and stopped after it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { sleep } from './proc.ts';

/** One recorded burst: its start and end (ms of CLOCK_MONOTONIC, as `process.hrtime`) and perf's data file. */
export interface PerfBurst {
  t0: number;
  t1: number;
  file: string;
}

const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * `bursts` bursts of `size` calls of `one` at once, each under `perf record PERF_ARGS -o DIR/burstN.data`, after
 * one untimed warm-up burst. `clean()` removes what a burst started, after each; before a recorded burst: 1.5 s
 * of quiet, perf given `perfStartMs` to start, then `around()`; after it: `around()` again, then perf stopped.
 */
export async function burstsUnderPerf(opts: {
  bursts: number;
  size?: number;
  one: () => Promise<unknown>;
  clean: () => Promise<void>;
  perfArgs: readonly string[];
  dir: string;
  perfStartMs: number;
  around?: () => Promise<void>;
}): Promise<PerfBurst[]> {
  const burst = () => Promise.all(Array.from({ length: opts.size ?? 20 }, opts.one));
  const out: PerfBurst[] = [];
  await burst();
  await opts.clean();
  for (let b = 0; b < opts.bursts; b++) {
    await sleep(1500);
    const file = join(opts.dir, `burst${b}.data`);
    const perf = spawn('perf', ['record', ...opts.perfArgs, '-o', file], { stdio: ['ignore', 'ignore', 'ignore'] });
    const exited = new Promise((r) => perf.once('exit', r));
    await sleep(opts.perfStartMs);
    await opts.around?.();
    const t0 = monotonicMs();
    await burst();
    const t1 = monotonicMs();
    await opts.around?.();
    out.push({ t0, t1, file });
    perf.kill('SIGINT');
    await exited;
    await opts.clean();
  }
  return out;
}
