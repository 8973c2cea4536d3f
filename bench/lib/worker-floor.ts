/**
 * Node's own floor for an unpack thread's start (bench/pull-timeline.ts --after-start): an empty worker started in a
 * fresh `node` with berthd's V8 flags (read from bin/berthd's node line), the time from `new Worker` to its 'online'
 * event and its thread's CPU by its first line of JavaScript: Node's bootstrap of an isolate, which no code of Berth's
 * runs in. No timing is asserted.
 */
import { readFileSync } from 'node:fs';
import { BERTHD, NODE } from './engines.ts';
import { run, stats } from './proc.ts';

/** The flags bin/berthd gives node (its `--import` preload aside: the empty worker loads no module of Berth's). */
export function berthdNodeFlags(): string[] {
  const line = readFileSync(BERTHD, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('exec "$node"'));
  if (!line) throw new Error(`${BERTHD}: no 'exec "$node"' line to read berthd's node flags from`);
  return line.split(/\s+/).filter((t) => /^--[a-z][a-z-]*(=\S+)?$/.test(t) && t !== '--import');
}

const PROBE = `
import { Worker } from 'node:worker_threads';
await new Promise((r) => setTimeout(r, 100));
const t0 = performance.now();
let online = 0;
const w = new Worker("const u = process.threadCpuUsage(); process.getBuiltinModule('node:worker_threads').parentPort.postMessage((u.user + u.system) / 1000)", { eval: true });
w.once('online', () => (online = performance.now() - t0));
w.once('message', (cpu) => { console.log(JSON.stringify({ online, cpu })); void w.terminate(); });
`;

/** Medians of `n` empty workers' starts, each in a node of its own. */
export async function workerFloor(n: number): Promise<{ onlineMs: number; cpuMs: number }> {
  const xs: { online: number; cpu: number }[] = [];
  for (let i = 0; i < n; i++) {
    const r = await run(NODE, [...berthdNodeFlags(), '--input-type=module', '-e', PROBE]);
    xs.push(JSON.parse(r.stdout.trim().split('\n').pop()!));
  }
  return { onlineMs: stats(xs.map((x) => x.online)).median, cpuMs: stats(xs.map((x) => x.cpu)).median };
}
