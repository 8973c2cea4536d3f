import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server } from 'node:http';
import {
  buildRoutes,
  containerRoutes,
  diskUsageContainers,
  createApiServer,
  distributionRoutes,
  execRoutes,
  imageRoutes,
  networkRoutes,
  Router,
  systemRoutes,
  trustRoutes,
  volumeRoutes,
} from '../api/index.ts';
import { ExecManager } from '../containers/index.ts';
import { errorMessage, FailedPreconditionError, isBerthError } from '../util/errors.ts';
import { parseArgs, parseHost, USAGE, type DaemonConfig } from './config.ts';
import { buildEngine, repair, type Engine } from './engine.ts';
import { exposureWarnings, listen, serverTLS, socketGroup, socketInUse } from './listen.ts';
import { acquirePidLock } from './lock.ts';
import { createLogger, type Logger } from './log.ts';
import { BERTH_VERSION, SystemInfo } from './system.ts';
import { archivesFor, buildPull, lookupsFor, seedBusybox, trustFor } from './wiring.ts';

export async function runDaemon(config: DaemonConfig, log: Logger): Promise<{ stop(): Promise<void> }> {
  const listens = config.hosts.map(parseHost);
  const group = socketGroup(config);
  const tls = listens.some((l) => l.kind === 'tcp') ? await serverTLS(config) : undefined;
  const exposure = exposureWarnings(config, listens);
  for (const w of exposure) log.warn(w.replace(/\n\s*/g, ' '));
  // Refuse a socket another daemon serves before touching the data root (listen() checks again).
  for (const l of listens) {
    if (l.kind === 'unix' && (await socketInUse(l.path)))
      throw new FailedPreconditionError(`another daemon is already listening on unix://${l.path}`);
  }
  await mkdir(config.execRoot, { recursive: true, mode: 0o711 });
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  const lock = await acquirePidLock(join(config.dataRoot, 'berthd.pid'), `the data root ${config.dataRoot}`);
  let engine: Engine | undefined;
  let closeTrust: (() => void) | undefined;
  const servers: Server[] = [];
  const shutdown = new AbortController();
  try {
    engine = await buildEngine(config, log);
    await repair(engine, log);
    // Before anything else: a signature policy that does not load stops the daemon here.
    const { trust, enforcer, close } = await trustFor(engine);
    closeTrust = close;
    if (config.seedBusybox && engine.images.list().length === 0) await seedBusybox(engine, log);
    const system = new SystemInfo(config, engine, exposure);
    const eng0 = engine;
    const router = new Router();
    const containerDeps = {
      containers: engine.containers,
      images: engine.images,
      snapshotterName: engine.snapshotter.name,
      ...(enforcer
        ? { checkImage: (image: string, signal: AbortSignal) => enforcer.checkRun(image, undefined, signal) }
        : {}),
    };
    systemRoutes(router, {
      images: engine.images,
      events: engine.events,
      info: () => system.info(),
      version: () => system.version(),
      containers: (version) => diskUsageContainers(containerDeps, version),
      volumes: () => eng0.volumes.diskUsage(),
      buildCache: async () => (await eng0.build()).diskUsage(),
      shutdown: shutdown.signal,
    });
    trustRoutes(router, trust);
    const archives = archivesFor(engine, enforcer, log);
    engine.setBuildPull(buildPull(archives));
    // Before the image routes: `/images/search` is not an image called "search".
    distributionRoutes(router, lookupsFor(engine));
    imageRoutes(router, { images: engine.images, archives });
    buildRoutes(router, engine.build);
    containerRoutes(router, containerDeps);
    volumeRoutes(router, engine.volumes);
    networkRoutes(router, engine.networks);
    execRoutes(router, new ExecManager(engine.containers, engine.events));
    for (const l of listens) {
      const server = createApiServer({
        router,
        serverVersion: BERTH_VERSION,
        log: (lvl, m) => log[lvl](m),
        shutdown: shutdown.signal,
        ...(l.kind === 'tcp' && tls ? { tls } : {}),
      });
      await listen(server, l, group.gid);
      servers.push(server);
      if (l.kind === 'unix') log.info(`API listen on ${l.path} (group ${group.name})`);
      else
        log.info(`API listen on ${l.host}:${l.port} (${tls?.requestCert ? 'mutual TLS' : tls ? 'TLS' : 'plain TCP'})`);
    }
  } catch (err) {
    for (const s of servers) s.close();
    await engine?.close();
    await lock.release();
    throw err;
  }
  const eng = engine;
  log.info(`berthd ${BERTH_VERSION} started: data root ${config.dataRoot}, snapshotter ${eng.snapshotter.name}`);
  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        log.info('stopping: no new requests; waiting for the ones in flight');
        // Long-lived streams (events) end now; other requests in flight (a long load, say) are waited for,
        // however long they take (a third signal exits at once).
        shutdown.abort();
        await Promise.all(
          servers.map(
            (s) =>
              new Promise<void>((resolve) => {
                // A keep-alive connection whose request finishes after close() would otherwise linger until
                // its keep-alive timeout: close connections as they become idle.
                const idle = setInterval(() => s.closeIdleConnections(), 50);
                s.close(() => {
                  clearInterval(idle);
                  resolve();
                });
                s.closeIdleConnections();
              }),
          ),
        );
        for (const l of listens) if (l.kind === 'unix') await rm(l.path, { force: true });
        closeTrust?.();
        await eng.close();
        await lock.release();
        log.info('stopped');
      })()),
  };
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`berthd: ${errorMessage(err)}\nSee 'berthd --help'.\n`);
    process.exit(125);
  }
  if (parsed.kind === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`Berth version ${BERTH_VERSION}\n`);
    return;
  }
  const log = createLogger(parsed.config.logLevel);
  if (process.getuid?.() !== 0) log.warn('berthd is not running as root: mounts and containers will fail');
  let daemon: { stop(): Promise<void> };
  try {
    daemon = await runDaemon(parsed.config, log);
  } catch (err) {
    log.error(`failed to start daemon: ${errorMessage(err)}`);
    if (!isBerthError(err) && err instanceof Error && err.stack) log.debug(err.stack);
    process.exit(1);
  }
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals > 2) {
      log.warn(`received ${sig} three times: exiting now`);
      process.exit(130);
    }
    log.info(`received ${sig}`);
    daemon.stop().then(
      () => process.exit(0),
      (err) => {
        log.error(`shutdown failed: ${errorMessage(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

if (import.meta.main) await main();
