/**
 * The registry test kit's token service and the small helpers its parts share (a command runner, listening on
 * 127.0.0.1 at a port from the kernel). See testkit.ts.
 */
import { spawn } from 'node:child_process';
import { createPrivateKey, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** What a command did. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, never throwing on a non-zero exit; one that outlives `timeoutMs` is killed (by its PID). */
export function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          stderr += `\n[killed after ${opts.timeoutMs} ms]`;
          p.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', (err) => (stderr += String(err)));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { cwd, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

export function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

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
  /** Tokens to hand out broken (for another audience, so the registry refuses them) before good ones. */
  breakNext: number;
  /** Refresh tokens handed out (what `docker login` keeps as its identity token) → their account. */
  refreshTokens: ReadonlyMap<string, string>;
  stop(): Promise<void>;
}

/** Who may pull without credentials: nobody, everybody, or the repositories a function accepts. */
export type AnonymousPull = boolean | ((repository: string) => boolean);

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
 * clients get `pull` where `anonymousPull` allows it (and a 401 when it is `false`); a wrong password is a 401.
 * ES256 JWTs whose signing certificate (`certPath`, distribution's `rootcertbundle`) travels in the `x5c` header.
 */
export async function startTokenService(
  dir: string,
  opts: { users: Record<string, string>; anonymousPull: AnonymousPull; ttl: number },
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
  const anonymous = typeof opts.anonymousPull === 'function' ? opts.anonymousPull : () => opts.anonymousPull === true;
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
    let asked = url.searchParams.get('service') ?? '';
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
      asked = form.get('service') ?? asked;
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
      service: asked,
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
    if (asked !== service) return deny(400, `unknown service "${asked}"`);
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
      const granted = account !== '' ? p.actions : anonymous(p.name) ? p.actions.filter((a) => a === 'pull') : [];
      access.push({ type: p.type, name: p.name, actions: granted });
    }
    if (account === '' && opts.anonymousPull === false && scopes.length > 0)
      return deny(401, 'authentication required');
    const now = Math.floor(Date.now() / 1000);
    const broken = svc.breakNext > 0;
    if (broken) svc.breakNext--;
    const token = jwt(key, certDer, {
      iss: issuer,
      sub: account,
      aud: broken ? 'someone-else' : service,
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
  const svc: TokenService = {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath: join(dir, 'token.crt'),
    requests,
    breakNext: 0,
    refreshTokens,
    stop: () => closeServer(server),
  };
  return svc;
}
