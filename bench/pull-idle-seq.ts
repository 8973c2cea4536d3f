/**
 * The 50-layer pull "after idle" after two daemon histories, as an A/B (issue 11): each berthd is restarted on its
 * roots every round, then pulls as `datapath`'s sequence has it before its "after idle" step (`@dp`: the 256 MiB
 * single-layer image once, then the 50-layer image three times) or as `pull-cold-ab.ts` has it (`@one`: the 50-layer
 * image once), then, AFTER_IDLE_MS (12 s) after its last pull (its idle stop run, checked), the 50-layer image
 * again ("after idle") and at once once more ("warm"). Berthd's CPU by thread for both timed pulls; the image
 * removed and pruned after every pull; the berthds' order turned each round.
 * `node bench/pull-idle-seq.ts ROUNDS LABEL=BIN[,ARG…] …` (BIN a tree's bin/berthd or `.`; an ARG `NAME:VALUE` is an
 * environment variable of that berthd; `@dp` (default) or `@one` its history; `@cli` the history's last two pulls
 * and the timed ones through `docker pull` / `berth pull`; `@others` dockerd, podman and skopeo pulling the image
 * during the idle spell; `@busy` both CPUs busy then; `@short` the pull 5 s after the last, before the idle stop;
 * `@dockerfirst` an untimed `docker pull` just before the warm one).
 * Also berthd's established TCP connections before each pull and its minor page faults during it. No timing is
 * asserted (bench/README.md, "Data path", 2026-12-07 20:57).
 */
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../src/distribution/remote/testkit.ts';
import { clearDocker } from './datapath.ts';
import { bigLayer, buildImage, manyLayers } from './lib/archive.ts';
import {
  BERTH,
  type Berthd,
  berthdSpec,
  DOCKER,
  dockerEnv,
  podmanSetup,
  removeDir,
  restartBerthd,
  startBerthd,
  startDockerd,
} from './lib/engines.ts';
import { apiPull, seedRegistry, skopeoPullArgs } from './lib/pull-probe.ts';
import {
  AFTER_IDLE_MS,
  afterIdle,
  procStat,
  run,
  sleep,
  stats,
  threadMedians,
  threadCpuSince,
  threadSched,
  unpackThreads,
} from './lib/proc.ts';

const SHORT_MS = 5000;

/** The minor page faults of process `pid`'s threads (`/proc/PID/stat` counts the ended ones too). */
function minorFaults(pid: number): number {
  const f = procStat(pid);
  return Number(f?.[7] ?? 0);
}

/** Two processes compressing random bytes to a file for about `ms` (the machine's two CPUs busy, its caches used). */
async function busyFor(ms: number): Promise<void> {
  const end = performance.now() + ms;
  const one = async (i: number): Promise<void> => {
    const f = join(scratch, `busy-${i}.gz`);
    while (performance.now() < end) await run('sh', ['-c', `head -c 64M /dev/urandom | gzip -1 > ${f}; rm -f ${f}`]);
  };
  await Promise.all([one(0), one(1)]);
}

const rounds = Number(process.argv[2] ?? 3);
const specs = process.argv.slice(3).map((s) => {
  const { label, opts, flags } = berthdSpec(s);
  const history = flags.has('@one') ? 'one' : 'dp';
  // `@busy`: other work on both CPUs during the idle spell (as datapath's dockerd and podman pulls there);
  // `@short`: the pull comes SHORT_MS after the last instead (the idle stop not run), after the same work if `@busy`.
  const busy = flags.has('@busy');
  const short = flags.has('@short');
  // `@cli`: the history's second and third 50-layer pulls through `docker pull` and `berth pull`, and the timed
  // pulls through `berth pull` (as datapath's steps; berthd's CPU only), instead of the API.
  const cli = flags.has('@cli');
  // `@others`: during the idle spell, the 50-layer image pulled by a dockerd, podman and skopeo (as datapath's
  // steps between berthd's last pull and its "after idle" one).
  const others = flags.has('@others');
  // `@dockerfirst`: an untimed `docker pull` just before the timed warm pull (datapath's order of its warm steps).
  const dockerFirst = flags.has('@dockerfirst');
  return { label, opts, history, busy, short, cli, others, dockerFirst };
});
const scratch = await mkdtemp(join(tmpdir(), 'berth-bench-idleseq-'));
const cleanups: (() => Promise<unknown>)[] = [];
interface Sample {
  s: number;
  cpu: number;
  threads: Record<string, number>;
  /** Berthd's established TCP connections before the pull (to the registry: keep-alive). */
  sockets: number;
  /** Berthd's minor page faults during the pull (its threads alive at the end). */
  faults: number;
  firstBytes: number | undefined;
}
try {
  const big = await buildImage(scratch, 'dp-big', [bigLayer(256)], { gzip: true });
  const many = await buildImage(scratch, 'dp-many', manyLayers(50, 1024), { gzip: true });
  const reg = await startRegistry('plain');
  cleanups.push(() => reg.stop());
  const refs = { big: await seedRegistry(reg, big), many: await seedRegistry(reg, many) };
  const engines: ((typeof specs)[number] & { e: Berthd; last: number })[] = [];
  for (const s of specs) {
    const entry = { ...s, e: await startBerthd(s.opts), last: 0 };
    cleanups.push(() => entry.e.stop());
    engines.push(entry);
  }
  let othersPull = async (): Promise<void> => {};
  if (engines.some((x) => x.others)) {
    const dockerd = await startDockerd();
    cleanups.push(() => dockerd.stop());
    const pod = await podmanSetup('/tmp/podman-bench-idleseq-');
    cleanups.push(async () => {
      await run('podman', [...pod.base, 'rmi', '-a', '-f'], { env: pod.env, allowFail: true });
      await removeDir(pod.dir);
    });
    othersPull = async () => {
      await run(DOCKER, ['pull', '-q', refs.many], { env: dockerEnv(dockerd) });
      await clearDocker(dockerd, refs.many);
      await run('podman', [...pod.base, 'pull', '-q', '--tls-verify=false', refs.many], { env: pod.env });
      await run('podman', [...pod.base, 'rmi', '-a', '-f'], { env: pod.env });
      await run('skopeo', skopeoPullArgs(refs.many, `oci:${join(scratch, 'oci')}:x`));
      await removeDir(join(scratch, 'oci'));
    };
  }
  const samples: Record<string, Sample[]> = {};
  const add = (k: string, v: Sample): void => void (samples[k] ??= []).push(v);
  const home = join(scratch, 'home');
  const pull = async (e: Berthd, ref: string, via: 'api' | 'docker' | 'berth' = 'api'): Promise<Sample> => {
    await run('sync', []);
    const ss = await run('ss', ['-Htnp', 'state', 'established']);
    const sockets = ss.stdout.split('\n').filter((l) => l.includes(`pid=${e.pid},`)).length;
    const before = threadSched(e.pid);
    const f0 = minorFaults(e.pid);
    const t0 = performance.now();
    let marks: Record<string, number> = {};
    if (via === 'api') marks = await apiPull(e.socket, ref);
    else if (via === 'docker') await run(DOCKER, ['pull', '-q', ref], { env: dockerEnv(e) });
    else await run(BERTH, ['-H', e.host, 'pull', '-q', ref], { env: { HOME: home, DOCKER_CONFIG: join(home, '.d') } });
    const seconds = (performance.now() - t0) / 1000;
    const faults = minorFaults(e.pid) - f0;
    const { threads, cpu } = threadCpuSince(e.pid, before);
    await clearDocker(e, ref);
    const m = marks;
    return { s: m['pull answered'] ?? seconds, cpu, threads, sockets, faults, firstBytes: m['first bytes'] };
  };
  const first = loadavg()[0]!;
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? engines : [...engines].reverse();
    for (const x of order) {
      x.e = await restartBerthd(x.e, x.opts);
      if (x.history === 'dp') await pull(x.e, refs.big);
      const vias = x.history === 'dp' ? (['api', 'docker', 'berth'] as const) : (['api'] as const);
      for (const via of vias) await pull(x.e, refs.many, x.cli ? via : 'api');
      x.last = performance.now();
      if (x.others) await othersPull();
      if (x.busy) await busyFor(x.short ? SHORT_MS - 1000 : AFTER_IDLE_MS - 3000);
      if (x.short) {
        await sleep(Math.max(0, x.last + SHORT_MS - performance.now()));
        if (unpackThreads(x.e.pid).readers === 0) throw new Error(`${x.label}: no reader thread`);
      } else {
        const kept = await afterIdle(x.e.pid, x.last);
        if (kept !== 1) throw new Error(`${x.label}: ${kept} reader threads after idle`);
      }
      add(`after idle ${x.label}`, await pull(x.e, refs.many, x.cli ? 'berth' : 'api'));
      if (x.dockerFirst) await pull(x.e, refs.many, 'docker');
      add(`warm ${x.label}`, await pull(x.e, refs.many, x.cli ? 'berth' : 'api'));
    }
    console.error(`round ${r + 1}/${rounds} done, load ${loadavg()[0]!.toFixed(1)}`);
  }
  const med = (xs: number[]): number => stats(xs).median;
  console.log(`load average ${first.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${rounds} rounds`);
  for (const [k, xs] of Object.entries(samples)) {
    const th = threadMedians(xs, 0.002);
    const fb = xs.every((x) => x.firstBytes !== undefined)
      ? ` first bytes ${med(xs.map((x) => x.firstBytes!)).toFixed(3)}`
      : '';
    console.log(
      `${k.padEnd(24)} sockets [${xs.map((x) => x.sockets).join(' ')}] faults ${med(xs.map((x) => x.faults))}${fb} ${med(xs.map((x) => x.s)).toFixed(3)} s cpu ${med(xs.map((x) => x.cpu)).toFixed(3)} [${xs.map((x) => x.cpu.toFixed(3)).join(' ')}] | ${th}`,
    );
  }
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await removeDir(scratch);
}
