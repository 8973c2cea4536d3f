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
import { makeCa } from '../distribution/remote/testkit.ts';
import { Transport } from '../distribution/remote/transport.ts';
import { sha256 } from '../util/digest.ts';
import {
  CanceledError,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from '../util/errors.ts';
import type { FetchSource } from './ingest-fetch.ts';
import { FileContentStore } from './store.ts';

/** A writer's fetch on the ingest thread, against a real HTTP server on 127.0.0.1. */
describe('a blob fetched by the ingest thread', () => {
  let root: string;
  let store: FileContentStore;
  let server: Server;
  let base: string;
  const blob = randomBytes(3 << 20);
  const seen: { url: string; authorization: string | undefined }[] = [];
  const sockets = new Set<unknown>();
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-fetch-'));
    store = new FileContentStore(root, { ingestThread: true });
    await store.init();
    await store.warm();
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      handler(req, res);
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await store.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
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
 * fetches the same blobs when the thread does not: the rule's TLS settings (its CA, or no verification when insecure)
 * go with the remote's own host and port only, and a redirect to another host is verified with that host's own
 * settings (for a replication rule: none, so the system's CAs), in both.
 */
describe('a blob fetched by the ingest thread over HTTPS with a private CA', () => {
  let dir: string;
  let store: FileContentStore;
  let ca: string;
  let registry: HttpsServer;
  let storage: HttpsServer;
  let home: string;
  let elsewhere: string;
  const blob = randomBytes(100_000);

  const listen = async (s: HttpsServer) => {
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-fetch-tls-'));
    await makeCa(dir);
    ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    const tls = { key: await readFile(join(dir, 'server.key')), cert: await readFile(join(dir, 'server.crt')) };
    const serve = (res: ServerResponse) => res.writeHead(200, { 'Content-Length': blob.length }).end(blob);
    storage = createHttpsServer(tls, (_req, res) => serve(res));
    elsewhere = await listen(storage);
    registry = createHttpsServer(tls, (req, res) => {
      if (req.url === '/data') return serve(res);
      const to = req.url === '/here' ? '/data' : `https://${elsewhere}/data`;
      res.writeHead(307, { Location: to, 'Content-Length': 0 }).end();
    });
    home = await listen(registry);
    store = new FileContentStore(join(dir, 'store'), { ingestThread: true });
    await store.init();
    await store.warm();
  });
  after(async () => {
    await store.close();
    for (const s of [registry, storage]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** The ingest thread's fetch with a rule's settings (RemoteSide.blobSource): its CA, or none and no verification. */
  const thread = async (path: string, insecure: boolean): Promise<number | Error> => {
    const ref = `tls${path.replace('/', '-')}-${insecure}`;
    const w = await store.writer(ref, { size: 0 });
    const src: FetchSource = {
      url: `https://${home}${path}`,
      headers: {},
      tls: { ca: insecure ? undefined : ca, verify: !insecure },
      idleMs: 10_000,
      connectMs: 10_000,
    };
    try {
      return await w.fetch!(src, { maxSize: blob.length });
    } catch (err) {
      return err as Error;
    } finally {
      await w.close();
      await store.abort(ref);
    }
  };
  /** The registry client with the same rule's settings (RemoteSide.open): its CA in a certs.d under its host only. */
  const client = async (path: string, insecure: boolean): Promise<number | Error> => {
    const certsDir = join(dir, `certs-${insecure}.d`);
    await mkdir(join(certsDir, home), { recursive: true });
    if (!insecure) await writeFile(join(certsDir, home, 'ca.crt'), ca);
    const t = new Transport({
      insecureRegistries: insecure ? [home] : [],
      mirrors: [],
      certsDir,
      maxConcurrentDownloads: 1,
      maxConcurrentUploads: 1,
    });
    const ep = { base: `https://${home}`, registry: home, skipVerify: insecure, mirror: false };
    try {
      let res = await t.request(ep, path);
      // As Session.blob follows a redirect.
      if (res.status === 307) {
        res.discard();
        res = await t.request(ep, new URL(res.headers.location!, res.url).href);
      }
      return (await res.bytes(blob.length)).length;
    } catch (err) {
      return err as Error;
    } finally {
      t.close();
    }
  };

  test('a redirect on the remote itself keeps its CA, or its verification off when insecure', async () => {
    for (const insecure of [false, true]) {
      assert.equal(await thread('/here', insecure), blob.length);
      assert.equal(await client('/here', insecure), blob.length);
    }
  });

  test("a redirect to another host gets neither the remote's CA nor its insecure setting, as in the registry client", async () => {
    for (const insecure of [false, true]) {
      const [t, c] = [await thread('/away', insecure), await client('/away', insecure)];
      assert.ok(t instanceof UnavailableError, `thread, insecure ${insecure}: ${t}`);
      assert.ok(c instanceof UnavailableError, `client, insecure ${insecure}: ${c}`);
      for (const e of [t, c]) {
        assert.match(e.message, new RegExp(`GET https://${elsewhere}/data: unable to verify the first certificate`));
      }
    }
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
    store = new FileContentStore(dir, { ingestThread: true });
    await store.init();
    await store.warm();
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
