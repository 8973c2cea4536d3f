/**
 * Why the docker CLIs of a `run -d` burst take more CPU against an engine than against the stub that answers at
 * once (issue 9): `--parallel` × `docker run -d --network none busybox sleep 1000` at once, spawned by
 * bench/lib/burst-spawn.c (each CLI's CPU from wait4, µs), against bench/lib/run-stub.ts answering at once, or
 * holding its create and start answers as an engine would (`--delays C/S`, ms), each with and without other work on
 * the CPUs (`--busy N`: N busy shell loops at nice 0, which keep the CPUs from idling but touch little memory; and N
 * loops of `runc --version`, which, like runc and the containers beside the CLIs in a real burst, exec a Go binary
 * over and over), in interleaved rounds. Prints the CLIs' CPU per burst and per CLI, of it the kernel's, and the
 * wall.
 * `node bench/cli-wait.ts [--rounds 5] [--parallel 20] [--delays 150/300,400/400] [--busy 2]`
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSpawner, spawnBurst } from './lib/cpu-kinds.ts';
import { RUNC } from '../src/runtime/testkit.ts';
import { DOCKER } from './lib/engines.ts';
import { cpuMs, run, sleep } from './lib/proc.ts';
import { type RunStub, startRunStub } from './lib/run-stub.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    parallel: { type: 'string', default: '20' },
    delays: { type: 'string', default: '150/300,400/400' },
    busy: { type: 'string', default: '2' },
    node: { type: 'boolean', default: true },
  },
});
const rounds = Number(values.rounds);
const n = Number(values.parallel);
const busy = Number(values.busy);
const bySpawner = values.node;
const delays = [
  [0, 0],
  ...values.delays
    .split(',')
    .filter(Boolean)
    .map((d) => d.split('/').map(Number)),
] as [number, number][];

const load = async (): Promise<string> => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const dir = await mkdtemp('/tmp/berth-cli-wait-');
const stubs: RunStub[] = [];
const loops: number[] = [];
try {
  const spawner = await buildSpawner(dir);
  const argv = [DOCKER, 'run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'];
  for (const [i, [create, start]] of delays.entries()) {
    await mkdir(join(dir, `s${i}`));
    stubs.push(await startRunStub(join(dir, `s${i}`, 'stub.sock'), { create, start }));
  }
  const env = (s: RunStub): Record<string, string> => ({
    DOCKER_HOST: s.host,
    DOCKER_CONFIG: join(s.socket, '..', 'docker-config'),
  });
  const LOOPS = {
    '': '',
    'busy loops': 'while :; do :; done',
    'runc --version loops': `while :; do ${RUNC.path} --version >/dev/null; done`,
  };
  const startBusy = (kind: keyof typeof LOOPS): void => {
    for (let i = 0; i < busy; i++) {
      const c = spawn('sh', ['-c', LOOPS[kind]], { stdio: 'ignore' });
      loops.push(c.pid!);
    }
  };
  const stopBusy = (): void => {
    for (const pid of loops.splice(0)) process.kill(pid, 'SIGKILL');
  };
  type Row = { cpu: number[]; sys: number[]; wall: number[] };
  const rows = new Map<string, Row>();
  const load0 = await load();
  const t = new Date().toISOString();
  for (const s of stubs) await spawnBurst(spawner, n, argv, [], env(s)); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const [i, s] of stubs.entries()) {
      for (const contended of Object.keys(LOOPS) as (keyof typeof LOOPS)[]) {
        const [c, st] = delays[i]!;
        const name = `${c === 0 && st === 0 ? 'at once' : `create ${c} ms, start ${st} ms`}${contended ? `, ${busy} ${contended}` : ''}`;
        if (contended) {
          startBusy(contended);
          await sleep(100);
        }
        s.reset();
        const b = await spawnBurst(spawner, n, argv, [], env(s));
        if (!contended && bySpawner) {
          // the same burst spawned by this Node process, as start-burst spawns the CLIs of an engine's burst
          await sleep(200);
          s.reset();
          const c0 = cpuMs('self').reaped;
          const t0 = performance.now();
          await Promise.all(Array.from({ length: n }, () => run(argv[0]!, argv.slice(1), { env: env(s) })));
          const nodeRow = `${delays[i]![0] === 0 && delays[i]![1] === 0 ? 'at once' : `create ${delays[i]![0]} ms, start ${delays[i]![1]} ms`}, spawned by Node`;
          const row = rows.get(nodeRow) ?? rows.set(nodeRow, { cpu: [], sys: [], wall: [] }).get(nodeRow)!;
          row.cpu.push(cpuMs('self').reaped - c0);
          row.sys.push(Number.NaN);
          row.wall.push(performance.now() - t0);
        }
        if (contended) stopBusy();
        if (s.ids.length !== n) throw new Error(`${name}: the stub saw ${s.ids.length} creates, not ${n}`);
        const row = rows.get(name) ?? rows.set(name, { cpu: [], sys: [], wall: [] }).get(name)!;
        row.cpu.push(b.step1Ms);
        row.sys.push(b.step1SysMs);
        row.wall.push(b.wallMs);
        await sleep(200);
      }
    }
  }
  console.log(`cli-wait: ${t}, ${rounds} rounds × ${n} CLIs, load average ${load0} → ${await load()}; medians`);
  console.log(`${'stub'.padEnd(52)} | CLIs' CPU, ms | per CLI | of it system | wall`);
  for (const [name, row] of rows)
    console.log(
      `${name.padEnd(52)} | ${median(row.cpu).toFixed(1).padStart(13)} | ${(median(row.cpu) / n).toFixed(2).padStart(7)} | ${median(row.sys).toFixed(1).padStart(12)} | ${median(row.wall).toFixed(0).padStart(5)}`,
    );
} finally {
  for (const pid of loops) process.kill(pid, 'SIGKILL');
  for (const s of stubs) await s.stop();
  await rm(dir, { recursive: true, force: true });
}
