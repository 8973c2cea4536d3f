/**
 * Registry peers for the distribution tests and benchmarks, all on 127.0.0.1 with ports the kernel picks:
 *
 * - Debian's `docker-registry` (CNCF distribution 2.8.2) in three set-ups: plain HTTP; TLS with a CA made here
 *   (openssl) plus htpasswd (bcrypt) Basic auth; and token auth pointed at a small token service run in this
 *   process (ES256 JWTs whose signing certificate is distribution's `rootcertbundle` and travels in the `x5c`
 *   header, which distribution 2.8 verifies against that bundle).
 * - A "faulty registry" in node:http that serves one image and breaks one of its blobs (or its manifest) on demand.
 *
 * Every process is started by this module and killed by its PID in `stop()`; every temp dir is removed there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from './harness.ts';

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

/** What every registry peer gives a test. */
export interface RegistryPeer {
  /** `127.0.0.1:PORT`, the registry part of image references. */
  host: string;
  port: number;
  /** `http://…` or `https://…`. */
  url: string;
  /** Its temp dir (config, storage, keys). */
  dir: string;
  /** The registry's log so far. */
  log(): string;
  /** Kills what it started (by PID) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** A docker-registry process. */
export interface DistributionRegistry extends RegistryPeer {
  kind: 'plain' | 'tls' | 'token';
  /** PID of the docker-registry process. */
  pid: number;
  /** TLS set-up: the CA certificate (PEM) and its path. */
  caCert?: string;
  caCertPath?: string;
  /** Users accepted by htpasswd or the token service. */
  users: Record<string, string>;
  /** Token set-up: the token service. */
  tokens?: TokenService;
  /** Kills the registry (SIGKILL, by PID) but keeps its storage, for "registry down" tests. */
  kill(): Promise<void>;
  /** Writes a certs.d tree (`<dir>/<host>/ca.crt`) for this registry's CA under `dir` (TLS only). */
  writeCertsD(dir: string): Promise<void>;
  /** skopeo flags for this registry as a destination (`dest`) or a source (`src`). */
  skopeoFlags(side: 'src' | 'dest', user?: string): string[];
}

export interface RegistryOptions {
  /** user → password (TLS and token set-ups). Default `{ alice: 'wonderland' }`. */
  users?: Record<string, string>;
  /** Token set-up: anonymous clients get pull access to every repository. Default false. */
  anonymousPull?: boolean;
  /** Token set-up: lifetime of the tokens in seconds (default 300). */
  tokenTtl?: number;
}

const DEFAULT_USERS = { alice: 'wonderland' };

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, {}, undefined, { cwd, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** Makes a CA (ca.key, ca.crt) and a server certificate for 127.0.0.1 signed by it (server.key, server.crt). */
export async function makeCa(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=berth test CA'],
    dir,
  );
  await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ],
    dir,
  );
}

export async function htpasswdFile(path: string, users: Record<string, string>): Promise<void> {
  let text = '';
  for (const [u, p] of Object.entries(users)) {
    const r = await run('htpasswd', ['-Bbn', u, p], {}, undefined, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
    text += `${r.stdout.trim()}\n`;
  }
  await writeFile(path, text, { mode: 0o600 });
}

/** Starts `docker-registry serve` on 127.0.0.1:0 and reads the port it got from its log. */
async function serve(
  dir: string,
  configYaml: string,
): Promise<{ proc: ChildProcess; port: number; log: () => string }> {
  const config = join(dir, 'config.yml');
  await writeFile(config, configYaml);
  const proc = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`docker-registry did not listen within ${READY_TIMEOUT_MS} ms:\n${out}`)),
      READY_TIMEOUT_MS,
    );
    const onData = (d: Buffer) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`docker-registry exited with ${code}:\n${out}`));
    });
  }).catch(async (err) => {
    await killPid(proc);
    throw err;
  });
  return { proc, port, log: () => out };
}

function killPid(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return resolve();
    const force = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    proc.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    proc.kill(signal);
  });
}

function registryYaml(dir: string, extra: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    '  addr: 127.0.0.1:0',
    `  secret: ${randomBytes(16).toString('hex')}`,
    extra,
  ].join('\n');
}

/**
 * Starts docker-registry in one of three set-ups: `plain` (HTTP, no auth), `tls` (HTTPS with a CA made here,
 * htpasswd bcrypt Basic auth) or `token` (HTTP, bearer tokens from a token service run in this process).
 */
export async function startRegistry(
  kind: 'plain' | 'tls' | 'token',
  opts: RegistryOptions = {},
): Promise<DistributionRegistry> {
  const dir = await mkdtemp(join(tmpdir(), `berth-registry-${kind}-`));
  const users: Record<string, string> = opts.users ?? DEFAULT_USERS;
  let tokens: TokenService | undefined;
  try {
    let extra = '';
    if (kind === 'tls') {
      await makeCa(dir);
      await htpasswdFile(join(dir, 'htpasswd'), users);
      extra = [
        '  tls:',
        `    certificate: ${join(dir, 'server.crt')}`,
        `    key: ${join(dir, 'server.key')}`,
        'auth:',
        '  htpasswd:',
        '    realm: berth-test',
        `    path: ${join(dir, 'htpasswd')}`,
      ].join('\n');
    } else if (kind === 'token') {
      tokens = await startTokenService(dir, {
        users,
        anonymousPull: opts.anonymousPull ?? false,
        ttl: opts.tokenTtl ?? 300,
      });
      extra = [
        'auth:',
        '  token:',
        `    realm: ${tokens.realm}`,
        `    service: ${tokens.service}`,
        `    issuer: ${tokens.issuer}`,
        `    rootcertbundle: ${tokens.certPath}`,
      ].join('\n');
    }
    const { proc, port, log } = await serve(dir, registryYaml(dir, extra));
    const host = `127.0.0.1:${port}`;
    const caCertPath = kind === 'tls' ? join(dir, 'ca.crt') : undefined;
    const caCert = caCertPath ? await readFile(caCertPath, 'utf8') : undefined;
    let stopped = false;
    const reg: DistributionRegistry = {
      kind,
      host,
      port,
      url: `${kind === 'tls' ? 'https' : 'http'}://${host}`,
      dir,
      pid: proc.pid!,
      users,
      ...(caCert !== undefined && caCertPath !== undefined ? { caCert, caCertPath } : {}),
      ...(tokens ? { tokens } : {}),
      log,
      kill: () => killPid(proc, 'SIGKILL'),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await killPid(proc);
        await tokens?.stop();
        await rm(dir, { recursive: true, force: true });
      },
      writeCertsD: async (certsDir) => {
        if (!caCert) throw new Error('only the TLS registry has a CA');
        await mkdir(join(certsDir, host), { recursive: true });
        await writeFile(join(certsDir, host, 'ca.crt'), caCert);
      },
      skopeoFlags: (side, user) => {
        const f: string[] = [];
        if (kind === 'tls') f.push(`--${side}-cert-dir`, join(dir, 'skopeo-certs'));
        else f.push(`--${side}-tls-verify=false`);
        const u = user ?? (kind === 'plain' ? undefined : Object.keys(users)[0]);
        if (u !== undefined) f.push(`--${side}-creds`, `${u}:${users[u]}`);
        return f;
      },
    };
    if (kind === 'tls') {
      await mkdir(join(dir, 'skopeo-certs'));
      await writeFile(join(dir, 'skopeo-certs', 'ca.crt'), caCert!);
    }
    return reg;
  } catch (err) {
    await tokens?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

// ---- token service ------------------------------------------------------------------------------------------

/** One request the token service answered (or refused). */
export interface TokenRequest {
  method: string;
  /** The user from Basic auth or the form, or '' for anonymous. */
  account: string;
  service: string;
  scopes: string[];
  status: number;
  grantType?: string;
}

/** The token service behind the `token` registry set-up. */
export interface TokenService {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Every request so far, oldest first. */
  requests: TokenRequest[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Signs a JWT with ES256, naming the signing certificate in `x5c`. */
function jwt(key: KeyObject, certDer: Buffer, claims: Record<string, unknown>): string {
  const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

/** A `repository:NAME:ACTIONS` scope's parts; other scopes are passed through with no actions granted. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const last = scope.lastIndexOf(':');
  const first = scope.indexOf(':');
  if (first < 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Docker's token protocol: GET with Basic auth (or none, anonymous) and `service`, `scope`… query parameters, and
 * OAuth2 POST (`grant_type=password` or `refresh_token`). Known users get every action they ask for; anonymous
 * clients get `pull` when `anonymousPull`; a wrong password is a 401.
 */
async function startTokenService(
  dir: string,
  opts: { users: Record<string, string>; anonymousPull: boolean; ttl: number },
): Promise<TokenService> {
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'token.key',
      '-out',
      'token.crt',
      '-days',
      '2',
      '-subj',
      '/CN=berth test token signer',
    ],
    dir,
  );
  const key = createPrivateKey(await readFile(join(dir, 'token.key')));
  const pem = await readFile(join(dir, 'token.crt'), 'utf8');
  const certDer = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const service = 'berth-test-registry';
  const issuer = 'berth-test-token-issuer';
  const requests: TokenRequest[] = [];
  const refreshTokens = new Map<string, string>();
  const server = createServer((req, res) => {
    void handle(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let account = '';
    let password: string | undefined;
    let scopes = url.searchParams.getAll('scope');
    let svc = url.searchParams.get('service') ?? '';
    let grantType: string | undefined;
    let refresh: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const text = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const i = text.indexOf(':');
      account = text.slice(0, i);
      password = text.slice(i + 1);
    }
    const offline = url.searchParams.get('offline_token') === 'true';
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      grantType = form.get('grant_type') ?? '';
      svc = form.get('service') ?? svc;
      scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      if (grantType === 'password') {
        account = form.get('username') ?? '';
        password = form.get('password') ?? '';
      } else if (grantType === 'refresh_token') {
        refresh = form.get('refresh_token') ?? '';
      }
    }
    const record: TokenRequest = {
      method: req.method ?? '',
      account,
      service: svc,
      scopes,
      status: 200,
      ...(grantType !== undefined ? { grantType } : {}),
    };
    requests.push(record);
    const deny = (status: number, msg: string) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: status === 401 ? 'UNAUTHORIZED' : 'DENIED', message: msg }] }));
    };
    if (svc !== service) return deny(400, `unknown service "${svc}"`);
    if (refresh !== undefined) {
      const who = refreshTokens.get(refresh);
      if (who === undefined) return deny(401, 'invalid refresh token');
      account = who;
      record.account = who;
    } else if (account !== '' || password !== undefined) {
      if (opts.users[account] === undefined || opts.users[account] !== password)
        return deny(401, 'authentication failed');
    }
    const access: { type: string; name: string; actions: string[] }[] = [];
    for (const s of scopes) {
      const p = parseScope(s);
      if (!p) continue;
      const granted = account !== '' ? p.actions : opts.anonymousPull ? p.actions.filter((a) => a === 'pull') : [];
      access.push({ type: p.type, name: p.name, actions: granted });
    }
    if (account === '' && !opts.anonymousPull && scopes.length > 0) return deny(401, 'authentication required');
    const now = Math.floor(Date.now() / 1000);
    const token = jwt(key, certDer, {
      iss: issuer,
      sub: account,
      aud: service,
      exp: now + opts.ttl,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    });
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: opts.ttl,
      issued_at: new Date(now * 1000).toISOString(),
    };
    if (account !== '' && (offline || grantType === 'password' || grantType === 'refresh_token')) {
      const rt = randomBytes(24).toString('hex');
      refreshTokens.set(rt, account);
      body.refresh_token = rt;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const port = await listen(server);
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath: join(dir, 'token.crt'),
    requests,
    stop: () => closeServer(server),
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

// ---- the faulty registry ------------------------------------------------------------------------------------

/**
 * What the faulty registry does wrong:
 * - `healthy`: nothing;
 * - `bad-digest`: the layer blob's bytes do not match its digest (same length);
 * - `truncated`: the layer blob is sent with its full Content-Length but only half its bytes, then the
 *   connection is closed, on every request (Range is ignored: 200 and the whole length again);
 * - `bad-manifest`: the manifest's bytes (asked by digest or by tag) hash to another digest than the one asked
 *   for, or than its `Docker-Content-Digest` header says;
 * - `hang`: the layer blob stops after half its bytes and the connection stays open, silent;
 * - `cut-once`: the first GET of the layer blob stops after half its bytes and the connection is cut; later
 *   GETs are healthy and honour `Range` (206), so a client can resume;
 * - `schema1`: the tag serves a signed Docker schema 1 manifest (`…manifest.v1+prettyjws`), which clients refuse.
 */
export type Fault = 'healthy' | 'bad-digest' | 'truncated' | 'bad-manifest' | 'hang' | 'cut-once' | 'schema1';

/** One request the faulty registry saw. */
export interface SeenRequest {
  method: string;
  path: string;
  range?: string;
}

/** A blob or manifest the faulty registry serves. */
export interface ServedBlob {
  digest: string;
  body: Buffer;
  mediaType: string;
}

export interface FaultyRegistry extends RegistryPeer {
  /** The repository it serves (`faulty/x`), the tag (`1`) and the manifest digest. */
  repository: string;
  tag: string;
  manifestDigest: string;
  /** The layer blob the faults apply to (the top layer). */
  layer: ServedBlob;
  /** The healthy layers below it. */
  healthy: ServedBlob[];
  config: ServedBlob;
  manifest: ServedBlob;
  /** Every request so far. */
  requests: SeenRequest[];
  /** Changes the fault from now on (`cut-once` re-arms). */
  setFault(f: Fault): void;
}

/**
 * Starts the faulty registry, serving one image at `faulty/x:1` (Docker schema2): `healthyLayers` small healthy
 * layers (64 KiB each, default 0) below the layer the faults apply to, an uncompressed tar holding `layerBytes`
 * random bytes (default 4 MiB).
 */
export async function startFaultyRegistry(
  fault: Fault,
  opts: { layerBytes?: number; healthyLayers?: number } = {},
): Promise<FaultyRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-registry-faulty-'));
  const digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const tarMediaType = 'application/vnd.docker.image.rootfs.diff.tar';
  const healthy: ServedBlob[] = Array.from({ length: opts.healthyLayers ?? 0 }, (_, i) => {
    const body = tarOfOneFile(`healthy${i}.bin`, randomBytes(64 << 10));
    return { digest: digest(body), body, mediaType: tarMediaType };
  });
  const tar = tarOfOneFile('payload.bin', randomBytes(opts.layerBytes ?? 4 << 20));
  const layer: ServedBlob = { digest: digest(tar), body: tar, mediaType: tarMediaType };
  const layers = [...healthy, layer];
  const configBody = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-05-05T00:00:00Z',
      config: { Cmd: ['/payload.bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      history: layers.map(() => ({ created: '2024-05-05T00:00:00Z', created_by: 'faulty registry' })),
    }),
  );
  const config: ServedBlob = {
    digest: digest(configBody),
    body: configBody,
    mediaType: 'application/vnd.docker.container.image.v1+json',
  };
  const manifestBody = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: config.mediaType, size: config.body.length, digest: config.digest },
      layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.body.length, digest: l.digest })),
    }),
  );
  const manifest: ServedBlob = {
    digest: digest(manifestBody),
    body: manifestBody,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  };
  const repository = 'faulty/x';
  const tag = '1';
  const requests: SeenRequest[] = [];
  let current = fault;
  let cutDone = false;
  const sockets = new Set<Socket>();
  let log = '';

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ method: req.method ?? '', path, ...(req.headers.range ? { range: req.headers.range } : {}) });
    log += `${req.method} ${path}${req.headers.range ? ` (${req.headers.range})` : ''} fault=${current}\n`;
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.writeHead(405, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'the faulty registry only serves pulls' }] }),
      );
    }
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
      return res.end(head ? undefined : '{}');
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (!m || m[1] !== repository) return notFound(res, 'NAME_UNKNOWN', `repository name not known to registry`);
    const [, , kind, ref] = m;
    if (kind === 'manifests') {
      if (ref !== tag && ref !== manifest.digest) return notFound(res, 'MANIFEST_UNKNOWN', 'manifest unknown');
      let body = manifest.body;
      let mediaType = manifest.mediaType;
      let digestHeader = manifest.digest;
      // Same JSON, other bytes: a space more at the end changes the digest and nothing else.
      if (current === 'bad-manifest') body = Buffer.concat([manifest.body, Buffer.from(' ')]);
      if (current === 'schema1') {
        body = schema1Manifest(repository, tag, layers);
        mediaType = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
        digestHeader = digest(body);
      }
      res.writeHead(200, {
        'content-type': mediaType,
        'content-length': String(body.length),
        'docker-content-digest': digestHeader,
      });
      return res.end(head ? undefined : body);
    }
    const blob = layers.find((l) => l.digest === ref) ?? (ref === config.digest ? config : undefined);
    if (!blob) return notFound(res, 'BLOB_UNKNOWN', 'blob unknown to registry');
    const base = {
      'content-type': 'application/octet-stream',
      'docker-content-digest': blob.digest,
      'accept-ranges': 'bytes',
    };
    if (head) {
      res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
      return res.end();
    }
    const half = blob.body.subarray(0, blob.body.length >> 1);
    if (blob === layer && current === 'bad-digest') {
      const wrong = Buffer.from(blob.body);
      for (let i = wrong.length - 1024; i < wrong.length; i++) wrong[i]! ^= 0xff;
      res.writeHead(200, { ...base, 'content-length': String(wrong.length) });
      return res.end(wrong);
    }
    if (blob === layer && current === 'truncated') {
      res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
      return res.write(half, () => res.socket?.end());
    }
    if (blob === layer && current === 'hang') {
      res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
      return res.write(half);
    }
    if (blob === layer && current === 'cut-once' && !cutDone) {
      cutDone = true;
      res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
      return res.write(half, () => res.socket?.destroy());
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), blob.body.length - 1) : blob.body.length - 1;
      if (start > end || start >= blob.body.length) {
        res.writeHead(416, { ...base, 'content-range': `bytes */${blob.body.length}` });
        return res.end();
      }
      res.writeHead(206, {
        ...base,
        'content-length': String(end - start + 1),
        'content-range': `bytes ${start}-${end}/${blob.body.length}`,
      });
      return res.end(blob.body.subarray(start, end + 1));
    }
    res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
    res.end(blob.body);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  const host = `127.0.0.1:${port}`;
  let stopped = false;
  return {
    host,
    port,
    url: `http://${host}`,
    dir,
    repository,
    tag,
    manifestDigest: manifest.digest,
    layer,
    healthy,
    config,
    manifest,
    requests,
    log: () => log,
    setFault: (f) => {
      current = f;
      cutDone = false;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      for (const s of sockets) s.destroy();
      await closeServer(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A schema 1 manifest of the image's layers (the signature is not a real one: clients refuse schema 1 first). */
function schema1Manifest(name: string, tag: string, layers: ServedBlob[]): Buffer {
  return Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 1,
        name,
        tag,
        architecture: 'amd64',
        fsLayers: layers.map((l) => ({ blobSum: l.digest })).reverse(),
        history: layers.map((_, i) => ({
          v1Compatibility: JSON.stringify({ id: `${i}`.padStart(64, '0'), created: '2024-05-05T00:00:00Z' }),
        })),
        signatures: [{ header: { alg: 'ES256' }, signature: 'c2lnbmF0dXJl', protected: 'e30' }],
      },
      null,
      3,
    ),
  );
}

function notFound(res: ServerResponse, code: string, message: string): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code, message }] }));
}

/** A ustar archive of one regular file (enough for a layer; kept here so the kit needs no tar library). */
function tarOfOneFile(name: string, body: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000755\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${(1_700_000_000).toString(8).padStart(11, '0')}\0`, 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([h, body, pad, Buffer.alloc(1024)]);
}

// ---- skopeo ---------------------------------------------------------------------------------------------------

/** One line of docker-registry's access log. */
export interface AccessLogEntry {
  method: string;
  /** The request URI, with its query. */
  uri: string;
  status: number;
}

/** The requests a docker-registry answered so far, from its access log. */
export function accessLog(reg: RegistryPeer): AccessLogEntry[] {
  const out: AccessLogEntry[] = [];
  for (const m of reg.log().matchAll(/"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d+) /g))
    out.push({ method: m[1]!, uri: m[2]!, status: Number(m[3]) });
  return out;
}

/** Runs skopeo with `--insecure-policy` (no policy.json is read), never throwing on a non-zero exit. */
export function skopeo(args: string[], timeoutMs = 300_000): Promise<RunResult> {
  return run('skopeo', ['--insecure-policy', ...args], {}, undefined, { timeoutMs });
}
