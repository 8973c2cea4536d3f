import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256 } from '../../util/digest.ts';
import { CanceledError, DataLossError, InvalidArgumentError, UnavailableError } from '../../util/errors.ts';
import { makeImage, testEngine } from '../testkit.ts';
import { pullImage } from './pull.ts';
import { makeCa, registryFor, startProxy } from './testkit.ts';
import { assertNothingKept, config, fakeRegistry, skopeoPush, tmp, twoLayerImage } from './testkit-pull.ts';
import type { JSONMessage } from './types.ts';
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
  // What the failed pull verified before its bad layer is still noted as coming from there (pull.ts: the notes are
  // written when an image's pull ends, failed or not).
  assert.deepEqual(e.blobSources.sourcesOf(img.configDigest), [`${wrong}/x`]);
  const short = await fakeRegistry(t, img, { blob: bad, body: (b) => b.subarray(0, b.length - 10) });
  await assert.rejects(
    pullImage(e, config(), `${short}/x:1`),
    (err: Error) => err instanceof DataLossError && err.message.includes(bad),
  );
  await assertNothingKept(e);
  // The config, held in memory until the layers are in: a changed byte or a short body is named, nothing kept.
  const cfg = img.configDigest;
  const badConfig = await fakeRegistry(t, img, {
    blob: cfg,
    body: (b) => Buffer.concat([b.subarray(0, b.length - 1), Buffer.from([b[b.length - 1]! ^ 1])]),
  });
  await assert.rejects(
    pullImage(e, config(), `${badConfig}/x:1`),
    (err: Error) => err instanceof DataLossError && err.message.includes(cfg) && /digest/.test(err.message),
  );
  await assertNothingKept(e);
  const shortConfig = await fakeRegistry(t, img, { blob: cfg, body: (b) => b.subarray(0, b.length - 10) });
  await assert.rejects(
    pullImage(e, config(), `${shortConfig}/x:1`),
    (err: Error) => err instanceof DataLossError && err.message.includes(cfg),
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

/**
 * A route for `fakeRegistry` answering a GET of the blobs in `blobs` that `cut` picks chunked, its connection closed
 * after the last data byte, before the terminating chunk. A Range from a blob's end is answered 416, as registries
 * do; the Ranges asked for are kept in `seen.ranges`, the answers cut counted by who asked.
 */
function cutAtEnd(blobs: Buffer[], cut: (req: IncomingMessage) => boolean) {
  const byDigest = new Map<string, Buffer>(blobs.map((b) => [sha256(b), b]));
  const seen = { thread: 0, client: 0, ranges: [] as string[] };
  const route = (req: IncomingMessage, res: ServerResponse): boolean => {
    const b = byDigest.get(/\/blobs\/(sha256:[a-f0-9]+)$/.exec(req.url ?? '')?.[1] ?? '');
    if (b === undefined) return false;
    if (req.headers.range !== undefined) {
      seen.ranges.push(req.headers.range);
      if (Number(/^bytes=(\d+)-$/.exec(req.headers.range)?.[1]) < b.length) return false;
      res.writeHead(416, { 'Content-Range': `bytes */${b.length}` });
      res.end();
      return true;
    }
    if (!cut(req)) return false;
    if (/unpack thread/.test(String(req.headers['user-agent']))) seen.thread++;
    else seen.client++;
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    res.write(b, () => res.socket?.end());
    return true;
  };
  return { route, seen };
}

test("the unpack thread's chunked download cut after the blob's last byte ends the layer: nothing is left to ask for", async (t) => {
  const img = await twoLayerImage({ variant: 'cut at the end' });
  const layer = img.layers[1]!;
  const dir = await tmp(t);
  await makeCa(dir);
  const tls = {
    key: await readFile(join(dir, 'server.key'), 'utf8'),
    cert: await readFile(join(dir, 'server.crt'), 'utf8'),
  };
  // Over HTTPS (node:https takes a chunked answer; the thread's plain reader leaves one to the client): only the
  // thread's answer is cut.
  const { route, seen } = cutAtEnd([layer.blob], (req) => /unpack thread/.test(String(req.headers['user-agent'])));
  const reg = await fakeRegistry(t, img, { tls, route });
  const e = await testEngine(t);
  await pullImage(e, config(), `${reg}/x:1`);
  assert.equal(seen.thread, 1, 'the thread downloaded the layer, cut at its end');
  assert.deepEqual(seen.ranges, [], 'and nothing more was asked for');
  const tree = await e.tree(`${reg}/x:1`);
  assert.equal(tree.has('srv/data') && tree.has('big'), true);
  assert.equal((await e.snapshots()).length, 2);
});

test("the registry client's chunked download cut after the blob's last byte ends the blob as the thread's does", async (t) => {
  const img = await twoLayerImage({ variant: 'client cut at the end' });
  // Over plain HTTP the thread leaves a chunked answer to the registry client: every blob (the config's too) comes
  // through the client's download, each cut after its last byte.
  const { route, seen } = cutAtEnd([img.config, ...img.layers.map((l) => l.blob)], () => true);
  const reg = await fakeRegistry(t, img, { route });
  const e = await testEngine(t);
  const res = await pullImage(e, config(), `${reg}/x:1`);
  assert.equal(res.images[0]?.id, img.configDigest);
  assert.equal(seen.client, 3, 'the client downloaded the config and both layers, each cut at its end');
  assert.deepEqual(seen.ranges, [], 'and nothing more was asked for');
  const tree = await e.tree(`${reg}/x:1`);
  assert.equal(tree.has('srv/data') && tree.has('big'), true);
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
