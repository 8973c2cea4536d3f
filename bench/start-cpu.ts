/**
 * berthd's own CPU per container start, one container at a time: `--runs` interleaved rounds, each creating and
 * starting one `sleep` container (`--network none`) through the Engine API in every berthd (this tree's and, with
 * `--base DIR`, another tree's), with the CPU read around each pair of calls from every thread's schedstat (ns, so
 * no tick rounding) and what berthd reaped meanwhile (the conmons it spawned, /proc ticks). One at a time, a run is
 * not a wait for a CPU, so the figures say what berthd's own code costs; under load each CPU time is inflated by
 * cache misses alike for both trees, which the interleaving shares out. The containers are removed at the end.
 * `node bench/start-cpu.ts [--runs N] [--base DIR]`
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { call } from './lib/api.ts';
import { DOCKER, dockerEnv, type Engine, startBerthd, waitForBusybox } from './lib/engines.ts';
import { cpuMs, run } from './lib/proc.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '30' }, base: { type: 'string' } } });
const runs = Number(values.runs);
const engines: {
  name: string;
  e: Engine & { stop(): Promise<void> };
  cpu: number[];
  reaped: number[];
  ids: string[];
}[] = [];

/** Each thread's CPU time (ms) by thread ID, from its schedstat. */
function perThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** The CPU berthd's threads took between two readings: a thread born in between counts from zero; one that ended is missed. */
function cpuBetween(a: Map<string, number>, b: Map<string, number>): number {
  let sum = 0;
  for (const [tid, ms] of b) sum += ms - (a.get(tid) ?? 0);
  return sum;
}

try {
  for (const [name, bin] of [
    ['berthd', undefined],
    ...(values.base ? [['berthd (base)', join(values.base, 'bin', 'berthd')]] : []),
  ] as [string, string | undefined][]) {
    const e = await startBerthd({ seed: true, ...(bin ? { bin } : {}) });
    await waitForBusybox(dockerEnv(e));
    engines.push({ name, e, cpu: [], reaped: [], ids: [] });
  }
  const one = async (x: (typeof engines)[number]): Promise<void> => {
    const c0 = perThread(x.e.pid);
    const r0 = cpuMs(x.e.pid).reaped;
    const c = (
      await call(x.e.socket, 'POST', '/v1.41/containers/create', {
        Image: 'busybox',
        Cmd: ['sleep', '1000'],
        HostConfig: { NetworkMode: 'none' },
      })
    ).json as { Id: string };
    await call(x.e.socket, 'POST', `/v1.41/containers/${c.Id}/start`);
    x.cpu.push(cpuBetween(c0, perThread(x.e.pid)));
    x.reaped.push(cpuMs(x.e.pid).reaped - r0);
    x.ids.push(c.Id);
  };
  // One untimed container each first (lazy loading, the sealed runtime copy, V8's first compilations).
  for (const x of engines) {
    await one(x);
    x.cpu.length = 0;
    x.reaped.length = 0;
  }
  for (let i = 0; i < runs; i++) for (const x of i % 2 ? [...engines].reverse() : engines) await one(x);
  const sorted = (a: number[]): number[] => [...a].sort((p, q) => p - q);
  for (const x of engines) {
    const s = sorted(x.cpu);
    const mean = x.cpu.reduce((p, q) => p + q, 0) / x.cpu.length;
    const reaped = x.reaped.reduce((p, q) => p + q, 0) / x.reaped.length;
    console.log(
      `${x.name}: CPU per container (create + start) median ${s[s.length >> 1]!.toFixed(2)} ms, mean ${mean.toFixed(2)}, min ${s[0]!.toFixed(2)}; conmon spawned (reaped) mean ${reaped.toFixed(2)} ms (n = ${x.cpu.length})`,
    );
  }
} finally {
  for (const x of engines) {
    if (x.ids.length)
      await run(DOCKER, ['rm', '-f', ...x.ids], { env: dockerEnv(x.e), timeoutMs: 120_000 }).catch(() => {});
    await x.e.stop();
  }
}
