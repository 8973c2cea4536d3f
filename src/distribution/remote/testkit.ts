/**
 * The registry test kit, for the registry client's unit tests, the integration tests in test/ and the
 * benchmarks; every peer on 127.0.0.1 at a port the kernel picks:
 *
 * - Debian's `docker-registry` (CNCF distribution 2.8.2) in three set-ups: plain HTTP (optionally with htpasswd
 *   Basic auth); TLS with a CA made here (openssl), htpasswd (bcrypt) Basic auth unless turned off, and client
 *   certificates on request; and token auth pointed at a token service run in this process (testkit-token.ts).
 * - A "faulty registry" that serves one image and breaks one of its blobs (or its manifest) on demand, and a TCP
 *   proxy that can cut or hang a connection (testkit-faults.ts).
 * - skopeo, and docker-registry's access log read back.
 *
 * Every process is started by this module and killed by its PID in `stop()`; every temp dir is removed there.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  type AnonymousPull,
  openssl,
  type RunResult,
  run,
  startTokenService,
  type TokenService,
} from './testkit-token.ts';

export {
  type Fault,
  type FaultyRegistry,
  type SeenRequest,
  type ServedBlob,
  startFaultyRegistry,
  startProxy,
  type TestProxy,
} from './testkit-faults.ts';
export type { AnonymousPull, RunResult, TokenRequest, TokenService } from './testkit-token.ts';

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
  /** user → password (Basic auth and token set-ups). Default: LOGIN's. */
  users?: Record<string, string>;
  /** htpasswd (bcrypt) Basic auth for `users`: default true for `tls`, false for `plain`. */
  basicAuth?: boolean;
  /** TLS set-up: a CA certificate (PEM file); clients must present a certificate it signed. */
  clientCA?: string;
  /** Token set-up: who may pull without credentials (every repository, none, or those a function accepts). */
  anonymousPull?: AnonymousPull;
  /** Token set-up: lifetime of the tokens in seconds (default 300). */
  tokenTtl?: number;
}

/**
 * The account the test registries know unless told otherwise, and the one the registry tests create: `creds` is
 * the `user:password` of skopeo's --creds and of Basic auth.
 */
export const LOGIN = { user: 'alice', password: 'wonderland', creds: 'alice:wonderland' } as const;

/** A `login` as LOGIN, docker's or berth's: its arguments and stdin (another password for one that is refused). */
export function loginArgs(host: string, password: string = LOGIN.password): [string[], string] {
  return [['login', '-u', LOGIN.user, '--password-stdin', host], `${password}\n`];
}

const DEFAULT_USERS = { [LOGIN.user]: LOGIN.password };

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
    const r = await run('htpasswd', ['-Bbn', u, p], { timeoutMs: 30_000 });
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
 * Starts docker-registry in one of three set-ups: `plain` (HTTP, no auth unless `basicAuth`), `tls` (HTTPS with a
 * CA made here, htpasswd bcrypt Basic auth unless `basicAuth: false`, client certificates with `clientCA`) or
 * `token` (HTTP, bearer tokens from a token service run in this process). The caller stops it (`registryFor`
 * stops it after a test).
 */
export async function startRegistry(
  kind: 'plain' | 'tls' | 'token',
  opts: RegistryOptions = {},
): Promise<DistributionRegistry> {
  const dir = await mkdtemp(join(tmpdir(), `berth-registry-${kind}-`));
  const users: Record<string, string> = opts.users ?? DEFAULT_USERS;
  let tokens: TokenService | undefined;
  try {
    const basic = opts.basicAuth ?? kind === 'tls';
    const lines: string[] = [];
    if (kind === 'tls') {
      await makeCa(dir);
      lines.push('  tls:', `    certificate: ${join(dir, 'server.crt')}`, `    key: ${join(dir, 'server.key')}`);
      if (opts.clientCA) lines.push('    clientcas:', `      - ${opts.clientCA}`);
    }
    if (basic && kind !== 'token') {
      await htpasswdFile(join(dir, 'htpasswd'), users);
      lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${join(dir, 'htpasswd')}`);
    } else if (kind === 'token') {
      tokens = await startTokenService(dir, {
        users,
        anonymousPull: opts.anonymousPull ?? false,
        ttl: opts.tokenTtl ?? 300,
      });
      lines.push(
        'auth:',
        '  token:',
        `    realm: ${tokens.realm}`,
        `    service: ${tokens.service}`,
        `    issuer: ${tokens.issuer}`,
        `    rootcertbundle: ${tokens.certPath}`,
      );
    }
    const extra = lines.join('\n');
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
        const u = user ?? (basic || kind === 'token' ? Object.keys(users)[0] : undefined);
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

/** `startRegistry`, stopped after the test. */
export async function registryFor(
  t: TestContext,
  kind: 'plain' | 'tls' | 'token',
  opts: RegistryOptions = {},
): Promise<DistributionRegistry> {
  const reg = await startRegistry(kind, opts);
  t.after(() => reg.stop());
  return reg;
}

/** A free TCP port on 127.0.0.1, from the kernel. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A CA and a client certificate signed by it (openssl, in `dir`): for a registry that asks for client certificates
 * (`clientCA: caCert`) and a certs.d with `client.cert` and `client.key`.
 */
export async function makeClientCert(
  dir: string,
  name: string,
): Promise<{ caCert: string; cert: string; key: string }> {
  const p = (f: string) => `${name}-${f}`;
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', `/CN=${name} test CA`],
    dir,
  );
  await openssl(['req', ...ec, '-keyout', p('client.key'), '-out', p('client.csr'), '-subj', `/CN=${name}`], dir);
  await writeFile(join(dir, p('ext.cnf')), 'extendedKeyUsage=clientAuth\n');
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      p('client.csr'),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p('client.crt'),
      '-days',
      '2',
      '-extfile',
      p('ext.cnf'),
    ],
    dir,
  );
  return { caCert: join(dir, p('ca.crt')), cert: join(dir, p('client.crt')), key: join(dir, p('client.key')) };
}

// ---- skopeo and the access log ----------------------------------------------------------------------------

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
  return run('skopeo', ['--insecure-policy', ...args], { timeoutMs });
}

/** skopeo copies the docker-archive `archive` to `docker://ref`, a plain-HTTP registry, with LOGIN's credentials. */
export function skopeoPushArchive(archive: string, ref: string): Promise<RunResult> {
  return skopeo([
    'copy',
    '-q',
    '--dest-tls-verify=false',
    '--dest-creds',
    LOGIN.creds,
    `docker-archive:${archive}`,
    `docker://${ref}`,
  ]);
}

/** The manifest at `docker://ref` of a plain-HTTP registry as it is stored, read with LOGIN's credentials. */
export function skopeoRawManifest(ref: string): Promise<RunResult> {
  return skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', LOGIN.creds, `docker://${ref}`]);
}

/** Runs skopeo as `skopeo` does and returns its output; a non-zero exit is an Error with its stderr. */
export async function skopeoOut(args: string[], timeoutMs = 300_000): Promise<string> {
  const r = await skopeo(args, timeoutMs);
  if (r.code !== 0) throw new Error(`skopeo ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
  return r.stdout;
}
