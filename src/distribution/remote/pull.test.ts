import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, request as httpRequest, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { MediaType } from '../../oci/mediatypes.ts';
import { sha256 } from '../../util/digest.ts';
import {
  CanceledError,
  DataLossError,
  InvalidArgumentError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from '../../util/errors.ts';
import {
  archive,
  legacyArchive,
  makeImage,
  makeLayer,
  testEngine,
  type TestEngine,
  type TestImage,
} from '../testkit.ts';
import { checkLogin } from './login.ts';
import { PULL_LEASE_MS, pullImage } from './pull.ts';
import { freePort, registryFor, skopeoOut as skopeo, startProxy } from './testkit.ts';
import { DEFAULT_REGISTRY_CONFIG, type JSONMessage, type RegistryConfig } from './types.ts';

const config = (over: Partial<RegistryConfig> = {}): RegistryConfig => ({
  ...DEFAULT_REGISTRY_CONFIG,
  certsDir: '/nonexistent',
  ...over,
});

async function tmp(t: TestContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'berth-pulltest-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function twoLayerImage(extra: Record<string, unknown> = {}): Promise<TestImage> {
  const base = await makeLayer({ 'bin/': '', 'bin/tool': 'v1', 'etc/': '', 'etc/hostname': 'box' }, 'gzip');
  const top = await makeLayer(
    { 'srv/': '', 'srv/data': `top ${JSON.stringify(extra)}`, big: randomBytes(300_000).toString('base64') },
    'gzip',
  );
  return makeImage([base, top], extra);
}

/** Pushes an image with skopeo from a docker-archive; returns the manifest digest the registry holds. */
async function skopeoPush(t: TestContext, image: TestImage, dest: string, extra: string[] = []): Promise<string> {
  const dir = await tmp(t);
  const file = join(dir, 'img.tar');
  await writeFile(file, await archive(legacyArchive([{ image, tags: ['x:1'] }])));
  await skopeo(['copy', '--quiet', '--dest-tls-verify=false', ...extra, `docker-archive:${file}`, `docker://${dest}`]);
  const raw = await skopeo([
    'inspect',
    '--raw',
    '--tls-verify=false',
    ...extra.map((a) => a.replace('--dest-', '--')),
    `docker://${dest}`,
  ]);
  return sha256(raw);
}

async function assertNothingKept(e: TestEngine): Promise<void> {
  assert.deepEqual(e.images.list(), []);
  assert.deepEqual(await e.blobs(), []);
  assert.deepEqual(await e.snapshots(), []);
  assert.deepEqual(await e.ingesting(), []);
}

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

test('a connection cut mid-blob is resumed with Range; a hung blob fails after the idle timeout and keeps nothing', async (t) => {
  const reg = await registryFor(t, 'plain');
  const img = await twoLayerImage();
  await skopeoPush(t, img, `${reg.host}/resume:1`);
  // Cut the first connection that carries more than 100 kB of response body.
  let cut = false;
  const proxy = await startProxy(t, reg.port, (_n, sent, chunk) => {
    if (!cut && sent + chunk.length > 100_000) {
      cut = true;
      return 'cut';
    }
    return 'pass';
  });
  const e = await testEngine(t);
  const res = await pullImage(e, config(), `${proxy.host}/resume:1`);
  assert.ok(cut, 'the proxy cut a connection');
  assert.ok(
    proxy.requests.some(
      (r) =>
        /^GET \/v2\/resume\/blobs\/sha256:[a-f0-9]{64} /.test(r) &&
        /\r\nRange: bytes=[1-9]\d*-\r?\n?/i.test(`${r}\r\n`),
    ),
    'resumed with a Range request from where it broke off',
  );
  // The unpack thread downloads each layer itself; the registry client took the cut one over from where it broke.
  const blobGets = proxy.requests.filter((r) => /^GET \/v2\/resume\/blobs\//.test(r));
  assert.ok(
    blobGets.some((r) => /\r\nUser-Agent: [^\r]*unpack thread/i.test(r)),
    'the unpack thread downloaded layers itself',
  );
  assert.ok(
    blobGets.some((r) => /\r\nRange: bytes=[1-9]/i.test(r) && !/unpack thread/i.test(r)),
    'the registry client resumed the cut download',
  );
  assert.equal(res.images[0]?.id, img.configDigest);
  assert.equal((await e.tree(`${proxy.host}/resume:1`)).has('big'), true);

  let hangs = 0;
  const hung = await startProxy(t, reg.port, (_n, sent, chunk) => {
    if (sent + chunk.length > 100_000) {
      hangs++;
      return 'hang';
    }
    return 'pass';
  });
  const e2 = await testEngine(t);
  const started = Date.now();
  await assert.rejects(
    pullImage(e2, config({ idleTimeoutMs: 1500 }), `${hung.host}/resume:1`),
    (err: Error) =>
      err instanceof UnavailableError &&
      /blobs\/sha256:[a-f0-9]{64}/.test(err.message) &&
      /sent nothing/.test(err.message),
  );
  assert.ok(hangs > 0);
  assert.ok(Date.now() - started < 8000, 'bounded by the idle timeout');
  await assertNothingKept(e2);
  // The next pull against the healthy registry succeeds.
  await pullImage(e2, config(), `${reg.host}/resume:1`);
  assert.equal(e2.images.list().length, 1);
});

/** A fake registry serving one image whose blobs may be tampered with. */
async function fakeRegistry(
  t: TestContext,
  img: TestImage,
  tamper: {
    blob?: string;
    body?: (b: Buffer) => Buffer;
    manifest?: Buffer;
    digestHeader?: string;
    /** Answers a request itself (true) before the registry does. */
    route?: (req: IncomingMessage, res: ServerResponse) => boolean;
  },
): Promise<string> {
  const layers = img.layers.map((l) => ({
    mediaType: MediaType.DockerLayerGzip,
    digest: l.digest,
    size: l.blob.length,
  }));
  const manifest =
    tamper.manifest ??
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.DockerManifest,
        config: { mediaType: MediaType.DockerConfig, digest: img.configDigest, size: img.config.length },
        layers,
      }),
    );
  const blobs = new Map<string, Buffer>([
    [img.configDigest, img.config],
    ...img.layers.map((l) => [l.digest, l.blob] as [string, Buffer]),
  ]);
  const server = createServer((req, res) => {
    if (tamper.route?.(req, res)) return;
    const url = (req.url ?? '').replace(/^\/elsewhere\//, '/v2/x/blobs/');
    if (url === '/v2/') return res.end('{}');
    if (/\/manifests\//.test(url)) {
      res.setHeader('Content-Type', JSON.parse(manifest.toString()).mediaType ?? MediaType.DockerManifest);
      res.setHeader('Docker-Content-Digest', tamper.digestHeader ?? sha256(manifest));
      return res.end(manifest);
    }
    const m = /\/blobs\/(sha256:[a-f0-9]+)$/.exec(url);
    const b = m && blobs.get(m[1]!);
    if (!b) {
      res.statusCode = 404;
      return res.end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}');
    }
    res.end(m[1] === tamper.blob && tamper.body ? tamper.body(b) : b);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

test('faults: wrong blob digest, truncated blob, manifest not matching its digest, schema1: named, nothing kept', async (t) => {
  const img = await twoLayerImage();
  const bad = img.layers[1]!.digest;
  const e = await testEngine(t);
  const wrong = await fakeRegistry(t, img, {
    blob: bad,
    body: (b) => Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([b[b.length - 1]! ^ 1])]),
  });
  await assert.rejects(
    pullImage(e, config(), `${wrong}/x:1`),
    (err: Error) => err instanceof DataLossError && err.message.includes(bad),
  );
  await assertNothingKept(e);
  const short = await fakeRegistry(t, img, { blob: bad, body: (b) => b.subarray(0, b.length - 10) });
  await assert.rejects(
    pullImage(e, config(), `${short}/x:1`),
    (err: Error) => err instanceof DataLossError && err.message.includes(bad),
  );
  await assertNothingKept(e);
  const lying = await fakeRegistry(t, img, { digestHeader: `sha256:${'a'.repeat(64)}` });
  await assert.rejects(
    pullImage(e, config(), `${lying}/x:1`),
    (err: Error) => err instanceof DataLossError && err.message.includes('a'.repeat(64)),
  );
  await assertNothingKept(e);
  const s1 = await fakeRegistry(t, img, {
    manifest: Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: '1', fsLayers: [], history: [] })),
  });
  await assert.rejects(
    pullImage(e, config(), `${s1}/x:1`),
    (err: Error) => err instanceof InvalidArgumentError && /schema 1/.test(err.message),
  );
  await assertNothingKept(e);
  const good = await fakeRegistry(t, img, {});
  await pullImage(e, config(), `${good}/x:1`);
  assert.equal(e.images.list().length, 1);
});

test('a layer unpacks while it downloads, and counts only when both its digest and its diff ID check out', async (t) => {
  const img = await twoLayerImage();
  const bad = img.layers[1]!.digest;
  const e = await testEngine(t);
  // The gzip header's OS byte changed: the blob unpacks completely to the right diff ID, but its digest is wrong,
  // which shows only at its last byte. The unpacked snapshot must go.
  const relabelled = await fakeRegistry(t, img, {
    blob: bad,
    body: (b) => Buffer.concat([b.subarray(0, 9), Buffer.from([b[9]! ^ 1]), b.subarray(10)]),
  });
  await assert.rejects(
    pullImage(e, config(), `${relabelled}/x:1`),
    (err: Error) => err instanceof DataLossError && err.message.includes(bad) && /digest/.test(err.message),
  );
  await assertNothingKept(e);
  // The blob is right but the image config names another diff ID: the unpack fails, the blob is not kept either.
  const lying = makeImage([img.layers[0]!, { ...img.layers[1]!, diffId: sha256('not this layer') }]);
  const wrongDiff = await fakeRegistry(t, lying, {});
  await assert.rejects(
    pullImage(e, config(), `${wrongDiff}/x:1`),
    (err: Error) =>
      err instanceof DataLossError && err.message.includes(bad) && err.message.includes(sha256('not this layer')),
  );
  await assertNothingKept(e);
  // Healthy: every layer is unpacked, committed on its parent, with docker's progress in order for each layer.
  const good = await fakeRegistry(t, img, {});
  const seen: JSONMessage[] = [];
  await pullImage(e, config(), `${good}/x:1`, { onProgress: (m) => seen.push(m) });
  const tree = await e.tree(`${good}/x:1`);
  assert.equal(tree.has('etc/hostname') && tree.has('srv/data') && tree.has('big'), true);
  for (const l of img.layers) {
    const mine = seen.filter((m) => m.id === l.digest.slice(7, 19)).map((m) => m.status);
    assert.deepEqual(
      [...new Set(mine)].filter((s) => s !== 'Waiting'),
      ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'],
    );
  }
  const snaps = await e.snapshots();
  assert.equal(snaps.length, 2, `two committed layers, no transient one: ${JSON.stringify(snaps)}`);
});

test('the unpack thread downloads each layer itself; a redirect over plain HTTP or an error status goes to the registry client', async (t) => {
  const img = await twoLayerImage({ variant: 'thread' });
  const [redirected, failing] = img.layers.map((l) => l.digest);
  const byThread: string[] = [];
  const byClient: string[] = [];
  let failed = 0;
  const reg = await fakeRegistry(t, img, {
    route: (req, res) => {
      const m = /\/blobs\/(sha256:[a-f0-9]+)$/.exec(req.url ?? '');
      if (!m || req.url?.startsWith('/elsewhere/')) return false;
      const thread = /unpack thread/.test(String(req.headers['user-agent']));
      (thread ? byThread : byClient).push(m[1]!);
      if (m[1] === redirected) {
        // Storage elsewhere on the same server: the thread's own reader leaves every redirect to the client.
        res.writeHead(307, { Location: `/elsewhere/${m[1]}` });
        res.end();
        return true;
      }
      if (m[1] === failing && thread && failed++ === 0) {
        res.writeHead(503);
        res.end('{"errors":[{"code":"UNAVAILABLE","message":"try again"}]}');
        return true;
      }
      return false;
    },
  });
  const e = await testEngine(t);
  const seen: JSONMessage[] = [];
  await pullImage(e, config(), `${reg}/x:1`, { onProgress: (m) => seen.push(m) });
  assert.deepEqual(byThread.toSorted(), [redirected, failing].toSorted(), 'the thread asked for each layer once');
  assert.deepEqual(
    byClient.filter((d) => d !== img.configDigest).toSorted(),
    [redirected, failing].toSorted(),
    'the client took over each',
  );
  const tree = await e.tree(`${reg}/x:1`);
  assert.equal(tree.has('etc/hostname') && tree.has('srv/data') && tree.has('big'), true);
  for (const l of img.layers) {
    const dl = seen.filter((m) => m.id === l.digest.slice(7, 19) && m.status === 'Downloading').at(-1);
    assert.deepEqual(dl?.progressDetail, { current: l.blob.length, total: l.blob.length });
  }
  assert.equal((await e.snapshots()).length, 2);
});

test('a layer whose blob is already in the store (not unpacked) is unpacked from the store alongside the downloads', async (t) => {
  const img = await twoLayerImage({ variant: 'stored' });
  const e = await testEngine(t);
  await e.content.put(img.layers[0]!.blob);
  const good = await fakeRegistry(t, img, {});
  const seen: JSONMessage[] = [];
  await pullImage(e, config(), `${good}/x:1`, { onProgress: (m) => seen.push(m) });
  assert.ok(seen.some((m) => m.status === 'Already exists' && m.id === img.layers[0]!.digest.slice(7, 19)));
  const tree = await e.tree(`${good}/x:1`);
  assert.equal(tree.get('bin/tool')?.split(' ')[2], sha256('v1').slice(7, 19));
  assert.equal(tree.has('srv/data'), true);
  assert.equal((await e.snapshots()).length, 2);
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

test('a pull can be canceled and keeps nothing', async (t) => {
  const reg = await registryFor(t, 'plain');
  await skopeoPush(t, await twoLayerImage(), `${reg.host}/c:1`);
  const proxy = await startProxy(t, reg.port, (_n, sent, chunk) => (sent + chunk.length > 100_000 ? 'hang' : 'pass'));
  const e = await testEngine(t);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 500);
  await assert.rejects(pullImage(e, config(), `${proxy.host}/c:1`, { signal: ac.signal }), CanceledError);
  await assertNothingKept(e);
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
