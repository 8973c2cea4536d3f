/**
 * The data path side by side (issue 11), in one run of interleaved rounds, each step with the load average at its
 * start:
 * - pull of a single-layer gzip image and of a many-layer gzip image from one local docker-registry (started here,
 *   seeded by skopeo): `docker pull` and `berth pull` through berthd, `docker pull` through Debian's dockerd 20.10,
 *   `podman pull` (root, its own storage), `skopeo copy docker://… oci:DIR` (no unpack: the floor of the network
 *   part), and `berth pull` twice more: "after idle" (12 s after berthd's last pull, its idle stop run) and "after
 *   start" (berthd restarted on the same roots first: the first pull after a daemon start); every engine removes
 *   the image and prunes between runs (checked: no unpacked layer left);
 * - `docker load` of the same images' archives, uncompressed and gzip, into berthd and into dockerd;
 * - unpack: berthd's unpack code in this process (`unpackTar` from the layer file, the image's layers three at a
 *   time as a load unpacks them, its threads started beforehand, the tar hashed only for a compressed blob as
 *   berthd asks) beside GNU `tar -x` / `tar -xz` of the same layer files; the threads' start and the raw layer's
 *   unpack with the tar hashed as steps of their own;
 * - floors: the big blob fetched from the registry to /dev/null (curl), and written to a file with one fsync (dd);
 *   in each pull round, the network floor of each pull: the manifest, config and every blob of the image fetched
 *   to /dev/null by one `curl --parallel` with 3 transfers at once (docker's max-concurrent-downloads, berthd's
 *   default) and with 6 (containers/image's, skopeo's), over kept-alive connections;
 * - the requests each client makes to the registry for one pull (its access log), by method;
 * - where a berth pull's time goes: the JSON progress of `POST /images/create` through the API, timestamped;
 * - memory: berthd's RSS when idle, and its peak (VmRSS every 20 ms) during a `docker load` of a `--rss-mib`
 *   single-layer image, beside dockerd + containerd's.
 * No timing is asserted.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { accessLog, startRegistry } from '../src/distribution/remote/testkit.ts';
import { unlinkFiles } from '../src/snapshots/removed.ts';
import { apiPull, floorArgs, requestsSince, seedRegistry, skopeoPullArgs } from './lib/pull-probe.ts';
import { bigLayer, buildImage, manyLayers, type BuiltImage } from './lib/archive.ts';
import {
  BERTH,
  DOCKER,
  dockerEnv,
  podmanSetup,
  removeDir,
  restartBerthd,
  startBerthd,
  startDockerd,
  TREE,
  type Engine,
} from './lib/engines.ts';
import {
  afterIdle,
  cpuSeconds,
  machineBusy,
  settle,
  hasUnpackThreads,
  idleRssMiB,
  resetPeak,
  run,
  sampleRss,
  stats,
  threadSched,
} from './lib/proc.ts';

/** A step longer than this is a hang. */
const STEP_MS = 600_000;

export interface Sample {
  seconds: number;
  /** The 1-minute load average when the step started. */
  load: number;
  /**
   * CPU seconds (user + system) the step cost: the command's own (and its children's) and the daemon's it talks
   * to (every thread; dockerd's containerd too). Less sensitive to the machine's load than wall time.
   */
  cpu?: number;
  /**
   * For a step through berthd: its CPU seconds by thread name (MainThread, WorkerThread: the unpack threads,
   * libuv-worker: zlib and fs work, V8Worker: the garbage collector's helpers).
   */
  threads?: Record<string, number>;
  /**
   * CPU seconds the whole machine spent during the step (/proc/stat): beside `cpu` (and the registry's, for a pull),
   * what other processes took from the step's CPUs.
   */
  machine?: number;
  /** Seconds the step waited, after its `sync`, for the machine to be idle (bench/lib/proc.ts `settle`). */
  settled?: number;
  /**
   * For a step through berthd, by thread name: seconds its threads were runnable but waiting for a CPU (the run
   * queue, from schedstat), and how many times they were put on a CPU (each a wake-up or a preemption).
   */
  waits?: Record<string, number>;
  runs?: Record<string, number>;
}

export interface DatapathFigures {
  rounds: number;
  images: { name: string; layers: number; layerBytes: number; blobBytes: number }[];
  /** `${kind} ${image} ${who}` → samples. */
  samples: Record<string, Sample[]>;
  /** Where a berth pull's time went, per image: seconds from the request to each milestone (medians). */
  pullMarks: Record<string, Record<string, number>>;
  /** `${image} ${who}` → the requests one pull made to the registry, by method and kind (the warm-up round's). */
  requests?: Record<string, Record<string, number>>;
  rss: { berthdIdle: number; berthdPeak: number; dockerdPeak: number; mib: number; load: number } | undefined;
}

const now = (): number => loadavg()[0]!;

export async function timed(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  daemon: number[] = [],
  threadsOf?: number,
): Promise<Sample> {
  await run('sync', []);
  // Each step on an idle machine, so that none runs into what the step before left going (an engine's removal of an
  // image, its collector, the kernel's writeback). The report gives the wait: at 23:00 on 2026-12-07 the machine was
  // idle already before every pull (bench/README.md, "Data path").
  const settled = await settle();
  const load = now();
  const times = join(tmpdir(), `berth-bench-dp-time-${process.pid}`);
  const before = cpuSeconds(daemon);
  const threadsBefore = threadsOf ? threadSched(threadsOf) : {};
  const machine0 = machineBusy();
  const r = await run('/usr/bin/time', ['-f', '%U %S', '-o', times, cmd, ...args], { env, timeoutMs: STEP_MS });
  const machine = (machineBusy() - machine0) / 1000;
  const daemonCpu = cpuSeconds(daemon) - before;
  let threads: Record<string, number> | undefined;
  let waits: Record<string, number> | undefined;
  let runs: Record<string, number> | undefined;
  if (threadsOf) {
    // Threads that ended during the step (idle unpack threads stopping) are missed; they are rarely that quick.
    threads = {};
    waits = {};
    runs = {};
    for (const [k, v] of Object.entries(threadSched(threadsOf))) {
      const b = threadsBefore[k];
      threads[k] = v.cpu - (b?.cpu ?? 0);
      waits[k] = v.wait - (b?.wait ?? 0);
      runs[k] = v.runs - (b?.runs ?? 0);
    }
  }
  const [user, sys] = (await readFile(times, 'utf8')).trim().split(/\s+/).slice(-2).map(Number);
  await rm(times, { force: true });
  return {
    seconds: r.seconds,
    load,
    cpu: daemonCpu + (user ?? 0) + (sys ?? 0),
    machine,
    settled: settled / 1000,
    ...(threads && waits && runs ? { threads, waits, runs } : {}),
  };
}

/** The tree under test's unpack code, for the in-process unpack. */
async function unpackCode(): Promise<typeof import('../src/snapshots/index.ts')> {
  return import(pathToFileURL(join(TREE, 'src', 'snapshots', 'index.ts')).href);
}

export async function clearDocker(e: Engine, ref: string): Promise<void> {
  const env = dockerEnv(e);
  await run(DOCKER, ['rmi', '-f', ref], { env, allowFail: true });
  await run(DOCKER, ['image', 'prune', '-a', '-f'], { env });
  const left = await e.layerDirs();
  if (left.length) throw new Error(`${e.name} kept ${left.length} layer dir(s) after rmi and prune`);
}

/** One `docker load -q` of `image` into `e`, timed with the engine's CPU (berthd's by thread), then removed. */
export async function timedLoad(e: Engine, image: BuiltImage): Promise<Sample> {
  const s = await timed(
    DOCKER,
    ['load', '-q', '-i', image.archive],
    dockerEnv(e),
    e.pids(),
    e.name === 'berthd' ? e.pid : undefined,
  );
  await clearDocker(e, `${image.name}:latest`);
  return s;
}

export async function benchDatapath(o: {
  rounds: number;
  mib: number;
  layers: number;
  layerKib: number;
  rssMib: number;
  scratch: string;
  log: (s: string) => void;
  /** Where to register the engines' cleanups (the caller runs what is left on an interrupt). */
  cleanups?: (() => Promise<unknown>)[];
}): Promise<DatapathFigures> {
  const { scratch, log } = o;
  // The caller's list when it has one, so that an interrupt (which ends the process) stops the engines too; each
  // cleanup is taken off the list as it runs, so none runs twice.
  const cleanups: (() => Promise<unknown>)[] = o.cleanups ?? [];
  const mark = cleanups.length;
  const samples: Record<string, Sample[]> = {};
  const add = (key: string, s: Sample): void => {
    (samples[key] ??= []).push(s);
    log(`  ${key}: ${s.seconds.toFixed(2)} s, CPU ${s.cpu?.toFixed(2) ?? '?'} s (load ${s.load.toFixed(1)})`);
  };
  const marks: Record<string, Record<string, number>[]> = {};
  /** The requests each pull step made to the registry (the warm-up round's). */
  const requests: Record<string, Record<string, number>> = {};
  try {
    log('building the images');
    const built = {
      big: await buildImage(scratch, 'dp-big', [bigLayer(o.mib)], { gzip: true }),
      bigRaw: await buildImage(scratch, 'dp-big-raw', [bigLayer(o.mib)], { gzip: false }),
      many: await buildImage(scratch, 'dp-many', manyLayers(o.layers, o.layerKib), { gzip: true }),
      manyRaw: await buildImage(scratch, 'dp-many-raw', manyLayers(o.layers, o.layerKib), { gzip: false }),
    };
    // Restarted for each pull's "after start" step (`restartBerthd`): every use reads the current one.
    let berthd = await startBerthd();
    cleanups.push(() => berthd.stop());
    const dockerd = await startDockerd();
    cleanups.push(() => dockerd.stop());
    const pod = await podmanSetup('/tmp/podman-bench-dp-');
    cleanups.push(async () => {
      await run('podman', [...pod.base, 'rmi', '-a', '-f'], { env: pod.env, allowFail: true });
      await removeDir(pod.dir);
    });
    const reg = await startRegistry('plain');
    cleanups.push(() => reg.stop());
    const home = join(scratch, 'home');
    await mkdir(home, { recursive: true });
    const berthEnv = { HOME: home, DOCKER_CONFIG: join(home, '.docker') };
    const refs = {
      big: await seedRegistry(reg, built.big, STEP_MS),
      many: await seedRegistry(reg, built.many, STEP_MS),
    };
    const floorsOf = { big: await floorArgs(reg, refs.big), many: await floorArgs(reg, refs.many) };
    const snapshots = await unpackCode();

    /** When berthd's last pull (and its image's removal) ended: the "after idle" step waits from there. */
    let lastBerthdPull = performance.now();
    const pullOnce = async (which: 'big' | 'many', record: boolean): Promise<void> => {
      const ref = refs[which];
      const steps: [string, () => Promise<Sample>, () => Promise<void>][] = [
        [
          'docker → berthd',
          () => timed(DOCKER, ['pull', '-q', ref], dockerEnv(berthd), berthd.pids(), berthd.pid),
          () => clearDocker(berthd, ref),
        ],
        [
          'berth → berthd',
          () => timed(BERTH, ['-H', berthd.host, 'pull', '-q', ref], berthEnv, berthd.pids(), berthd.pid),
          () => clearDocker(berthd, ref),
        ],
        [
          'docker → dockerd',
          () => timed(DOCKER, ['pull', '-q', ref], dockerEnv(dockerd), dockerd.pids()),
          () => clearDocker(dockerd, ref),
        ],
        [
          'podman',
          () => timed('podman', [...pod.base, 'pull', '-q', '--tls-verify=false', ref], pod.env),
          async () => {
            await run('podman', [...pod.base, 'rmi', '-a', '-f'], { env: pod.env });
          },
        ],
        [
          'skopeo (no unpack)',
          () => timed('skopeo', skopeoPullArgs(ref, `oci:${join(scratch, 'oci')}:x`)),
          () => rm(join(scratch, 'oci'), { recursive: true, force: true }),
        ],
        ['curl ×3 (network floor)', () => timed('curl', floorsOf[which](3)), async () => {}],
        ['curl ×6 (network floor)', () => timed('curl', floorsOf[which](6)), async () => {}],
        // The pull after an idle spell, after the steps above so that they let most of it pass: AFTER_IDLE_MS
        // after berthd's last pull, its idle stop run (its appliers and big layers' readers stopped, the reader
        // thread that served small layers kept: src/snapshots/pool.ts).
        [
          'berth → berthd (after idle)',
          async () => {
            await afterIdle(berthd.pid, lastBerthdPull);
            return await timed(BERTH, ['-H', berthd.host, 'pull', '-q', ref], berthEnv, berthd.pids(), berthd.pid);
          },
          () => clearDocker(berthd, ref),
        ],
        // The first pull after a daemon start: berthd restarted on the same roots (the image removed), no unpack
        // thread running; this pull pays their start and warm-up (skopeo pays its own start every time).
        [
          'berth → berthd (after start)',
          async () => {
            berthd = await restartBerthd(berthd);
            const s = await timed(BERTH, ['-H', berthd.host, 'pull', '-q', ref], berthEnv, berthd.pids(), berthd.pid);
            if (!hasUnpackThreads(berthd.pid)) throw new Error('no unpack thread seen after a pull: renamed?');
            return s;
          },
          () => clearDocker(berthd, ref),
        ],
      ];
      // Untimed, one pull of this image first: berthd's unpack threads as a pull of it leaves them (the previous
      // image's last pull was the first after a restart; this one may use six readers), so that the steps before
      // the "after idle" one are warm.
      await apiPull(berthd.socket, ref);
      await clearDocker(berthd, ref);
      for (const [who, step, clear] of steps) {
        const from = accessLog(reg).length;
        const s = await step();
        await clear();
        if (who.includes('→ berthd')) lastBerthdPull = performance.now();
        if (record) add(`pull ${which} ${who}`, s);
        if (!record) requests[`${which} ${who}`] = requestsSince(reg, from);
      }
      await run('sync', []);
      const m = await apiPull(berthd.socket, ref);
      await clearDocker(berthd, ref);
      if (record) (marks[which] ??= []).push(m);
    };

    const loadOnce = async (image: BuiltImage, record: boolean): Promise<void> => {
      for (const e of [berthd, dockerd]) {
        const s = await timedLoad(e, image);
        if (record) add(`load ${image.name} docker → ${e.name}`, s);
      }
    };

    // Each unpack (berth's and tar's) into a directory of a fresh name under one marked as the top of directory
    // hierarchies, as berthd's snapshots are (src/util/topdir.ts): on ext4 without a journal a directory made
    // again under the old name lands among the inodes just freed, and each file created there pays for every inode
    // removed in the last minutes, which made this comparison one of that scan, whichever came second. Neither
    // output is removed before both unpacks are over, and which goes first alternates by round: this disk is
    // mounted with `discard`, and an unpack right after 256 MiB were removed (the other's output) ran up to 4×
    // slower in alternate rounds, whichever it was. The outputs are kept to the round's end (the pulls, loads and
    // floors of the next round come before its unpacks); then their files are unlinked but their directories kept
    // until the run ends, as berthd keeps a removed snapshot's (src/snapshots/removed.ts): a tree removed whole
    // puts its group back among those with the fewest directories, where ext4 may place any later directory made
    // under a `T` one, and the unpack that lands there pays for the inodes just freed.
    const unpackRoot = join(scratch, 'unpack');
    await mkdir(unpackRoot, { recursive: true });
    await run('chattr', ['+T', unpackRoot], { allowFail: true });
    let unpacks = 0;
    /** This round's unpack outputs, kept to its end. */
    const outputs: string[] = [];
    const freshDir = async (layers: number): Promise<string> => {
      const dir = join(unpackRoot, String(unpacks++));
      await mkdir(dir);
      for (let i = 0; i < layers; i++) await mkdir(join(dir, String(i)));
      return dir;
    };
    /**
     * The unpack threads started (three readers and the appliers, as three layers at once use them), untimed
     * before berth's unpack and timed once a round on its own: berthd keeps them for 10 s after an unpack, so a
     * load or pull pays their start only after an idle spell, and the bench process's threads have always stopped
     * by the time the unpack steps come round (the pulls and loads take longer than that). Without this the
     * 256 MiB unpack's ~0.1 s start (two threads' bootstrap) was counted as throughput.
     */
    const startThreads = async (): Promise<void> => {
      const dir = await freshDir(3);
      const end = new Uint8Array(1024); // an empty archive: the two end blocks
      await Promise.all(
        [0, 1, 2].map((i) => snapshots.unpackTar(join(dir, String(i)), [end], { whiteouts: 'overlay' })),
      );
    };
    const threadStart = async (record: boolean): Promise<void> => {
      await snapshots.stopUnpackThreads();
      await run('sync', []);
      const load = now();
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      await startThreads();
      const used = process.cpuUsage(cpu0);
      if (record)
        add('unpack threads start (in process)', {
          seconds: (performance.now() - t0) / 1000,
          load,
          cpu: (used.user + used.system) / 1e6,
        });
    };
    /**
     * `hashed`: the tar's digest computed as it unpacks. berthd asks for it only for a compressed blob
     * (src/images/unpack.ts): an uncompressed blob is its own tar, its digest checked as it was stored, so an
     * unpack from the store does not hash it again, and neither does berth's step here; the raw layer's unpack
     * is timed once more with the digest, as a step of its own, to show what it costs.
     */
    const unpackOnce = async (
      image: BuiltImage,
      record: boolean,
      tarFirst: boolean,
      hashed = image.gzip,
    ): Promise<void> => {
      const files = image.layers.map((l) => l.gz ?? l.tar);
      const berthStep = async (): Promise<Sample> => {
        const dir = await freshDir(files.length);
        await startThreads();
        await run('sync', []);
        const load = now();
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        const queue = files.map((f, i) => [f, i] as const);
        await Promise.all(
          [0, 1, 2].map(async () => {
            for (let next = queue.shift(); next; next = queue.shift()) {
              await snapshots.unpackTar(
                join(dir, String(next[1])),
                { file: next[0] },
                {
                  whiteouts: 'overlay',
                  compression: image.gzip ? 'gzip' : 'none',
                  hash: hashed,
                },
              );
            }
          }),
        );
        const used = process.cpuUsage(cpu0);
        outputs.push(dir);
        return { seconds: (performance.now() - t0) / 1000, load, cpu: (used.user + used.system) / 1e6 };
      };
      const tarStep = async (): Promise<Sample> => {
        const dir = await freshDir(files.length);
        outputs.push(dir);
        return timed('sh', [
          '-c',
          files.map((f, i) => `tar ${image.gzip ? '-xzf' : '-xf'} ${f} -C ${dir}/${i}`).join(' && '),
        ]);
      };
      let berth: Sample;
      let tar: Sample;
      if (tarFirst) {
        tar = await tarStep();
        berth = await berthStep();
      } else {
        berth = await berthStep();
        tar = await tarStep();
      }
      if (record) {
        const who = hashed && !image.gzip ? ' (tar hashed)' : '';
        add(`unpack ${image.name} berth${who}`, berth);
        add(`unpack ${image.name} tar${who}`, tar);
      }
    };

    const floors = async (record: boolean): Promise<void> => {
      const blob = built.big.layers[0]!;
      const manifest = JSON.parse(
        (await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${refs.big}`])).stdout,
      ) as { layers: { digest: string }[] };
      const url = `http://${reg.host}/v2/${built.big.name}/blobs/${manifest.layers[0]!.digest}`;
      const curl = await timed('curl', ['-sf', '-o', '/dev/null', url]);
      const out = join(scratch, 'dd.out');
      const dd = await timed('dd', [`if=${blob.gz}`, `of=${out}`, 'bs=1M', 'conv=fsync', 'status=none']);
      await rm(out, { force: true });
      if (record) {
        add('floor big blob → /dev/null (curl)', curl);
        add('floor big blob → file + fsync (dd)', dd);
      }
    };

    for (let r = 0; r <= o.rounds; r++) {
      const record = r > 0; // round 0 warms every path up
      log(record ? `round ${r}/${o.rounds}` : 'warm-up round');
      await pullOnce('big', record);
      await pullOnce('many', record);
      for (const image of [built.bigRaw, built.big, built.manyRaw, built.many]) await loadOnce(image, record);
      await threadStart(record);
      for (const image of [built.bigRaw, built.big, built.many]) await unpackOnce(image, record, r % 2 === 0);
      await unpackOnce(built.bigRaw, record, r % 2 !== 0, true);
      await floors(record);
      // The round's unpack outputs go at its end, long before the next round's unpacks (see `unpackRoot`).
      for (const dir of outputs.splice(0)) await unlinkFiles(dir);
      await run('sync', []);
    }
    await snapshots.stopUnpackThreads();

    const rss = o.rssMib > 0 ? await rssStep(o, berthd, dockerd, log) : undefined;
    const pullMarks: Record<string, Record<string, number>> = {};
    for (const [which, list] of Object.entries(marks)) {
      pullMarks[which] = {};
      for (const k of Object.keys(list[0] ?? {})) pullMarks[which]![k] = stats(list.map((m) => m[k] ?? NaN)).median;
    }
    return {
      rounds: o.rounds,
      images: Object.values(built).map((i) => ({
        name: i.name,
        layers: i.layers.length,
        layerBytes: i.layers.reduce((s, l) => s + l.tarBytes, 0),
        blobBytes: i.archiveBytes,
      })),
      samples,
      pullMarks,
      requests,
      rss,
    };
  } finally {
    while (cleanups.length > mark) await cleanups.pop()!().catch((err: Error) => log(`cleanup: ${err.message}`));
  }
}

/** berthd's idle RSS (a fresh daemon), then its peak during a load of a `rssMib` image, beside dockerd's. */
async function rssStep(
  o: { rssMib: number; scratch: string },
  _berthd: Engine,
  dockerd: Engine,
  log: (s: string) => void,
): Promise<DatapathFigures['rss']> {
  log(`building a ${o.rssMib} MiB single-layer archive for the memory step`);
  const image = await buildImage(o.scratch, 'dp-rss', [bigLayer(o.rssMib)], { gzip: false });
  for (const l of image.layers) await rm(l.tar, { force: true });
  const fresh = await startBerthd();
  try {
    const idle = await idleRssMiB(fresh.pid);
    const peakOf = async (e: Engine): Promise<number> => {
      await run('sync', []);
      for (const pid of e.pids()) await resetPeak(pid);
      const s = sampleRss(e.pids(), 20);
      await run(DOCKER, ['load', '-q', '-i', image.archive], { env: dockerEnv(e), timeoutMs: STEP_MS });
      const peak = s.stop() / 1024;
      await clearDocker(e, `${image.name}:latest`);
      return peak;
    };
    const load = now();
    const berthdPeak = await peakOf(fresh);
    const dockerdPeak = await peakOf(dockerd);
    log(
      `  rss: berthd idle ${idle.toFixed(0)} MiB, peak ${berthdPeak.toFixed(0)} MiB; dockerd ${dockerdPeak.toFixed(0)}`,
    );
    return { berthdIdle: idle, berthdPeak, dockerdPeak, mib: o.rssMib, load };
  } finally {
    await fresh.stop();
    await rm(image.archive, { force: true });
  }
}

export { datapathReport } from './datapath-report.ts';
