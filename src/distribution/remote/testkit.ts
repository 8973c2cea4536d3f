/**
 * Test helpers for the registry client: Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1 at a
 * port from the kernel, in a temp dir, optionally with htpasswd Basic auth; skopeo; and a small TCP proxy that
 * can misbehave (cut a connection mid-body once). Everything is stopped by PID and removed after the test.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer, request } from 'node:http';
import { createSign, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';

const exec = promisify(execFile);
export const REGISTRY_BIN = '/usr/bin/docker-registry';

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

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  port: number;
  dir: string;
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Options of a test registry: Basic auth for one user, or `token` auth against a token service. */
export interface RegistryOptions {
  user?: string;
  password?: string;
  token?: { realm: string; service: string; issuer: string; certFile: string };
  /** TLS: the server certificate and key, and CAs whose client certificates it requires. */
  tls?: { cert: string; key: string; clientCA?: string };
}

/** Starts docker-registry (plain HTTP unless `tls`; auth as asked) and stops it after the test. */
export async function startRegistry(t: TestContext, opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-reg-'));
  let proc: ChildProcess | undefined;
  let out = '';
  const stop = async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const p = proc;
      await new Promise<void>((r) => {
        const force = setTimeout(() => p.kill('SIGKILL'), 5000);
        p.once('exit', () => {
          clearTimeout(force);
          r();
        });
        p.kill('SIGTERM');
      });
    }
  };
  t.after(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  });
  let auth = '';
  if (opts.user) {
    const { stdout } = await exec('htpasswd', ['-Bbn', opts.user, opts.password ?? '']);
    await writeFile(join(dir, 'htpasswd'), stdout);
    auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  if (opts.token) {
    const k = opts.token;
    auth = `auth:\n  token:\n    realm: ${k.realm}\n    service: ${k.service}\n    issuer: ${k.issuer}\n    rootcertbundle: ${k.certFile}\n`;
  }
  let tls = '';
  if (opts.tls) {
    tls = `  tls:\n    certificate: ${opts.tls.cert}\n    key: ${opts.tls.key}\n`;
    if (opts.tls.clientCA) tls += `    clientcas:\n      - ${opts.tls.clientCA}\n`;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = join(dir, 'config.yml');
    await writeFile(
      config,
      `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\n  cache:\n    blobdescriptor: inmemory\nhttp:\n  addr: 127.0.0.1:${port}\n${tls}${auth}`,
    );
    out = '';
    proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    if (await waitUp(port, proc, Boolean(opts.tls))) {
      const p = proc;
      return { host: `127.0.0.1:${port}`, port, dir, proc: p, log: () => out, stop };
    }
    await stop();
  }
  throw new Error(`docker-registry did not start: ${out}`);
}

async function waitUp(port: number, proc: ChildProcess, tlsUp: boolean): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      if (tlsUp) {
        // A TLS registry may demand a client certificate: that it accepts connections is enough.
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
        return;
      }
      const req = request({ host: '127.0.0.1', port, path: '/v2/' }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Runs skopeo with the given args (TLS verification is the caller's flag to give). */
export async function skopeo(args: string[]): Promise<string> {
  const { stdout } = await exec('skopeo', args, { maxBuffer: 64 << 20, timeout: 120_000 });
  return stdout;
}

export interface TestProxy {
  host: string;
  port: number;
  /** Connections seen. */
  connections: number;
  /** Request heads seen (method, path and headers of each request, as text). */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target`. `tamper(n, chunk)` sees each response chunk of the n-th
 * connection (from 1) and returns 'pass', 'cut' (destroy both sides now) or 'hang' (stop forwarding).
 */
export async function startProxy(
  t: TestContext,
  targetPort: number,
  tamper: (conn: number, sentSoFar: number, chunk: Buffer) => 'pass' | 'cut' | 'hang' = () => 'pass',
): Promise<TestProxy> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((client) => {
    const n = ++count;
    proxy.connections = count;
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let sent = 0;
    let hung = false;
    client.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(text)) proxy.requests.push(head >= 0 ? text.slice(0, head) : text);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (hung) return;
      const verdict = tamper(n, sent, d);
      if (verdict === 'cut') {
        client.destroy();
        upstream.destroy();
        return;
      }
      if (verdict === 'hang') {
        hung = true;
        return;
      }
      sent += d.length;
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const proxy: TestProxy = {
    host: `127.0.0.1:${port}`,
    port,
    connections: 0,
    requests: [],
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  t.after(() => proxy.close());
  return proxy;
}

/** Makes a CA and a certificate signed by it (for `127.0.0.1` and `localhost`) with openssl, in `dir`. */
export async function makeCerts(
  dir: string,
  name: string,
): Promise<{ caCert: string; caKey: string; cert: string; key: string }> {
  const p = (f: string) => join(dir, `${name}-${f}`);
  await exec('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '2',
    '-subj',
    `/CN=${name} test CA`,
  ]);
  await exec('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('cert.key'),
    '-out',
    p('cert.csr'),
    '-subj',
    `/CN=${name}`,
  ]);
  await writeFile(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  await exec('openssl', [
    'x509',
    '-req',
    '-in',
    p('cert.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('cert.crt'),
    '-days',
    '2',
    '-extfile',
    p('ext.cnf'),
  ]);
  return { caCert: p('ca.crt'), caKey: p('ca.key'), cert: p('cert.crt'), key: p('cert.key') };
}

export interface TokenService {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** The scopes of each token request, and whether it carried credentials. */
  requests: { scopes: string[]; user: string | undefined }[];
  /** Tokens to hand out broken (signed for the wrong audience) before good ones: tests refresh on 401. */
  breakNext: number;
}

/**
 * A token service for distribution's `auth: token`: RS256 JWTs with the signing certificate in `x5c`. Users in
 * `users` get pull and push on everything; anonymous requests get pull on repositories under `public/`.
 */
export async function startTokenService(
  t: TestContext,
  dir: string,
  users: Record<string, string>,
): Promise<TokenService> {
  const certs = await makeCerts(dir, 'token');
  const key = await readFile(certs.key, 'utf8');
  const der = (await readFile(certs.cert, 'utf8')).replace(/-----[^-]+-----|\s/g, '');
  const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  const svc: TokenService = {
    realm: '',
    service: 'berth-test-registry',
    issuer: 'berth-test-issuer',
    certFile: certs.cert,
    requests: [],
    breakNext: 0,
  };
  const server = createHttpServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let scopes = url.searchParams.getAll('scope');
    let user: string | undefined;
    let refresh: string | undefined;
    if (req.method === 'POST') {
      // OAuth2 refresh-token grant: the identity token `docker login` stored.
      let body = '';
      for await (const c of req) body += c;
      const form = new URLSearchParams(body);
      const rt = form.get('refresh_token') ?? '';
      if (form.get('grant_type') !== 'refresh_token' || !rt.startsWith('rt-') || users[rt.slice(3)] === undefined) {
        res.statusCode = 401;
        return res.end(JSON.stringify({ details: 'invalid refresh token' }));
      }
      user = rt.slice(3);
      scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    }
    const authz = req.headers.authorization;
    if (authz?.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(authz.slice(6), 'base64').toString().split(':');
      if (users[u!] === undefined || users[u!] !== rest.join(':')) {
        res.statusCode = 401;
        return res.end(JSON.stringify({ details: 'incorrect username or password' }));
      }
      user = u;
      if (url.searchParams.get('offline_token') === 'true') refresh = `rt-${u}`;
    }
    svc.requests.push({ scopes, user });
    const access = scopes.flatMap((s) => {
      const [type, name, actions] = [
        s.slice(0, s.indexOf(':')),
        s.slice(s.indexOf(':') + 1, s.lastIndexOf(':')),
        s.slice(s.lastIndexOf(':') + 1),
      ];
      const granted = user
        ? actions!.split(',')
        : name!.startsWith('public/')
          ? actions!.split(',').filter((a) => a === 'pull')
          : [];
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const broken = svc.breakNext > 0;
    if (broken) svc.breakNext--;
    const claims = {
      iss: svc.issuer,
      sub: user ?? '',
      aud: broken ? 'someone-else' : svc.service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const head = b64({ alg: 'RS256', typ: 'JWT', x5c: [der] });
    const body = `${head}.${b64(claims)}`;
    const sig = createSign('RSA-SHA256').update(body).sign(key).toString('base64url');
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({
        token: `${body}.${sig}`,
        expires_in: 300,
        issued_at: new Date().toISOString(),
        ...(refresh ? { refresh_token: refresh } : {}),
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  svc.realm = `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;
  return svc;
}
