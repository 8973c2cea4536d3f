/**
 * Builds side by side in one run: dockerd 20.10's classic builder (docker CLI 28), berthd through the same docker CLI,
 * berthd through `berth build` (its kept context), and Debian's buildah (`bud --layers`, runc, its own storage),
 * all with `--network none` (the reference dockerd runs without a bridge), interleaved round by round.
 *
 * - small: a multi-stage busybox fixture (300 files of 1 KiB and one of 20 MiB, a RUN over each, a final stage
 *   copying from the first): cold (image and build cache removed), again fully cached, and after one small file
 *   changed; in the same rounds, the docker CLI's build of it against an endpoint that only drains the context and
 *   answers an image ID (bench/lib/drain.ts): the CLI's own floor, under any engine's cached build through it;
 * - large: a context of 10,000 files, 200 MiB: `COPY . /ctx` cold and after one file changed, and a FROM-only
 *   Dockerfile (the cost of sending the context); `tar -c` of the context to /dev/null as the floor.
 *
 * - run path: on berthd, a RUN step (ten `RUN true` less a FROM-only build, / 10) beside the Engine API cycle of a
 *   container (create, start, wait, delete of `busybox true`), both with `--network none`.
 *
 * `node bench/build.ts [--runs N] [--only small|large|run] [--no-buildah] [--base DIR]`, or `node bench/run.ts build`
 * with the same options (`--no-buildah` leaves the peer that no goal is measured against out, for a shorter run;
 * `--base DIR` builds with DIR's berthd and berth CLI too, e.g. main before a change, in the same rounds).
 */
import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BERTH, DOCKER, removeDir, startBerthd, startDockerd, type Engine } from './lib/engines.ts';
import { apiCycle } from './lib/api.ts';
import { startDrain } from './lib/drain.ts';
import { fmt, run, stats, threadSched, type Stats } from './lib/proc.ts';

/** The builders of `--base`'s tree. */
const BASE_DOCKER = 'docker build → berthd (base)';
const BASE_BERTH = 'berth build → berthd (base)';

/** The docker CLI's build of the small fixture against bench/lib/drain.ts: its own floor. */
const DRAIN = 'docker build → drain only';

export interface BuildFigures {
  runs: number;
  /** Seconds by builder, then by case. */
  small: Record<string, Record<string, Stats>>;
  large: Record<string, Record<string, Stats>>;
  tar: Stats;
  /** The docker CLI's builds of the small fixture to the drain-only endpoint, all three cases pooled (one operation). */
  drain?: Stats;
  /**
   * The large context: `cp -r` of it, `tar -c | tee FILE | sha256sum` (the work of a COPY . layer), `tar -x` of that
   * tar (the unpack a cold COPY does); and `cp -r` again right after each builder's cold `COPY .`, by builder.
   */
  floor?: { cp: Stats; tee: Stats; untar?: Stats; beside?: Record<string, Stats> };
  /** CPU seconds of berthd's threads (by thread name) over its cold `COPY .` builds through the docker CLI, per build. */
  coldCpu?: Record<string, number>;
  /** berthd: seconds per RUN step (ten `RUN true` builds, less a FROM-only build, / 10) and per API container cycle. */
  runPath?: { runStep: Stats; apiCycle: Stats };
  loadavg: { start: number[]; end: number[] };
}

const SMALL_DOCKERFILE = `FROM busybox AS build
WORKDIR /src
COPY small/ small/
RUN find small -type f | sort | xargs cat | md5sum > small.md5
COPY big.bin .
RUN md5sum big.bin > big.md5
FROM busybox
COPY --from=build /src/small.md5 /src/big.md5 /sums/
COPY small/ /app/small/
COPY big.bin /app/
CMD ["cat", "/sums/small.md5"]
`;

async function smallFixture(dir: string): Promise<void> {
  await mkdir(join(dir, 'small'), { recursive: true });
  for (let i = 0; i < 300; i++)
    await writeFile(join(dir, 'small', `f${String(i).padStart(3, '0')}`), randomFillSync(Buffer.alloc(1024)));
  await writeFile(join(dir, 'big.bin'), randomFillSync(Buffer.alloc(20 << 20)));
  await writeFile(join(dir, 'Dockerfile'), SMALL_DOCKERFILE);
}

async function largeFixture(dir: string): Promise<void> {
  const buf = Buffer.alloc(20_970);
  for (let d = 0; d < 100; d++) {
    await mkdir(join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) await writeFile(join(dir, `d${d}`, `f${f}`), randomFillSync(buf));
  }
  await writeFile(join(dir, 'Dockerfile.copy'), 'FROM busybox\nCOPY . /ctx\n');
  await writeFile(join(dir, 'Dockerfile.from'), 'FROM busybox\n');
}

/**
 * CPU seconds of a process's threads, summed by thread name (the main thread, named as the process is, as `main
 * thread`), from threadSched's schedstat.
 */
function threadCpu(pid: number): Map<string, number> {
  let main = '';
  try {
    main = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    // gone: threadSched finds nothing either
  }
  return new Map(Object.entries(threadSched(pid)).map(([k, v]) => [k === main ? 'main thread' : k, v.cpu]));
}

interface Builder {
  name: string;
  /** Builds `dir` with `file` (relative to it) as image `tag`; returns seconds. */
  build(dir: string, file: string, tag: string): Promise<number>;
  /** Removes the images `tags` and the build cache, so the next build is cold. */
  reset(tags: string[]): Promise<void>;
}

function dockerBuilder(name: string, e: Engine, env: Record<string, string>): Builder {
  return {
    name,
    build: async (dir, file, tag) =>
      (
        await run(DOCKER, ['build', '-q', '--network', 'none', '-f', join(dir, file), '-t', tag, dir], {
          env,
          timeoutMs: 600_000,
        })
      ).seconds,
    reset: async (tags) => {
      if (e.name === 'drain') return;
      await run(DOCKER, ['rmi', '-f', ...tags], { env, allowFail: true });
      await run(DOCKER, ['image', 'prune', '-f'], { env, allowFail: true });
      if (e.name === 'berthd') await run(BERTH, ['-H', e.host, 'builder', 'prune', '-a', '-f'], { allowFail: true });
    },
  };
}

function berthBuilder(e: Engine, name = 'berth build → berthd', cli = BERTH): Builder {
  return {
    name,
    build: async (dir, file, tag) =>
      (
        await run(cli, ['-H', e.host, 'build', '-q', '--network', 'none', '-f', join(dir, file), '-t', tag, dir], {
          timeoutMs: 600_000,
        })
      ).seconds,
    reset: async (tags) => {
      await run(cli, ['-H', e.host, 'rmi', '-f', ...tags], { allowFail: true });
      await run(cli, ['-H', e.host, 'builder', 'prune', '-a', '-f'], { allowFail: true });
    },
  };
}

async function buildahBuilder(root: string, busybox: string): Promise<Builder> {
  const base = ['--root', join(root, 'root'), '--runroot', join(root, 'run'), '--storage-driver', 'overlay'];
  await run('buildah', [...base, 'pull', '-q', `docker-archive:${busybox}`]);
  const id = (await run('buildah', [...base, 'images', '-q'])).stdout.trim().split('\n')[0]!;
  await run('buildah', [...base, 'tag', id, 'busybox:latest']);
  return {
    name: 'buildah',
    build: async (dir, file, tag) =>
      (
        await run(
          'buildah',
          [
            ...base,
            'bud',
            '-q',
            '--layers',
            '--runtime',
            '/usr/sbin/runc',
            '--isolation',
            'oci',
            '--network',
            'none',
            '-f',
            join(dir, file),
            '-t',
            tag,
            dir,
          ],
          { timeoutMs: 600_000 },
        )
      ).seconds,
    reset: async (tags) => {
      await run('buildah', [...base, 'rmi', '-f', ...tags], { allowFail: true });
      await run('buildah', [...base, 'rmi', '--prune'], { allowFail: true });
    },
  };
}

export async function benchBuild(opts: {
  runs: number;
  only?: string;
  noBuildah?: boolean;
  /** Another Berth tree (e.g. main before a change): its berthd and berth CLI built beside this one's, as "(base)". */
  base?: string;
  log: (s: string) => void;
}): Promise<BuildFigures> {
  const { runs, log } = opts;
  const work = await mkdtemp('/tmp/berth-bench-build-');
  const cleanups: (() => Promise<void>)[] = [() => removeDir(work)];
  const start = loadavg();
  try {
    const small = join(work, 'small');
    const large = join(work, 'large');
    log('build: writing the fixtures');
    await smallFixture(small);
    if (opts.only !== 'small' && opts.only !== 'run') await largeFixture(large);
    const berthd = await startBerthd({ seed: true });
    cleanups.push(() => berthd.stop());
    const dockerd = await startDockerd();
    cleanups.push(() => dockerd.stop());
    const busybox = join(work, 'busybox.tar');
    await run(BERTH, ['-H', berthd.host, 'save', '-o', busybox, 'busybox']);
    await run(DOCKER, ['load', '-q', '-i', busybox], { env: { DOCKER_HOST: dockerd.host } });
    const baseD = opts.base ? await startBerthd({ seed: true, bin: join(opts.base, 'bin', 'berthd') }) : undefined;
    if (baseD) cleanups.push(() => baseD.stop());
    const builders = [
      dockerBuilder('docker build → dockerd', dockerd, { DOCKER_HOST: dockerd.host, DOCKER_CONFIG: join(work, 'dc') }),
      dockerBuilder('docker build → berthd', berthd, { DOCKER_HOST: berthd.host, DOCKER_CONFIG: join(work, 'dc') }),
      berthBuilder(berthd),
      ...(baseD && opts.base
        ? [
            dockerBuilder(BASE_DOCKER, baseD, { DOCKER_HOST: baseD.host, DOCKER_CONFIG: join(work, 'dc') }),
            berthBuilder(baseD, BASE_BERTH, join(opts.base, 'bin', 'berth')),
          ]
        : []),
      ...(opts.noBuildah ? [] : [await buildahBuilder(join(work, 'buildah'), busybox)]),
    ];
    cleanups.push(async () => {
      await run('umount', ['-R', join(work, 'buildah', 'root', 'overlay')], { allowFail: true });
    });
    // the docker CLI's floor: the same build to an endpoint that only drains the context (small fixture only)
    const drain = await startDrain(join(work, 'drain.sock'));
    cleanups.push(() => drain.stop());
    const drainBuilder = dockerBuilder(DRAIN, { name: 'drain' } as Engine, {
      DOCKER_HOST: drain.host,
      DOCKER_CONFIG: join(work, 'dc'),
    });
    const times = () => Object.fromEntries(builders.map((b) => [b.name, {} as Record<string, number[]>]));
    const smallT = { ...times(), [DRAIN]: {} as Record<string, number[]> };
    const largeT = times();
    const add = (t: Record<string, Record<string, number[]>>, b: Builder, k: string, s: number) => {
      (t[b.name]![k] ??= []).push(s);
    };
    const tarT: number[] = [];
    const cpT: number[] = [];
    const teeT: number[] = [];
    const untarT: number[] = [];
    const besideT: Record<string, number[]> = {};
    const coldCpu: Record<string, number> = {};
    let coldBuilds = 0;
    const runStepT: number[] = [];
    const cycleT: number[] = [];
    let change = 0;
    const runDir = join(work, 'run');
    if (opts.only === 'run' || opts.only === undefined) {
      await mkdir(runDir, { recursive: true });
      await writeFile(join(runDir, 'Dockerfile.ten'), `FROM busybox\n${'RUN true\n'.repeat(10)}`);
      await writeFile(join(runDir, 'Dockerfile.none'), 'FROM busybox\n');
    }
    for (let r = 0; r < runs; r++) {
      if (opts.only === 'run' || opts.only === undefined) {
        log(`build: round ${r + 1}/${runs}, RUN steps and container cycles on berthd`);
        const ten = await run(BERTH, [
          '-H',
          berthd.host,
          'build',
          '-q',
          '--no-cache',
          '--network',
          'none',
          '-f',
          join(runDir, 'Dockerfile.ten'),
          runDir,
        ]);
        const none = await run(BERTH, [
          '-H',
          berthd.host,
          'build',
          '-q',
          '--no-cache',
          '--network',
          'none',
          '-f',
          join(runDir, 'Dockerfile.none'),
          runDir,
        ]);
        runStepT.push((ten.seconds - none.seconds) / 10);
        for (let i = 0; i < 10; i++) cycleT.push((await apiCycle(berthd.socket)).total);
      }
      if (opts.only !== 'large' && opts.only !== 'run') {
        // berthd's builders in an order that flips every round: a berthd building right after another one has
        // finished measured 10-40 ms more CPU for a cached build (that one's work after its answer), whichever went
        // second (bench/README.md, Build, "A/B with builds alternating")
        const ours = builders.slice(1);
        for (const b of [builders[0]!, ...(r % 2 ? ours.reverse() : ours), drainBuilder]) {
          log(`build: round ${r + 1}/${runs}, small fixture, ${b.name}`);
          await b.reset(['bench-small']);
          await run('sync', []);
          add(smallT, b, 'cold', await b.build(small, 'Dockerfile', 'bench-small'));
          add(smallT, b, 'cached', await b.build(small, 'Dockerfile', 'bench-small'));
          await writeFile(join(small, 'small', 'f150'), `changed ${change++}\n`);
          add(smallT, b, 'one file changed', await b.build(small, 'Dockerfile', 'bench-small'));
        }
      }
      if (opts.only !== 'small' && opts.only !== 'run') {
        tarT.push((await run('sh', ['-c', `tar -C ${large} -cf - . > /dev/null`])).seconds);
        // what a COPY . of the whole context cannot do with less: the files written once more, and a tar of them
        // hashed and written once (the layer blob)
        const scratch = join(work, 'floor');
        cpT.push((await run('sh', ['-c', `cp -r ${large} ${scratch}`])).seconds);
        await removeDir(scratch);
        teeT.push((await run('sh', ['-c', `tar -C ${large} -cf - . | tee ${scratch}.tar | sha256sum`])).seconds);
        await mkdir(scratch, { recursive: true });
        untarT.push((await run('tar', ['-C', scratch, '-xf', `${scratch}.tar`])).seconds);
        await removeDir(scratch);
        await run('rm', ['-f', `${scratch}.tar`]);
        for (const b of builders) {
          log(`build: round ${r + 1}/${runs}, large context, ${b.name}`);
          await b.reset(['bench-large', 'bench-from']);
          await run('sync', []);
          const measured = b.name === 'docker build → berthd' ? threadCpu(berthd.pid) : undefined;
          add(largeT, b, 'COPY . cold', await b.build(large, 'Dockerfile.copy', 'bench-large'));
          if (measured) {
            const after = threadCpu(berthd.pid);
            for (const [k, v] of after) coldCpu[k] = (coldCpu[k] ?? 0) + v - (measured.get(k) ?? 0);
            coldBuilds++;
          }
          // the floor in the same minute: the files written once more
          (besideT[b.name] ??= []).push((await run('sh', ['-c', `cp -r ${large} ${scratch}`])).seconds);
          await removeDir(scratch);
          await writeFile(join(large, 'd50', 'f50'), `changed ${change++}\n`);
          add(largeT, b, 'COPY . one file changed', await b.build(large, 'Dockerfile.copy', 'bench-large'));
          add(largeT, b, 'FROM only (send the context)', await b.build(large, 'Dockerfile.from', 'bench-from'));
        }
      }
    }
    const st = (t: Record<string, Record<string, number[]>>) =>
      Object.fromEntries(
        Object.entries(t).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([c, xs]) => [c, stats(xs)]))]),
      );
    return {
      runs,
      small: st(smallT),
      large: st(largeT),
      tar: stats(tarT),
      ...(smallT[DRAIN]?.cached ? { drain: stats(Object.values(smallT[DRAIN]).flat()) } : {}),
      floor: {
        cp: stats(cpT),
        tee: stats(teeT),
        untar: stats(untarT),
        beside: Object.fromEntries(Object.entries(besideT).map(([k, v]) => [k, stats(v)])),
      },
      ...(coldBuilds > 0
        ? { coldCpu: Object.fromEntries(Object.entries(coldCpu).map(([k, v]) => [k, v / coldBuilds])) }
        : {}),
      ...(runStepT.length > 0 ? { runPath: { runStep: stats(runStepT), apiCycle: stats(cycleT) } } : {}),
      loadavg: { start, end: loadavg() },
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
  }
}

export function buildReport(f: BuildFigures): string {
  const out: string[] = [];
  const la = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  out.push(
    `### Build (${f.runs} runs: median (min–max) seconds; load average ${la(f.loadavg.start)} → ${la(f.loadavg.end)})`,
    '',
  );
  const table = (title: string, t: Record<string, Record<string, Stats>>, ref: string) => {
    const cases = [...new Set(Object.values(t).flatMap((c) => Object.keys(c)))];
    if (cases.length === 0) return;
    out.push(`${title}`, '', `| builder | ${cases.join(' | ')} |`, `|---|${cases.map(() => '---').join('|')}|`);
    for (const [b, c] of Object.entries(t)) {
      const cells = cases.map((k) => {
        const s = c[k];
        const r = t[ref]?.[k];
        if (!s) return '';
        const ratio = r && b !== ref ? ` (**${(s.median / r.median).toFixed(2)}×**)` : '';
        return `${fmt(s, 2)}${ratio}`;
      });
      out.push(`| ${b} | ${cells.join(' | ')} |`);
    }
    out.push('');
  };
  table(
    'Multi-stage busybox fixture (300 × 1 KiB + 20 MiB); ratios to docker build → dockerd',
    f.small,
    'docker build → dockerd',
  );
  const dockerd = f.small['docker build → dockerd']?.cached;
  const floor = f.drain;
  if (dockerd && floor) {
    const row = (name: string) => {
      const s = f.small[name]?.cached;
      return s ? `${name} ${fmt(s, 3)} s (**${(s.median / dockerd.median).toFixed(2)}×**)` : undefined;
    };
    out.push(
      `Fully cached, the goal ≤ 0.3× of dockerd's ${dockerd.median.toFixed(3)} s = ${(0.3 * dockerd.median).toFixed(3)} s; ` +
        `the docker CLI's own floor (the same build to an endpoint that only drains the context, its ${floor.n} builds pooled) ` +
        `${fmt(floor, 3)} s (**${(floor.median / dockerd.median).toFixed(2)}×**); ` +
        ['docker build → berthd', 'berth build → berthd', BASE_DOCKER, BASE_BERTH].map(row).filter(Boolean).join('; '),
      '',
    );
  }
  // this tree against --base's, case by case (medians)
  const against = (mine: string, base: string) => {
    const m = f.small[mine];
    const b = f.small[base];
    if (!m || !b) return undefined;
    const cells = Object.keys(m)
      .filter((k) => b[k])
      .map((k) => `${k} ${(m[k]!.median / b[k]!.median).toFixed(2)}×`);
    return `${mine} against the base tree's: ${cells.join(', ')}`;
  };
  const ab = [against('docker build → berthd', BASE_DOCKER), against('berth build → berthd', BASE_BERTH)].filter(
    Boolean,
  );
  if (ab.length > 0) out.push(...ab.map((l) => `${l}  `), '');
  table('10,000 files, 200 MiB; ratios to docker build → dockerd', f.large, 'docker build → dockerd');
  if (f.tar.n > 0) out.push(`\`tar -c\` of the large context to /dev/null: ${fmt(f.tar, 2)} s`, '');
  if (f.floor && f.floor.cp.n > 0)
    out.push(
      `The floor of a COPY . of it: \`cp -r\` ${fmt(f.floor.cp, 2)} s; \`tar -c | tee FILE | sha256sum\` ${fmt(f.floor.tee, 2)} s` +
        (f.floor.untar ? `; \`tar -x\` of that tar ${fmt(f.floor.untar, 2)} s` : ''),
      '',
    );
  for (const [name, st] of Object.entries(f.floor?.beside ?? {})) {
    const cold = f.large[name]?.['COPY . cold'];
    if (cold)
      out.push(
        `${name}: COPY . cold ${fmt(cold, 2)} s; \`cp -r\` right after it ${fmt(st, 2)} s (**${(cold.median / st.median).toFixed(2)}×** the floor)`,
      );
  }
  if (f.coldCpu) {
    const parts = Object.entries(f.coldCpu)
      .sort((a, b) => b[1] - a[1])
      .filter(([, v]) => v >= 0.01)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`);
    out.push('', `berthd's CPU seconds per cold \`COPY .\` through the docker CLI, by thread: ${parts.join(', ')}`, '');
  }
  if (f.runPath) {
    const ms = (s: Stats) => fmt({ ...s, median: s.median * 1000, min: s.min * 1000, max: s.max * 1000 }, 0);
    out.push(
      `berthd, \`--network none\`: a RUN step (ten \`RUN true\` less a FROM-only build, / 10) ${ms(f.runPath.runStep)} ms; ` +
        `the API container cycle create+start+wait+delete of \`busybox true\` ${ms(f.runPath.apiCycle)} ms ` +
        `(**${(f.runPath.runStep.median / f.runPath.apiCycle.median).toFixed(2)}×**)`,
      '',
    );
  }
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      only: { type: 'string' },
      'no-buildah': { type: 'boolean' },
      base: { type: 'string' },
    },
  });
  const f = await benchBuild({
    runs: Number(values.runs),
    noBuildah: values['no-buildah'] === true,
    ...(values.only ? { only: values.only } : {}),
    ...(values.base ? { base: values.base } : {}),
    log: (s) => process.stderr.write(`${s}\n`),
  });
  process.stdout.write(`${buildReport(f)}\n`);
}
