import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnavailableError } from '../../util/errors.ts';
import { humanSize, progressBar, shortId } from './progress.ts';
import { endpointsFor, isInsecure, Transport } from './transport.ts';
import { DEFAULT_REGISTRY_CONFIG, type RegistryConfig } from './types.ts';

const cfg = (over: Partial<RegistryConfig> = {}): RegistryConfig => ({ ...DEFAULT_REGISTRY_CONFIG, ...over });

test('insecure registries: loopback always, host[:port] and CIDR entries', () => {
  assert.equal(isInsecure(cfg(), '127.0.0.1:5000'), true);
  assert.equal(isInsecure(cfg(), 'localhost:5000'), true);
  assert.equal(isInsecure(cfg(), '[::1]:5000'), true);
  assert.equal(isInsecure(cfg(), 'reg.example:5000'), false);
  assert.equal(isInsecure(cfg({ insecureRegistries: ['reg.example:5000'] }), 'reg.example:5000'), true);
  assert.equal(isInsecure(cfg({ insecureRegistries: ['reg.example'] }), 'reg.example:443'), true);
  assert.equal(isInsecure(cfg({ insecureRegistries: ['10.1.0.0/16'] }), '10.1.2.3:5000'), true);
  assert.equal(isInsecure(cfg({ insecureRegistries: ['10.1.0.0/16'] }), '10.2.2.3:5000'), false);
});

test('endpoints: mirrors first for pulls (a list mirrors Docker Hub only), https, then http when insecure', () => {
  assert.deepEqual(
    endpointsFor(cfg(), 'reg.example', true).map((e) => e.base),
    ['https://reg.example'],
  );
  assert.deepEqual(
    endpointsFor(cfg(), 'docker.io', false).map((e) => e.base),
    ['https://registry-1.docker.io'],
  );
  assert.deepEqual(
    endpointsFor(cfg({ mirrors: ['http://127.0.0.1:5001'] }), 'docker.io', true).map((e) => [e.base, e.mirror]),
    [
      ['http://127.0.0.1:5001', true],
      ['https://registry-1.docker.io', false],
    ],
  );
  assert.deepEqual(
    endpointsFor(cfg({ mirrors: ['http://127.0.0.1:5001'] }), 'reg.example', true).map((e) => e.base),
    ['https://reg.example'],
  );
  const m = cfg({ mirrors: { '127.0.0.1:5000': ['127.0.0.1:5001/'] } });
  assert.deepEqual(
    endpointsFor(m, '127.0.0.1:5000', true).map((e) => [e.base, e.skipVerify]),
    [
      ['https://127.0.0.1:5001', true],
      ['https://127.0.0.1:5000', true],
      ['http://127.0.0.1:5000', true],
    ],
  );
  assert.deepEqual(
    endpointsFor(m, '127.0.0.1:5000', false).map((e) => e.base),
    ['https://127.0.0.1:5000', 'http://127.0.0.1:5000'],
  );
});

test('docker progress text, sizes and short IDs', () => {
  assert.equal(humanSize(512), '512B');
  assert.equal(humanSize(2_221_000), '2.221MB');
  assert.equal(humanSize(10_500), '10.5kB');
  assert.equal(progressBar(2_221_000, 2_221_000), `[${'='.repeat(50)}>]  2.221MB/2.221MB`);
  assert.equal(progressBar(0, 1000), `[>${' '.repeat(50)}]       0B/1kB`);
  assert.equal(shortId(`sha256:${'ab'.repeat(32)}`), 'abababababab');
});

test('a response that goes silent fails after the idle timeout', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Length': '100' });
    res.write('x'.repeat(10));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const tr = new Transport(cfg({ idleTimeoutMs: 300 }));
  t.after(() => tr.close());
  const res = await tr.request(
    { base: `http://127.0.0.1:${port}`, registry: `127.0.0.1:${port}`, skipVerify: false, mirror: false },
    '/x',
  );
  const started = Date.now();
  await assert.rejects(
    res.text(),
    (err: Error) => err instanceof UnavailableError && /sent nothing for 0.3 s/.test(err.message),
  );
  assert.ok(Date.now() - started < 2000);
});

test('waiting for a free pooled socket does not count against the connect timeout', async (t) => {
  // Every socket of the pool (32) is held by a slow answer for longer than the connect timeout; one more request
  // waits for a socket, and must then succeed instead of failing with "no connection".
  const held: (() => void)[] = [];
  let release: (() => void) | undefined;
  const allHeld = new Promise<void>((r) => (release = r));
  const server = createServer((req, res) => {
    if (req.url === '/slow') {
      held.push(() => res.end('slow'));
      if (held.length === 32) release!();
      return;
    }
    res.end('fast');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const tr = new Transport(cfg({ connectTimeoutMs: 200 }));
  t.after(() => tr.close());
  const ep = { base: `http://127.0.0.1:${port}`, registry: `127.0.0.1:${port}`, skipVerify: false, mirror: false };
  const slow = Array.from({ length: 32 }, () => tr.request(ep, '/slow').then((r) => r.text()));
  await allHeld;
  const queued = tr.request(ep, '/fast').then((r) => r.text());
  // Well past the connect timeout, the queued request is still waiting for a socket; then the pool frees up.
  await new Promise((r) => setTimeout(r, 600));
  for (const h of held) h();
  assert.deepEqual(await Promise.all(slow), Array(32).fill('slow'));
  assert.equal(await queued, 'fast');
});

test('writeEach: a body that refills one buffer arrives intact at a slow reader', async (t) => {
  // Chunks smaller than the request's buffer limit, which a plain write takes at once, keeping a reference
  const CHUNK = 4 << 10;
  const COUNT = 3072; // 12 MiB: more than loopback's socket buffers hold while the server does not read
  let received: Promise<string> | undefined;
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    received = new Promise((resolve) => {
      req.pause();
      setTimeout(() => req.resume(), 200);
      req.on('data', (c: Buffer) => hash.update(c));
      req.on('end', () => {
        res.end();
        resolve(hash.digest('hex'));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const tr = new Transport(cfg());
  t.after(() => tr.close());
  const expected = createHash('sha256');
  for (let i = 0; i < COUNT; i++) expected.update(Buffer.alloc(CHUNK, i & 0xff));
  const buf = Buffer.alloc(CHUNK);
  const body = (async function* () {
    for (let i = 0; i < COUNT; i++) {
      buf.fill(i & 0xff); // the same buffer each time: the last chunk must be on its way before this
      yield buf;
    }
  })();
  const res = await tr.request(
    { base: `http://127.0.0.1:${port}`, registry: `127.0.0.1:${port}`, skipVerify: false, mirror: false },
    '/up',
    { method: 'PUT', headers: { 'Content-Length': String(CHUNK * COUNT) }, body, writeEach: true },
  );
  res.discard();
  assert.equal(res.status, 200);
  assert.equal(await received, expected.digest('hex'));
});

test('certs.d: read for an insecure endpoint too, where a broken one fails nothing (as Docker, which skips it)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-certsd-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const host = '127.0.0.1:5999';
  await mkdir(join(dir, host));
  await writeFile(join(dir, host, 'ca.crt'), 'CA');
  await writeFile(join(dir, host, 'client.cert'), 'CERT');
  await writeFile(join(dir, host, 'client.key'), 'KEY');
  const ep = (skipVerify: boolean) => ({ base: `https://${host}`, registry: host, skipVerify, mirror: false });
  const settings = (skipVerify: boolean) => {
    const tr = new Transport({ ...DEFAULT_REGISTRY_CONFIG, certsDir: dir });
    try {
      return tr.tlsSettings(ep(skipVerify));
    } finally {
      tr.close();
    }
  };
  // whole: the same material for a verified endpoint and an insecure one (whose CAs then do not matter)
  assert.deepEqual(settings(false), { verify: true, ca: ['CA'], cert: 'CERT', key: 'KEY' });
  assert.deepEqual(settings(true), { verify: false, ca: ['CA'], cert: 'CERT', key: 'KEY' });
  // a client certificate without its key: an error for a verified endpoint, nothing for an insecure one
  await rm(join(dir, host, 'client.key'));
  assert.throws(() => settings(false), /missing key client\.key for client certificate/);
  assert.deepEqual(settings(true), { verify: false });
});
