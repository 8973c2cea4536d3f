/**
 * Micro-benchmark of the runtime driver: create+start+wait+delete of a busybox `true` container under conmon
 * with runc, against `runc run` of the same bundle with no monitor, and the attach + stdin path. Prints numbers,
 * asserts nothing. Run as root: node src/runtime/runtime.bench.ts [--n 30]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { OutputCollector, RUNC, RuntimeTestbed } from './testkit.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '30' } } });
const N = Number(values.n);

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return `median ${at(0.5).toFixed(1)} ms  p90 ${at(0.9).toFixed(1)} ms  min ${s[0]!.toFixed(1)} ms  (n=${s.length})`;
}

function runcRun(root: string, bundle: string, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(RUNC.path, ['--root', root, 'run', '--bundle', bundle, id], { stdio: 'ignore' });
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc run exited ${code}`))));
  });
}

const bed = await RuntimeTestbed.create();
try {
  const d = bed.driver;
  const phases = { create: [] as number[], start: [] as number[], wait: [] as number[], delete: [] as number[] };
  const cycle: number[] = [];
  for (let i = 0; i < N + 2; i++) {
    const { id, bundle } = await bed.bundle({ args: ['true'] });
    const t0 = performance.now();
    await d.create(id, { bundle });
    const t1 = performance.now();
    await d.start(id);
    const t2 = performance.now();
    await d.waitExit(id);
    const t3 = performance.now();
    await d.delete(id);
    const t4 = performance.now();
    if (i < 2) continue; // warm-up
    cycle.push(t4 - t0);
    phases.create.push(t1 - t0);
    phases.start.push(t2 - t1);
    phases.wait.push(t3 - t2);
    phases.delete.push(t4 - t3);
  }
  console.log(`conmon+runc create+start+wait+delete: ${stats(cycle)}`);
  for (const [k, v] of Object.entries(phases)) console.log(`  ${k.padEnd(7)} ${stats(v)}`);

  const direct: number[] = [];
  for (let i = 0; i < N + 2; i++) {
    const { id, bundle } = await bed.bundle({ args: ['true'] });
    const t0 = performance.now();
    await runcRun(d.cli.root, bundle, id);
    if (i >= 2) direct.push(performance.now() - t0);
  }
  console.log(`runc run (no monitor):                ${stats(direct)}`);

  const attached: number[] = [];
  for (let i = 0; i < Math.min(N, 20) + 2; i++) {
    const { id, bundle } = await bed.bundle({ args: ['cat'] });
    const t0 = performance.now();
    await d.create(id, { bundle, stdin: true });
    const s = await d.attach(id);
    const out = new OutputCollector(s.output);
    await d.start(id);
    s.stdin.end('hi\n');
    await d.waitExit(id);
    await out.ended;
    await d.delete(id);
    if (out.stdout !== 'hi\n') throw new Error(`cat said ${JSON.stringify(out.stdout)}`);
    if (i >= 2) attached.push(performance.now() - t0);
  }
  console.log(`attach + 'echo hi | cat' cycle:       ${stats(attached)}`);
} finally {
  await bed.cleanup();
}
