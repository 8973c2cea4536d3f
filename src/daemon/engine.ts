import { mkdir, readdir, readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FileContentStore } from '../content/index.ts';
import { ContainerService } from '../containers/index.ts';
import { ImageService } from '../images/index.ts';
import type { BuildService, BuildServiceDeps } from '../build/index.ts';
import {
  BuildCacheRecords,
  ContainerRecords,
  ImageRecords,
  LeaseRecords,
  MetadataDB,
  NetworkRecords,
  SnapshotRecords,
  VolumeRecords,
} from '../metadata/index.ts';
import { BridgeBackend, findHelper, NetavarkBackend, type NetworkBackend, NetworkService } from '../network/index.ts';
import { runtimeTraits } from '../runtime/index.ts';
import { VolumeService } from '../volumes/index.ts';
import { configureUnpackThreads, CopySnapshotter, OverlaySnapshotter, type Snapshotter } from '../snapshots/index.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { EventLog } from '../util/events.ts';
import { isErrno } from '../util/errors.ts';
import type { DaemonConfig } from './config.ts';
import type { Logger } from './log.ts';
import { hostFacts, initBinary, setUpRuntimes, type Runtimes } from './runtimes.ts';

/** Every service of one engine, built over one data root. Tests build one in a temp dir. */
export interface Engine {
  config: DaemonConfig;
  db: MetadataDB;
  content: FileContentStore;
  snapshotter: Snapshotter;
  images: ImageService;
  volumes: VolumeService;
  networks: NetworkService;
  containers: ContainerService;
  /**
   * The builder, made on first use: its modules load then, not at start (bench/README.md, "berthd's memory").
   * Start-up repair loads it only when a build was cut short (`repair`).
   */
  build(): Promise<BuildService>;
  /** How the builder pulls (the registry client is wired after the engine: see `archivesFor`). */
  setBuildPull(fn: BuildServiceDeps['pull']): void;
  runtimes: Runtimes;
  events: EventLog;
  engineId: string;
  close(): Promise<void>;
}

export async function buildEngine(config: DaemonConfig, log: Logger): Promise<Engine> {
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  const db = new MetadataDB(join(config.dataRoot, 'berth.db'));
  const content = new FileContentStore(config.dataRoot);
  await content.init();
  const deps = { root: config.dataRoot, records: new SnapshotRecords(db) };
  const snapshotter: Snapshotter =
    config.snapshotter === 'copy' ? new CopySnapshotter(deps) : new OverlaySnapshotter(deps);
  // A layer a build linked from an earlier one has its blob made when first read (build/layerblob.ts; the builder loads then).
  content.setProducer(async function* (blob) {
    const { snapshotTar } = await import('../build/index.ts');
    yield* snapshotTar(snapshotter, blob.snapshot);
  });
  // Layers unpacking at once, each spread over the applier threads (snapshots/pool.ts): one per download, and as
  // many again finishing (the tail of a layer's unpack and its blob's fsync once its last byte is in, when its
  // download slot is already free for the next; distribution/remote/layers.ts). Only the first half start as soon as
  // a layer needs one: the others when a layer has waited for a tail to end (snapshots/pool.ts, `eager`).
  configureUnpackThreads({
    readers: 2 * config.maxConcurrentDownloads,
    eager: config.maxConcurrentDownloads,
    appliers: config.unpackThreads,
  });
  const events = new EventLog();
  // The services refer to each other through late-bound callbacks (an image or volume is in use by a container).
  let containers: ContainerService | undefined;
  const buildCache = new BuildCacheRecords(db);
  const images = new ImageService({
    content,
    snapshotter,
    records: new ImageRecords(db),
    leases: new LeaseRecords(db),
    events,
    historyDepth: config.tagHistoryDepth,
    usedBy: (id) => containers?.usingImage(id) ?? [],
    roots: () => buildCache.roots(),
  });
  const volumes = new VolumeService({
    root: config.dataRoot,
    records: new VolumeRecords(db),
    events,
    usedBy: (n) => containers?.usingVolume(n) ?? [],
  });
  const networks = new NetworkService({
    records: new NetworkRecords(db),
    events,
    execRoot: config.execRoot,
    config: {
      bridge: config.bridge,
      bip: config.bip,
      defaultBindAddress: config.defaultBindAddress,
      pools: config.defaultAddressPools,
    },
    backend: networkBackend(config, log),
    containers: (ref) => {
      let r;
      try {
        r = containers?.get(ref);
      } catch {
        return undefined;
      }
      if (!r) return undefined;
      const st = r.state.Status;
      return {
        id: r.id,
        name: r.name,
        running: st === 'running' || st === 'paused' || st === 'restarting',
        networkMode: r.hostConfig.NetworkMode ?? 'bridge',
      };
    },
    log,
  });
  const runtimes = await setUpRuntimes(config.execRoot, config.defaultRuntime, log);
  containers = new ContainerService({
    dataRoot: config.dataRoot,
    records: new ContainerRecords(db),
    images,
    snapshotter,
    volumes,
    networks: networks.sandboxes,
    runtimes: runtimes.drivers,
    defaultRuntime: runtimes.defaultRuntime,
    events,
    host: hostFacts(),
    initPath: initBinary(),
    log,
  });
  // RUN steps stay on runc where it works (its `buildSteps` trait): the builder runs the runtime itself (`runc run`,
  // its JSON log read for start failures), not through conmon and runtime-ns; else on the default, if not wrapped.
  const defaultRuntime =
    runtimes.probes.find((p) => p.ok && runtimeTraits(p.name).buildSteps) ??
    runtimes.probes.find((p) => p.ok && p.name === runtimes.defaultRuntime && !p.wrapper);
  // The builder pulls through the same code as `docker pull` (daemon/wiring.ts sets it once the engine exists).
  const pull: { fn?: BuildServiceDeps['pull'] } = {};
  let build: Promise<BuildService> | undefined;
  const loadBuild = async (): Promise<BuildService> => {
    const { BuildService } = await import('../build/index.ts');
    return new BuildService({
      dataRoot: config.dataRoot,
      execRoot: config.execRoot,
      images,
      snapshotter,
      records: buildCache,
      sandboxes: networks.sandboxes,
      runtime: defaultRuntime ? { name: defaultRuntime.name, path: defaultRuntime.path } : undefined,
      host: hostFacts(),
      events,
      pull: (ref, opts) => {
        if (!pull.fn) throw new Error('the builder cannot pull yet');
        return pull.fn(ref, opts);
      },
      log,
    });
  };
  const engineId = await readOrCreateId(join(config.dataRoot, 'engine-id'));
  return {
    config,
    db,
    content,
    snapshotter,
    images,
    volumes,
    networks,
    containers,
    build: () =>
      (build ??= loadBuild().catch((err: unknown) => {
        build = undefined;
        throw err;
      })),
    setBuildPull: (fn) => {
      pull.fn = fn;
    },
    runtimes,
    events,
    engineId,
    close: async () => {
      containers.close();
      for (const driver of runtimes.drivers.values()) driver.close();
      await networks.drain();
      await snapshotter.close();
      db.close();
    },
  };
}

/**
 * The network backend the config asks for: Berth's own bridge backend (the default) or netavark. aardvark-dns and
 * netavark are looked for in podman's helper directories, then $PATH; a missing one fails the first setup that
 * needs it, not the daemon.
 */
function networkBackend(config: DaemonConfig, log: Logger): NetworkBackend {
  const dir = join(config.execRoot, 'network');
  const aardvark = findHelper('aardvark-dns');
  if (config.networkBackend === 'netavark')
    return new NetavarkBackend({ netavark: findHelper('netavark'), aardvark, configDir: join(dir, 'netavark') });
  return new BridgeBackend({
    ...(aardvark ? { aardvark } : {}),
    dnsDir: join(dir, 'aardvark-dns'),
    // The default bridge stays a moment after its last container, as containers come and go on it.
    keep: (name) => name === 'bridge',
    log,
  });
}

/**
 * Repairs what a crash left, before serving: unfinished ingests, unpacks in progress, snapshot directories
 * without records, then blobs and snapshots no image needs.
 */
export async function repair(engine: Engine, log: Logger): Promise<void> {
  const ingests = await engine.content.repair();
  // Builds a crash interrupted: their runs released and roots unmounted before the snapshots they held go.
  if ((await leftovers(engine)).build) {
    log.info('startup repair: the builder repairs what an interrupted build left');
    const builds = await (await engine.build()).repair();
    if (builds.runs > 0) log.info(`startup repair: released ${builds.runs} interrupted build step(s)`);
  }
  const snaps = await engine.snapshotter.repair();
  await engine.volumes.repair();
  await engine.containers.restore();
  await engine.networks.sandboxes.repair((id) => {
    try {
      const st = engine.containers.get(id).state.Status;
      return st === 'running' || st === 'paused' || st === 'restarting';
    } catch {
      return false;
    }
  });
  // Leases of operations the daemon died in: a pull's verified blobs stay for the repeated pull, the rest goes.
  const leases = engine.images.repairLeases();
  const gc = await engine.images.collect();
  if (leases.keptBlobs > 0) log.info(`startup repair: kept ${leases.keptBlobs} blob(s) verified by interrupted pulls`);
  if (ingests.removed || snaps.removed.length || gc.blobs.length || gc.layers.length) {
    log.info(
      `startup repair: removed ${ingests.removed} unfinished ingest(s), ${snaps.removed.length} interrupted snapshot(s), ${gc.blobs.length} orphan blob(s), ${gc.layers.length} orphan layer(s)`,
    );
  }
}

/**
 * What the daemon's end cut short, outside the snapshotter's own records: a build (a run's state, mounts, contexts
 * or scratch directories where the builder keeps them), an image read by trust (its mount points), and snapshot
 * views (only the builder and trust make views, and both remove theirs when done). Start-up loads the builder or
 * trust to repair (`BuildService.repair`, `TrustService.repair`) only then, so that a normal start loads neither.
 */
export async function leftovers(engine: Engine): Promise<{ build: boolean; trust: boolean }> {
  const { dataRoot, execRoot } = engine.config;
  const someEntries = async (dirs: string[]) => {
    for (const dir of dirs) if ((await readdir(dir).catch(() => [])).length > 0) return true;
    return false;
  };
  let views = false;
  for await (const s of engine.snapshotter.walk()) if (s.kind === 'view') views = true;
  const buildDirs = [
    join(execRoot, 'build', 'runs'),
    ...['mnt', 'contexts', 'tmp'].map((d) => join(dataRoot, 'build', d)),
  ];
  return {
    build: views || (await someEntries(buildDirs)),
    trust: views || (await someEntries([join(dataRoot, 'trust', 'mnt')])),
  };
}

async function readOrCreateId(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const id = randomUUID();
  await writeFileAtomic(path, `${id}\n`);
  return id;
}
