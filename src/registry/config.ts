import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidArgumentError } from '../util/errors.ts';
import { parseGoDuration } from '../util/units.ts';

export type AuthMode = { mode: 'none' } | { mode: 'htpasswd'; file: string } | { mode: 'token' };

export interface S3Config {
  bucket: string;
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Key prefix inside the bucket (default none). */
  prefix?: string;
  /** Path-style addressing (http://host/bucket/key), which S3-compatible servers mostly want. Default true. */
  forcePathStyle?: boolean;
}

/** `berth registry serve`'s settings: flags over the JSON config file over the defaults. */
export interface RegistryConfig {
  addr: string;
  root: string;
  tls?: { cert: string; key: string } | undefined;
  /** undefined: `token` once a user exists, else `none`. */
  auth?: AuthMode | undefined;
  /** The token service's name (`service=` in challenges, `aud` in tokens). */
  service: string;
  /** Lifetime of the bearer tokens `/token` issues, in seconds. */
  tokenTtl: number;
  deleteEnabled: boolean;
  /** Metadata in PostgreSQL (a connection string) instead of `<root>/registry.db`. */
  postgres?: string | undefined;
  /** Blobs in an S3 bucket instead of `<root>/blobs`. */
  s3?: S3Config | undefined;
  /** The audit log: entries older than `keepMs` are purged; `pulls: false` leaves pulls out. */
  audit: { keepMs: number; pulls: boolean };
  /** Webhook deliveries: attempts, the first back-off (doubled each time) and the timeout of one attempt (ms). */
  webhooks: { attempts: number; backoffMs: number; timeoutMs: number };
  /**
   * Replication transfers: tries of each request, the first back-off (doubled each time), the chunk size of large
   * blobs (each chunk acknowledged, so an interruption loses at most one), and how many blobs and tags move at once.
   */
  replication?:
    | { attempts?: number; backoffMs?: number; chunkBytes?: number; parallelBlobs?: number; parallelImages?: number }
    | undefined;
  /**
   * Serve the signatures API extension and advertise it (`X-Registry-Supports-Signatures: 1`): skopeo and podman
   * then keep GPG simple signatures in the registry instead of a lookaside store.
   */
  signatureApi?: boolean | undefined;
  gc: {
    /** Blobs, links and uploads younger than this are kept (ms). */
    graceMs: number;
    /** Run a collection every this often while serving (ms); 0: never on its own. */
    intervalMs: number;
    deleteUntagged: boolean;
  };
}

export const DEFAULT_ROOT = '/var/lib/berth-registry';
export const DEFAULT_ADDR = '0.0.0.0:5000';

export function defaultConfig(): RegistryConfig {
  return {
    addr: DEFAULT_ADDR,
    root: DEFAULT_ROOT,
    service: 'berth-registry',
    tokenTtl: 300,
    deleteEnabled: true,
    audit: { keepMs: 90 * 86_400_000, pulls: true },
    webhooks: { attempts: 6, backoffMs: 1000, timeoutMs: 10_000 },
    gc: { graceMs: 3_600_000, intervalMs: 0, deleteUntagged: false },
  };
}

/** `none`, `token` or `htpasswd=FILE`. */
export function parseAuth(v: string): AuthMode {
  if (v === 'none') return { mode: 'none' };
  if (v === 'token') return { mode: 'token' };
  if (v.startsWith('htpasswd=') && v.length > 9) return { mode: 'htpasswd', file: resolve(v.slice(9)) };
  throw new InvalidArgumentError(`invalid auth mode "${v}": use none, token or htpasswd=FILE`);
}

/** A Go duration (`90s`, `15m`, `1h30m`), whole days (`7d`), or a number of milliseconds; never negative. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return v;
  const text = v.trim();
  const invalid = (cause?: unknown) =>
    new InvalidArgumentError(`invalid duration "${v}": use e.g. 30s, 15m, 1h or 7d`, { cause });
  const plain = /^(\d+(?:\.\d+)?)(d?)$/.exec(text);
  if (plain) return Math.round(Number(plain[1]) * (plain[2] === 'd' ? 86_400_000 : 1));
  let ns: number;
  try {
    ns = parseGoDuration(text);
  } catch (err) {
    throw invalid(err);
  }
  if (ns < 0) throw invalid();
  return Math.round(ns / 1e6);
}

const KEYS = new Set([
  'addr',
  'root',
  'tls',
  'auth',
  'service',
  'tokenTtl',
  'deleteEnabled',
  'postgres',
  's3',
  'gc',
  'audit',
  'webhooks',
  'replication',
  'signatureApi',
]);

/** Reads a JSON config file onto `base`; an unknown key is an error, so a typo does not go unnoticed. */
export async function loadConfigFile(file: string, base: RegistryConfig): Promise<RegistryConfig> {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InvalidArgumentError(`cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new InvalidArgumentError(`config file ${file} is not a JSON object`);
  for (const k of Object.keys(doc))
    if (!KEYS.has(k)) throw new InvalidArgumentError(`config file ${file}: unknown key "${k}"`);
  const c: RegistryConfig = {
    ...base,
    gc: { ...base.gc },
    audit: { ...base.audit },
    webhooks: { ...base.webhooks },
  };
  if (typeof doc.addr === 'string') c.addr = doc.addr;
  if (typeof doc.root === 'string') c.root = resolve(doc.root);
  if (doc.tls !== undefined) {
    const t = doc.tls as { cert?: unknown; key?: unknown };
    if (typeof t.cert !== 'string' || typeof t.key !== 'string')
      throw new InvalidArgumentError(`config file ${file}: tls needs "cert" and "key" file names`);
    c.tls = { cert: resolve(t.cert), key: resolve(t.key) };
  }
  if (typeof doc.auth === 'string') c.auth = parseAuth(doc.auth);
  if (typeof doc.service === 'string') c.service = doc.service;
  if (typeof doc.tokenTtl === 'number') c.tokenTtl = doc.tokenTtl;
  if (typeof doc.deleteEnabled === 'boolean') c.deleteEnabled = doc.deleteEnabled;
  if (typeof doc.postgres === 'string') c.postgres = doc.postgres;
  if (doc.signatureApi !== undefined) {
    if (typeof doc.signatureApi !== 'boolean')
      throw new InvalidArgumentError(`config file ${file}: signatureApi must be true or false`);
    c.signatureApi = doc.signatureApi;
  }
  if (doc.s3 !== undefined) {
    const s = doc.s3 as S3Config;
    if (typeof s.bucket !== 'string' || s.bucket === '')
      throw new InvalidArgumentError(`config file ${file}: s3 needs a "bucket"`);
    c.s3 = s;
  }
  if (doc.audit !== undefined) {
    const a = doc.audit as { keep?: string | number; pulls?: boolean };
    if (a.keep !== undefined) c.audit.keepMs = parseDuration(a.keep);
    if (a.pulls !== undefined) c.audit.pulls = a.pulls === true;
  }
  if (doc.webhooks !== undefined) {
    const w = doc.webhooks as { attempts?: number; backoff?: string | number; timeout?: string | number };
    if (w.attempts !== undefined) {
      if (!Number.isSafeInteger(w.attempts) || w.attempts < 1)
        throw new InvalidArgumentError(`config file ${file}: webhooks.attempts must be 1 or more`);
      c.webhooks.attempts = w.attempts;
    }
    if (w.backoff !== undefined) c.webhooks.backoffMs = parseDuration(w.backoff);
    if (w.timeout !== undefined) c.webhooks.timeoutMs = parseDuration(w.timeout);
  }
  if (doc.replication !== undefined) {
    const r = doc.replication as Record<string, unknown>;
    const out: NonNullable<RegistryConfig['replication']> = {};
    const count = (k: 'attempts' | 'parallelBlobs' | 'parallelImages' | 'chunkBytes') => {
      const v = r[k];
      if (v === undefined) return;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
        throw new InvalidArgumentError(`config file ${file}: replication.${k} must be 1 or more`);
      out[k] = v;
    };
    for (const k of ['attempts', 'parallelBlobs', 'parallelImages', 'chunkBytes'] as const) count(k);
    if (r.backoff !== undefined) out.backoffMs = parseDuration(r.backoff as string | number);
    for (const k of Object.keys(r))
      if (!['attempts', 'parallelBlobs', 'parallelImages', 'chunkBytes', 'backoff'].includes(k))
        throw new InvalidArgumentError(`config file ${file}: unknown key "replication.${k}"`);
    c.replication = out;
  }
  if (doc.gc !== undefined) {
    const g = doc.gc as { grace?: string | number; interval?: string | number; deleteUntagged?: boolean };
    if (g.grace !== undefined) c.gc.graceMs = parseDuration(g.grace);
    if (g.interval !== undefined) c.gc.intervalMs = parseDuration(g.interval);
    if (g.deleteUntagged !== undefined) c.gc.deleteUntagged = g.deleteUntagged === true;
  }
  return c;
}
