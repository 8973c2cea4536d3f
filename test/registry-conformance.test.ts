/**
 * The OCI conformance suite's workflows (pull, push, content discovery, content management) against a real
 * `berth registry serve`, with raw HTTP: every endpoint family, the success statuses and the failure ones.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import {
  call,
  errorCode,
  pushBlob,
  rawCall,
  pushImage,
  serveRegistry,
  sha256,
  type ServedRegistry,
} from '../src/registry/testkit.ts';
import { DEFAULT_REGISTRY_CONFIG, withRepository } from '../src/distribution/index.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
let reg: ServedRegistry;

before(async () => {
  reg = await serveRegistry(undefined);
});
after(async () => {
  await reg.stop();
  const { rm } = await import('node:fs/promises');
  await rm(reg.root, { recursive: true, force: true });
});

test('GET /v2/ answers 200 with the API version header', async () => {
  const res = await call(reg, 'GET', '/v2/');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
});

test('pull: manifests by tag and digest, HEAD, and 404s', async () => {
  const img = await pushImage(reg, 'pull/one', 'v1');
  for (const ref of ['v1', img.digest]) {
    const get = await call(reg, 'GET', `/v2/pull/one/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('content-type'), OCI_MANIFEST);
    assert.equal(get.headers.get('docker-content-digest'), img.digest);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), img.manifest);
    const head = await call(reg, 'HEAD', `/v2/pull/one/manifests/${ref}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(img.manifest.length));
    assert.equal(head.headers.get('docker-content-digest'), img.digest);
  }
  const missing = await call(reg, 'GET', '/v2/pull/one/manifests/nope');
  assert.equal(missing.status, 404);
  assert.equal(await errorCode(missing), 'MANIFEST_UNKNOWN');
  const noRepo = await call(reg, 'GET', '/v2/pull/nothing/manifests/v1');
  assert.equal(noRepo.status, 404);
  assert.equal((await call(reg, 'HEAD', `/v2/pull/one/manifests/${sha256('x')}`)).status, 404);
});

test('pull: blobs, HEAD, ranges, 404 and 400', async () => {
  const data = randomBytes(1000);
  const digest = await pushBlob(reg, 'pull/blobs', data);
  const get = await call(reg, 'GET', `/v2/pull/blobs/blobs/${digest}`);
  assert.equal(get.status, 200);
  assert.equal(get.headers.get('docker-content-digest'), digest);
  assert.deepEqual(Buffer.from(await get.arrayBuffer()), data);
  const head = await call(reg, 'HEAD', `/v2/pull/blobs/blobs/${digest}`);
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '1000');
  const part = await call(reg, 'GET', `/v2/pull/blobs/blobs/${digest}`, { headers: { Range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), 'bytes 10-19/1000');
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), data.subarray(10, 20));
  const tail = await call(reg, 'GET', `/v2/pull/blobs/blobs/${digest}`, { headers: { Range: 'bytes=-5' } });
  assert.equal(tail.status, 206);
  assert.deepEqual(Buffer.from(await tail.arrayBuffer()), data.subarray(995));
  const open = await call(reg, 'GET', `/v2/pull/blobs/blobs/${digest}`, { headers: { Range: 'bytes=990-' } });
  assert.deepEqual(Buffer.from(await open.arrayBuffer()), data.subarray(990));
  const bad = await call(reg, 'GET', `/v2/pull/blobs/blobs/${digest}`, { headers: { Range: 'bytes=2000-3000' } });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers.get('content-range'), 'bytes */1000');
  const missing = await call(reg, 'GET', `/v2/pull/blobs/blobs/${sha256('none')}`);
  assert.equal(missing.status, 404);
  assert.equal(await errorCode(missing), 'BLOB_UNKNOWN');
  const invalid = await call(reg, 'GET', '/v2/pull/blobs/blobs/sha256:xyz');
  assert.equal(invalid.status, 400);
  assert.equal(await errorCode(invalid), 'DIGEST_INVALID');
  // A blob of another repository is not visible here.
  assert.equal((await call(reg, 'HEAD', `/v2/pull/other/blobs/${digest}`)).status, 404);
});

test('pull: a large blob (sent from the file through reused buffers), whole and in ranges across chunks', async () => {
  const data = randomBytes((5 << 20) + 12345);
  const digest = await pushBlob(reg, 'pull/large', data);
  const whole = await call(reg, 'GET', `/v2/pull/large/blobs/${digest}`);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-length'), String(data.length));
  assert.equal(whole.headers.get('docker-content-digest'), digest);
  assert.equal(sha256(Buffer.from(await whole.arrayBuffer())), digest);
  for (const [range, from, to] of [
    [`bytes=${(1 << 20) - 7}-${(3 << 20) + 5}`, (1 << 20) - 7, (3 << 20) + 5],
    [`bytes=${4 << 20}-`, 4 << 20, data.length - 1],
    ['bytes=-4194305', data.length - 4194305, data.length - 1],
  ] as const) {
    const res = await call(reg, 'GET', `/v2/pull/large/blobs/${digest}`, { headers: { Range: range } });
    assert.equal(res.status, 206, range);
    assert.equal(res.headers.get('content-range'), `bytes ${from}-${to}/${data.length}`);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), data.subarray(from, to + 1), range);
  }
  // Bytes the metadata lists but the store lost: an error answer, not a cut body.
  const { rm } = await import('node:fs/promises');
  await rm(join(reg.root, 'blobs', 'sha256', digest.slice(7)));
  const lost = await call(reg, 'GET', `/v2/pull/large/blobs/${digest}`);
  assert.equal(lost.status, 404);
  assert.equal(await errorCode(lost), 'BLOB_UNKNOWN');
});

test('push: POST then PUT, and a single POST with the digest', async () => {
  const data = randomBytes(300);
  const post = await call(reg, 'POST', '/v2/push/mono/blobs/uploads/');
  assert.equal(post.status, 202);
  const loc = post.headers.get('location')!;
  assert.match(loc, /^\/v2\/push\/mono\/blobs\/uploads\/[0-9a-f-]{36}$/);
  assert.ok(post.headers.get('docker-upload-uuid'));
  const put = await call(reg, 'PUT', `${loc}?digest=${sha256(data)}`, { body: data });
  assert.equal(put.status, 201);
  assert.equal(put.headers.get('location'), `/v2/push/mono/blobs/${sha256(data)}`);
  assert.equal(put.headers.get('docker-content-digest'), sha256(data));
  const single = randomBytes(200);
  const one = await call(reg, 'POST', `/v2/push/mono/blobs/uploads/?digest=${sha256(single)}`, { body: single });
  assert.equal(one.status, 201);
  const got = await call(reg, 'GET', `/v2/push/mono/blobs/${sha256(single)}`);
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), single);
  // The upload is over: its location is gone.
  assert.equal((await call(reg, 'GET', loc)).status, 404);
});

test('push: a single POST with the digest whose body is cut short leaves no upload behind', async () => {
  const uploads = () => {
    const db = new DatabaseSync(join(reg.root, 'registry.db'), { readOnly: true });
    try {
      return (db.prepare('SELECT id FROM uploads').all() as { id: string }[]).map((r) => r.id).sort();
    } finally {
      db.close();
    }
  };
  const partials = async () => (await readdir(join(reg.root, 'ingest')).catch(() => [])).sort();
  const before = { uploads: uploads(), partials: await partials() };
  const data = randomBytes(100_000);
  // Half the announced bytes, then the end of the connection's sending side.
  const [host, port] = reg.host.split(':');
  const sock = connect(Number(port), host);
  sock.on('error', () => {});
  sock.write(
    `POST /v2/push/cut/blobs/uploads/?digest=${sha256(data)} HTTP/1.1\r\nHost: ${reg.host}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`,
  );
  sock.end(data.subarray(0, data.length / 2));
  let answer = '';
  for await (const d of sock) answer += d;
  assert.doesNotMatch(answer, /^HTTP\/1\.1 2/, 'no success for half a blob');
  // The clean-up may end after the answer: its upload is waited for (up to 10 s), then asserted gone.
  for (let i = 0; i < 500 && uploads().length > before.uploads.length; i++) await sleep(20);
  assert.deepEqual(uploads(), before.uploads);
  assert.deepEqual(await partials(), before.partials);
  assert.equal((await call(reg, 'HEAD', `/v2/push/cut/blobs/${sha256(data)}`)).status, 404);
});

test('push: chunks in order, 416 for out-of-order and repeated ones, status GET, final chunk in the PUT', async () => {
  const data = randomBytes(30);
  const post = await call(reg, 'POST', '/v2/push/chunked/blobs/uploads/', { headers: { 'Content-Length': '0' } });
  assert.equal(post.status, 202);
  assert.equal(post.headers.get('range'), '0-0');
  let loc = post.headers.get('location')!;
  const patch = (start: number, end: number) =>
    call(reg, 'PATCH', loc, {
      body: data.subarray(start, end + 1),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end}` },
    });
  const first = await patch(0, 9);
  assert.equal(first.status, 202);
  assert.equal(first.headers.get('range'), '0-9');
  loc = first.headers.get('location')!;
  const skip = await patch(20, 29);
  assert.equal(skip.status, 416);
  assert.equal(await errorCode(skip), 'BLOB_UPLOAD_INVALID');
  assert.equal(skip.headers.get('range'), '0-9');
  assert.equal(skip.headers.get('location'), loc);
  const again = await patch(0, 9);
  assert.equal(again.status, 416);
  assert.equal(await errorCode(again), 'BLOB_UPLOAD_INVALID');
  const status = await call(reg, 'GET', loc);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), '0-9');
  assert.equal(status.headers.get('location'), loc);
  const second = await patch(10, 19);
  assert.equal(second.status, 202);
  assert.equal(second.headers.get('range'), '0-19');
  const wrongLength = await call(reg, 'PATCH', loc, {
    body: data.subarray(20, 25),
    headers: { 'Content-Range': '20-29' },
  });
  assert.equal(wrongLength.status, 400);
  assert.equal(await errorCode(wrongLength), 'SIZE_INVALID');
  const put = await call(reg, 'PUT', `${loc}?digest=${sha256(data)}`, {
    body: data.subarray(20),
    headers: { 'Content-Range': '20-29', 'Content-Type': 'application/octet-stream' },
  });
  assert.equal(put.status, 201);
  const got = await call(reg, 'GET', `/v2/push/chunked/blobs/${sha256(data)}`);
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
});

test('push: a streamed PATCH without Content-Range, then PUT', async () => {
  const data = randomBytes(5000);
  const post = await call(reg, 'POST', '/v2/push/stream/blobs/uploads/');
  const patch = await call(reg, 'PATCH', post.headers.get('location')!, { body: data });
  assert.equal(patch.status, 202);
  assert.equal(patch.headers.get('range'), '0-4999');
  const put = await call(reg, 'PUT', `${patch.headers.get('location')}?digest=${sha256(data)}`);
  assert.equal(put.status, 201);
});

test('push: a wrong digest is DIGEST_INVALID and keeps nothing; cancel is 204 then 404', async () => {
  const data = randomBytes(100);
  const post = await call(reg, 'POST', '/v2/push/bad/blobs/uploads/');
  const loc = post.headers.get('location')!;
  const wrong = sha256('something else');
  const put = await call(reg, 'PUT', `${loc}?digest=${wrong}`, { body: data });
  assert.equal(put.status, 400);
  assert.equal(await errorCode(put), 'DIGEST_INVALID');
  assert.equal((await call(reg, 'HEAD', `/v2/push/bad/blobs/${wrong}`)).status, 404);
  assert.equal((await call(reg, 'HEAD', `/v2/push/bad/blobs/${sha256(data)}`)).status, 404);
  const noDigest = await call(reg, 'POST', '/v2/push/bad/blobs/uploads/');
  const put2 = await call(reg, 'PUT', noDigest.headers.get('location')!, { body: data });
  assert.equal(put2.status, 400);
  assert.equal(await errorCode(put2), 'DIGEST_INVALID');
  const cancel = await call(reg, 'POST', '/v2/push/bad/blobs/uploads/');
  const cloc = cancel.headers.get('location')!;
  assert.equal((await call(reg, 'DELETE', cloc)).status, 204);
  const gone = await call(reg, 'GET', cloc);
  assert.equal(gone.status, 404);
  assert.equal(await errorCode(gone), 'BLOB_UPLOAD_UNKNOWN');
  const unknown = await call(reg, 'PATCH', '/v2/push/bad/blobs/uploads/00000000-0000-0000-0000-000000000000', {
    body: 'x',
  });
  assert.equal(unknown.status, 404);
  // An upload is only reachable through the repository it was started in.
  const other = await call(reg, 'POST', '/v2/push/bad/blobs/uploads/');
  const id = other.headers.get('location')!.split('/').pop();
  assert.equal((await call(reg, 'GET', `/v2/push/elsewhere/blobs/uploads/${id}`)).status, 404);
});

test('push: sha512 uploads with digest-algorithm', async () => {
  const data = randomBytes(64);
  const digest = `sha512:${createHash('sha512').update(data).digest('hex')}`;
  const post = await call(reg, 'POST', '/v2/push/sha512/blobs/uploads/?digest-algorithm=sha512');
  assert.equal(post.status, 202);
  const put = await call(reg, 'PUT', `${post.headers.get('location')}?digest=${digest}`, { body: data });
  assert.equal(put.status, 201);
  assert.equal((await call(reg, 'HEAD', `/v2/push/sha512/blobs/${digest}`)).status, 200);
  const bad = await call(reg, 'POST', '/v2/push/sha512/blobs/uploads/?digest-algorithm=md5');
  assert.equal(bad.status, 400);
});

test('push: cross-repository mount, 201 when the source has it, 202 to fall back', async () => {
  const data = randomBytes(50);
  const digest = await pushBlob(reg, 'mount/src', data);
  const ok = await call(reg, 'POST', `/v2/mount/dst/blobs/uploads/?mount=${digest}&from=mount/src`);
  assert.equal(ok.status, 201);
  assert.equal(ok.headers.get('location'), `/v2/mount/dst/blobs/${digest}`);
  assert.equal(ok.headers.get('docker-content-digest'), digest);
  assert.equal((await call(reg, 'HEAD', `/v2/mount/dst/blobs/${digest}`)).status, 200);
  const fallback = await call(reg, 'POST', `/v2/mount/dst2/blobs/uploads/?mount=${sha256('nope')}&from=mount/src`);
  assert.equal(fallback.status, 202);
  assert.ok(fallback.headers.get('location'));
  const noFrom = await call(reg, 'POST', `/v2/mount/dst3/blobs/uploads/?mount=${digest}`);
  assert.equal(noFrom.status, 202);
});

test('push: manifest validation (blobs, JSON, media type, size, digest) and tags by query', async () => {
  const layer = randomBytes(10);
  const layerDigest = await pushBlob(reg, 'man/val', layer);
  const config = Buffer.from('{}');
  const configDigest = await pushBlob(reg, 'man/val', config);
  const manifest = (layers: string[]) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 2 },
        layers: layers.map((d) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d, size: 10 })),
      }),
    );
  const put = (ref: string, body: Buffer | string, type = OCI_MANIFEST) =>
    call(reg, 'PUT', `/v2/man/val/manifests/${ref}`, { body, headers: { 'Content-Type': type } });
  const unknownBlob = await put('v1', manifest([sha256('missing layer')]));
  assert.equal(unknownBlob.status, 400);
  assert.equal(await errorCode(unknownBlob), 'MANIFEST_BLOB_UNKNOWN');
  const notJson = await put('v1', '{not json');
  assert.equal(notJson.status, 400);
  assert.equal(await errorCode(notJson), 'MANIFEST_INVALID');
  const wrongType = await put('v1', manifest([layerDigest]), 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(wrongType.status, 400);
  assert.equal(await errorCode(wrongType), 'MANIFEST_INVALID');
  const schema1 = await put(
    'v1',
    JSON.stringify({ schemaVersion: 1, name: 'x' }),
    'application/vnd.docker.distribution.manifest.v1+json',
  );
  assert.equal(schema1.status, 400);
  const huge = await put('v1', Buffer.alloc((4 << 20) + 1, 0x20));
  assert.equal(huge.status, 413);
  const good = manifest([layerDigest]);
  const wrongDigest = await put(sha256('other'), good);
  assert.equal(wrongDigest.status, 400);
  assert.equal(await errorCode(wrongDigest), 'DIGEST_INVALID');
  const byDigest = await put(`${sha256(good)}?tag=a&tag=b`, good);
  assert.equal(byDigest.status, 201);
  assert.equal(byDigest.headers.get('docker-content-digest'), sha256(good));
  assert.equal(byDigest.headers.get('location'), `/v2/man/val/manifests/${sha256(good)}`);
  assert.equal(byDigest.headers.get('oci-tag'), 'a, b');
  assert.equal((await call(reg, 'HEAD', '/v2/man/val/manifests/b')).status, 200);
  const badTag = await put('-bad', good);
  assert.equal(badTag.status, 400);
});

test('push: an index needs its child manifests; NAME_INVALID for bad names', async () => {
  const img = await pushImage(reg, 'man/index', 'child');
  const index = (children: string[]) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: children.map((d) => ({
          mediaType: OCI_MANIFEST,
          digest: d,
          size: 1,
          platform: { os: 'linux', architecture: 'amd64' },
        })),
      }),
    );
  const missing = await call(reg, 'PUT', '/v2/man/index/manifests/multi', {
    body: index([sha256('no such manifest')]),
    headers: { 'Content-Type': OCI_INDEX },
  });
  assert.equal(missing.status, 400);
  assert.equal(await errorCode(missing), 'MANIFEST_BLOB_UNKNOWN');
  const ok = await call(reg, 'PUT', '/v2/man/index/manifests/multi', {
    body: index([img.digest]),
    headers: { 'Content-Type': OCI_INDEX },
  });
  assert.equal(ok.status, 201);
  const got = await call(reg, 'GET', '/v2/man/index/manifests/multi');
  assert.equal(got.headers.get('content-type'), OCI_INDEX);
  for (const name of ['Upper/case', 'a/../b', 'a//b', `${'a'.repeat(256)}`]) {
    const res = await rawCall(reg, 'GET', `/v2/${name}/tags/list`);
    assert.equal(res.status, 400, name);
    assert.equal(JSON.parse(res.body).errors[0].code, 'NAME_INVALID');
  }
});

test('discovery: tags list with n, last and Link; n=0; unknown repository', async () => {
  const img = await pushImage(reg, 'disc/tags', 'e');
  for (const t of ['c', 'a', 'd', 'b']) {
    const res = await call(reg, 'PUT', `/v2/disc/tags/manifests/${t}`, {
      body: img.manifest,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    assert.equal(res.status, 201);
  }
  const all = await call(reg, 'GET', '/v2/disc/tags/tags/list');
  assert.deepEqual(await all.json(), { name: 'disc/tags', tags: ['a', 'b', 'c', 'd', 'e'] });
  assert.equal(all.headers.get('link'), null);
  const page = await call(reg, 'GET', '/v2/disc/tags/tags/list?n=2');
  assert.deepEqual(((await page.json()) as { tags: string[] }).tags, ['a', 'b']);
  const link = page.headers.get('link')!;
  assert.match(link, /rel="next"/);
  const next = await call(reg, 'GET', /<([^>]+)>/.exec(link)![1]!);
  assert.deepEqual(((await next.json()) as { tags: string[] }).tags, ['c', 'd']);
  const after = await call(reg, 'GET', '/v2/disc/tags/tags/list?n=10&last=c');
  assert.deepEqual(((await after.json()) as { tags: string[] }).tags, ['d', 'e']);
  assert.equal(after.headers.get('link'), null);
  const zero = await call(reg, 'GET', '/v2/disc/tags/tags/list?n=0');
  assert.deepEqual(((await zero.json()) as { tags: string[] }).tags, []);
  assert.equal(zero.headers.get('link'), null);
  const lastOnly = await call(reg, 'GET', '/v2/disc/tags/tags/list?last=d');
  assert.deepEqual(((await lastOnly.json()) as { tags: string[] }).tags, ['e']);
  const none = await call(reg, 'GET', '/v2/disc/none/tags/list');
  assert.equal(none.status, 404);
  assert.equal(await errorCode(none), 'NAME_UNKNOWN');
});

test('discovery: _catalog with pagination', async () => {
  await pushImage(reg, 'cat/a', 'v');
  await pushImage(reg, 'cat/b', 'v');
  const all = (await (await call(reg, 'GET', '/v2/_catalog?n=10000')).json()) as { repositories: string[] };
  assert.ok(all.repositories.includes('cat/a') && all.repositories.includes('cat/b'));
  assert.deepEqual(all.repositories, [...all.repositories].sort());
  const first = await call(reg, 'GET', '/v2/_catalog?n=1&last=cat/');
  assert.deepEqual(((await first.json()) as { repositories: string[] }).repositories, ['cat/a']);
  const link = first.headers.get('link')!;
  const next = await call(reg, 'GET', /<([^>]+)>/.exec(link)![1]!);
  assert.deepEqual(((await next.json()) as { repositories: string[] }).repositories, ['cat/b']);
});

test('discovery: referrers with artifactType filtering, OCI-Subject on push', async () => {
  const subject = await pushImage(reg, 'refs/app', 'v1');
  const emptyConfig = Buffer.from('{}');
  const emptyDigest = await pushBlob(reg, 'refs/app', emptyConfig);
  const artifact = (artifactType: string, note: string) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
        layers: [],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length },
        annotations: { note },
      }),
    );
  const sbom = artifact('application/vnd.example.sbom.v1', 'sbom');
  const sig = artifact('application/vnd.example.sig.v1', 'sig');
  for (const a of [sbom, sig]) {
    const res = await call(reg, 'PUT', `/v2/refs/app/manifests/${sha256(a)}`, {
      body: a,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('oci-subject'), subject.digest);
  }
  const list = await call(reg, 'GET', `/v2/refs/app/referrers/${subject.digest}`);
  assert.equal(list.status, 200);
  assert.equal(list.headers.get('content-type'), OCI_INDEX);
  const idx = (await list.json()) as {
    manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[];
  };
  assert.equal(idx.manifests.length, 2);
  const bySbom = idx.manifests.find((m) => m.digest === sha256(sbom))!;
  assert.equal(bySbom.artifactType, 'application/vnd.example.sbom.v1');
  assert.deepEqual(bySbom.annotations, { note: 'sbom' });
  const filtered = await call(
    reg,
    'GET',
    `/v2/refs/app/referrers/${subject.digest}?artifactType=application/vnd.example.sig.v1`,
  );
  assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
  const f = (await filtered.json()) as { manifests: { digest: string }[] };
  assert.deepEqual(
    f.manifests.map((m) => m.digest),
    [sha256(sig)],
  );
  const none = await call(reg, 'GET', `/v2/refs/app/referrers/${sha256('nothing')}`);
  assert.equal(none.status, 200);
  assert.deepEqual(((await none.json()) as { manifests: unknown[] }).manifests, []);
  assert.equal((await call(reg, 'GET', '/v2/refs/app/referrers/sha256:zz')).status, 400);
  // A subject that does not exist (yet) is accepted.
  const orphan = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: sha256('later'), size: 5 },
    }),
  );
  const o = await call(reg, 'PUT', `/v2/refs/app/manifests/${sha256(orphan)}`, {
    body: orphan,
    headers: { 'Content-Type': OCI_MANIFEST },
  });
  assert.equal(o.status, 201);
});

test('discovery: referrers in pages with a Link header, the filter kept from page to page', async () => {
  const subject = await pushImage(reg, 'refs/paged', 'v1');
  const emptyDigest = await pushBlob(reg, 'refs/paged', Buffer.from('{}'));
  const artifact = (artifactType: string, note: string) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
        layers: [],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length },
        annotations: { note },
      }),
    );
  const put = async (a: Buffer) => {
    const res = await call(reg, 'PUT', `/v2/refs/paged/manifests/${sha256(a)}`, {
      body: a,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    assert.equal(res.status, 201);
    return sha256(a);
  };
  const sigs: string[] = [];
  for (let i = 0; i < 5; i++) sigs.push(await put(artifact('application/vnd.example.sig.v1', `sig ${i}`)));
  const sbom = await put(artifact('application/vnd.example.sbom.v1', 'sbom'));
  /** Follows the Link headers from `path`; each page's digests. */
  const walk = async (path: string) => {
    const pages: string[][] = [];
    let next: string | undefined = path;
    while (next) {
      const res = await call(reg, 'GET', next);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), OCI_INDEX);
      const idx = (await res.json()) as { schemaVersion: number; manifests: { digest: string }[] };
      assert.equal(idx.schemaVersion, 2);
      pages.push(idx.manifests.map((m) => m.digest));
      const link = res.headers.get('link');
      if (link !== null) assert.match(link, /rel="next"$/);
      next = link === null ? undefined : /<([^>]+)>/.exec(link)![1]!;
      if (next !== undefined) assert.ok(next.startsWith('/v2/refs/paged/referrers/'), next);
      if (pages.length > 10) assert.fail('the Link headers do not end');
    }
    return pages;
  };
  const all = await walk(`/v2/refs/paged/referrers/${subject.digest}?n=2`);
  assert.deepEqual(
    all.map((p) => p.length),
    [2, 2, 2],
  );
  assert.deepEqual(all.flat(), [...sigs, sbom].sort());
  // The artifactType filter travels in the Link: every page is filtered.
  const onlySigs = await walk(
    `/v2/refs/paged/referrers/${subject.digest}?n=2&artifactType=application/vnd.example.sig.v1`,
  );
  assert.deepEqual(
    onlySigs.map((p) => p.length),
    [2, 2, 1],
  );
  assert.deepEqual(onlySigs.flat(), [...sigs].sort());
  // Without n, one page holds them all (a page is cut at 1,000 descriptors or 1 MiB of JSON).
  assert.deepEqual(await walk(`/v2/refs/paged/referrers/${subject.digest}`), [[...sigs, sbom].sort()]);
  // A page of big annotations is cut by size, and nothing is lost or repeated over the pages.
  const big = await pushImage(reg, 'refs/paged', 'v2');
  const bigRefs: string[] = [];
  for (let i = 0; i < 3; i++) {
    const a = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.example.big.v1',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
        layers: [],
        subject: { mediaType: OCI_MANIFEST, digest: big.digest, size: big.manifest.length },
        annotations: { note: String(i).repeat(600_000) },
      }),
    );
    bigRefs.push(await put(a));
  }
  const bigPages = await walk(`/v2/refs/paged/referrers/${big.digest}`);
  assert.ok(bigPages.length >= 2, `expected several pages, got ${bigPages.length}`);
  assert.deepEqual(bigPages.flat(), [...bigRefs].sort());
  // Berth's registry client follows the pages.
  const viaClient = await withRepository(DEFAULT_REGISTRY_CONFIG, { domain: reg.host, path: 'refs/paged' }, {}, (r) =>
    r.referrersApi(big.digest),
  );
  assert.deepEqual(
    viaClient?.map((d) => d.digest),
    [...bigRefs].sort(),
  );
  // A bad `last` is refused.
  const bad = await call(reg, 'GET', `/v2/refs/paged/referrers/${subject.digest}?last=nope`);
  assert.equal(bad.status, 400);
  assert.equal(await errorCode(bad), 'DIGEST_INVALID');
});

test('management: delete a tag, a manifest, a blob', async () => {
  const img = await pushImage(reg, 'mgmt/one', 'keep');
  await call(reg, 'PUT', '/v2/mgmt/one/manifests/gone', {
    body: img.manifest,
    headers: { 'Content-Type': OCI_MANIFEST },
  });
  assert.equal((await call(reg, 'DELETE', '/v2/mgmt/one/manifests/gone')).status, 202);
  assert.equal((await call(reg, 'GET', '/v2/mgmt/one/manifests/gone')).status, 404);
  assert.equal((await call(reg, 'GET', '/v2/mgmt/one/manifests/keep')).status, 200);
  assert.equal((await call(reg, 'DELETE', '/v2/mgmt/one/manifests/gone')).status, 404);
  assert.equal((await call(reg, 'DELETE', `/v2/mgmt/one/manifests/${img.digest}`)).status, 202);
  assert.equal((await call(reg, 'GET', `/v2/mgmt/one/manifests/${img.digest}`)).status, 404);
  assert.equal((await call(reg, 'GET', '/v2/mgmt/one/manifests/keep')).status, 404);
  assert.equal((await call(reg, 'DELETE', `/v2/mgmt/one/manifests/${img.digest}`)).status, 404);
  assert.equal((await call(reg, 'DELETE', `/v2/mgmt/one/blobs/${img.layers[0]}`)).status, 202);
  assert.equal((await call(reg, 'HEAD', `/v2/mgmt/one/blobs/${img.layers[0]}`)).status, 404);
  const again = await call(reg, 'DELETE', `/v2/mgmt/one/blobs/${img.layers[0]}`);
  assert.equal(again.status, 404);
  assert.equal(await errorCode(again), 'BLOB_UNKNOWN');
});

test('management: deletes disabled answer 405 UNSUPPORTED', async (t) => {
  const cfgDir = reg.root;
  const cfg = join(cfgDir, 'nodelete.json');
  await writeFile(cfg, JSON.stringify({ deleteEnabled: false }));
  const ro = await serveRegistry(t, { args: ['--config', cfg] });
  const img = await pushImage(ro, 'nd/one', 'v1');
  const res = await call(ro, 'DELETE', `/v2/nd/one/manifests/${img.digest}`);
  assert.equal(res.status, 405);
  assert.equal(await errorCode(res), 'UNSUPPORTED');
  assert.equal((await call(ro, 'DELETE', '/v2/nd/one/manifests/v1')).status, 405);
  assert.equal((await call(ro, 'DELETE', `/v2/nd/one/blobs/${img.layers[0]}`)).status, 405);
});
