/**
 * berthd under `node --cpu-prof` through `--bursts` bursts of 20 `docker run -d --network none busybox sleep` (one
 * untimed warm-up first, its samples included): where the main thread's time goes while 20 starts arrive at once.
 * `node bench/burst-profile.ts [--bursts N] [--tree DIR] [--one-by-one]`; prints self time by function and by file.
 * `--one-by-one` runs each burst's 20 containers one after another: berthd's own cost per container, without the
 * waits for a CPU that 20 at once add to every function's samples.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DOCKER, dockerEnv, startBerthd, useTree, waitForBusybox } from './lib/engines.ts';
import { run } from './lib/proc.ts';
import { readFile } from 'node:fs/promises';

const { values } = parseArgs({
  options: { bursts: { type: 'string', default: '3' }, tree: { type: 'string' }, 'one-by-one': { type: 'boolean' } },
});
if (values.tree) useTree(values.tree);
/** The bursts, in µs of the monotonic clock V8's profiles use. */
const windows: [number, number][] = [];
const dir = await mkdtemp('/tmp/berth-bench-prof-');
const e = await startBerthd({ seed: true, nodeArgs: ['--max-semi-space-size=1', '--cpu-prof', '--cpu-prof-dir', dir] });
try {
  const env = dockerEnv(e);
  await waitForBusybox(env);
  for (let b = 0; b <= Number(values.bursts); b++) {
    const t0 = performance.now();
    const w0 = process.hrtime.bigint() / 1000n;
    const one = () => run(DOCKER, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'], { env });
    if (values['one-by-one']) for (let i = 0; i < 20; i++) await one();
    else await Promise.all(Array.from({ length: 20 }, one));
    process.stderr.write(`burst ${b}: ${(performance.now() - t0).toFixed(0)} ms\n`);
    if (b > 0) windows.push([Number(w0), Number(process.hrtime.bigint() / 1000n)]);
    const ids = (await run(DOCKER, ['ps', '-aq'], { env })).stdout.split('\n').filter(Boolean);
    if (ids.length) await run(DOCKER, ['rm', '-f', ...ids], { env });
  }
} finally {
  await e.stop();
}
const [file] = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile in ${dir}`);
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const p = JSON.parse(await readFile(join(dir, file), 'utf8')) as {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
};
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<string, number>();
/** Self time by function and the nearest two of its callers in Berth's own source: who pays for a native call. */
const callers = new Map<string, number>();
const total = new Map<string, number>();
let t = p.startTime;
let busy = 0;
let wall = 0;
for (const [a, b] of windows) wall += b - a;
const label = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^file:\/\/.*?\/src\//, 'src/')}:${n.callFrame.lineNumber + 1}`;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i]!;
  const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
  if (!windows.some(([a, b]) => t >= a && t <= b)) continue;
  const n = byId.get(p.samples[i]!);
  if (!n || n.callFrame.functionName === '(idle)') continue;
  busy += dt;
  self.set(label(n), (self.get(label(n)) ?? 0) + dt);
  const ours: string[] = [];
  for (let id = parent.get(n.id); id !== undefined && ours.length < 2; id = parent.get(id)) {
    const f = byId.get(id)!;
    if (f.callFrame.url.includes('/src/')) ours.push(label(f));
  }
  const ck = `${label(n)}  <-  ${ours.join('  <-  ')}`;
  callers.set(ck, (callers.get(ck) ?? 0) + dt);
  const seen = new Set<string>();
  for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
    const k = label(byId.get(id)!);
    if (seen.has(k)) continue;
    seen.add(k);
    total.set(k, (total.get(k) ?? 0) + dt);
  }
}
const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
console.log(`${windows.length} bursts, ${(wall / 1000).toFixed(0)} ms; main thread busy ${busy.toFixed(0)} ms`);
console.log('\nself time');
for (const [k, v] of top(self, 35)) console.log(`${v.toFixed(1).padStart(8)} ms  ${k}`);
console.log('\nself time by its nearest callers in src/');
for (const [k, v] of top(callers, 30)) console.log(`${v.toFixed(1).padStart(8)} ms  ${k}`);
console.log('\ntotal time (inclusive)');
for (const [k, v] of top(total, 60)) console.log(`${v.toFixed(1).padStart(8)} ms  ${k}`);
await rm(dir, { recursive: true, force: true });
