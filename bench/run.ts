/**
 * Berth's benchmarks, side by side with Debian's docker.io dockerd and GNU tar on this machine. A script, not a
 * test: it prints figures and asserts no timing. `npm run bench` runs them all; see bench/README.md.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchIdle, type IdleFigures } from './idle.ts';
import { bigLayer, buildImage, manyLayers, type BuiltImage } from './lib/archive.ts';
import { BERTH, DOCKER, NODE, startBerthd, startDockerd, TREE, useTree, type Engine } from './lib/engines.ts';
import { fmt, MiB, run, type Stats } from './lib/proc.ts';
import { summariseProfile } from './lib/profile.ts';
import { BENCHMARKS, DEFAULT_BENCHMARKS, USAGE } from './lib/usage.ts';
import { benchLoad, throughput, type LoadFigures } from './load.ts';
import { benchBuild, buildReport } from './build.ts';
import { benchCompose, composeReport } from './compose.ts';
import { benchContainers, containersReport } from './containers.ts';
import { benchDatapath, datapathReport } from './datapath.ts';
import { benchDatapathLoad, datapathLoadReport } from './datapath-load.ts';
import { benchDatapathPull, datapathPullReport } from './datapath-pull.ts';
import { benchDatapathRss, datapathRssReport, parseTreeVariant, parseVariant } from './datapath-rss.ts';
import { benchNetwork, networkReport } from './network.ts';
import { benchPhases, type PhaseFigures } from './phases.ts';
import { benchRegistry, registryReport, type RegistryFigures } from './registry.ts';
import { benchStart, benchStartMemory, startMemoryReport, startReport } from './start.ts';
import { benchStartBurst, startBurstReport } from './start-burst.ts';
import { benchVersion, type VersionFigures } from './version.ts';
import { benchTrust, trustReport } from './trust.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mib: { type: 'string', default: '256' },
    layers: { type: 'string', default: '50' },
    'layer-kib': { type: 'string', default: '1024' },
    compression: { type: 'string', default: 'none,gzip' },
    runs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    'rss-mib': { type: 'string', default: '1024' },
    'rss-variant': { type: 'string', multiple: true, default: [] },
    'rss-tree': { type: 'string', multiple: true, default: [] },
    'idle-runs': { type: 'string', default: '3' },
    'version-runs': { type: 'string', default: '30' },
    json: { type: 'string' },
    tree: { type: 'string' },
    base: { type: 'string' },
    advisories: { type: 'string', default: '50000' },
    'debian-root': { type: 'string' },
    'no-dockerd': { type: 'boolean', default: false },
    'after-removal': { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-buildah': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const selected = positionals.length > 0 ? positionals : DEFAULT_BENCHMARKS;
for (const s of selected) {
  if (!BENCHMARKS.includes(s)) {
    process.stderr.write(`unknown benchmark "${s}"\n${USAGE}`);
    process.exit(2);
  }
}
const positive = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a positive integer, got "${v}"\n`);
    process.exit(2);
  }
  return n;
};
const mib = positive('mib', values.mib);
const layerCount = positive('layers', values.layers);
const layerKib = positive('layer-kib', values['layer-kib']);
const runs = positive('runs', values.runs);
const rounds = positive('rounds', values.rounds);
const idleRuns = positive('idle-runs', values['idle-runs']);
const versionRuns = positive('version-runs', values['version-runs']);
const compressions = (values.compression ?? '').split(',').filter(Boolean);
for (const c of compressions) {
  if (c !== 'none' && c !== 'gzip') {
    process.stderr.write(`--compression takes none and/or gzip, got "${c}"\n`);
    process.exit(2);
  }
}

if (values.tree !== undefined) useTree(values.tree);

const log = (s: string): void => void process.stderr.write(`${s}\n`);

// ---- everything started is stopped, and every temp dir removed, whatever happens -------------------------

const cleanups: (() => Promise<void>)[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      log(`cleanup: ${(err as Error).message}`);
    }
  }
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping the engines and removing temp dirs`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function machine(): Promise<Record<string, string>> {
  const sh = async (cmd: string) => (await run('sh', ['-c', cmd], { allowFail: true })).stdout.trim();
  return {
    date: await sh('date -u "+%Y-%m-%d %H:%M UTC"'),
    cpus: `${await sh('nproc')} × ${await sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'")}`,
    memory: await sh('free -h | awk \'/^Mem:/ {print $2 " total, " $7 " available"}\''),
    kernel: await sh('uname -r'),
    disk: await sh('df -hT /tmp | awk \'NR==2 {print $1 " " $2 ", " $3 " (" $5 " free)"}\''),
    node: await sh(`${NODE} --version`),
    berth: `${await sh(`${BERTH} --version`)} (tree ${TREE})`,
    dockerd: await sh('dockerd --version'),
    'docker CLI': await sh(`${DOCKER} --version`),
    tar: await sh('tar --version | head -1'),
    hyperfine: await sh('hyperfine --version'),
    'load average at start': loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

// ---- reporting ------------------------------------------------------------------------------------------

const sec = (s: Stats) => `${fmt(s, 2)} s`;
const ms = (s: Stats) => `${fmt({ ...s, median: s.median * 1000, min: s.min * 1000, max: s.max * 1000 }, 1)} ms`;
const mibs = (bytes: number, s: Stats) => `${throughput(bytes, s.median).toFixed(0)} MiB/s`;

function loadReport(f: LoadFigures): string {
  const ratio = f.berthdDockerCli.median / f.dockerd.median;
  const tarRate = throughput(f.layerBytes, f.tar.median);
  const berthRate = throughput(f.layerBytes, f.berthdDockerCli.median);
  return [
    `### ${f.image}: ${f.layers} layer(s), ${(f.layerBytes / MiB).toFixed(0)} MiB of layer tar, ${f.gzip ? 'gzip' : 'uncompressed'} layers, archive ${(f.archiveBytes / MiB).toFixed(0)} MiB (${f.runs} runs: median (min–max))`,
    '',
    '| step | wall time | layer MiB/s |',
    '|---|---|---|',
    `| \`docker load\` → dockerd | ${sec(f.dockerd)} | ${mibs(f.layerBytes, f.dockerd)} |`,
    `| \`docker load\` → berthd | ${sec(f.berthdDockerCli)} | ${mibs(f.layerBytes, f.berthdDockerCli)} |`,
    `| \`berth load\` → berthd | ${sec(f.berthdBerthCli)} | ${mibs(f.layerBytes, f.berthdBerthCli)} |`,
    `| \`tar ${f.gzip ? '-xzf' : '-xf'}\` of the layer tar(s) | ${sec(f.tar)} | ${mibs(f.layerBytes, f.tar)} |`,
    '',
    `- berthd / dockerd load time: **${ratio.toFixed(2)}×** (goal ≤ 0.8×)`,
    `- berthd load throughput / tar's: **${(berthRate / tarRate).toFixed(2)}×** end to end (goal ≥ 0.8× for the unpack; see phases)`,
    `- peak RSS during the load: berthd ${fmt(f.berthdPeakRss, 0)} MiB sampled every 20 ms, VmHWM ${fmt(f.berthdHwm, 0)} MiB (goal < 150 MiB); ` +
      `dockerd + containerd ${fmt(f.dockerdPeakRss, 0)} MiB`,
    '',
  ].join('\n');
}

function phasesReport(f: PhaseFigures, image: BuiltImage, tar: Stats | undefined): string {
  const bytes = image.layers.reduce((s, l) => s + l.tarBytes, 0);
  const lines = [
    `### ${f.image} in-process phases (${f.runs} runs: median (min–max))`,
    '',
    '| phase | time | layer MiB/s |',
    '|---|---|---|',
    `| whole loadArchive | ${sec(f.total)} | ${mibs(bytes, f.total)} |`,
    `| ingest (archive → content store, fsync) | ${sec(f.ingest)} | ${mibs(bytes, f.ingest)} |`,
    `| unpack (blob → diff ID hash → snapshot) | ${sec(f.unpack)} | ${mibs(bytes, f.unpack)} |`,
    `| register + sweep | ${sec(f.register)} | |`,
    `| unpackLayer alone (layer file → dir) | ${sec(f.unpackOnly)} | ${mibs(bytes, f.unpackOnly)} |`,
  ];
  if (tar)
    lines.push(
      `| \`tar ${image.gzip ? '-xzf' : '-xf'}\` (from the load benchmark) | ${sec(tar)} | ${mibs(bytes, tar)} |`,
    );
  lines.push('');
  if (tar)
    lines.push(
      `- unpack phase throughput / tar's: **${(tar.median / f.unpack.median).toFixed(2)}×**; unpackLayer alone / tar's: **${(tar.median / f.unpackOnly.median).toFixed(2)}×** (goal ≥ 0.8×)`,
      '',
    );
  return lines.join('\n');
}

function idleReport(f: IdleFigures): string {
  return [
    `### Idle memory (${f.runs} fresh starts each, RSS read ${f.settleMs} ms after ready: median (min–max))`,
    '',
    '| engine | start to first /_ping | idle RSS | RSS after one `images` |',
    '|---|---|---|---|',
    `| berthd | ${ms(f.berthdStart)} | ${fmt(f.berthdIdle, 1)} MiB | ${fmt(f.berthdAfterImages, 1)} MiB |`,
    `| dockerd + containerd | ${ms(f.dockerdStart)} | ${fmt(f.dockerdIdle, 1)} MiB | ${fmt(f.dockerdAfterImages, 1)} MiB (dockerd alone ${fmt(f.dockerdOnlyAfterImages, 1)}) |`,
    '',
    `- berthd idle goal ≤ 70 MiB: ${f.berthdAfterImages.median <= 70 ? 'met' : '**missed**'} (${f.berthdAfterImages.median.toFixed(1)} MiB after one \`images\`)`,
    '',
  ].join('\n');
}

function versionReport(f: VersionFigures): string {
  const node = f.results.find((r) => r.label === 'node -e 0');
  const ratio = (r: VersionFigures['results'][number]): string =>
    node ? `${(r.stats.median / node.stats.median).toFixed(2)}× / ${(r.cpu.median / node.cpu.median).toFixed(2)}×` : '';
  return [
    `### \`version\` end to end (hyperfine -N, ${f.rounds} interleaved rounds, ${f.runs} runs each: median (min–max))`,
    '',
    '| command | time | mean ± σ | CPU (user + system, median of rounds) | to `node -e 0`: time / CPU |',
    '|---|---|---|---|---|',
    ...f.results.map(
      (r) =>
        `| ${r.label} | ${ms(r.stats)} | ${(r.mean * 1000).toFixed(1)} ± ${(r.stddev * 1000).toFixed(1)} ms | ` +
        `${(r.cpu.median * 1000).toFixed(1)} ms | ${ratio(r)} |`,
    ),
    '',
  ].join('\n');
}

// ---- main ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const scratch = await mkdtemp('/tmp/berth-bench-run-');
  cleanups.push(() => rm(scratch, { recursive: true, force: true }));
  const info = await machine();
  const out: string[] = ['## Machine', '', ...Object.entries(info).map(([k, v]) => `- ${k}: ${v}`), ''];
  log(out.join('\n'));
  const json: Record<string, unknown> = { machine: info };

  const needImages = selected.some((s) => ['load', 'layers', 'phases', 'profile', 'registry'].includes(s));
  const images: BuiltImage[] = [];
  if (needImages) {
    for (const c of compressions) {
      const gzip = c === 'gzip';
      const suffix = gzip ? '-gz' : '';
      if (selected.some((s) => ['load', 'phases', 'profile', 'registry'].includes(s))) {
        log(`building a ${mib} MiB single-layer archive (${c})`);
        images.push(await buildImage(scratch, `bench-big${suffix}`, [bigLayer(mib)], { gzip }));
      }
      if (selected.some((s) => ['layers', 'phases', 'profile', 'registry'].includes(s))) {
        log(`building a ${layerCount}-layer archive of ${layerKib} KiB layers (${c})`);
        images.push(await buildImage(scratch, `bench-layers${suffix}`, manyLayers(layerCount, layerKib), { gzip }));
      }
    }
  }
  const big = images.filter((i) => i.name.startsWith('bench-big'));
  const many = images.filter((i) => i.name.startsWith('bench-layers'));

  let engines: { berthd: Engine; dockerd: Engine } | undefined;
  const needEngines = selected.some((s) => ['load', 'layers', 'version'].includes(s));
  if (needEngines) {
    const berthd = await startBerthd();
    cleanups.push(() => berthd.stop());
    const dockerd = await startDockerd();
    cleanups.push(() => dockerd.stop());
    engines = { berthd, dockerd };
  }

  const tarTimes = new Map<string, Stats>();
  const loads: LoadFigures[] = [];
  for (const [bench, list] of [
    ['load', big],
    ['layers', many],
  ] as const) {
    if (!selected.includes(bench)) continue;
    for (const image of list) {
      log(`${bench}: ${image.name}`);
      const f = await benchLoad(image, engines!, { runs, scratch, log });
      loads.push(f);
      tarTimes.set(image.name, f.tar);
      out.push(loadReport(f));
    }
  }
  if (loads.length) json.load = loads;

  if (selected.includes('phases')) {
    const phases: PhaseFigures[] = [];
    for (const image of images) {
      log(`phases: ${image.name}`);
      const f = await benchPhases(image, { runs, scratch, log });
      phases.push(f);
      out.push(phasesReport(f, image, tarTimes.get(image.name)));
    }
    json.phases = phases;
  }

  if (selected.includes('registry')) {
    // Registries hold gzip layers; uncompressed images are used only when no gzip ones were built.
    const withGzip = images.filter((i) => i.gzip);
    const list = withGzip.length > 0 ? withGzip : images;
    const own = engines ? undefined : await startBerthd();
    const berthd = engines?.berthd ?? own!;
    const figures: RegistryFigures[] = [];
    try {
      for (const image of list) {
        log(`registry: ${image.name}`);
        const f = await benchRegistry(image, berthd, { runs, scratch, log });
        figures.push(f);
        out.push(registryReport(f, big.includes(image)));
      }
    } finally {
      await own?.stop();
    }
    json.registry = figures;
  }

  if (selected.includes('version')) {
    log('version: hyperfine');
    const f = await benchVersion(engines!, {
      runs: versionRuns,
      scratch,
      ...(values.base ? { base: values.base } : {}),
    });
    json.version = f;
    out.push(versionReport(f));
  }

  // The idle benchmark starts and stops its own engines; the load engines are stopped first so that they do not
  // compete for the machine.
  if (selected.includes('idle')) {
    if (engines) {
      await engines.berthd.stop();
      await engines.dockerd.stop();
      cleanups.splice(-2, 2);
      engines = undefined;
    }
    log('idle: fresh daemons');
    const f = await benchIdle({ runs: idleRuns, settleMs: 2000, log });
    json.idle = f;
    out.push(idleReport(f));
  }

  if (selected.includes('profile')) {
    const profDir = join(scratch, 'cpu-prof');
    const berthd = await startBerthd({ nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
    try {
      for (const image of images) {
        const r = await run(BERTH, ['-H', berthd.host, 'load', '-q', '-i', image.archive]);
        log(`profile: loaded ${image.name} in ${r.seconds.toFixed(2)} s (under the profiler)`);
        await run(BERTH, ['-H', berthd.host, 'rmi', `${image.name}:latest`]);
      }
    } finally {
      await berthd.stop();
    }
    for (const f of await readdir(profDir)) {
      const s = await summariseProfile(join(profDir, f), 20);
      out.push(
        `### berthd CPU profile: one load of each image (${s.seconds.toFixed(1)} s profiled, main thread busy ${s.busySeconds.toFixed(1)} s)`,
        '',
        '| self time | function |',
        '|---|---|',
        ...s.functions.map((x) => `| ${x.seconds.toFixed(2)} s | \`${x.name}\` |`),
        '',
        '| self time | file |',
        '|---|---|',
        ...s.files.map((x) => `| ${x.seconds.toFixed(2)} s | ${x.name} |`),
        '',
      );
      json.profile = s;
    }
  }

  if (selected.includes('containers')) {
    const f = await benchContainers({ runs, parallel: 20, scratch, log });
    json.containers = f;
    out.push(containersReport(f));
  }

  if (selected.includes('trust')) {
    const f = await benchTrust({
      runs,
      scratch,
      advisories: positive('advisories', values.advisories),
      ...(values['debian-root'] ? { debianRoot: values['debian-root'] } : {}),
      log,
    });
    json.trust = f;
    out.push(trustReport(f));
  }

  if (selected.includes('start')) {
    const f = await benchStart({ rounds, perRound: runs, parallel: 20, scratch, log });
    json.start = {
      ...f,
      engines: f.engines.map((e) => ({
        engine: e.engine,
        api: e.tally.api,
        parallel: e.tally.parallel,
        runRm: Object.fromEntries(e.tally.runRm),
      })),
    };
    out.push(startReport(f));
  }

  if (selected.includes('start-memory')) {
    const f = await benchStartMemory({ runs, parallel: 20, log });
    json.startMemory = f;
    out.push(startMemoryReport(f, 20));
  }

  if (selected.includes('start-burst')) {
    const f = await benchStartBurst({
      rounds,
      parallel: 20,
      scratch,
      log,
      ...(values.base ? { base: values.base } : {}),
    });
    json.startBurst = f;
    out.push(startBurstReport(f));
  }

  if (selected.includes('compose') || selected.includes('compose-config')) {
    const f = await benchCompose({
      runs,
      log,
      configOnly: !selected.includes('compose'),
      ...(values.base ? { base: values.base } : {}),
    });
    json.compose = f;
    out.push(composeReport(f));
  }
  if (selected.includes('build')) {
    const f = await benchBuild({
      runs,
      log,
      ...(values.only ? { only: values.only } : {}),
      noBuildah: values['no-buildah'],
      ...(values.base ? { base: values.base } : {}),
    });
    json.build = f;
    out.push(buildReport(f));
  }
  if (selected.includes('datapath')) {
    const rssMib = Number(values['rss-mib']);
    const f = await benchDatapath({ rounds, mib, layers: layerCount, layerKib, rssMib, scratch, log, cleanups });
    json.datapath = f;
    out.push(datapathReport(f));
  }
  if (selected.includes('datapath-load')) {
    const f = await benchDatapathLoad({
      rounds,
      mib,
      compression: compressions as ('none' | 'gzip')[],
      ...(values.base !== undefined ? { base: values.base } : {}),
      dockerd: !values['no-dockerd'],
      afterRemoval: values['after-removal'],
      scratch,
      log,
      cleanups,
    });
    json.datapathLoad = f;
    out.push(datapathLoadReport(f));
  }
  if (selected.includes('datapath-pull')) {
    const f = await benchDatapathPull({
      rounds,
      mib,
      layers: layerCount,
      layerKib,
      ...(values.base !== undefined ? { base: values.base } : {}),
      scratch,
      log,
      cleanups,
    });
    json.datapathPull = f;
    out.push(datapathPullReport(f));
  }
  if (selected.includes('datapath-rss')) {
    const variants = [
      ...(values['rss-variant'] ?? []).map(parseVariant),
      ...(values['rss-tree'] ?? []).map(parseTreeVariant),
    ];
    if (values.base !== undefined) variants.push(parseTreeVariant(`base=${values.base}`));
    const f = await benchDatapathRss({
      rounds,
      mib: positive('rss-mib', values['rss-mib']),
      compression: compressions as ('none' | 'gzip')[],
      dockerd: !values['no-dockerd'],
      scratch,
      variants,
      log,
      cleanups,
    });
    json.datapathRss = f;
    out.push(datapathRssReport(f));
  }
  if (selected.includes('network')) {
    const f = await benchNetwork({ runs, parallel: 20, wrkSeconds: 5, scratch, log });
    json.network = f;
    out.push(networkReport(f));
  }

  out.push(
    `Load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    '',
  );
  process.stdout.write(`${out.join('\n')}\n`);
  if (values.json) await writeFile(values.json, JSON.stringify(json, null, 2));
}

try {
  await main();
} catch (err) {
  log(`bench: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
