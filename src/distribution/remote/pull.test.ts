import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { MediaType } from '../../oci/mediatypes.ts';
import { sha256 } from '../../util/digest.ts';
import {
  CanceledError,
  InvalidArgumentError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from '../../util/errors.ts';
import { testEngine } from '../testkit.ts';
import { checkLogin } from './login.ts';
import { PULL_LEASE_MS, pullImage } from './pull.ts';
import { accessLog, freePort, registryFor, skopeoOut as skopeo, startProxy } from './testkit.ts';
import { assertNothingKept, config, skopeoPush, twoLayerImage } from './testkit-pull.ts';
import type { JSONMessage } from './types.ts';
test('pull an image skopeo pushed: same digests, files, docker progress, then up to date', async (t) => {
  const reg = await registryFor(t, 'plain');
  const img = await twoLayerImage();
  const digest = await skopeoPush(t, img, `${reg.host}/some/app:1`);
  const e = await testEngine(t);
  const msgs: JSONMessage[] = [];
  const res = await pullImage(e, config(), `${reg.host}/some/app:1`, { onProgress: (m) => msgs.push(m) });
  assert.deepEqual(res.images, [{ id: img.configDigest, name: `${reg.host}/some/app:1`, digest }]);
  const stored = await e.images.load(e.images.resolve(`${reg.host}/some/app:1`));
  assert.equal(stored.record.manifestDigest, digest, 'the manifest is stored byte for byte');
  assert.equal(stored.record.configDigest, img.configDigest);
  const tree = await e.tree(`${reg.host}/some/app:1`);
  assert.equal(tree.get('etc/hostname')?.split(' ')[2], sha256('box').slice(7, 19));
  const statuses = msgs.map((m) => m.status);
  assert.equal(msgs[0]?.status, 'Pulling from some/app');
  assert.equal(msgs[0]?.id, '1');
  for (const layer of stored.manifest.layers) {
    const id = layer.digest.slice(7, 19);
    const mine = msgs.filter((m) => m.id === id).map((m) => m.status);
    assert.deepEqual(
      [...new Set(mine)].filter((s) => s !== 'Waiting'),
      ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'],
    );
    const dl = msgs.filter((m) => m.id === id && m.status === 'Downloading').at(-1)!;
    assert.deepEqual(dl.progressDetail, { current: layer.size, total: layer.size });
    assert.match(dl.progress ?? '', /^\[=+>\] /);
    // Noted (in one transaction at the pull's end) as where the blob came from, for a push to mount it.
    assert.deepEqual(e.blobSources.sourcesOf(layer.digest), [`${reg.host}/some/app`]);
  }
  assert.deepEqual(statuses.slice(-2), [
    `Digest: ${digest}`,
    `Status: Downloaded newer image for ${reg.host}/some/app:1`,
  ]);

  const again: JSONMessage[] = [];
  await pullImage(e, config(), `${reg.host}/some/app:1`, { onProgress: (m) => again.push(m) });
  assert.deepEqual(
    again.map((m) => m.status),
    ['Pulling from some/app', `Digest: ${digest}`, `Status: Image is up to date for ${reg.host}/some/app:1`],
  );

  // By digest: nothing tagged, found by digest reference.
  const e2 = await testEngine(t);
  const byDigest = await pullImage(e2, config(), `${reg.host}/some/app@${digest}`);
  assert.equal(byDigest.images[0]?.digest, digest);
  assert.equal(e2.images.resolve(`${reg.host}/some/app@${digest}`).configDigest, img.configDigest);
  assert.deepEqual(e2.images.records.tags(), []);
  await pullImage(e2, config(), `${reg.host}/some/app:other@${digest}`);
  assert.deepEqual(e2.images.records.tags(), [], 'NAME:TAG@DIGEST pulls by digest and tags nothing');
});

test('a pull whose blob-source notes cannot be written (SQLite failing) is done: image stored and tagged, failure logged', async (t) => {
  const reg = await registryFor(t, 'plain');
  const img = await twoLayerImage();
  const digest = await skopeoPush(t, img, `${reg.host}/noted/app:1`);
  const e = await testEngine(t);
  // Every write of a note fails in SQLite itself, as a full disk or an I/O error would.
  e.db.db.exec(
    "CREATE TEMP TRIGGER notes_fail BEFORE INSERT ON blob_sources BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
  );
  const warnings: string[] = [];
  const msgs: JSONMessage[] = [];
  const res = await pullImage({ ...e, log: { warn: (m) => warnings.push(m) } }, config(), `${reg.host}/noted/app:1`, {
    onProgress: (m) => msgs.push(m),
  });
  assert.deepEqual(res.images, [{ id: img.configDigest, name: `${reg.host}/noted/app:1`, digest }]);
  assert.equal(e.images.resolve(`${reg.host}/noted/app:1`).configDigest, img.configDigest);
  assert.equal(msgs.at(-1)?.status, `Status: Downloaded newer image for ${reg.host}/noted/app:1`);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /noted\/app.*not noted: .*disk I\/O error/);
  assert.deepEqual(e.blobSources.sourcesOf(img.configDigest), []);
});

test('pull errors: unknown tag or repository, bad reference, registry down (quickly), nothing kept', async (t) => {
  const reg = await registryFor(t, 'plain');
  const e = await testEngine(t);
  await assert.rejects(
    pullImage(e, config(), `${reg.host}/none:latest`),
    (err: Error) =>
      err instanceof NotFoundError &&
      /manifest unknown/.test(err.message) &&
      err.message.includes(`${reg.host}/none:latest`),
  );
  await skopeoPush(t, await twoLayerImage(), `${reg.host}/app:1`);
  await assert.rejects(
    pullImage(e, config(), `${reg.host}/app:nope`),
    (err: Error) =>
      err instanceof NotFoundError &&
      err.message === `manifest for ${reg.host}/app:nope not found: manifest unknown: manifest unknown`,
  );
  await assert.rejects(
    pullImage(e, config(), 'UPPER:x:y'),
    (err: Error) => err instanceof InvalidArgumentError && /invalid reference format/.test(err.message),
  );
  const port = await freePort();
  const started = Date.now();
  await assert.rejects(pullImage(e, config(), `127.0.0.1:${port}/app:1`), UnavailableError);
  assert.ok(Date.now() - started < 10_000);
  // A registry that accepts connections but never answers fails within the connect timeout too.
  const silentSockets: Socket[] = [];
  const silent = createNetServer((s) => silentSockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of silentSockets) s.destroy();
        silent.close(() => r());
      }),
  );
  const t1 = Date.now();
  await assert.rejects(
    pullImage(e, config({ connectTimeoutMs: 1000 }), `127.0.0.1:${(silent.address() as { port: number }).port}/app:1`),
    UnavailableError,
  );
  assert.ok(Date.now() - t1 < 5000, `${Date.now() - t1} ms`);
  await assertNothingKept(e);
});

test('pull with every tag (-a) and with a platform from an OCI index', async (t) => {
  const reg = await registryFor(t, 'plain');
  const a = await twoLayerImage({ architecture: 'amd64' });
  const b = await twoLayerImage({ architecture: 'arm64' });
  await skopeoPush(t, a, `${reg.host}/multi:amd`);
  await skopeoPush(t, b, `${reg.host}/multi:arm`);
  const e = await testEngine(t);
  const msgs: JSONMessage[] = [];
  const res = await pullImage(e, config(), `${reg.host}/multi`, { allTags: true, onProgress: (m) => msgs.push(m) });
  assert.deepEqual(res.images.map((i) => i.name).sort(), [`${reg.host}/multi:amd`, `${reg.host}/multi:arm`]);
  assert.equal(msgs.at(-1)?.status, `Status: Downloaded newer image for ${reg.host}/multi`);
  await assert.rejects(pullImage(e, config(), `${reg.host}/multi:amd`, { allTags: true }), InvalidArgumentError);

  // An index of both (pushed by hand: skopeo has no tool to make one from two images).
  const ma = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/multi:amd`])) as {
    mediaType: string;
  };
  const rawA = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/multi:amd`]);
  const rawB = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/multi:arm`]);
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      {
        mediaType: ma.mediaType,
        digest: sha256(rawA),
        size: Buffer.byteLength(rawA),
        platform: { os: 'linux', architecture: 'amd64' },
      },
      {
        mediaType: ma.mediaType,
        digest: sha256(rawB),
        size: Buffer.byteLength(rawB),
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      },
    ],
  });
  const put = await fetch(`http://${reg.host}/v2/multi/manifests/both`, {
    method: 'PUT',
    headers: { 'Content-Type': MediaType.OciIndex },
    body: index,
  });
  assert.equal(put.status, 201);
  const e2 = await testEngine(t);
  const got = await pullImage(e2, config(), `${reg.host}/multi:both`, { platform: 'linux/arm64' });
  assert.deepEqual(got.images, [{ id: b.configDigest, name: `${reg.host}/multi:both`, digest: sha256(index) }]);
  assert.equal(e2.images.resolve(`${reg.host}/multi:both`).manifestDigest, sha256(rawB));
  await assert.rejects(
    pullImage(e2, config(), `${reg.host}/multi:both`, { platform: 'linux/s390x' }),
    (err: Error) => err instanceof NotFoundError && /linux\/s390x/.test(err.message),
  );
});

test('Basic auth (htpasswd, bcrypt): refused without or with wrong credentials, pull and login with the right ones', async (t) => {
  const reg = await registryFor(t, 'plain', { basicAuth: true, users: { alice: 's3cret' } });
  await skopeoPush(t, await twoLayerImage(), `${reg.host}/private:1`, ['--dest-creds=alice:s3cret']);
  const e = await testEngine(t);
  await assert.rejects(
    pullImage(e, config(), `${reg.host}/private:1`),
    (err: Error) => err instanceof UnauthorizedError && /^unauthorized: /.test(err.message),
  );
  await assert.rejects(
    pullImage(e, config(), `${reg.host}/private:1`, { auth: { username: 'alice', password: 'wrong' } }),
    UnauthorizedError,
  );
  await assertNothingKept(e);
  const res = await pullImage(e, config(), `${reg.host}/private:1`, {
    auth: { auth: Buffer.from('alice:s3cret').toString('base64') },
  });
  assert.equal(res.images.length, 1);
  assert.deepEqual(await checkLogin(config(), { username: 'alice', password: 's3cret', serveraddress: reg.host }), {
    Status: 'Login Succeeded',
  });
  await assert.rejects(
    checkLogin(config(), { username: 'alice', password: 'nope', serveraddress: reg.host }),
    (err: Error) => err instanceof UnauthorizedError && !err.message.includes('nope'),
  );
});

test('mirrors: a pull goes to a mirror of any registry first and falls back to the registry', async (t) => {
  const upstream = await registryFor(t, 'plain');
  const mirror = await registryFor(t, 'plain');
  const img = await twoLayerImage();
  await skopeoPush(t, img, `${mirror.host}/lib/app:1`);
  // The upstream does not have it: only the mirror can serve it.
  const e = await testEngine(t);
  await pullImage(e, config({ mirrors: { [upstream.host]: [`http://${mirror.host}`] } }), `${upstream.host}/lib/app:1`);
  assert.equal(e.images.resolve(`${upstream.host}/lib/app:1`).configDigest, img.configDigest);
  assert.match(
    mirror.log(),
    /GET \/v2\/lib\/app\/blobs\/sha256:[^\n]*unpack thread/,
    'the layers came from the mirror',
  );
  // A mirror that is down falls back to the registry.
  const other = await twoLayerImage({ v: 2 });
  await skopeoPush(t, other, `${upstream.host}/lib/other:1`);
  const port = await freePort();
  await pullImage(
    e,
    config({ mirrors: { [upstream.host]: [`http://127.0.0.1:${port}`] } }),
    `${upstream.host}/lib/other:1`,
  );
  assert.equal(e.images.resolve(`${upstream.host}/lib/other:1`).configDigest, other.configDigest);
});

test('HTTP(S)_PROXY: requests to a registry go through the proxy (CONNECT for https, absolute URLs for http)', async (t) => {
  const reg = await registryFor(t, 'plain');
  const img = await twoLayerImage();
  await skopeoPush(t, img, `${reg.host}/proxied/app:1`);
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  // A forward proxy that sends every host to the test registry (the name below resolves nowhere).
  const proxy = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? '/');
    const up = httpRequest(
      { host: '127.0.0.1', port: reg.port, method: req.method, path: url.pathname + url.search, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  proxy.on('connect', (req, client: Socket) => {
    seen.push(`CONNECT ${req.url}`);
    const up = connect(reg.port, '127.0.0.1', () => client.write('HTTP/1.1 200 Connection established\r\n\r\n'));
    sockets.add(client).add(up);
    client.pipe(up).pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
  proxy.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        proxy.close(() => r());
      }),
  );
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  const name = `registry.invalid:${reg.port}`;
  const cfg = config({ insecureRegistries: [name], proxy: { http: proxyUrl, https: proxyUrl } });
  const e = await testEngine(t);
  await pullImage(e, cfg, `${name}/proxied/app:1`);
  assert.equal(e.images.resolve(`${name}/proxied/app:1`).configDigest, img.configDigest);
  assert.ok(seen.includes(`CONNECT ${name}`), `https was tried through a tunnel first: ${seen.join(', ')}`);
  assert.ok(seen.includes(`GET http://${name}/v2/`), seen.join(', '));
  assert.ok(seen.some((s) => s.startsWith(`GET http://${name}/v2/proxied/app/blobs/sha256:`)));
  // NO_PROXY: listed hosts go direct (here: to a name that does not resolve, so the pull fails fast).
  await assert.rejects(
    pullImage(
      e,
      config({ insecureRegistries: [name], proxy: { http: proxyUrl, https: proxyUrl, noProxy: 'registry.invalid' } }),
      `${name}/proxied/app:1`,
    ),
    UnavailableError,
  );
});

test('with a proxy set, a registry the proxy rule leaves out (loopback, NO_PROXY) is pulled from directly, the layers by the unpack thread', async (t) => {
  const reg = await registryFor(t, 'plain');
  const img = await twoLayerImage({ variant: 'no proxy' });
  await skopeoPush(t, img, `${reg.host}/direct/app:1`);
  // Nothing listens there: a request sent through the proxy would fail the pull.
  const closed = `http://127.0.0.1:${await freePort()}`;
  const e = await testEngine(t);
  await pullImage(
    e,
    config({ proxy: { http: closed, https: closed, noProxy: 'registry.invalid' } }),
    `${reg.host}/direct/app:1`,
  );
  assert.equal(e.images.resolve(`${reg.host}/direct/app:1`).configDigest, img.configDigest);
  assert.match(
    reg.log(),
    /GET \/v2\/direct\/app\/blobs\/sha256:[^\n]*unpack thread/,
    'the thread downloaded the layers',
  );
});

test("the pull's lease names the blobs verified so far, outlives a crash by PULL_LEASE_MS, and is gone when the pull ends", async (t) => {
  const reg = await registryFor(t, 'plain');
  const img = await twoLayerImage();
  await skopeoPush(t, img, `${reg.host}/j:1`);
  const proxy = await startProxy(t, reg.port, (_n, sent, chunk) => (sent + chunk.length > 100_000 ? 'hang' : 'pass'));
  const e = await testEngine(t);
  const ac = new AbortController();
  const started = Date.now();
  const pulling = pullImage(e, config(), `${proxy.host}/j:1`, { signal: ac.signal });
  const layers = (
    JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/j:1`])) as {
      layers: { digest: string; size: number }[];
    }
  ).layers;
  const [small, big] = [...layers].sort((a, b) => a.size - b.size);
  const leased = () => new Set(e.leases.all().flatMap((l) => e.leases.resourcesOf(l.id, 'content')));
  let seen = new Set<string>();
  for (let i = 0; i < 100 && !seen.has(small!.digest); i++) {
    await new Promise((r) => setTimeout(r, 50));
    seen = leased();
  }
  assert.ok(seen.has(small!.digest), `the small layer, verified, is in the lease: ${[...seen]}`);
  assert.ok(seen.has(img.configDigest));
  assert.ok(!seen.has(big!.digest), 'the hung layer is not');
  const [lease, ...more] = e.leases.all();
  assert.equal(more.length, 0, 'one lease for the pull');
  assert.ok(lease!.expires !== null && lease!.expires >= started + PULL_LEASE_MS, 'it outlives a crash');
  assert.ok(lease!.expires! <= Date.now() + PULL_LEASE_MS);
  ac.abort();
  await assert.rejects(pulling, CanceledError);
  assert.deepEqual(e.leases.all(), [], 'an ended pull leaves no lease');
  assert.ok(!(await e.content.has(small!.digest as `sha256:${string}`)), 'and a canceled one leaves no blob');
});

test('a pull takes the endpoint that answered /v2/ within PING_KEEP_MS without a ping, and pings again when another server answers there', async (t) => {
  const plain = await registryFor(t, 'plain');
  const tls = await registryFor(t, 'tls', { basicAuth: false });
  const img = await twoLayerImage();
  await skopeoPush(t, img, `${plain.host}/app:1`);
  await skopeoPush(t, img, `${plain.host}/app:2`);
  await skopeoPush(t, img, `${tls.host}/app:3`, tls.skopeoFlags('dest'));
  // One port in front of either registry (a TCP relay), so that the same name reaches the one or the other.
  let target = plain.port;
  const conns = new Set<Socket>();
  const front = createNetServer((c) => {
    const up = connect(target, '127.0.0.1');
    c.pipe(up);
    up.pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    conns.add(c);
    c.on('close', () => conns.delete(c));
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const c of conns) c.destroy();
    front.close();
  });
  const host = `127.0.0.1:${(front.address() as { port: number }).port}`;
  const logged = async (r: typeof plain, tag: string) => {
    for (let i = 0; i < 100 && !accessLog(r).some((e) => e.uri.endsWith(`/manifests/${tag}`)); i++)
      await new Promise((res) => setTimeout(res, 20));
  };
  const pingsOf = (r: typeof plain) => accessLog(r).filter((e) => e.method === 'GET' && e.uri === '/v2/').length;
  await logged(plain, '2');
  await logged(tls, '3');
  const before = new Map([plain, tls].map((r) => [r, pingsOf(r)]));
  const pings = (r: typeof plain) => pingsOf(r) - before.get(r)!;
  // The engine with the map berthd keeps its pulls' pings in (daemon/wiring.ts): without one, every pull pings.
  const e = { ...(await testEngine(t)), pings: new Map() };
  await pullImage(e, config(), `${host}/app:1`);
  await logged(plain, '1');
  assert.equal(pings(plain), 1, 'the first pull pings (https first: not a registry that speaks it)');
  await pullImage(e, config(), `${host}/app:2`);
  await logged(plain, '2');
  assert.equal(pings(plain), 1, 'the second pull, within PING_KEEP_MS, does not');
  assert.equal(e.images.resolve(`${host}/app:2`) !== undefined, true);
  // Another server on the port, which answers 404 to everything (without the registry API's version header): the
  // kept endpoint is pinged again, and the error is the ping's "not a registry", as without the cache.
  const other = createServer((_req, res) => res.writeHead(404).end('no such page'));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  t.after(() => other.close());
  target = (other.address() as { port: number }).port;
  for (const c of conns) c.destroy();
  await assert.rejects(
    pullImage(e, config(), `${host}/app:2`),
    (err: Error) => err instanceof UnavailableError && /not a registry/.test(err.message),
  );
  target = plain.port;
  await pullImage(e, config(), `${host}/app:1`);
  for (let i = 0; i < 100 && pings(plain) < 2; i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(pings(plain), 2, 'pinged again, since the ping there failed');
  // The port now leads to an https registry: the kept http endpoint gets a 400 for its manifest request, so the
  // pull pings (https answers) and asks again there.
  target = tls.port;
  await pullImage(e, config(), `${host}/app:3`);
  await logged(tls, '3');
  assert.equal(pings(tls), 1);
  assert.ok(accessLog(tls).some((x) => x.uri.endsWith('/manifests/3') && x.status === 200));
  const msgs: JSONMessage[] = [];
  await pullImage(e, config(), `${host}/app:3`, { onProgress: (m) => msgs.push(m) });
  assert.match(msgs.at(-1)?.status ?? '', /Image is up to date/);
  assert.equal(pings(tls), 1, 'the https endpoint is kept in turn');
  // Nothing answers there any more: the error is the ping's, as without the cache.
  front.close();
  for (const c of conns) c.destroy();
  await assert.rejects(pullImage(e, config(), `${host}/app:3`), UnavailableError);
});
