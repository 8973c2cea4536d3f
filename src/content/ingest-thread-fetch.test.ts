import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  type Server as NetServer,
  type Socket,
  createServer as createNetServer,
  connect as netConnect,
} from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { makeCa, makeClientCert } from '../distribution/remote/testkit.ts';
import { Session } from '../distribution/remote/client.ts';
import { Transport } from '../distribution/remote/transport.ts';
import { sha256 } from '../util/digest.ts';
import { type Listening, listenLoopback } from '../util/testkit.ts';
import {
  CanceledError,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from '../util/errors.ts';
import type { FetchSource } from '../util/blob-fetch.ts';
import { FileContentStore } from './store.ts';

/** A content store in `dir` whose writers fetch on the ingest thread, ready for its first writer. */
async function threadStore(dir: string): Promise<FileContentStore> {
  const store = new FileContentStore(dir, { ingestThread: true });
  await store.init();
  await store.warm();
  return store;
}

/** A writer's fetch on the ingest thread, against a real HTTP server on 127.0.0.1. */
describe('a blob fetched by the ingest thread', () => {
  let root: string;
  let store: FileContentStore;
  let server: Server;
  let listening: Listening;
  let base: string;
  const blob = randomBytes(3 << 20);
  const seen: { url: string; authorization: string | undefined }[] = [];
  const sockets = new Set<unknown>();
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-fetch-'));
    store = await threadStore(root);
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      handler(req, res);
    });
    server.on('connection', (s) => sockets.add(s));
    listening = await listenLoopback(server);
    base = `http://${listening.host}`;
  });
  after(async () => {
    await store.close();
    await listening.close();
    await rm(root, { recursive: true, force: true });
  });

  const source = (path: string, idleMs = 10_000): FetchSource => ({
    url: `${base}${path}`,
    headers: { Authorization: 'Bearer tok' },
    idleMs,
    connectMs: 10_000,
  });
  const whole = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Length': blob.length });
    res.end(blob);
  };

  test('arrives whole, with its headers sent, over one kept-alive connection, and commits', async () => {
    handler = whole;
    seen.length = 0;
    const before = sockets.size;
    for (const ref of ['f1', 'f2']) {
      const w = await store.writer(ref, { size: 0 });
      assert.ok(w.fetch);
      assert.equal(await w.fetch(source(`/v2/r/blobs/${ref}`), { maxSize: blob.length }), blob.length);
      assert.equal(w.size, blob.length);
      const info = await w.commit({ digest: sha256(blob), size: blob.length });
      assert.equal(info.digest, sha256(blob));
    }
    assert.deepEqual(
      seen.map((s) => s.authorization),
      ['Bearer tok', 'Bearer tok'],
    );
    assert.equal(sockets.size - before, 1, 'the second fetch reused the first one connection');
    assert.deepEqual(await readdir(join(root, 'ingest')), []);
  });

  test('a kept-alive connection the server closed meanwhile is replaced', async () => {
    handler = whole;
    server.closeIdleConnections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const w = await store.writer('f3', { size: 0 });
    assert.equal(await w.fetch!(source('/b'), { maxSize: blob.length }), blob.length);
    await w.commit({ digest: sha256(blob), size: blob.length });
  });

  test('an answer it does not take (an error status, a redirect, a chunked body) fails with its status, nothing written', async () => {
    const cases: [number, (req: IncomingMessage, res: ServerResponse) => void, new (...a: never[]) => Error][] = [
      [404, (_q, res) => res.writeHead(404, { 'Content-Length': 0 }).end(), NotFoundError],
      [401, (_q, res) => res.writeHead(401, { 'Content-Length': 2 }).end('no'), UnauthorizedError],
      [403, (_q, res) => res.writeHead(403, { 'Content-Length': 0 }).end(), ForbiddenError],
      [500, (_q, res) => res.writeHead(500, { 'Content-Length': 0 }).end(), UnavailableError],
      [307, (_q, res) => res.writeHead(307, { Location: '/elsewhere', 'Content-Length': 0 }).end(), UnavailableError],
      [
        200,
        (_q, res) => {
          res.writeHead(200); // no length: chunked
          res.end(blob.subarray(0, 1000));
        },
        UnavailableError,
      ],
    ];
    const w = await store.writer('f4', { size: 0 });
    for (const [status, h, type] of cases) {
      handler = h;
      const err = await w.fetch!(source('/x'), { maxSize: blob.length }).then(
        () => assert.fail('fetched'),
        (e: Error & { status?: number }) => e,
      );
      assert.ok(err instanceof type, `${status}: ${err}`);
      assert.equal(err.status, status);
      assert.equal(w.size, 0);
    }
    // The writer still takes bytes the ordinary way.
    await w.append(Readable.from([Buffer.from('abc')]));
    assert.equal((await w.commit({ digest: sha256('abc'), size: 3 })).size, 3);
  });

  test('more bytes than allowed, or a body cut short, fail and leave the partial as it was', async () => {
    const w = await store.writer('f5', { size: 0 });
    await w.append(Readable.from([Buffer.from('head')]));
    handler = whole;
    await assert.rejects(w.fetch!(source('/big'), { maxSize: 4 + 1000 }), InvalidArgumentError);
    assert.equal(w.size, 4);
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Length': blob.length });
      res.write(blob.subarray(0, 100_000), () => res.destroy());
    };
    await assert.rejects(w.fetch!(source('/cut'), { maxSize: 4 + blob.length }), UnavailableError);
    assert.equal(w.size, 4);
    handler = whole;
    await w.fetch!(source('/ok'), { maxSize: 4 + blob.length });
    const want = Buffer.concat([Buffer.from('head'), blob]);
    assert.equal((await w.commit({ digest: sha256(want), size: want.length })).digest, sha256(want));
  });

  test('a silent server times out; an abort cancels', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Length': blob.length });
      res.write(blob.subarray(0, 1000)); // and nothing more
    };
    const w = await store.writer('f6', { size: 0 });
    await assert.rejects(w.fetch!(source('/slow', 300), { maxSize: blob.length }), UnavailableError);
    assert.equal(w.size, 0);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(w.fetch!(source('/slow'), { maxSize: blob.length, signal: ac.signal }), CanceledError);
    assert.equal(w.size, 0);
    await w.close();
    await store.abort('f6');
  });
});

/**
 * Over HTTPS with a private CA, side by side with the registry client (distribution/remote/transport.ts), which
 * fetches the same blobs when the thread does not. The thread is given the TLS settings the client resolved for the
 * remote (`Transport.tlsSettings`), and both use them on every hop, as Docker does: a redirect to another host under
 * the same CA is verified with the remote's CA (or not at all when the remote is insecure) and gets the remote's
 * client certificate; a redirect from https to plain http is followed. The remote's authorization stays home.
 */
describe('a blob fetched by the ingest thread over HTTPS with a private CA', () => {
  let dir: string;
  let store: FileContentStore;
  let ca: string;
  const servers: (HttpsServer | Server)[] = [];
  /** The remote: TLS and plain HTTP on one port (told apart by the first byte), for a downgrade to the same origin. */
  let front: NetServer;
  const frontSockets = new Set<Socket>();
  let home: string;
  let elsewhere: string;
  let mtls: string;
  let plain: string;
  let client: { cert: string; key: string };
  const authorization: (string | undefined)[] = [];
  const blob = randomBytes(100_000);
  const DIGEST = `sha256:${'0'.repeat(64)}`;
  const TOKEN = 'Bearer for-the-remote-only';

  const listen = async (s: HttpsServer | Server) => {
    servers.push(s);
    return (await listenLoopback(s)).host;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-fetch-tls-'));
    await makeCa(dir);
    ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    const clientFiles = await makeClientCert(dir, 'client');
    client = { cert: await readFile(clientFiles.cert, 'utf8'), key: await readFile(clientFiles.key, 'utf8') };
    const tls = { key: await readFile(join(dir, 'server.key')), cert: await readFile(join(dir, 'server.crt')) };
    const serve = (req: IncomingMessage, res: ServerResponse) => {
      authorization.push(req.headers.authorization);
      res.writeHead(200, { 'Content-Length': blob.length }).end(blob);
    };
    elsewhere = await listen(createHttpsServer(tls, serve));
    // Storage that takes only clients with a certificate its client CA signed.
    const clientCa = await readFile(clientFiles.caCert);
    mtls = await listen(
      createHttpsServer({ ...tls, ca: clientCa, requestCert: true, rejectUnauthorized: true }, serve),
    );
    plain = await listen(createServer(serve));
    // Plain storage whose body comes in two halves, the second well after a short connect timeout.
    const slow = await listen(
      createServer((_req, res) => {
        res.writeHead(200, { 'Content-Length': blob.length }).write(blob.subarray(0, blob.length / 2));
        setTimeout(() => res.end(blob.subarray(blob.length / 2)), 600);
      }),
    );
    const to: Record<string, () => string> = {
      '/here': () => '/data',
      '/downgrade': () => `http://${home}/data`,
      '/away': () => `https://${elsewhere}/data`,
      '/mtls': () => `https://${mtls}/data`,
      '/plain': () => `http://${plain}/data`,
      '/slowplain': () => `http://${slow}/data`,
    };
    // the blob GET of repository `r` (as the thread and Session.blob ask for it) answers with `to['/r']`'s redirect
    const remote = (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/data') return serve(req, res);
      const route = /^\/v2\/(\w+)\/blobs\//.exec(req.url ?? '')?.[1] ?? '';
      res.writeHead(307, { Location: to[`/${route}`]?.() ?? '/nowhere', 'Content-Length': 0 }).end();
    };
    const secure = createHttpsServer(tls, remote);
    const clear = createServer(remote);
    servers.push(secure, clear);
    front = createNetServer((socket) => {
      frontSockets.add(socket);
      socket.once('close', () => frontSockets.delete(socket));
      socket.once('readable', () => {
        const first = socket.read(1) as Buffer | null;
        if (!first) return socket.destroy();
        socket.unshift(first);
        // a TLS handshake record starts with 22
        (first[0] === 22 ? secure : clear).emit('connection', socket);
      });
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    home = `127.0.0.1:${(front.address() as AddressInfo).port}`;
    store = await threadStore(join(dir, 'store'));
  });
  after(async () => {
    await store.close();
    for (const s of frontSockets) s.destroy();
    await new Promise((resolve) => front.close(resolve));
    for (const s of servers) {
      s.closeAllConnections();
      if (s.listening) await new Promise((resolve) => s.close(resolve));
    }
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A registry client's transport for the remote, as a replication rule opens it (RemoteSide.open): its CA in a
   * certs.d under its host only (with a client key pair when `cert`), or no verification when insecure.
   */
  const transport = async (insecure: boolean, cert: boolean) => {
    const certsDir = join(dir, `certs-${insecure}-${cert}.d`);
    await mkdir(join(certsDir, home), { recursive: true });
    if (!insecure) await writeFile(join(certsDir, home, 'ca.crt'), ca);
    if (cert) {
      await writeFile(join(certsDir, home, 'client.cert'), client.cert);
      await writeFile(join(certsDir, home, 'client.key'), client.key);
    }
    const t = new Transport({
      insecureRegistries: insecure ? [home] : [],
      mirrors: [],
      certsDir,
      maxConcurrentDownloads: 1,
      maxConcurrentUploads: 1,
    });
    return { t, ep: { base: `https://${home}`, registry: home, skipVerify: insecure, mirror: false } };
  };
  /** The ingest thread's fetch with the settings the client resolved (RemoteSide.blobSource). */
  const thread = async (path: string, insecure: boolean, cert = false, connectMs = 10_000): Promise<number | Error> => {
    const ref = `tls${path.replace('/', '-')}-${insecure}-${cert}`;
    const w = await store.writer(ref, { size: 0 });
    const { t, ep } = await transport(insecure, cert);
    const src: FetchSource = {
      url: `https://${home}/v2${path}/blobs/${DIGEST}`,
      headers: { Authorization: TOKEN },
      tls: t.tlsSettings(ep),
      idleMs: 10_000,
      connectMs,
    };
    t.close();
    try {
      return await w.fetch!(src, { maxSize: blob.length });
    } catch (err) {
      return err as Error;
    } finally {
      await w.close();
      await store.abort(ref);
    }
  };
  /** The registry client itself (Session.blob, its token the same as the thread's), following the redirect. */
  const viaClient = async (path: string, insecure: boolean, cert = false): Promise<number | Error> => {
    const { t, ep } = await transport(insecure, cert);
    try {
      const session = new Session(t, ep, { registrytoken: TOKEN.slice('Bearer '.length) });
      const res = await session.blob(path.slice(1), DIGEST, 0);
      return (await res.bytes(blob.length)).length;
    } catch (err) {
      return err as Error;
    } finally {
      t.close();
    }
  };

  test('a redirect on the remote itself keeps its CA, or its verification off when insecure, and its token', async () => {
    authorization.length = 0;
    for (const insecure of [false, true]) {
      assert.equal(await thread('/here', insecure), blob.length);
      assert.equal(await viaClient('/here', insecure), blob.length);
    }
    assert.deepEqual(authorization, [TOKEN, TOKEN, TOKEN, TOKEN], 'the same origin, as in Docker');
  });

  test("a redirect to another host carries the remote's CA, or its verification off when insecure, as in Docker", async () => {
    authorization.length = 0;
    for (const insecure of [false, true]) {
      assert.equal(await thread('/away', insecure), blob.length, `thread, insecure ${insecure}`);
      assert.equal(await viaClient('/away', insecure), blob.length, `client, insecure ${insecure}`);
    }
    assert.deepEqual(authorization, [undefined, undefined, undefined, undefined], "the remote's token stays home");
  });

  test("a redirect to storage that asks for a client certificate gets the remote's, in both", async () => {
    for (const cert of [false, true]) {
      const [t, c] = [await thread('/mtls', false, cert), await viaClient('/mtls', false, cert)];
      if (cert) {
        assert.equal(t, blob.length, `thread: ${t}`);
        assert.equal(c, blob.length, `client: ${c}`);
      } else {
        assert.ok(t instanceof UnavailableError, `thread without a certificate: ${t}`);
        assert.ok(c instanceof UnavailableError, `client without a certificate: ${c}`);
      }
    }
  });

  test("a redirect from https to plain http is followed, as Go's client does", async () => {
    assert.equal(await thread('/plain', false), blob.length);
    assert.equal(await viaClient('/plain', false), blob.length);
  });

  test("a redirect from https to plain http on the remote's own host and port goes without its token", async () => {
    authorization.length = 0;
    for (const insecure of [false, true]) {
      assert.equal(await thread('/downgrade', insecure), blob.length, `thread, insecure ${insecure}`);
      assert.equal(await viaClient('/downgrade', insecure), blob.length, `client, insecure ${insecure}`);
    }
    assert.deepEqual(authorization, [undefined, undefined, undefined, undefined], 'no token in clear');
  });

  test('the connect timeout of a redirect to plain http ends at its connection, not with the body', async () => {
    assert.equal(await thread('/slowplain', false, false, 300), blob.length);
  });
});

/**
 * A peer that takes no connection: a listening socket whose queue is full (the kernel drops the SYN) for plain HTTP,
 * and one that accepts and never answers the TLS handshake for HTTPS. The connect timeout ends both, long before the
 * idle timeout would (which a SYN never answered would not even start, over HTTPS).
 */
describe('a blob fetched by the ingest thread from a peer that takes no connection', () => {
  let dir: string;
  let store: FileContentStore;
  let listener: ChildProcess;
  let full: string;
  const fillers: Socket[] = [];
  let silent: NetServer;
  let mute: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-fetch-connect-'));
    store = await threadStore(dir);
    // A listening socket that never accepts, with a queue of one (Node's own servers accept at once), filled.
    listener = spawn(
      'python3',
      [
        '-c',
        "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()",
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const [line] = (await once(listener.stdout!, 'data')) as [Buffer];
    full = `127.0.0.1:${line.toString().trim()}`;
    const filler = netConnect(Number(full.split(':')[1]), '127.0.0.1');
    fillers.push(filler);
    await once(filler, 'connect');
    silent = createNetServer((s) => fillers.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    mute = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });
  after(async () => {
    await store.close();
    for (const s of fillers) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
    listener.stdin!.end();
    if (listener.exitCode === null) await once(listener, 'exit');
    await rm(dir, { recursive: true, force: true });
  });

  for (const [what, url] of [
    ['a plain SYN never answered', () => `http://${full}/b`],
    ['a TLS handshake never answered', () => `https://${mute}/b`],
  ] as const) {
    test(`${what} fails at the connect timeout`, { timeout: 20_000 }, async () => {
      const ref = what.replaceAll(' ', '-');
      const w = await store.writer(ref, { size: 0 });
      const src: FetchSource = { url: url(), headers: {}, idleMs: 60_000, connectMs: 300 };
      const err = await w.fetch!(src, { maxSize: 1000 }).then(
        () => assert.fail('fetched'),
        (e: Error) => e,
      );
      assert.ok(err instanceof UnavailableError, String(err));
      assert.equal(err.message, `GET ${src.url}: no connection within 0.3 s`);
      assert.equal(w.size, 0);
      await w.close();
      await store.abort(ref);
    });
  }
});
