import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaType } from '../oci/mediatypes.ts';
import { sha256 } from '../util/digest.ts';
import { NotFoundError } from '../util/errors.ts';
import { extract } from '../util/tar/index.ts';
import { loadArchive } from './load.ts';
import { saveArchive } from './save.ts';
import {
  archive,
  chunks,
  collect,
  describeTree,
  legacyArchive,
  makeImage,
  makeLayer,
  testEngine,
  type TestEngine,
  type TestImage,
} from './testkit.ts';

interface Saved {
  files: Map<string, Buffer>;
  order: string[];
}

async function readTar(data: Buffer): Promise<Saved> {
  const files = new Map<string, Buffer>();
  const order: string[] = [];
  for await (const { header, body } of extract(chunks(data))) {
    order.push(header.name);
    if (header.type === 'file') files.set(header.name, await collect(body));
  }
  return { files, order };
}

const json = (s: Saved, name: string): unknown => JSON.parse(s.files.get(name)!.toString());

async function loaded(
  t: Parameters<typeof testEngine>[0],
  uncompressed = false,
): Promise<{ e: TestEngine; img: TestImage }> {
  const e = await testEngine(t);
  const img = makeImage([
    await makeLayer({ 'etc/': '', 'etc/os-release': 'ID=test\n', 'bin/': '', 'bin/app': 'binary' }),
    await makeLayer({ 'etc/': '', 'etc/motd': 'welcome\n' }, uncompressed ? 'none' : 'gzip'),
  ]);
  await loadArchive(
    e,
    chunks(await archive(legacyArchive([{ image: img, tags: ['app:1', 'app:latest', 'other/app:2'] }]))),
  );
  return { e, img };
}

test('save writes Docker 25 layout: blobs once, index.json per name, manifest.json, oci-layout, repositories', async (t) => {
  const { e, img } = await loaded(t);
  const rec = e.images.resolve('app:1');
  const s = await readTar(await collect(saveArchive(e, ['app:1', 'other/app:2'])));
  const blobs = [rec.manifestDigest, img.configDigest, ...img.layers.map((l) => l.digest)]
    .map((d) => `blobs/sha256/${d.slice(7)}`)
    .sort();
  assert.deepEqual(s.order, [
    'blobs/',
    'blobs/sha256/',
    ...blobs,
    'index.json',
    'manifest.json',
    'oci-layout',
    'repositories',
  ]);
  for (const b of blobs)
    assert.equal(sha256(s.files.get(b)!), `sha256:${b.slice(13)}`, `${b} holds what its name says`);
  assert.deepEqual(json(s, 'oci-layout'), { imageLayoutVersion: '1.0.0' });
  const base = { mediaType: MediaType.OciManifest, digest: rec.manifestDigest, size: rec.manifestSize };
  assert.deepEqual(json(s, 'index.json'), {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      {
        ...base,
        annotations: {
          'io.containerd.image.name': 'docker.io/library/app:1',
          'org.opencontainers.image.ref.name': '1',
        },
      },
      {
        ...base,
        annotations: { 'io.containerd.image.name': 'docker.io/other/app:2', 'org.opencontainers.image.ref.name': '2' },
      },
    ],
  });
  assert.deepEqual(json(s, 'manifest.json'), [
    {
      Config: `blobs/sha256/${img.configDigest.slice(7)}`,
      RepoTags: ['app:1', 'other/app:2'],
      Layers: img.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
    },
  ]);
  assert.deepEqual(json(s, 'repositories'), {
    app: { '1': img.layers[1]!.digest.slice(7) },
    'other/app': { '2': img.layers[1]!.digest.slice(7) },
  });
});

test('a name without a tag saves every tag of the repository; an ID saves the image without names', async (t) => {
  const { e, img } = await loaded(t);
  const byRepo = await readTar(await collect(saveArchive(e, ['app'])));
  assert.deepEqual((json(byRepo, 'manifest.json') as { RepoTags: string[] }[])[0]!.RepoTags, ['app:1', 'app:latest']);
  const byId = await readTar(await collect(saveArchive(e, [img.configDigest.slice(7, 19)])));
  assert.deepEqual((json(byId, 'manifest.json') as { RepoTags: unknown }[])[0]!.RepoTags, null);
  assert.equal(
    (json(byId, 'index.json') as { manifests: { annotations?: unknown }[] }).manifests[0]!.annotations,
    undefined,
  );
  assert.equal(byId.files.has('repositories'), false);
  const gen = saveArchive(e, ['nope:1']);
  await assert.rejects(gen.next(), NotFoundError);
});

test('save then load into another engine keeps every digest, name and file', async (t) => {
  const { e, img } = await loaded(t);
  const before = await e.images.load(e.images.resolve('app:1'));
  const data = await collect(saveArchive(e, ['app']));
  const other = await testEngine(t);
  const res = await loadArchive(other, chunks(data));
  assert.deepEqual(res.images, [{ id: img.configDigest, tags: ['app:1', 'app:latest'] }]);
  const after = await other.images.load(other.images.resolve('app:latest'));
  assert.equal(after.record.manifestDigest, before.record.manifestDigest);
  assert.equal(after.record.mediaType, before.record.mediaType);
  assert.deepEqual(after.manifest, before.manifest);
  assert.deepEqual(await other.blobs(), await e.blobs());
  assert.deepEqual(await other.tree('app:1'), await e.tree('app:1'));
  // And once more: saving from the second engine gives the same bytes.
  assert.deepEqual(await collect(saveArchive(other, ['app'])), data);
});

test('skopeo reads the saved docker-archive and reports the same layers', async (t) => {
  const { e, img } = await loaded(t, true);
  const dir = await mkdtemp(join(tmpdir(), 'berth-save-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'app.tar');
  await writeFile(file, await collect(saveArchive(e, ['app:1'])));
  const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `docker-archive:${file}`]).toString()) as {
    Layers: string[];
    Architecture: string;
  };
  assert.deepEqual(
    inspect.Layers,
    img.layers.map((l) => l.digest),
  );
  assert.equal(inspect.Architecture, 'amd64');
  const config = execFileSync('skopeo', ['inspect', '--raw', '--config', `docker-archive:${file}`]);
  assert.equal(sha256(config), img.configDigest);
});

test('umoci unpacks the OCI layout of a saved archive to the same files as the snapshot', async (t) => {
  const e = await testEngine(t);
  const dir = await mkdtemp(join(tmpdir(), 'berth-umoci-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // An OCI image made by umoci, brought in as an oci-archive (a tar of the layout).
  const layout = join(dir, 'layout');
  const bundle = join(dir, 'bundle');
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', `${layout}:latest`]);
  execFileSync('umoci', ['unpack', '--image', `${layout}:latest`, bundle]);
  await mkdir(join(bundle, 'rootfs', 'srv', 'www'), { recursive: true });
  await writeFile(join(bundle, 'rootfs', 'srv', 'www', 'index.html'), '<h1>hi</h1>\n');
  execFileSync('ln', ['-s', 'www/index.html', join(bundle, 'rootfs', 'srv', 'link')]);
  execFileSync('umoci', ['repack', '--image', `${layout}:latest`, bundle]);
  const ociTar = join(dir, 'oci.tar');
  execFileSync('tar', ['-C', layout, '-cf', ociTar, '.']);
  await loadArchive(e, chunks(await (await import('node:fs/promises')).readFile(ociTar)));
  // The image has no name (ref.name "latest" alone names no repository): tag it, save it, unpack the save.
  const [rec] = e.images.list();
  e.images.tag(rec!.configDigest, 'web:latest');
  const saved = join(dir, 'saved');
  await mkdir(saved);
  await writeFile(join(saved, 'archive.tar'), await collect(saveArchive(e, ['web:latest'])));
  execFileSync('tar', ['-C', saved, '-xf', join(saved, 'archive.tar')]);
  const out = join(dir, 'out');
  execFileSync('umoci', ['unpack', '--image', `${saved}:latest`, out]);
  const fromUmoci = await describeTree(join(out, 'rootfs'));
  const fromSnapshot = await e.tree('web:latest');
  assert.equal(fromUmoci.get('srv/www/index.html'), fromSnapshot.get('srv/www/index.html'));
  assert.equal(fromSnapshot.get('srv/link'), 'link -> www/index.html');
  assert.deepEqual(fromUmoci, fromSnapshot);
});
