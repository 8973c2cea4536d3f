/**
 * Where `berth compose down -v` (and `up -d`) of the three-service app spend their time, end to end: berthd runs
 * with bench/lib/phase-recorder.ts, so each API request and each phase of its work (runtime calls, unmounts,
 * network and snapshot removal) is logged with its start and end; the CLI is timed from spawn to exit. Printed
 * per round: every phase inside the command's window, in milliseconds from the spawn, and the gaps the client
 * alone accounts for (Node's start and module loading before the first request, the exit after the last).
 * `node bench/compose-phases.ts [--runs N] [--cmd down|up]`.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { appFile } from './compose.ts';
import { BERTH, removeDir, ROOT, startBerthd } from './lib/engines.ts';
import { run, sleep } from './lib/proc.ts';

interface Phase {
  phase: string;
  id: string;
  start: number;
  end: number;
}

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, port: { type: 'string', default: '18931' } },
});
const scratch = await mkdtemp('/tmp/compose-phases-');
const log = join(scratch, 'phases.jsonl');
const berthd = await startBerthd({
  seed: true,
  env: { NODE_OPTIONS: `--import=${join(ROOT, 'bench', 'lib', 'phase-recorder.ts')}`, BERTH_PHASE_LOG: log },
});
const now = (): number => performance.timeOrigin + performance.now();
try {
  const dir = join(scratch, 'app');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'compose.yaml'), appFile(Number(values.port)));
  const cmd = (args: string[]) =>
    run(BERTH, ['-H', berthd.host, 'compose', '--project-directory', dir, '-f', join(dir, 'compose.yaml'), ...args]);
  for (let r = 0; r <= Number(values.runs); r++) {
    const u0 = now();
    await cmd(['-p', 'phases', 'up', '-d']);
    const u1 = now();
    await sleep(500);
    const d0 = now();
    await cmd(['-p', 'phases', 'down', '-v']);
    const d1 = now();
    await sleep(600); // the recorder writes every 250 ms; background teardowns finish
    if (r === 0) continue;
    const all = (await readFile(log, 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('{"phase"'))
      .map((l) => JSON.parse(l) as Phase);
    for (const [what, t0, t1] of [
      ['up -d', u0, u1],
      ['down -v', d0, d1],
    ] as const) {
      const inside = all.filter((p) => p.start >= t0 - 1 && p.start <= t1 + 500).sort((a, b) => a.start - b.start);
      const api = inside.filter((p) => p.phase.startsWith('api '));
      const first = api[0]?.start ?? t0;
      const last = Math.max(...api.map((p) => p.end), t0);
      process.stdout.write(
        `\n${what}, round ${r}: ${(t1 - t0).toFixed(0)} ms; first request at ${(first - t0).toFixed(0)} ms, last answer at ${(last - t0).toFixed(0)} ms, exit at ${(t1 - t0).toFixed(0)} ms (load ${loadavg()[0]!.toFixed(2)})\n`,
      );
      for (const p of inside) {
        process.stdout.write(
          `  ${(p.start - t0).toFixed(1).padStart(7)} +${(p.end - p.start).toFixed(1).padStart(6)}  ${p.phase} ${p.id.slice(0, 12)}\n`,
        );
      }
    }
  }
} finally {
  await berthd.stop();
  await removeDir(scratch);
}
