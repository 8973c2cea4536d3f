/**
 * What conmon's options cost (issue 9): conmon as berthd starts it (the options of `runtime/conmon.ts` for a `run -d`:
 * name, conmon pid file, exit dir, persist dir, full attach, runc's `--root`, a k8s-file log, no sync of the log)
 * against the same with fewer, each creating a busybox container (runc's floor bundle, bench/lib/runc.ts) that is
 * then deleted. Per variant and round, `--n` containers one after another: conmon's CPU per container (the process
 * berthd spawns, reaped here, and the monitor it forks, from its schedstat before the delete; the monitor's reaped
 * `runc create` is left out, as the same in every variant), in interleaved rounds.
 * `node bench/conmon-opts.ts [--rounds 5] [--n 10]`
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runcBed, runcStep } from './lib/runc.ts';
import { cpuMs, sleep } from './lib/proc.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, n: { type: 'string', default: '10' } },
});
const rounds = Number(values.rounds);
const n = Number(values.n);
const CONMON = '/usr/bin/conmon';

const load = async (): Promise<string> => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const schedMs = async (pid: number): Promise<number> =>
  Number((await readFile(`/proc/${pid}/schedstat`, 'utf8').catch(() => '0')).split(' ')[0]) / 1e6;

const dir = await mkdtemp('/tmp/berth-conmon-opts-');
const bed = await runcBed(join(dir, 'bed'));
try {
  const exits = join(dir, 'exits');
  await mkdir(exits);
  // berthd's argv for one container (runtime/conmon.ts conmonArgv, as a `run -d` gives it), less what `drop` names
  const argv = (id: string, drop: ReadonlySet<string>): string[] => {
    const p = join(dir, 'c', id);
    const a = ['--api-version', '1', '-c', id, '-u', id, '-r', bed.runc, '-b', bed.bundle, '-p', join(p, 'pidfile')];
    if (!drop.has('name')) a.push('-n', `name-${id}`);
    if (!drop.has('conmon-pidfile')) a.push('--conmon-pidfile', join(p, 'conmon.pid'));
    a.push(
      '--exit-dir',
      exits,
      '--persist-dir',
      p,
      '--full-attach',
      '--runtime-arg',
      '--root',
      '--runtime-arg',
      bed.root,
    );
    a.push('-l', drop.has('log') ? 'none' : `k8s-file:${join(p, 'ctr.log')}`);
    if (!drop.has('no-sync-log')) a.push('--no-sync-log');
    return a;
  };
  const variants = new Map<string, Set<string>>([
    ["berthd's options", new Set()],
    ['no log (-l none)', new Set(['log'])],
    ['the log synced at exit (no --no-sync-log)', new Set(['no-sync-log'])],
    ['no name, no conmon pid file', new Set(['name', 'conmon-pidfile'])],
    ['none of these', new Set(['log', 'name', 'conmon-pidfile'])],
  ]);
  const spawned = new Map<string, number[]>();
  const monitors = new Map<string, number[]>();
  let k = 0;
  for (let r = 0; r < rounds; r++) {
    for (const [name, drop] of variants) {
      let reaped = 0;
      let monitor = 0;
      for (let i = 0; i < n; i++) {
        const id = `co${k++}`;
        await mkdir(join(dir, 'c', id), { recursive: true });
        const before = cpuMs('self').reaped;
        await new Promise<void>((resolve, reject) => {
          const c = spawn(CONMON, argv(id, drop), { stdio: 'ignore', env: { PATH: process.env.PATH ?? '' } });
          c.once('error', reject);
          c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`conmon ${name}: exit ${code}`))));
        });
        reaped += cpuMs('self').reaped - before;
        // the monitor's pid file is written before it runs the runtime; wait for the container's
        let pid = 0;
        for (let t = 0; t < 200 && pid === 0; t++) {
          pid = Number((await readFile(join(dir, 'c', id, 'pidfile'), 'utf8').catch(() => '0')).trim());
          if (pid === 0) await sleep(5);
        }
        const mon = drop.has('conmon-pidfile')
          ? 0
          : Number((await readFile(join(dir, 'c', id, 'conmon.pid'), 'utf8').catch(() => '0')).trim());
        await sleep(20);
        if (mon > 0) monitor += await schedMs(mon);
        await runcStep([bed.runc, '--root', bed.root, 'delete', '--force', id]).catch(() => 0);
      }
      (spawned.get(name) ?? spawned.set(name, []).get(name)!).push(reaped / n);
      (monitors.get(name) ?? monitors.set(name, []).get(name)!).push(monitor / n);
      await sleep(200);
    }
  }
  console.log(
    `conmon-opts: ${new Date().toISOString()}, ${rounds} rounds × ${n}, load average ${await load()}; ms per container, medians`,
  );
  console.log(`${'options'.padEnd(44)} | spawned conmon (reaped, ticks) | its monitor (schedstat)`);
  for (const name of variants.keys()) {
    const m = monitors.get(name)!;
    console.log(
      `${name.padEnd(44)} | ${median(spawned.get(name)!).toFixed(2).padStart(30)} | ${(m.some((x) => x > 0) ? median(m).toFixed(2) : 'n/a').padStart(23)}`,
    );
  }
} finally {
  await bed.cleanup();
  await rm(dir, { recursive: true, force: true });
}
