/**
 * berthd restarted with running containers (live restore): its memory once it answers again, whether the FFI
 * library (koffi) got loaded, and its CPU while it only follows them. Per run and tree: berthd seeded, `--containers`
 * × `docker run -d --network none busybox sleep 1000`, berthd stopped (the containers keep running under their
 * conmons) and started again on the same roots; VmRSS (with RssAnon and RssFile) 3 s after it answers, then
 * berthd's CPU (every thread, schedstat) over `--idle-s` seconds of following them. With `--base DIR`, another
 * tree (e.g. main before a change) in the same runs, interleaved.
 * `node bench/restore-rss.ts [--runs N] [--containers N] [--idle-s S] [--base DIR]`
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BERTHD, DOCKER, dockerEnv, startBerthd, waitForBusybox } from './lib/engines.ts';
import { run, schedstat, sleep, stats } from './lib/proc.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    containers: { type: 'string', default: '5' },
    'idle-s': { type: 'string', default: '10' },
    base: { type: 'string' },
  },
});
const n = Number(values.containers);
const idleS = Number(values['idle-s']);
const trees: [string, string][] = [['this tree', BERTHD]];
if (values.base) trees.push(['base', join(values.base, 'bin', 'berthd')]);

interface Sample {
  rss: number;
  anon: number;
  file: number;
  koffi: boolean;
  /** ms of berthd's CPU per second while following the containers */
  idleCpu: number;
}

function memory(pid: number): Omit<Sample, 'idleCpu'> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  const koffi = readFileSync(`/proc/${pid}/maps`, 'utf8').includes('koffi');
  return { rss: kib('VmRSS') / 1024, anon: kib('RssAnon') / 1024, file: kib('RssFile') / 1024, koffi };
}

async function once(bin: string): Promise<Sample> {
  const first = await startBerthd({ seed: true, bin });
  let e: Awaited<ReturnType<typeof startBerthd>> | undefined;
  let kept = false;
  try {
    const env = dockerEnv(first);
    await waitForBusybox(env);
    for (let i = 0; i < n; i++)
      await run(DOCKER, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000'], { env });
    await first.stopKeeping();
    kept = true;
    e = await startBerthd({ dir: first.dir, bin });
    await sleep(3000);
    const m = memory(e.pid);
    const running = (await run(DOCKER, ['ps', '-q'], { env: dockerEnv(e) })).stdout.split('\n').filter(Boolean);
    if (running.length !== n) throw new Error(`${running.length} containers running after the restart, not ${n}`);
    const c0 = schedstat(e.pid).onCpu;
    await sleep(idleS * 1000);
    return { ...m, idleCpu: (schedstat(e.pid).onCpu - c0) / 1e6 / idleS };
  } finally {
    // A restart that failed left the containers running under their conmons with no berthd: one more on the same
    // roots removes them (or, failing that too, the stopped first one's directory goes as before).
    const live = e ?? (kept ? await startBerthd({ dir: first.dir, bin }).catch(() => undefined) : undefined) ?? first;
    const env = dockerEnv(live);
    const ids = (await run(DOCKER, ['ps', '-aq'], { env, allowFail: true })).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await run(DOCKER, ['rm', '-f', ...ids], { env, timeoutMs: 120_000, allowFail: true });
    await live.stop();
  }
}

const samples = new Map<string, Sample[]>(trees.map(([name]) => [name, []]));
for (let r = 0; r < Number(values.runs); r++) {
  for (const [name, bin] of r % 2 ? [...trees].reverse() : trees) {
    const s = await once(bin);
    samples.get(name)!.push(s);
    process.stderr.write(
      `run ${r + 1} ${name}: RSS ${s.rss.toFixed(1)} MiB (anon ${s.anon.toFixed(1)}, file ${s.file.toFixed(1)}), koffi ${s.koffi ? 'loaded' : 'not loaded'}, ${s.idleCpu.toFixed(2)} ms of CPU/s\n`,
    );
  }
}
const f = (xs: number[]) => {
  const s = stats(xs);
  return `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
};
console.log(`berthd restarted with ${n} running containers, median (min–max) of ${values.runs} runs\n`);
console.log('| tree | VmRSS, MiB | RssAnon | RssFile | koffi loaded | CPU following them, ms/s |');
console.log('|---|---|---|---|---|---|');
for (const [name, s] of samples) {
  console.log(
    `| ${name} | ${f(s.map((x) => x.rss))} | ${f(s.map((x) => x.anon))} | ${f(s.map((x) => x.file))} | ${s.filter((x) => x.koffi).length} of ${s.length} | ${s.map((x) => x.idleCpu.toFixed(2)).join(', ')} |`,
  );
}
