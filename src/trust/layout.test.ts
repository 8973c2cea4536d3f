import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256 } from '../util/digest.ts';
import { generatePrivateKey, publicKeyPem } from './keys.ts';
import {
  appendSignatures,
  referrersTag,
  SIGNATURE_ANNOTATION,
  SIGNATURE_ARTIFACT_TYPE,
  signatureLayers,
  signatureReferrer,
  signatureTag,
  SIMPLESIGNING_MEDIA_TYPE,
} from './layout.ts';
import { buildPayload } from './payload.ts';
import { decodeSignature, signPayload, verifyPayload } from './sign.ts';

const D = `sha256:${'0f'.repeat(32)}` as const;

test('tags: sha256-<hex>.sig and the referrers fallback sha256-<hex>', () => {
  assert.equal(signatureTag(D), `sha256-${'0f'.repeat(32)}.sig`);
  assert.equal(referrersTag(D), `sha256-${'0f'.repeat(32)}`);
  assert.throws(() => signatureTag('sha256:zz'), /invalid manifest digest "sha256:zz"/);
});

test('the signature manifest and config are byte for byte cosign’s (go-containerregistry) layout', () => {
  const payload = buildPayload({ dockerReference: 'localhost:5000/app', manifestDigest: D });
  const pd = sha256(payload);
  const img = appendSignatures(undefined, [{ payload, signature: 'MEUC' }]);
  const config = img.blobs.at(-1)!.bytes.toString();
  assert.equal(
    config,
    `{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["${pd}"]},"config":{}}`,
  );
  // The size every single-signature cosign config has.
  assert.equal(config.length, 233);
  assert.equal(
    img.manifest.toString(),
    `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"${sha256(config)}"},` +
      `"layers":[{"mediaType":"${SIMPLESIGNING_MEDIA_TYPE}","size":${payload.length},"digest":"${pd}","annotations":{"${SIGNATURE_ANNOTATION}":"MEUC"}}]}`,
  );
  assert.equal(img.added, 1);
  assert.equal(img.blobs[0]!.bytes, payload);
});

test('appending keeps what is there, adds only new signatures, and sorts annotations', () => {
  const p1 = buildPayload({ dockerReference: 'r/a', manifestDigest: D });
  const p2 = buildPayload({ dockerReference: 'r/a', manifestDigest: D, optional: { k: 'v' } });
  const first = appendSignatures(undefined, [{ payload: p1, signature: 'AAAA' }]);
  const existing = {
    manifest: JSON.parse(first.manifest.toString()),
    config: JSON.parse(first.blobs.at(-1)!.bytes.toString()),
  };
  const again = appendSignatures(existing, [{ payload: p1, signature: 'AAAA' }]);
  assert.equal(again.added, 0);
  assert.equal(again.manifest.toString(), first.manifest.toString());
  const more = appendSignatures(existing, [{ payload: p2, signature: 'BBBB', annotations: { z: '1', a: '2' } }]);
  assert.equal(more.added, 1);
  const m = JSON.parse(more.manifest.toString());
  assert.equal(m.layers.length, 2);
  assert.deepEqual(Object.keys(m.layers[1].annotations), ['a', SIGNATURE_ANNOTATION, 'z']);
  const cfg = JSON.parse(more.blobs.at(-1)!.bytes.toString());
  assert.deepEqual(cfg.rootfs.diff_ids, [sha256(p1), sha256(p2)]);
  assert.equal(cfg.history.length, 2);
});

test('the OCI 1.1 referrer form: artifactType, config media type and subject', () => {
  const payload = buildPayload({ dockerReference: 'r/a', manifestDigest: D });
  const ref = signatureReferrer({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D, size: 10 }, [
    { payload, signature: 'AAAA' },
  ]);
  const m = JSON.parse(ref.manifest.toString());
  assert.equal(m.artifactType, SIGNATURE_ARTIFACT_TYPE);
  assert.equal(m.config.mediaType, SIGNATURE_ARTIFACT_TYPE);
  assert.deepEqual(m.subject, { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10, digest: D });
  assert.equal(signatureLayers(m).signatures.length, 1);
});

test('signatureLayers picks simple-signing layers and reports one without its annotation', () => {
  const found = signatureLayers({
    layers: [
      { mediaType: SIMPLESIGNING_MEDIA_TYPE, digest: D, size: 3, annotations: { [SIGNATURE_ANNOTATION]: 'AAAA' } },
      { mediaType: 'application/vnd.dsse.envelope.v1+json', digest: D, size: 3 },
      { mediaType: SIMPLESIGNING_MEDIA_TYPE, digest: D, size: 3 },
    ],
  });
  assert.equal(found.signatures.length, 1);
  assert.equal(found.malformed.length, 1);
  assert.match(found.malformed[0]!, /has no dev.cosignproject.cosign\/signature annotation/);
  assert.deepEqual(signatureLayers({}).malformed, ['the signature manifest has no layers']);
});

test('openssl verifies a Berth signature over its payload with the public key', () => {
  const key = generatePrivateKey();
  const payload = buildPayload({ dockerReference: 'localhost:5000/app', manifestDigest: D });
  const sig = signPayload(key, payload);
  assert.ok(verifyPayload(key, payload, sig));
  const dir = mkdtempSync(join(tmpdir(), 'berth-sig-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), publicKeyPem(key));
    writeFileSync(join(dir, 'payload'), payload);
    writeFileSync(join(dir, 'sig'), decodeSignature(sig));
    const out = execFileSync('openssl', [
      'dgst',
      '-sha256',
      '-verify',
      join(dir, 'pub.pem'),
      '-signature',
      join(dir, 'sig'),
      join(dir, 'payload'),
    ]);
    assert.equal(out.toString().trim(), 'Verified OK');
    // And a signature openssl makes verifies in Berth.
    writeFileSync(join(dir, 'key.pem'), key.export({ type: 'pkcs8', format: 'pem' }));
    const osig = execFileSync('openssl', ['dgst', '-sha256', '-sign', join(dir, 'key.pem'), join(dir, 'payload')]);
    assert.ok(verifyPayload(key, payload, osig.toString('base64')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('verification fails for another payload, another key, and a malformed signature', () => {
  const key = generatePrivateKey();
  const payload = buildPayload({ dockerReference: 'r/a', manifestDigest: D });
  const sig = signPayload(key, payload);
  const other = buildPayload({ dockerReference: 'r/a', manifestDigest: `sha256:${'1f'.repeat(32)}` });
  assert.equal(verifyPayload(key, other, sig), false);
  assert.equal(verifyPayload(generatePrivateKey(), payload, sig), false);
  assert.equal(verifyPayload(key, payload, Buffer.from('not DER').toString('base64')), false);
  assert.throws(() => verifyPayload(key, payload, 'не base64'), /not valid base64/);
});
