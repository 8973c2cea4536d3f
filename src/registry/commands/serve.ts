import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type RegistryConfig, defaultConfig, loadConfigFile, parseAuth } from '../config.ts';
import { createRegistryServer, listen } from '../http/server.ts';
import type { RegistryCommandContext } from '../main.ts';
import { gcText } from './admin.ts';
import { openRegistry } from '../open.ts';
import { Scheduler } from '../ops/scheduler.ts';

export const SERVE_USAGE = `Usage:  berth registry serve [OPTIONS]

Run the registry server (it does not need berthd)

Options:
      --addr HOST:PORT     Listen address (default 0.0.0.0:5000)
      --root DIR           Data directory: blobs and registry.db (default /var/lib/berth-registry)
      --config FILE        JSON config file (flags win over it)
      --tls-cert FILE      Serve HTTPS with this certificate...
      --tls-key FILE       ...and key
      --auth MODE          none, htpasswd=FILE or token (default: token once a user exists, else none)
      --signature-api      Keep GPG simple signatures in the registry (X-Registry-Supports-Signatures)
`;

/** Flags over the config file over the defaults. */
export async function serveConfig(argv: string[]): Promise<RegistryConfig | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: {
      addr: { type: 'string' },
      root: { type: 'string' },
      config: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      auth: { type: 'string' },
      'signature-api': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return undefined;
  let c = defaultConfig();
  if (values.config) c = await loadConfigFile(values.config, c);
  if (values.addr) c.addr = values.addr;
  if (values.root) c.root = resolve(values.root);
  if (values['tls-cert'] || values['tls-key']) {
    if (!values['tls-cert'] || !values['tls-key']) throw new RangeError('--tls-cert and --tls-key go together');
    c.tls = { cert: resolve(values['tls-cert']), key: resolve(values['tls-key']) };
  }
  if (values.auth) c.auth = parseAuth(values.auth);
  if (values['signature-api']) c.signatureApi = true;
  return c;
}

export async function serveCommand(ctx: RegistryCommandContext): Promise<number> {
  const config = await serveConfig(ctx.argv);
  if (!config) {
    ctx.streams.out.write(SERVE_USAGE);
    return 0;
  }
  const tls = config.tls ? { cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) } : undefined;
  const reg = await openRegistry(config, { log: (line) => ctx.streams.err.write(`berth registry: ${line}\n`) });
  await reg.trust.scanner.start();
  const server = createRegistryServer(reg.routes, {
    tls,
    onError: (err, req) => ctx.streams.err.write(`error: ${req.method} ${req.url}: ${(err as Error)?.stack ?? err}\n`),
  });
  const addr = await listen(server, config.addr);
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  ctx.streams.err.write(
    `berth registry: listening on ${tls ? 'https' : 'http'}://${host}:${addr.port} (root ${config.root}, auth ${reg.gate.mode})\n`,
  );
  // A crash may have left blobs in storage that the metadata does not list: found in the background.
  const repair = reg
    .repair()
    .then((r) =>
      ctx.streams.err.write(
        `berth registry: repair: ${r.orphans.length} orphaned blobs removed (${r.bytes} bytes), ${r.adopted.length} adopted by their uploads, in ${r.sweepMs} ms\n`,
      ),
    )
    .catch((err: unknown) => ctx.streams.err.write(`berth registry: repair failed: ${(err as Error).message}\n`));
  let collecting: Promise<unknown> | undefined;
  const schedule =
    config.gc.intervalMs > 0
      ? setInterval(() => {
          collecting ??= reg
            .gc({})
            .then((r) => ctx.streams.err.write(`berth registry: gc: ${gcText(r).split('\n').at(-2)}\n`))
            .catch((err: unknown) => ctx.streams.err.write(`berth registry: gc failed: ${(err as Error).message}\n`))
            .finally(() => (collecting = undefined));
        }, config.gc.intervalMs)
      : undefined;
  schedule?.unref();
  const scheduler = new Scheduler(reg.ops, {
    auditKeepMs: config.audit.keepMs,
    log: (line) => ctx.streams.err.write(`berth registry: ${line}\n`),
  });
  scheduler.start();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  ctx.signal.addEventListener('abort', onSignal, { once: true });
  await once(stop.signal, 'abort');
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  ctx.streams.err.write('berth registry: stopping\n');
  if (schedule) clearInterval(schedule);
  await scheduler.stop();
  await collecting;
  await repair;
  server.close();
  server.closeIdleConnections();
  const grace = setTimeout(() => server.closeAllConnections(), 10_000);
  await once(server, 'close');
  clearTimeout(grace);
  await reg.close();
  return 0;
}
