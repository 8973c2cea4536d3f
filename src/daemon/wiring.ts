/**
 * The daemon's wiring of what loads on first use: the registry client and archives (distribution/), trust, and
 * (engine.ts) the builder. None of their modules is loaded by a normal start (bench/README.md, "berthd's memory").
 */
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Archives, LoadTrust, RegistryLookups } from '../api/index.ts';
import type { BuildServiceDeps } from '../build/index.ts';
import type { RegistryConfig } from '../distribution/index.ts';
import type { AuthConfig } from '../engine-api/images.ts';
import { formatPlatform } from '../oci/platform.ts';
import type { PolicyEnforcer, RegistriesD, TrustService } from '../trust/index.ts';
import { BlobSourceRecords } from '../metadata/index.ts';
import { warmUnpackThreads } from '../snapshots/index.ts';
import { parseReference } from '../oci/reference.ts';
import { errorMessage, InvalidArgumentError } from '../util/errors.ts';
import { phase } from '../util/trace.ts';
import { busyboxRootfs } from './busybox.ts';
import type { DaemonConfig } from './config.ts';
import { BERTH_VERSION } from './system.ts';
import { type Engine, leftovers } from './engine.ts';
import type { Logger } from './log.ts';

const distribution = () => import('../distribution/index.ts');

/** The archive operations (src/distribution) bound to an engine, as the image handlers call them. */
export function archivesFor(engine: Engine, enforcer?: PolicyEnforcer, log?: Logger): Archives {
  const deps = {
    content: engine.content,
    images: engine.images,
    blobSources: new BlobSourceRecords(engine.db),
    log,
    // The endpoints that answered a pull's ping in the last minutes (distribution/remote/client.ts, PING_KEEP_MS).
    pings: new Map(),
  };
  const registry = registryConfig(engine.config);
  return {
    // A pull, load or import starts the unpack threads first if none runs (the first after an idle spell), so
    // their start overlaps with the manifest, config or archive that comes before the first layer. A pull starts
    // no applier here: its small layers need none (snapshots/pool.ts, `take`), and a layer that does starts them.
    pull: async (ref, opts) => {
      warmUnpackThreads({ appliers: false });
      return (await phase('pull.modules', '', distribution)).pullImage(deps, registry, ref, {
        ...opts,
        ...(enforcer ? { verify: (r, m, repo) => enforcer.checkPull(r, m, repo, opts.auth, opts.signal) } : {}),
      });
    },
    push: async (ref, opts) => (await distribution()).pushImage(deps, registry, ref, opts),
    login: async (auth) => (await distribution()).checkLogin(registry, auth),
    load: async (source, opts) => {
      warmUnpackThreads();
      return (await distribution()).loadArchive(deps, source, opts);
    },
    save: async (refs, opts) => (await distribution()).saveArchive(deps, refs, opts),
    importRootfs: async (source, opts) => {
      warmUnpackThreads();
      return (await distribution()).importRootfs(deps, source, {
        ...(opts.tag !== undefined ? { tag: parseReference(opts.tag) } : {}),
        changes: opts.changes,
        ...(opts.message !== undefined ? { message: opts.message } : {}),
        signal: opts.signal,
      });
    },
  };
}

/** Registry look-ups for `/distribution/{name}/json` and `/images/search`. */
export function lookupsFor(engine: Engine): RegistryLookups {
  const registry = registryConfig(engine.config);
  return {
    distribution: async (name, opts) => (await distribution()).inspectDistribution(registry, name, opts),
    search: async (term, limit, opts) => (await distribution()).searchRegistry(registry, term, limit, opts),
  };
}

/** The registry client's settings from the daemon's config and environment (proxies, as dockerd reads them). */
export function registryConfig(c: DaemonConfig, env: NodeJS.ProcessEnv = process.env): RegistryConfig {
  const proxy: NonNullable<RegistryConfig['proxy']> = {};
  const http = env.HTTP_PROXY ?? env.http_proxy;
  const https = env.HTTPS_PROXY ?? env.https_proxy;
  const noProxy = env.NO_PROXY ?? env.no_proxy;
  if (http) proxy.http = http;
  if (https) proxy.https = https;
  if (noProxy) proxy.noProxy = noProxy;
  return {
    insecureRegistries: c.insecureRegistries,
    mirrors: c.registryMirrors,
    certsDir: c.certsDir,
    maxConcurrentDownloads: c.maxConcurrentDownloads,
    maxConcurrentUploads: c.maxConcurrentUploads,
    ...(c.registryConnectTimeoutMs !== undefined ? { connectTimeoutMs: c.registryConnectTimeoutMs } : {}),
    ...(c.registryIdleTimeoutMs !== undefined ? { idleTimeoutMs: c.registryIdleTimeoutMs } : {}),
    ...(Object.keys(proxy).length > 0 ? { proxy } : {}),
  };
}

/** First start: make `busybox:latest` from Debian's busybox-static, since no registry is reachable. */
export async function seedBusybox(engine: Engine, log: Logger): Promise<void> {
  const path = engine.config.busyboxPath;
  try {
    const { importRootfs } = await distribution();
    const img = await importRootfs({ content: engine.content, images: engine.images }, busyboxRootfs(path), {
      tag: parseReference('busybox:latest'),
      changes: ['CMD ["sh"]'],
      message: `Created by berthd from ${path} (Debian busybox-static)`,
    });
    log.info(`created busybox:latest (${img.record.configDigest.slice(7, 19)}) from ${path}`);
  } catch (err) {
    log.warn(`could not create busybox:latest from ${path}: ${errorMessage(err)} (install Debian's busybox-static)`);
  }
}

/**
 * Signatures, SBOMs and scans, and the signature policy. A `signature-policy` that does not parse, or names a key
 * that cannot be read, and a registries.d file that does not, stop the daemon at start with the file, the place in
 * it and the reason: with either configured, trust loads at start. Otherwise it loads on first use (a trust
 * request, or start-up repair after an image read was cut short), and there is no policy to enforce.
 */
export async function trustFor(
  engine: Engine,
): Promise<{ trust: LoadTrust; enforcer?: PolicyEnforcer; close(): void }> {
  const c = engine.config;
  const configured =
    c.signaturePolicy !== undefined ||
    (await readdir(c.registriesD).catch(() => [] as string[])).some((n) => n.endsWith('.yaml'));
  const registry = registryConfig(c);
  let registriesD: Promise<RegistriesD> | undefined;
  let service: Promise<TrustService> | undefined;
  let loaded: TrustService | undefined;
  const load: LoadTrust = () =>
    (service ??= (async () => {
      const t = await import('../trust/index.ts');
      registriesD ??= t.loadRegistriesD(c.registriesD);
      loaded = new t.TrustService({
        images: engine.images,
        registry,
        root: join(c.dataRoot, 'trust'),
        registriesD: await registriesD,
        dbMaxAgeDays: c.scanDbMaxAgeDays,
        tool: `berth-${BERTH_VERSION}`,
      });
      return loaded;
    })().catch((err: unknown) => {
      service = undefined;
      registriesD = undefined;
      throw err;
    }));
  const close = () => loaded?.close();
  if ((await leftovers(engine)).trust) await (await load()).repair();
  if (!configured) return { trust: load, close };
  const t = await import('../trust/index.ts');
  const policy = c.signaturePolicy
    ? t.parsePolicy(readPolicyFile(c.signaturePolicy), c.signaturePolicy, (p) => readFileSync(p))
    : t.ACCEPT_ANYTHING;
  registriesD ??= t.loadRegistriesD(c.registriesD);
  const enforcer = new t.PolicyEnforcer({ policy, registry, registriesD: await registriesD, images: engine.images });
  return { trust: load, enforcer, close };
}

function readPolicyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`signature-policy ${path} cannot be read: ${errorMessage(err)}`);
  }
}

/**
 * How the builder pulls a base image: through the same pull as `docker pull`, with the credentials the build's
 * `X-Registry-Config` has for the image's registry (keyed by host, or by Docker Hub's index URL).
 */
export function buildPull(archives: Archives): BuildServiceDeps['pull'] {
  return async (ref, opts) => {
    const domain = parseReference(ref).domain;
    const hub = domain === 'docker.io';
    let auth: AuthConfig | undefined;
    for (const [key, value] of Object.entries(opts.auth ?? {})) {
      const host = key.replace(/^https?:\/\//, '').split('/')[0]!;
      if (host === domain || (hub && (host === 'index.docker.io' || host === 'registry-1.docker.io'))) {
        auth = value as AuthConfig;
        break;
      }
    }
    await archives.pull(ref, {
      platform: formatPlatform(opts.platform),
      allTags: false,
      ...(auth ? { auth } : {}),
      signal: opts.signal,
      onProgress: (m) => opts.onProgress(m as Record<string, unknown>),
    });
  };
}
