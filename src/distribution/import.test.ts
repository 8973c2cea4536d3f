import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaType } from '../oci/mediatypes.ts';
import { parseReference } from '../oci/reference.ts';
import { sha256 } from '../util/digest.ts';
import { DataLossError, InvalidArgumentError } from '../util/errors.ts';
import { importRootfs } from './import.ts';
import { chunks, compress, makeLayer, testEngine } from './testkit.ts';

const ROOTFS = { 'bin/': '', 'bin/hello': 'hello', 'etc/': '', 'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n' };

test('import stores one uncompressed layer (digest = diff ID), applies changes, names and registers the image', async (t) => {
  const e = await testEngine(t);
  const layer = await makeLayer(ROOTFS);
  const events: string[] = [];
  e.events.subscribe((ev) => events.push(`${ev.Type} ${ev.Action}`));
  const before = Date.now();
  const img = await importRootfs(e, chunks(compress(layer.tar, 'gzip')), {
    tag: parseReference('imported:v1'),
    changes: [
      'CMD ["sh"]',
      'ENV A=1 B="two words"',
      'EXPOSE 80 53/udp',
      'LABEL org.example=yes',
      'WORKDIR /srv',
      'USER nobody',
      'VOLUME /data',
      'STOPSIGNAL SIGINT',
    ],
  });
  assert.deepEqual(img.tags, ['docker.io/library/imported:v1']);
  assert.deepEqual(img.manifest.layers, [
    { mediaType: MediaType.OciLayer, size: layer.tar.length, digest: layer.diffId },
  ]);
  assert.equal(img.manifest.mediaType, MediaType.OciManifest);
  assert.equal(img.manifest.config.mediaType, MediaType.OciConfig);
  assert.deepEqual(img.config.rootfs, { type: 'layers', diff_ids: [layer.diffId] });
  assert.equal(img.config.os, 'linux');
  assert.equal(img.config.architecture, process.arch === 'x64' ? 'amd64' : process.arch);
  assert.ok(Date.parse(img.config.created!) >= before - 1000);
  assert.deepEqual(img.config.history, [{ created: img.config.created, comment: 'Imported from -' }]);
  assert.deepEqual(img.config.config, {
    Cmd: ['sh'],
    Env: ['A=1', 'B=two words'],
    ExposedPorts: { '80/tcp': {}, '53/udp': {} },
    Labels: { 'org.example': 'yes' },
    WorkingDir: '/srv',
    User: 'nobody',
    Volumes: { '/data': {} },
    StopSignal: 'SIGINT',
  });
  assert.deepEqual(await e.blobs(), [img.record.manifestDigest, img.record.configDigest, layer.diffId].sort());
  assert.equal((await e.content.readAll(layer.diffId)).equals(layer.tar), true, 'the layer is stored uncompressed');
  assert.equal((await e.tree('imported:v1')).get('bin/hello')?.split(' ')[2], sha256('hello').slice(7, 19));
  assert.ok(events.includes('image import'));
});

test('import of a zstd tar with a message and no name', async (t) => {
  const e = await testEngine(t);
  const layer = await makeLayer(ROOTFS);
  const img = await importRootfs(e, chunks(compress(layer.tar, 'zstd')), { message: 'from a test' });
  assert.deepEqual(img.tags, []);
  assert.equal(img.config.history?.[0]?.comment, 'from a test');
  assert.equal(img.config.comment, 'from a test');
  assert.equal(img.manifest.layers[0]!.digest, layer.diffId);
});

test('a bad change is InvalidArgument before anything is stored', async (t) => {
  const e = await testEngine(t);
  let read = false;
  async function* source() {
    read = true;
    yield Buffer.alloc(0);
  }
  await assert.rejects(
    importRootfs(e, source(), { changes: ['RUN echo hi'] }),
    (err: unknown) => err instanceof InvalidArgumentError && err.message === 'run is not a valid change command',
  );
  assert.equal(read, false);
  assert.deepEqual(await e.blobs(), []);
});

test('importing something that is not a tar is DataLoss and leaves nothing', async (t) => {
  const e = await testEngine(t);
  await assert.rejects(
    importRootfs(e, chunks(Buffer.from('x'.repeat(2000))), { tag: parseReference('bad:1') }),
    DataLossError,
  );
  assert.deepEqual(await e.blobs(), []);
  assert.deepEqual(await e.snapshots(), []);
  assert.deepEqual(e.images.list(), []);
  assert.deepEqual(await e.ingesting(), []);
});
