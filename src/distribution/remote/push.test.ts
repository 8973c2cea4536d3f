import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { BlobSourceRecords, MetadataDB } from '../../metadata/index.ts';
import { sha256 } from '../../util/digest.ts';
import { NotFoundError, UnauthorizedError } from '../../util/errors.ts';
import { loadArchive } from '../load.ts';
import {
  archive,
  chunks,
  legacyArchive,
  makeImage,
  makeLayer,
  testEngine,
  type TestEngine,
  type TestImage,
} from '../testkit.ts';
import { pullImage } from './pull.ts';
import { pushImage } from './push.ts';
import { registryFor, skopeoOut as skopeo, startProxy } from './testkit.ts';
import { DEFAULT_REGISTRY_CONFIG, type JSONMessage, type RegistryConfig } from './types.ts';

async function tmp(t: TestContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'berth-pushtest-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** Three layers: small gzip ones and a 2.5 MB one (chunked with the small limits below). */
async function image(seed: string): Promise<TestImage> {
  const a = await makeLayer({ 'etc/': '', 'etc/hostname': `box ${seed}` }, 'gzip');
  const b = await makeLayer({ 'srv/': '', 'srv/big': randomBytes(2_500_000).toString('base64') }, 'gzip');
  const c = await makeLayer({ 'srv/': '', 'srv/top': seed }, 'none');
  return makeImage([a, b, c]);
}

async function loaded(t: TestContext, img: TestImage, tags: string[]): Promise<TestEngine> {
  const e = await testEngine(t);
  await loadArchive(e, chunks(await archive(legacyArchive([{ image: img, tags }]))));
  return e;
}

test('push: blobs (monolithic and chunked) and manifest; skopeo and a second engine see the same digests', async (t) => {
  const reg = await registryFor(t, 'plain');
  const dir = await tmp(t);
  const cfg: RegistryConfig = {
    ...DEFAULT_REGISTRY_CONFIG,
    certsDir: '/nonexistent',
    monolithicMax: 64 << 10,
    chunkSize: 1 << 20,
  };
  const img = await image('one');
  const name = `${reg.host}/team/app`;
  const e = await loaded(t, img, [`${name}:1`]);
  const record = e.images.resolve(`${name}:1`);
  const msgs: JSONMessage[] = [];
  const res = await pushImage(e, cfg, `${name}:1`, { onProgress: (m) => msgs.push(m) });
  assert.deepEqual(res.pushed, [{ tag: '1', digest: record.manifestDigest, size: record.manifestSize }]);
  assert.equal(msgs[0]?.status, `The push refers to repository [${name}]`);
  const ids = [...img.layers].reverse().map((l) => l.diffId.slice(7, 19));
  assert.deepEqual(
    msgs.filter((m) => m.status === 'Preparing').map((m) => m.id),
    ids,
    'top layer first, named by diff ID',
  );
  for (const id of ids) {
    const mine = [...new Set(msgs.filter((m) => m.id === id).map((m) => m.status))].filter((s) => s !== 'Waiting');
    assert.deepEqual(mine, ['Preparing', 'Pushing', 'Pushed']);
  }
  assert.deepEqual(msgs.at(-2), { status: `1: digest: ${record.manifestDigest} size: ${record.manifestSize}` });
  assert.deepEqual(msgs.at(-1)?.aux, { Tag: '1', Digest: record.manifestDigest, Size: record.manifestSize });

  // skopeo reads exactly the manifest Berth stored, and copies it to an OCI layout with the same digests.
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${name}:1`]);
  assert.equal(sha256(raw), record.manifestDigest);
  await skopeo([
    'copy',
    '--quiet',
    '--preserve-digests',
    '--src-tls-verify=false',
    `docker://${name}:1`,
    `oci:${join(dir, 'layout')}:1`,
  ]);
  const index = JSON.parse(await readFile(join(dir, 'layout', 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const ociManifest = JSON.parse(
    await readFile(join(dir, 'layout', 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8'),
  ) as { config: { digest: string }; layers: { digest: string }[] };
  assert.equal(ociManifest.config.digest, img.configDigest);
  assert.deepEqual(
    ociManifest.layers.map((l) => l.digest),
    img.layers.map((l) => l.digest),
  );

  // A second engine pulls it back identically.
  const e2 = await testEngine(t);
  const pulled = await pullImage(e2, cfg, `${name}:1`);
  assert.deepEqual(pulled.images, [{ id: img.configDigest, name: `${name}:1`, digest: record.manifestDigest }]);
  assert.deepEqual(await e2.tree(`${name}:1`), await e.tree(`${name}:1`));

  // Again: the registry has everything.
  const again: JSONMessage[] = [];
  await pushImage(e, cfg, `${name}:1`, { onProgress: (m) => again.push(m) });
  assert.deepEqual(
    again.filter((m) => m.id).map((m) => m.status),
    [...ids.map(() => 'Preparing'), ...ids.map(() => 'Layer already exists')],
  );

  // A new image sharing two layers: those the registry has (HEAD) are skipped, the new one is pushed.
  const img2 = makeImage([img.layers[0]!, img.layers[1]!, await makeLayer({ 'srv/': '', 'srv/top': 'two' }, 'gzip')]);
  await loadArchive(e, chunks(await archive(legacyArchive([{ image: img2, tags: [`${name}:2`] }]))));
  const second: JSONMessage[] = [];
  await pushImage(e, cfg, `${name}:2`, { onProgress: (m) => second.push(m) });
  const final = (id: string) =>
    second.filter((m) => m.id === id && m.status !== 'Pushing' && m.status !== 'Waiting').at(-1)?.status;
  assert.equal(final(img2.layers[0]!.diffId.slice(7, 19)), 'Layer already exists');
  assert.equal(final(img2.layers[1]!.diffId.slice(7, 19)), 'Layer already exists');
  assert.equal(final(img2.layers[2]!.diffId.slice(7, 19)), 'Pushed');

  // Another repository of the same registry: blobs are mounted from the first.
  e.images.tag(`${name}:1`, `${reg.host}/other/copy:7`);
  const mounted: JSONMessage[] = [];
  await pushImage(e, cfg, `${reg.host}/other/copy:7`, { onProgress: (m) => mounted.push(m) });
  assert.deepEqual(
    mounted
      .filter((m) => m.status?.startsWith('Mounted'))
      .map((m) => `${m.id} ${m.status}`)
      .sort(),
    ids.map((id) => `${id} Mounted from team/app`).sort(),
  );
  assert.equal(
    sha256(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/other/copy:7`])),
    record.manifestDigest,
  );
  // Through a proxy that logs requests: the big layer went in 1 MiB PATCHes, the small ones in one PUT each.
  const proxy = await startProxy(t, reg.port);
  e.images.tag(`${name}:1`, `${proxy.host}/chunked/app:1`);
  await pushImage(e, cfg, `${proxy.host}/chunked/app:1`);
  const big = img.layers[1]!.blob.length;
  assert.ok(big > 2 << 20);
  assert.equal(proxy.requests.filter((r) => r.startsWith('PATCH ')).length, Math.ceil(big / (1 << 20)));
  assert.equal(
    proxy.requests.filter((r) => /^PUT \/v2\/chunked\/app\/blobs\/uploads\/.*digest=/.test(r)).length,
    4,
    'three layers and the config',
  );
  assert.equal(
    proxy.requests.filter(
      (r) => /^PUT \/v2\/chunked\/app\/manifests\/1 /.test(r) && r.includes(`Content-Type: ${record.mediaType}`),
    ).length,
    1,
  );
  // The record of sources persists for later pushes (in the engine's database).
  const reopened = new MetadataDB(join(e.root, 'berth.db'));
  const noted = new BlobSourceRecords(reopened).sourcesOf(img.layers[0]!.digest);
  reopened.close();
  assert.ok(noted.includes(`${reg.host}/team/app`), JSON.stringify(noted));
});

test('push -a pushes every local tag of the repository; missing images and bad credentials are refused', async (t) => {
  const reg = await registryFor(t, 'plain', { basicAuth: true, users: { bob: 'pw' } });
  const cfg: RegistryConfig = { ...DEFAULT_REGISTRY_CONFIG, certsDir: '/nonexistent' };
  const img = await image('two');
  const name = `${reg.host}/tags`;
  const e = await loaded(t, img, [`${name}:a`, `${name}:b`, `${reg.host}/elsewhere:c`]);
  const auth = { username: 'bob', password: 'pw' };
  await assert.rejects(pushImage(e, cfg, `${name}:a`), UnauthorizedError);
  await assert.rejects(
    pushImage(e, cfg, `${name}:a`, { auth: { username: 'bob', password: 'bad' } }),
    UnauthorizedError,
  );
  const res = await pushImage(e, cfg, name, { allTags: true, auth });
  assert.deepEqual(
    res.pushed.map((p) => p.tag),
    ['a', 'b'],
  );
  const tags = JSON.parse(await skopeo(['list-tags', '--tls-verify=false', '--creds=bob:pw', `docker://${name}`])) as {
    Tags: string[];
  };
  assert.deepEqual(tags.Tags.sort(), ['a', 'b']);
  await assert.rejects(
    pushImage(e, cfg, `${name}:zzz`, { auth }),
    (err: Error) =>
      err instanceof NotFoundError && err.message === `An image does not exist locally with the tag: ${name}:zzz`,
  );
  await assert.rejects(pushImage(e, cfg, `${reg.host}/none`, { allTags: true, auth }), NotFoundError);
});
