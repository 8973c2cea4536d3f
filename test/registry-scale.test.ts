/**
 * Scale-out: two `berth registry serve` processes over one store, blobs in Ceph's radosgw (S3) and metadata in
 * PostgreSQL, both started by the test. An upload begun on one process finishes on the other; tokens of one are
 * good on the other; a collection run through one frees what the other deleted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  call,
  getToken,
  pushImage,
  registryCli,
  serveRegistry,
  sha256,
  type ServedRegistry,
} from '../src/registry/testkit.ts';
import { dir, file, image, layer, legacyArchive, tarOf } from './fixtures.ts';
import { LOGIN, skopeo, skopeoPushArchive, skopeoRawManifest } from '../src/distribution/remote/testkit.ts';
import { startPostgres, startRadosgw, type Postgres, type S3Server } from './storage-kit.ts';

describe('two registry processes over radosgw and PostgreSQL', () => {
  let s3: S3Server;
  let pg: Postgres;
  let work: string;
  let config: string;
  let a: ServedRegistry;
  let b: ServedRegistry;
  const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

  before(async () => {
    [s3, pg] = await Promise.all([startRadosgw(), startPostgres()]);
    work = await mkdtemp(join(tmpdir(), 'berth-regscale-'));
    config = join(work, 'registry.json');
    await writeFile(
      config,
      JSON.stringify({
        postgres: pg.url,
        s3: {
          bucket: 'berth-registry',
          endpoint: s3.endpoint,
          accessKeyId: s3.accessKeyId,
          secretAccessKey: s3.secretAccessKey,
        },
        gc: { grace: '1s' },
      }),
    );
    const admin = await registryCli(
      ['user', 'add', LOGIN.user, '--admin', '--password-stdin', '--config', config],
      `${LOGIN.password}\n`,
    );
    assert.equal(admin.code, 0, admin.stderr);
    a = await serveRegistry(undefined, { args: ['--config', config], root: join(work, 'a') });
    b = await serveRegistry(undefined, { args: ['--config', config], root: join(work, 'b') });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await s3?.stop();
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const token = async (reg: ServedRegistry, scope: string) => {
    const res = await getToken(reg, [scope], LOGIN.creds);
    assert.equal(res.status, 200);
    return ((await res.json()) as { token: string }).token;
  };

  it('skopeo pushes through one process and pulls through the other, digests identical', async () => {
    const img = image([await layer([dir('s3'), file('s3/x', randomBytes(4096))], { gzip: true })]);
    const archive = join(work, 'img.tar');
    await writeFile(archive, await tarOf(legacyArchive([{ image: img, tags: ['x:1'] }])));
    const up = await skopeoPushArchive(archive, `${a.host}/lib/app:1`);
    assert.equal(up.code, 0, up.stderr);
    const rawA = await skopeoRawManifest(`${a.host}/lib/app:1`);
    const rawB = await skopeoRawManifest(`${b.host}/lib/app:1`);
    assert.equal(sha256(rawB.stdout), sha256(rawA.stdout));
    const down = await skopeo([
      'copy',
      '-q',
      '--src-tls-verify=false',
      '--src-creds',
      LOGIN.creds,
      `docker://${b.host}/lib/app:1`,
      `oci:${join(work, 'out')}:x`,
    ]);
    assert.equal(down.code, 0, down.stderr);
  });

  it('a chunked upload begun on one process finishes on the other; a token of one is good on the other', async () => {
    const t = await token(a, 'repository:lib/chunks:pull,push');
    const data = randomBytes(3 << 20);
    const post = await call(a, 'POST', '/v2/lib/chunks/blobs/uploads/', { headers: bearer(t) });
    assert.equal(post.status, 202);
    const loc = post.headers.get('location')!;
    const one = await call(a, 'PATCH', loc, {
      body: data.subarray(0, 1 << 20),
      headers: { ...bearer(t), 'Content-Range': `0-${(1 << 20) - 1}` },
    });
    assert.equal(one.status, 202);
    const two = await call(b, 'PATCH', loc, {
      body: data.subarray(1 << 20, 2 << 20),
      headers: { ...bearer(t), 'Content-Range': `${1 << 20}-${(2 << 20) - 1}` },
    });
    assert.equal(two.status, 202, await two.text());
    const skip = await call(a, 'PATCH', loc, {
      body: data.subarray(0, 10),
      headers: { ...bearer(t), 'Content-Range': '0-9' },
    });
    assert.equal(skip.status, 416);
    assert.equal(skip.headers.get('range'), `0-${(2 << 20) - 1}`);
    const put = await call(a, 'PUT', `${loc}?digest=${sha256(data)}`, {
      body: data.subarray(2 << 20),
      headers: { ...bearer(t), 'Content-Range': `${2 << 20}-${data.length - 1}` },
    });
    assert.equal(put.status, 201, await put.text());
    const got = await call(b, 'GET', `/v2/lib/chunks/blobs/${sha256(data)}`, { headers: bearer(t) });
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(data));
    const range = await call(b, 'GET', `/v2/lib/chunks/blobs/${sha256(data)}`, {
      headers: { ...bearer(t), Range: 'bytes=100-199' },
    });
    assert.equal(range.status, 206);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), data.subarray(100, 200));
  });

  it('tags page in byte order; a collection through one process frees what the other deleted, in S3 too', async () => {
    const t = await token(a, 'repository:lib/gc:pull,push,delete');
    const img = await pushImage(a, 'lib/gc', 'a', { headers: bearer(t) });
    for (const tag of ['B', 'c']) {
      const r = await call(b, 'PUT', `/v2/lib/gc/manifests/${tag}`, {
        body: img.manifest,
        headers: { ...bearer(t), 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(r.status, 201);
    }
    const page = await call(b, 'GET', '/v2/lib/gc/tags/list?n=2', { headers: bearer(t) });
    assert.deepEqual(((await page.json()) as { tags: string[] }).tags, ['B', 'a']);
    assert.match(page.headers.get('link')!, /last=a/);
    assert.equal((await call(b, 'DELETE', `/v2/lib/gc/manifests/${img.digest}`, { headers: bearer(t) })).status, 202);
    await sleep(1300);
    const r = await registryCli(['gc', '--url', b.url, '-u', LOGIN.user], '', {
      BERTH_REGISTRY_PASSWORD: LOGIN.password,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`deleted blob ${img.layers[0]}`));
    assert.equal((await call(a, 'HEAD', `/v2/lib/gc/blobs/${img.layers[0]}`, { headers: bearer(t) })).status, 404);
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const key = `blobs/sha256/${img.layers[0]!.slice(7)}`;
    await assert.rejects(client.send(new HeadObjectCommand({ Bucket: 'berth-registry', Key: key })));
    // A blob in the bucket that the metadata does not list (what a crash between the commit and the record
    // leaves) is found by the next collection and removed.
    const stray = Buffer.from('stray bytes');
    const strayKey = `blobs/sha256/${sha256(stray).slice(7)}`;
    await client.send(new PutObjectCommand({ Bucket: 'berth-registry', Key: strayKey, Body: stray }));
    const again = await registryCli(['gc', '--url', a.url, '-u', LOGIN.user], '', {
      BERTH_REGISTRY_PASSWORD: LOGIN.password,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`deleted orphaned blob ${sha256(stray)} \\(11 bytes`));
    await assert.rejects(client.send(new HeadObjectCommand({ Bucket: 'berth-registry', Key: strayKey })));
    client.destroy();
  });
});
