import { mkdir } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { FileContentStore } from '../content/index.ts';
import { type AdminApi, AdminService, type GcOptions, type GcReport } from './admin.ts';
import { HtpasswdGate } from './auth/basic.ts';
import { type AuthGate, OpenGate, type Principal } from './auth/gate.ts';
import { TokenKey } from './auth/jwt.ts';
import { HtpasswdFile } from './auth/passwords.ts';
import { Policy } from './auth/policy.ts';
import { TokenGate, TokenService } from './auth/token.ts';
import type { RegistryConfig } from './config.ts';
import type { CollectOptions } from './gc.ts';
import { AdminHttp } from './http/admin.ts';
import { DistributionApi } from './http/distribution.ts';
import type { Routes } from './http/server.ts';
import { AccessStore } from './meta/access.ts';
import { migrate } from './meta/schema.ts';
import { type SqlDb, SqliteDb } from './meta/sql.ts';
import { RegistryStore } from './meta/store.ts';
import { AuditLog } from './ops/audit.ts';
import { OpsGuard } from './ops/guard.ts';
import { Retention } from './ops/retention.ts';
import type { OpsParts } from './ops/service.ts';
import { SettingsStore } from './ops/settings.ts';
import { Webhooks } from './ops/webhooks.ts';
import { PullThrough } from './proxy/cache.ts';
import { Replication } from './replication/service.ts';
import { Registry } from './service.ts';
import type { BlobBackend } from './storage/backend.ts';
import { type RegistryTrust, SignatureExtension, trustAdminRoute, wireTrust } from './trust/index.ts';

/** The metadata database a config names: `<root>/registry.db`, or PostgreSQL. Migrated to the current schema. */
export async function openDatabase(config: Pick<RegistryConfig, 'root' | 'postgres'>): Promise<SqlDb> {
  if (config.postgres) {
    const { PostgresDb } = await import('./meta/postgres.ts');
    const db = new PostgresDb(config.postgres);
    await migrate(db, (sql) => db.exec(sql));
    return db;
  }
  await mkdir(config.root, { recursive: true, mode: 0o700 });
  const db = new SqliteDb(join(config.root, 'registry.db'));
  await migrate(db, async (sql) => db.exec(sql));
  return db;
}

/** The blob backend a config names: `<root>/blobs` through content/'s store, or an S3 bucket. */
export async function openBlobs(config: Pick<RegistryConfig, 'root' | 's3'>): Promise<BlobBackend> {
  if (config.s3) {
    const { S3Blobs } = await import('./storage/s3.ts');
    const b = new S3Blobs(config.s3);
    await b.init();
    return b;
  }
  // Uploads are written and hashed on a thread of the store's, not on the serving thread.
  const b = new FileContentStore(config.root, { ingestThread: true });
  await b.init();
  return b;
}

/** Runs one collection in a worker thread with its own connections, so the serving thread is never held up. */
export function collectInWorker(config: RegistryConfig, options: CollectOptions): Promise<GcReport> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./gc-worker.ts', import.meta.url), { workerData: { config, options } });
    let done = false;
    w.once('message', (m: { report?: GcReport; error?: string }) => {
      done = true;
      if (m.report) resolve(m.report);
      else reject(new Error(`garbage collection failed: ${m.error}`));
    });
    w.once('error', (err) => {
      done = true;
      reject(err);
    });
    w.once('exit', (code) => {
      if (!done) reject(new Error(`garbage collection worker exited with ${code}`));
    });
  });
}

/** Everything a serving registry is made of. */
export interface OpenRegistry {
  db: SqlDb;
  registry: Registry;
  access: AccessStore;
  policy: Policy;
  gate: AuthGate;
  routes: Routes;
  /** The trust policies: the guard on manifests, scans (started by `serve`), their administration. */
  trust: RegistryTrust;
  /** The admin operations with the permissions of `p`. */
  admin(p: Principal): AdminApi;
  /** The operations' parts: settings, retention, webhooks, the audit log. */
  ops: OpsParts;
  gc(opts: GcOptions): Promise<GcReport>;
  /** The start-up repair: blobs in storage the metadata does not list are adopted or removed (scrub.ts). */
  repair(): Promise<GcReport>;
  close(): Promise<void>;
}

/** The registry's token signing key: made on first use and kept in the metadata (shared by every process). */
export async function tokenKey(access: AccessStore): Promise<TokenKey> {
  const pem = (await access.setting('token.key')) ?? (await access.settingOnce('token.key', TokenKey.generate()));
  return new TokenKey(pem);
}

export async function openRegistry(
  config: RegistryConfig,
  opts: { log?: (line: string) => void } = {},
): Promise<OpenRegistry> {
  const db = await openDatabase(config);
  const blobs = await openBlobs(config);
  const store = new RegistryStore(db, { touchAfterMs: Math.min(60_000, config.gc.graceMs / 10) });
  const registry = new Registry({ store, blobs, deleteEnabled: config.deleteEnabled });
  const access = new AccessStore(db);
  const policy = new Policy(access);
  store.guard = new OpsGuard(db, (r) =>
    registry.emit({
      action: 'quota',
      repo: r.repo,
      digest: r.digest,
      actor: '',
      detail: { project: r.project, limit: r.limit, usage: r.usage, size: r.size },
    }),
  );
  const audit = new AuditLog(db, { pulls: config.audit.pulls });
  const webhooks = new Webhooks(db, config.webhooks);
  registry.onEvent((e) => audit.onEvent(e));
  registry.onEvent((e) => webhooks.onEvent(e));
  const replication = new Replication({ db, registry, options: config.replication, log: opts.log });
  registry.onEvent((e) => replication.onEvent(e));
  const ops: OpsParts = {
    policy,
    settings: new SettingsStore(db),
    retention: new Retention(db, registry),
    webhooks,
    audit,
    replication,
  };
  const cache = new PullThrough({ registry, settings: ops.settings, policy, ...(opts.log ? { log: opts.log } : {}) });
  const auth = config.auth ?? ((await access.hasUsers()) ? { mode: 'token' } : { mode: 'none' });
  let gate: AuthGate;
  let tokenService: TokenService | undefined;
  if (auth.mode === 'token') {
    const tg = new TokenGate({ policy, key: await tokenKey(access), service: config.service, ttl: config.tokenTtl });
    gate = tg;
    tokenService = new TokenService(tg);
  } else if (auth.mode === 'htpasswd') {
    gate = new HtpasswdGate(new HtpasswdFile(auth.file), config.service);
  } else {
    gate = new OpenGate();
  }
  // One collection at a time in this process; it runs in a worker thread (see gc-worker.ts).
  let running: Promise<GcReport> | undefined;
  const gc = (opts: GcOptions & { scrubOnly?: boolean }): Promise<GcReport> => {
    const options: CollectOptions = {
      graceMs: opts.graceMs ?? config.gc.graceMs,
      deleteUntagged: opts.deleteUntagged ?? config.gc.deleteUntagged,
      dryRun: opts.dryRun ?? false,
      ...(opts.scrubOnly ? { scrubOnly: true } : {}),
    };
    const run = async (): Promise<GcReport> => {
      try {
        return await collectInWorker(config, options);
      } finally {
        running = undefined;
      }
    };
    running = running ? running.then(run, run) : run();
    return running;
  };
  const admin = (p: Principal) => new AdminService(access, policy, p, gc, ops);
  const trust = wireTrust({ config, db, registry, auth: policy, ...(opts.log ? { log: opts.log } : {}) });
  const ping = config.signatureApi ? { 'X-Registry-Supports-Signatures': '1' } : {};
  return {
    db,
    registry,
    access,
    policy,
    gate,
    admin,
    ops,
    gc,
    repair: () => gc({ scrubOnly: true }),
    trust,
    routes: {
      v2: new DistributionApi(registry, gate, { pingHeaders: ping, cache }),
      token: tokenService,
      admin: new AdminHttp(gate, admin, (p, req, res, parts, query) =>
        trustAdminRoute(trust.admin(p), req, res, parts, query, trust.dir),
      ),
      extensions: config.signatureApi ? new SignatureExtension(registry, gate, trust.store) : undefined,
    },
    close: async () => {
      cache.close();
      await replication.close();
      await webhooks.close();
      await audit.close();
      await trust.close();
      await registry.close();
      await blobs.close?.();
      await db.close();
    },
  };
}
