import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MediaType } from '../oci/mediatypes.ts';
import { sha256 } from '../util/digest.ts';
import { BerthError, DataLossError, InvalidArgumentError } from '../util/errors.ts';
import { pack } from '../util/tar/index.ts';
import { loadArchive, type LoadProgress } from './load.ts';
import {
  archive,
  chunks,
  collect,
  legacyArchive,
  makeImage,
  makeLayer,
  ociArchive,
  ociManifest,
  testEngine,
  type TestEngine,
  type TestImage,
} from './testkit.ts';

async function threeLayerImage(): Promise<TestImage> {
  const base = await makeLayer({ 'bin/': '', 'bin/tool': 'v1', 'etc/': '', 'etc/hostname': 'box' }, 'none');
  const mid = await makeLayer({ 'etc/': '', 'etc/motd': 'gzip layer', 'bin/': '', 'bin/.wh.tool': '' }, 'gzip');
  const top = await makeLayer({ 'srv/': '', 'srv/data': 'zstd layer' }, 'zstd');
  return makeImage([base, mid, top]);
}

/** Asserts the store holds exactly the given blobs and no snapshot but those of the given chains. */
async function assertEmpty(e: TestEngine): Promise<void> {
  assert.deepEqual(await e.blobs(), []);
  assert.deepEqual(await e.snapshots(), []);
  assert.deepEqual(e.images.list(), []);
  assert.deepEqual(await e.ingesting(), []);
}

test('legacy docker-archive with plain, gzip and zstd layers: Docker image ID, diff IDs, names, files', async (t) => {
  const e = await testEngine(t);
  const img = await threeLayerImage();
  const progress: LoadProgress[] = [];
  const data = await archive(legacyArchive([{ image: img, tags: ['busybox:latest', 'example.com/me/box:1'] }]));
  const res = await loadArchive(e, chunks(data), { onProgress: (p) => progress.push(p) });
  assert.deepEqual(res.images, [{ id: img.configDigest, tags: ['busybox:latest', 'example.com/me/box:1'] }]);
  const stored = await e.images.load(e.images.resolve('busybox'));
  assert.equal(stored.record.configDigest, img.configDigest, 'the image ID is the digest of the archive config');
  assert.equal(stored.record.mediaType, MediaType.OciManifest, 'an archive without a manifest gets an OCI one');
  assert.deepEqual(
    stored.manifest.layers.map((l) => [l.mediaType, l.digest, l.size]),
    [
      [MediaType.OciLayer, img.layers[0]!.digest, img.layers[0]!.blob.length],
      [MediaType.OciLayerGzip, img.layers[1]!.digest, img.layers[1]!.blob.length],
      [MediaType.OciLayerZstd, img.layers[2]!.digest, img.layers[2]!.blob.length],
    ],
  );
  assert.equal(stored.manifest.config.mediaType, MediaType.OciConfig);
  assert.deepEqual(
    stored.config.rootfs.diff_ids,
    img.layers.map((l) => l.diffId),
  );
  assert.deepEqual(stored.tags, ['docker.io/library/busybox:latest', 'example.com/me/box:1']);
  const tree = await e.tree('busybox');
  assert.equal(tree.get('etc/motd')?.split(' ')[2], sha256('gzip layer').slice(7, 19));
  assert.equal(tree.get('srv/data')?.split(' ')[2], sha256('zstd layer').slice(7, 19));
  assert.equal(tree.has('bin/tool'), false, 'the whiteout of the middle layer removed it');
  // Only the image's blobs are kept: not the VERSION and json files of the layer directories.
  const expected = [stored.record.manifestDigest, img.configDigest, ...img.layers.map((l) => l.digest)].sort();
  assert.deepEqual(await e.blobs(), expected);
  // Progress in docker's JSON-lines shape, named by the diff ID's first 12 hex digits.
  const loading = progress.filter((p): p is Extract<LoadProgress, { status: string }> => 'status' in p);
  assert.deepEqual([...new Set(loading.map((p) => p.id))].sort(), img.layers.map((l) => l.diffId.slice(7, 19)).sort());
  const last = loading.filter((p) => p.id === img.layers[1]!.diffId.slice(7, 19)).at(-1)!;
  assert.deepEqual(last.progressDetail, { current: img.layers[1]!.blob.length, total: img.layers[1]!.blob.length });
  assert.deepEqual(
    progress.filter((p) => 'stream' in p),
    [{ stream: 'Loaded image: busybox:latest\n' }, { stream: 'Loaded image: example.com/me/box:1\n' }],
  );
});

test('manifest.json first, a layer shared by symlink, a gzip-compressed archive, and an untagged image', async (t) => {
  const e = await testEngine(t);
  const shared = await makeLayer({ 'a/': '', 'a/x': 'shared' });
  const one = makeImage([shared, await makeLayer({ one: '1' }, 'gzip')]);
  const two = makeImage([shared, await makeLayer({ two: '2' })], { author: 'two' });
  const data = gzipSync(
    await archive(
      legacyArchive(
        [
          { image: one, tags: ['one:v1'] },
          { image: two, tags: [] },
        ],
        { manifestFirst: true },
      ),
    ),
  );
  const res = await loadArchive(e, chunks(data, 1000));
  assert.deepEqual(res.images, [
    { id: one.configDigest, tags: ['one:v1'] },
    { id: two.configDigest, tags: [] },
  ]);
  const second = await e.images.load(e.images.resolve(two.configDigest));
  assert.equal(second.manifest.layers[0]!.digest, shared.digest);
  assert.equal((await e.tree(two.configDigest)).get('a/x')?.split(' ')[2], sha256('shared').slice(7, 19));
  assert.equal((await e.snapshots()).length, 3, 'the shared base layer is unpacked once');
});

test('docker-archive with an OCI layout (Docker 25+): manifest digest kept, names from index and manifest.json', async (t) => {
  const e = await testEngine(t);
  const img = await threeLayerImage();
  const m = ociManifest(img);
  const entries = ociArchive(
    [
      {
        image: img,
        annotations: {
          'io.containerd.image.name': 'docker.io/library/app:1',
          'org.opencontainers.image.ref.name': '1',
        },
        tags: ['app:1', 'app:extra'],
      },
    ],
    { docker: true },
  );
  const res = await loadArchive(e, chunks(await archive(entries)));
  assert.deepEqual(res.images, [{ id: img.configDigest, tags: ['app:1', 'app:extra'] }]);
  const stored = e.images.resolve('app:extra');
  assert.equal(stored.manifestDigest, m.digest);
  assert.equal(stored.mediaType, MediaType.OciManifest);
  assert.deepEqual(await e.blobs(), [m.digest, img.configDigest, ...img.layers.map((l) => l.digest)].sort());
});

test('oci-archive: a full reference in ref.name, a nested index picks linux/amd64, blobs of other platforms absent', async (t) => {
  const e = await testEngine(t);
  const img = makeImage([await makeLayer({ f: 'amd64' }, 'gzip')]);
  const m = ociManifest(img);
  const nested = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        {
          mediaType: MediaType.OciManifest,
          digest: sha256('arm64 manifest, not in the archive'),
          size: 10,
          platform: { os: 'linux', architecture: 'arm64' },
        },
        {
          mediaType: MediaType.OciManifest,
          digest: m.digest,
          size: m.manifest.length,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    }),
  );
  const entries = ociArchive([{ image: img }], {
    extraBlobs: [nested],
    index: {
      schemaVersion: 2,
      manifests: [
        {
          mediaType: MediaType.OciIndex,
          digest: sha256(nested),
          size: nested.length,
          annotations: { 'org.opencontainers.image.ref.name': 'registry.local:5000/multi:2' },
        },
      ],
    },
  });
  const res = await loadArchive(e, chunks(await archive(entries)));
  assert.deepEqual(res.images, [{ id: img.configDigest, tags: ['registry.local:5000/multi:2'] }]);
  assert.equal(e.images.resolve('registry.local:5000/multi:2').manifestDigest, m.digest);
  assert.deepEqual(
    await e.blobs(),
    [m.digest, img.configDigest, img.layers[0]!.digest].sort(),
    'the index blob is not referenced by the image and goes',
  );
});

test('a docker-archive written by skopeo from an OCI layout made with umoci', async (t) => {
  const e = await testEngine(t);
  const dir = await mkdtemp(join(tmpdir(), 'berth-skopeo-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // umoci insert writes layers without the tar end marker here (GNU tar rejects them too); unpack + repack is sound.
  const layout = join(dir, 'layout');
  const bundle = join(dir, 'bundle');
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', `${layout}:v1`]);
  execFileSync('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
  await mkdir(join(bundle, 'rootfs', 'etc'));
  await writeFile(join(bundle, 'rootfs', 'etc', 'greeting'), 'hello from umoci\n');
  execFileSync('umoci', ['repack', '--image', `${layout}:v1`, bundle]);
  await mkdir(join(bundle, 'rootfs', 'bin'));
  await writeFile(join(bundle, 'rootfs', 'bin', 'run'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  execFileSync('umoci', ['repack', '--image', `${layout}:v1`, bundle]);
  const file = join(dir, 'image.tar');
  execFileSync('skopeo', ['copy', '-q', `oci:${layout}:v1`, `docker-archive:${file}:umoci/test:v1`]);
  const res = await loadArchive(e, createReadStream(file));
  assert.equal(res.images.length, 1);
  assert.deepEqual(res.images[0]!.tags, ['umoci/test:v1']);
  assert.ok(res.images[0]!.id.startsWith('sha256:'));
  const inspect = JSON.parse(
    execFileSync('skopeo', ['inspect', '--raw', '--config', `docker-archive:${file}`]).toString(),
  ) as { rootfs: { diff_ids: string[] } };
  const img = await e.images.load(e.images.resolve('umoci/test:v1'));
  assert.deepEqual(img.config.rootfs.diff_ids, inspect.rootfs.diff_ids);
  assert.equal(
    img.record.configDigest,
    sha256(execFileSync('skopeo', ['inspect', '--raw', '--config', `docker-archive:${file}`])),
  );
  const tree = await e.tree('umoci/test:v1');
  assert.equal(tree.get('etc/greeting')?.split(' ')[2], sha256('hello from umoci\n').slice(7, 19));
  assert.match(tree.get('bin/run') ?? '', /^file 755 /);
  assert.equal((await e.snapshots()).length, img.config.rootfs.diff_ids.length);
});

test('loading the same archive twice at once gives one image and no stray blobs', async (t) => {
  const e = await testEngine(t);
  const img = await threeLayerImage();
  const data = await archive(legacyArchive([{ image: img, tags: ['twice:latest'] }]));
  const [a, b] = await Promise.all([loadArchive(e, chunks(data, 3000)), loadArchive(e, chunks(data, 5000))]);
  assert.deepEqual(a, b);
  assert.equal(e.images.list().length, 1);
  const stored = e.images.resolve('twice');
  assert.deepEqual(
    await e.blobs(),
    [stored.manifestDigest, img.configDigest, ...img.layers.map((l) => l.digest)].sort(),
  );
  assert.equal((await e.snapshots()).length, 3);
});

// ---- errors: each leaves nothing behind ----------------------------------------------------------------------

async function failingLoad(
  t: Parameters<typeof testEngine>[0],
  data: Uint8Array,
  kind: typeof DataLossError | typeof InvalidArgumentError,
  message: RegExp,
): Promise<TestEngine> {
  const e = await testEngine(t);
  await assert.rejects(loadArchive(e, chunks(data)), (err: unknown) => {
    assert.ok(err instanceof kind, `expected ${kind.name}, got ${String(err)}`);
    assert.match((err as Error).message, message);
    return true;
  });
  await assertEmpty(e);
  return e;
}

test('a truncated archive is DataLoss and leaves nothing', async (t) => {
  const img = await threeLayerImage();
  const data = await archive(legacyArchive([{ image: img, tags: ['x:1'] }]));
  await failingLoad(t, data.subarray(0, data.length - 3000), DataLossError, /image archive/);
});

test('a corrupt gzip archive is DataLoss', async (t) => {
  const img = await threeLayerImage();
  const gz = gzipSync(await archive(legacyArchive([{ image: img, tags: ['x:1'] }])));
  gz[gz.length - 100] = gz[gz.length - 100]! ^ 0xff;
  await failingLoad(t, gz, DataLossError, /image archive/);
});

test('a blob that does not hash to its name is DataLoss naming the path', async (t) => {
  const img = await threeLayerImage();
  const entries = ociArchive([{ image: img, tags: ['x:1'] }], { docker: true });
  const layerPath = `blobs/sha256/${img.layers[1]!.digest.slice(7)}`;
  const bad = entries.map((en) =>
    en.header.name === layerPath ? { ...en, body: Buffer.from(compressedGarbage()) } : en,
  );
  await failingLoad(
    t,
    await archive(bad),
    DataLossError,
    new RegExp(`"${layerPath}" in the image archive does not match its name`),
  );
});

function compressedGarbage(): Buffer {
  return gzipSync(Buffer.from('not the layer'));
}

test('a manifest naming a missing blob is DataLoss', async (t) => {
  const img = await threeLayerImage();
  const entries = ociArchive([{ image: img, annotations: { 'io.containerd.image.name': 'docker.io/library/x:1' } }]);
  const missing = `blobs/sha256/${img.layers[2]!.digest.slice(7)}`;
  await failingLoad(
    t,
    await archive(entries.filter((en) => en.header.name !== missing)),
    DataLossError,
    new RegExp(`${img.layers[2]!.digest}.*missing`),
  );
});

test('a legacy manifest.json naming a file the archive lacks is DataLoss', async (t) => {
  const img = await threeLayerImage();
  const entries = legacyArchive([{ image: img, tags: ['x:1'] }]).filter(
    (en) => !en.header.name.endsWith(`${img.configDigest.slice(7)}.json`),
  );
  await failingLoad(
    t,
    await archive(entries),
    DataLossError,
    /manifest.json names ".*\.json", which the image archive does not contain/,
  );
});

test('an unknown layer media type is InvalidArgument', async (t) => {
  const img = makeImage([await makeLayer({ f: '1' })]);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: img.configDigest, size: img.config.length },
      layers: [{ mediaType: 'application/x-unknown', digest: img.layers[0]!.digest, size: img.layers[0]!.blob.length }],
    }),
  );
  const entries = ociArchive([], {
    extraBlobs: [manifest, img.config, img.layers[0]!.blob],
    index: {
      schemaVersion: 2,
      manifests: [{ mediaType: MediaType.OciManifest, digest: sha256(manifest), size: manifest.length }],
    },
  });
  await failingLoad(
    t,
    await archive(entries),
    InvalidArgumentError,
    /unsupported layer media type "application\/x-unknown"/,
  );
});

test('a schema1 manifest is InvalidArgument', async (t) => {
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'latest', fsLayers: [] }));
  const entries = ociArchive([], {
    extraBlobs: [manifest],
    index: {
      schemaVersion: 2,
      manifests: [{ mediaType: MediaType.DockerSchema1Signed, digest: sha256(manifest), size: manifest.length }],
    },
  });
  await failingLoad(t, await archive(entries), InvalidArgumentError, /schema 1/);
});

test('a layer whose content does not match its diff ID is DataLoss, and earlier layers are removed again', async (t) => {
  const good = await makeLayer({ ok: 'ok' });
  const bad = await makeLayer({ bad: 'actual' }, 'gzip');
  const img = makeImage([good, { ...bad, diffId: sha256('something else') }]);
  await failingLoad(t, await archive(legacyArchive([{ image: img, tags: ['x:1'] }])), DataLossError, /diff ID/);
});

test('an archive with neither manifest.json nor index.json is InvalidArgument', async (t) => {
  await failingLoad(
    t,
    await archive([{ header: { name: 'hello.txt' }, body: Buffer.from('hi') }]),
    InvalidArgumentError,
    /neither manifest.json nor an OCI layout/,
  );
});

test('a failed load keeps what was in the store before it', async (t) => {
  const e = await testEngine(t);
  const img = await threeLayerImage();
  await loadArchive(e, chunks(await archive(legacyArchive([{ image: img, tags: ['keep:1'] }]))));
  const blobs = await e.blobs();
  const snaps = await e.snapshots();
  const broken = makeImage([img.layers[0]!, { ...(await makeLayer({ y: 'y' })), diffId: sha256('wrong') }]);
  await assert.rejects(
    loadArchive(e, chunks(await archive(legacyArchive([{ image: broken, tags: ['keep:1'] }])))),
    DataLossError,
  );
  assert.deepEqual(await e.blobs(), blobs);
  assert.deepEqual(await e.snapshots(), snaps);
  assert.equal(e.images.resolve('keep:1').configDigest, img.configDigest, 'the tag did not move');
});

test('a 256 MiB layer streams into the store without being held in memory', async (t) => {
  const e = await testEngine(t);
  const size = 256 << 20;
  // A new buffer per piece, as a socket gives them: a load frees the pieces it copies on (loadArchive's contract).
  const piece = 1 << 20;
  const layerEntries = () =>
    pack([
      {
        header: { name: 'big', size },
        body: (async function* () {
          for (let i = 0; i < size; i += piece) yield Buffer.allocUnsafe(piece).fill(0x5a);
        })(),
      },
    ]);
  let layerSize = 0;
  const h = (await import('node:crypto')).createHash('sha256');
  for await (const c of layerEntries()) {
    layerSize += c.length;
    h.update(c);
  }
  const diffId = `sha256:${h.digest('hex')}` as const;
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }),
  );
  const source = pack([
    {
      header: { name: 'manifest.json' },
      body: Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: ['big:1'], Layers: ['l/layer.tar'] }])),
    },
    { header: { name: 'c.json' }, body: config },
    { header: { name: 'l/layer.tar', size: layerSize }, body: layerEntries() },
  ]);
  const base = process.memoryUsage();
  let peak = 0;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed + m.arrayBuffers - base.heapUsed - base.arrayBuffers);
  }, 5);
  try {
    await loadArchive(e, source);
  } finally {
    clearInterval(timer);
  }
  assert.equal(e.images.resolve('big:1').configDigest, sha256(config));
  assert.ok(peak < 96 << 20, `memory grew by ${Math.round(peak / 1048576)} MiB while loading a 256 MiB layer`);
});

test('errors are BerthErrors, never bare stream errors', async (t) => {
  const e = await testEngine(t);
  await assert.rejects(
    loadArchive(
      e,
      chunks(
        Buffer.from(
          'this is not a tar archive at all, and it is long enough to fill a header block or more'.repeat(20),
        ),
      ),
    ),
    BerthError,
  );
  await assertEmpty(e);
  const ctl = new AbortController();
  const img = await threeLayerImage();
  const data = await archive(legacyArchive([{ image: img, tags: ['x:1'] }]));
  async function* slow() {
    let n = 0;
    for await (const c of chunks(data, 512)) {
      if (++n === 10) ctl.abort();
      yield c;
    }
  }
  await assert.rejects(
    loadArchive(e, slow(), { signal: ctl.signal }),
    (err: unknown) => err instanceof BerthError && err.code === 'CANCELED',
  );
  await assertEmpty(e);
  void collect;
});

test('a garbage collection asked for during a load waits for it, and both finish', async (t) => {
  const e = await testEngine(t);
  const img = makeImage([await makeLayer({ a: '1' })]);
  const data = await archive(legacyArchive([{ image: img, tags: ['x:1'] }]));
  let n = 0;
  let gc: Promise<unknown> | undefined;
  async function* source() {
    for await (const c of chunks(data, 512)) {
      if (++n === 3) gc = e.images.collect();
      yield c;
    }
  }
  const outcome = await Promise.race([
    loadArchive(e, source()).then(() => 'loaded'),
    new Promise((r) => setTimeout(() => r('stuck'), 3000).unref()),
  ]);
  assert.equal(outcome, 'loaded');
  await gc;
  assert.equal(e.images.resolve('x:1').configDigest, img.configDigest, 'the collection did not take the new image');
});

test('the pre-1.10 layout (repositories, <id>/json, layer.tar): one image per tag, config and history from the v1 JSON', async (t) => {
  const e = await testEngine(t);
  const base = await makeLayer({ 'bin/': '', 'bin/tool': 'v1' });
  const top = await makeLayer({ 'etc/': '', 'etc/motd': 'old layout' });
  const [b, c] = ['b'.repeat(64), 'c'.repeat(64)];
  const v1 = (id: string, parent: string | undefined, cmd: string) =>
    JSON.stringify({
      id,
      ...(parent ? { parent } : {}),
      created: '2015-06-01T00:00:00Z',
      os: 'linux',
      architecture: 'amd64',
      container_config: { Cmd: ['/bin/sh', '-c', cmd] },
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
      Size: 10,
    });
  const file = (name: string, body: string | Buffer) => ({
    header: { name, mtime: 1_600_000_000 },
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
  });
  const data = await archive([
    file('repositories', JSON.stringify({ old: { v1: c, latest: c } })),
    file(`${b}/VERSION`, '1.0'),
    file(`${b}/json`, v1(b, undefined, 'ADD tool')),
    file(`${b}/layer.tar`, base.tar),
    file(`${c}/VERSION`, '1.0'),
    file(`${c}/json`, v1(c, b, 'ADD motd')),
    file(`${c}/layer.tar`, top.tar),
  ]);
  const res = await loadArchive(e, chunks(data));
  assert.equal(res.images.length, 1);
  assert.deepEqual(res.images[0]!.tags.sort(), ['old:latest', 'old:v1']);
  const img = await e.images.load(e.images.resolve('old:v1'));
  assert.deepEqual(img.config.rootfs.diff_ids, [base.diffId, top.diffId]);
  assert.deepEqual(img.config.config?.Cmd, ['sh']);
  assert.deepEqual(
    img.config.history?.map((h) => h.created_by),
    ['/bin/sh -c ADD tool', '/bin/sh -c ADD motd'],
  );
  assert.equal((img.config as unknown as Record<string, unknown>).parent, undefined, 'v1 fields are dropped');
});

test('a body that is not an archive at all is the client error, saying so', async (t) => {
  await failingLoad(t, Buffer.from('this is not an image archive'), InvalidArgumentError, /not an image archive/);
});

test('layers unpack in the same pass as the archive is read; blobs that only look like layers leave nothing', async (t) => {
  const e = await testEngine(t);
  const img = await threeLayerImage();
  // Not layers of any image: a gzip of text (not a tar), and a tar no manifest names.
  const notTar = gzipSync(Buffer.from('just text, not a tar'.repeat(100)));
  const stray = await makeLayer({ 'stray/': '', 'stray/f': 'unused' }, 'none');
  const entries = ociArchive([{ image: img, tags: ['app:1'] }], { docker: true, extraBlobs: [notTar, stray.blob] });
  const prepared: string[] = [];
  const prepare = e.snapshotter.prepare.bind(e.snapshotter);
  e.snapshotter.prepare = (key, parent, opts) => {
    prepared.push(key);
    return prepare(key, parent, opts);
  };
  const res = await loadArchive(e, chunks(await archive(entries)));
  assert.deepEqual(res.images, [{ id: img.configDigest, tags: ['app:1'] }]);
  // Every layer (and the stray tar, and the gzip until it was no tar) was unpacked while it streamed in; none was
  // read back from the store.
  assert.equal(prepared.length, 5, prepared.join(', '));
  assert.ok(
    prepared.every((k) => k.endsWith(' ahead')),
    `unpacked from the store: ${prepared.filter((k) => !k.endsWith(' ahead')).join(', ')}`,
  );
  assert.equal((await e.snapshots()).length, 3, 'only the image chain is kept');
  const tree = await e.tree('app:1');
  assert.equal(tree.get('srv/data')?.split(' ')[2], sha256('zstd layer').slice(7, 19));
  assert.equal(tree.has('stray/f'), false);
});

test('body pieces that reach a layer whole are freed once copied on, and the layers still load as they are', async (t) => {
  const e = await testEngine(t);
  const { randomBytes } = await import('node:crypto');
  const text = (n: number): string => randomBytes(n).toString('base64');
  const gz = await makeLayer({ 'g/': '', 'g/data': text(96 << 10) }, 'gzip');
  const plain = await makeLayer({ 'p/': '', 'p/data': text(96 << 10) });
  const img = makeImage([gz, plain]);
  const data = await archive(legacyArchive([{ image: img, tags: ['freed:1'] }]));
  // Pieces as a socket's: each a buffer of its own, 16 KiB, and a layer's first piece starting at its first byte,
  // so that the bytes its compression is told by go whole to the unpack.
  const starts = [gz, plain].map((l) => data.indexOf(l.blob)).sort((a, b) => a - b);
  assert.ok(starts.every((s) => s > 0));
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < data.length; ) {
    const next = Math.min(at + (16 << 10), data.length, ...starts.filter((s) => s > at));
    pieces.push(Uint8Array.prototype.slice.call(data, at, next));
    at = next;
  }
  async function* source(): AsyncGenerator<Uint8Array> {
    yield* pieces;
  }
  const res = await loadArchive(e, source());
  assert.deepEqual(res.images, [{ id: img.configDigest, tags: ['freed:1'] }]);
  const freed = pieces.filter((p) => p.length === 0).length;
  assert.ok(freed >= 10, `${freed} pieces freed`);
  const stored = await e.images.load(e.images.resolve('freed:1'));
  assert.deepEqual(
    stored.manifest.layers.map((l) => [l.mediaType, l.digest]),
    [
      [MediaType.OciLayerGzip, gz.digest],
      [MediaType.OciLayer, plain.digest],
    ],
  );
  const tree = await e.tree('freed:1');
  assert.ok(tree.has('g/data') && tree.has('p/data'));
});
