import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createPlainServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeCa } from '../distribution/remote/testkit.ts';
import { closeAgents, type FetchFailure, fetchInto, IDLE } from './blob-fetch.ts';

let dir: string;
let ca: string;
let server: Server;
let url: string;
const sockets = new Set<Socket>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-blob-fetch-'));
  await makeCa(dir);
  ca = await readFile(join(dir, 'ca.crt'), 'utf8');
  const tls = { key: await readFile(join(dir, 'server.key')), cert: await readFile(join(dir, 'server.crt')) };
  // A server that answers the head and the first bytes of the body, then sends nothing more.
  server = createServer(tls, (_req, res) => {
    res.writeHead(200, { 'Content-Length': 100_000 });
    res.write(Buffer.alloc(1000, 7));
  });
  server.on('secureConnection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/v2/r/blobs/sha256:${'0'.repeat(64)}`;
});
after(async () => {
  closeAgents();
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

test('over HTTPS, a body that stops coming fails with the idle code, after the bytes that came', async () => {
  // The registry client does not try a hung registry again (distribution/remote/blob.ts looks for IDLE): the
  // failure must say so, not look like a broken connection.
  let got = 0;
  await assert.rejects(
    fetchInto(
      { url, headers: {}, tls: { ca: [ca], verify: true }, idleMs: 300, connectMs: 5000 },
      100_000,
      (c) => {
        got += c.length;
      },
      {},
    ),
    (err: FetchFailure) => {
      assert.equal(err.code, IDLE, err.message);
      return true;
    },
  );
  assert.equal(got, 1000);
});

test('over plain HTTP, a kept-alive connection used for many downloads gathers no listeners', async (t) => {
  // Each download on a connection of the pool set its idle timeout with a listener of its own that was never
  // removed: the listeners (and the downloads they hold) piled up on the connection for the thread's life.
  const blob = Buffer.alloc(1000, 3);
  const plain = createPlainServer((_req, res) => res.writeHead(200, { 'Content-Length': blob.length }).end(blob));
  let connections = 0;
  plain.on('connection', () => connections++);
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    closeAgents();
    plain.closeAllConnections();
    plain.close();
  });
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const src = {
    url: `http://127.0.0.1:${(plain.address() as AddressInfo).port}/blob`,
    headers: {},
    idleMs: 5000,
    connectMs: 5000,
  };
  for (let i = 0; i < 15; i++) assert.equal(await fetchInto(src, blob.length, () => {}, {}), blob.length);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(connections, 1, 'one kept-alive connection');
  assert.deepEqual(
    warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
    [],
  );
});

test('over HTTPS, a redirect to a host its client would reach through a proxy fails, for the client to take over', async (t) => {
  const tls = { key: await readFile(join(dir, 'server.key')), cert: await readFile(join(dir, 'server.crt')) };
  const asked: string[] = [];
  const redirecting = createServer(tls, (req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(307, { Location: 'https://storage.example/blob' });
    res.end();
  });
  await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    redirecting.closeAllConnections();
    return new Promise<void>((resolve) => redirecting.close(() => resolve()));
  });
  const src = {
    url: `https://127.0.0.1:${(redirecting.address() as AddressInfo).port}/v2/r/blobs/sha256:${'1'.repeat(64)}`,
    headers: {},
    tls: { ca: [ca], verify: true },
    idleMs: 5000,
    connectMs: 5000,
    proxy: { https: 'http://127.0.0.1:9', noProxy: 'registry.example' },
  };
  await assert.rejects(
    fetchInto(src, 100, () => {}, {}),
    (err: FetchFailure) => err.code === 'EPROXY' && err.message.includes('https://storage.example/blob'),
  );
  assert.equal(asked.length, 1, 'the registry was asked directly (loopback)');
});

test('over plain HTTP, a head that comes in pieces and one that comes with the body both give the whole body', async (t) => {
  const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
  const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nX-Padding: ${'p'.repeat(3000)}\r\n\r\n`;
  const raw = createNetServer((s) => {
    s.on('data', (req: Buffer) => {
      const text = req.toString('latin1');
      if (text.includes('/pieces ')) {
        // the head in three writes, apart, then the body
        s.write(head.slice(0, 10));
        setTimeout(() => s.write(head.slice(10, 2000)), 30);
        setTimeout(() => s.write(Buffer.concat([Buffer.from(head.slice(2000), 'latin1'), body])), 60);
      } else s.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
    });
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    closeAgents();
    return new Promise<void>((resolve) => raw.close(() => resolve()));
  });
  const port = (raw.address() as AddressInfo).port;
  for (const path of ['/pieces', '/whole', '/pieces']) {
    const got: Buffer[] = [];
    const n = await fetchInto(
      { url: `http://127.0.0.1:${port}${path}`, headers: {}, idleMs: 5000, connectMs: 5000 },
      body.length,
      (b) => got.push(Buffer.from(b)),
      {},
    );
    assert.equal(n, body.length, path);
    assert.ok(Buffer.concat(got).equals(body), `${path}: the body, byte for byte`);
  }
});
