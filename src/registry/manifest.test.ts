import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError } from './errors.ts';
import { digestOf, parseManifest } from './manifest.ts';

const d = (c: string) => `sha256:${c.repeat(64)}` as const;
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const buf = (v: unknown) => Buffer.from(JSON.stringify(v));
const invalid = (e: unknown) => e instanceof RegistryError && e.oci === 'MANIFEST_INVALID';

test('an image manifest: config and layers are required blobs; foreign layers are not; artifactType from the config', () => {
  const m = buf({
    schemaVersion: 2,
    mediaType: OCI,
    config: { mediaType: 'application/vnd.example.config', digest: d('a'), size: 2 },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d('b'), size: 3 },
      {
        mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
        digest: d('c'),
        size: 3,
        urls: ['http://x'],
      },
    ],
    subject: { mediaType: OCI, digest: d('e'), size: 9 },
    annotations: { k: 'v' },
  });
  const p = parseManifest(m, OCI, digestOf(m));
  assert.deepEqual(p.blobs, [d('a'), d('b')]);
  assert.deepEqual(p.manifests, []);
  assert.equal(p.subject, d('e'));
  assert.equal(p.artifactType, 'application/vnd.example.config');
  assert.deepEqual(p.annotations, { k: 'v' });
});

test('an index references child manifests; its artifactType only when it has one', () => {
  const m = buf({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: OCI, digest: d('f'), size: 1 }] });
  const p = parseManifest(m, undefined, digestOf(m));
  assert.deepEqual(p.manifests, [d('f')]);
  assert.equal(p.artifactType, undefined);
  assert.equal(p.mediaType, INDEX);
});

test('the media type comes from the document, the Content-Type, or the shape', () => {
  const noType = buf({ schemaVersion: 2, config: { mediaType: 'x', digest: d('a'), size: 1 }, layers: [] });
  assert.equal(parseManifest(noType, undefined, digestOf(noType)).mediaType, OCI);
  const docker = 'application/vnd.docker.distribution.manifest.v2+json';
  assert.equal(parseManifest(noType, docker, digestOf(noType)).mediaType, docker);
  const typed = buf({
    schemaVersion: 2,
    mediaType: OCI,
    config: { mediaType: 'x', digest: d('a'), size: 1 },
    layers: [],
  });
  assert.throws(
    () => parseManifest(typed, docker, digestOf(typed)),
    (e: unknown) => invalid(e) && /does not match/.test((e as Error).message),
  );
});

test('malformed manifests are MANIFEST_INVALID, naming what is wrong', () => {
  const cases: [unknown, RegExp][] = [
    [[1], /not a JSON object/],
    [{ schemaVersion: 1, mediaType: OCI }, /schemaVersion 1/],
    [{ schemaVersion: 2, mediaType: OCI, layers: [] }, /config is not a descriptor/],
    [
      { schemaVersion: 2, mediaType: OCI, config: { mediaType: 'x', digest: 'sha256:1', size: 1 }, layers: [] },
      /invalid digest/,
    ],
    [
      { schemaVersion: 2, mediaType: OCI, config: { mediaType: 'x', digest: d('a'), size: -1 }, layers: [] },
      /invalid size/,
    ],
    [{ schemaVersion: 2, mediaType: OCI, config: { mediaType: 'x', digest: d('a'), size: 1 } }, /no layers array/],
    [{ schemaVersion: 2, mediaType: INDEX }, /no manifests array/],
    [
      { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v1+json' },
      /unsupported manifest media type/,
    ],
    [{ schemaVersion: 2, mediaType: OCI, annotations: { a: 1 }, config: {}, layers: [] }, /annotations/],
  ];
  for (const [doc, re] of cases) {
    const b = buf(doc);
    assert.throws(
      () => parseManifest(b, undefined, digestOf(b)),
      (e: unknown) => invalid(e) && re.test((e as Error).message),
      String(re),
    );
  }
  assert.throws(() => parseManifest(Buffer.from('{x'), OCI, digestOf(Buffer.from('{x'))), /not valid JSON/);
});
