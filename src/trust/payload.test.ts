import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ATOMIC_SIGNATURE_TYPE, buildPayload, COSIGN_SIGNATURE_TYPE, parsePayload } from './payload.ts';

const D = `sha256:${'ab'.repeat(32)}`;

test('the payload is byte for byte what cosign writes: critical has exactly identity, image, type; optional null', () => {
  assert.equal(
    buildPayload({ dockerReference: 'localhost:5000/app', manifestDigest: D }).toString(),
    `{"critical":{"identity":{"docker-reference":"localhost:5000/app"},"image":{"docker-manifest-digest":"${D}"},"type":"cosign container image signature"},"optional":null}`,
  );
});

test('annotations go in optional, keys sorted, with Go HTML escaping', () => {
  const p = buildPayload({ dockerReference: 'r/a', manifestDigest: D, optional: { z: '1', a: '<&>' } });
  assert.ok(p.toString().endsWith('"optional":{"a":"\\u003c\\u0026\\u003e","z":"1"}}'), p.toString());
  assert.deepEqual(parsePayload(p).optional, { a: '<&>', z: '1' });
});

test('parse round trip, and the type check', () => {
  const p = buildPayload({
    dockerReference: 'r/a:1',
    manifestDigest: D,
    type: ATOMIC_SIGNATURE_TYPE,
    optional: { creator: 'x', timestamp: 5 },
  });
  const back = parsePayload(p, ATOMIC_SIGNATURE_TYPE);
  assert.equal(back.dockerReference, 'r/a:1');
  assert.equal(back.manifestDigest, D);
  assert.throws(
    () => parsePayload(p, COSIGN_SIGNATURE_TYPE),
    /unrecognized signature type "atomic container signature"/,
  );
});

test('strict parsing refuses what containers/image refuses', () => {
  const ok = (critical: unknown, optional: unknown = null) => Buffer.from(JSON.stringify({ critical, optional }));
  const crit = {
    identity: { 'docker-reference': 'r/a' },
    image: { 'docker-manifest-digest': D },
    type: COSIGN_SIGNATURE_TYPE,
  };
  assert.doesNotThrow(() => parsePayload(ok(crit)));
  assert.throws(() => parsePayload(Buffer.from('nope')), /not JSON/);
  assert.throws(() => parsePayload(Buffer.from(JSON.stringify({ critical: crit }))), /missing field "optional"/);
  assert.throws(
    () => parsePayload(Buffer.from(JSON.stringify({ critical: crit, optional: null, x: 1 }))),
    /unexpected field "x"/,
  );
  assert.throws(() => parsePayload(ok({ ...crit, annotations: {} })), /unexpected field "annotations" in critical/);
  assert.throws(
    () => parsePayload(ok({ ...crit, image: { 'docker-manifest-digest': 'sha256:12' } })),
    /invalid docker-manifest-digest/,
  );
  assert.throws(() => parsePayload(ok({ ...crit, identity: { 'docker-reference': 3 } })), /not a string/);
  assert.throws(() => parsePayload(ok({ ...crit, identity: {} })), /missing field "docker-reference"/);
  assert.throws(() => parsePayload(ok(crit, [])), /neither an object nor null/);
  assert.throws(() => parsePayload(ok(crit, { timestamp: 1.5 })), /timestamp is not an integer/);
  const dup = ok(crit).toString().replace('"type":', '"type":"x","type":');
  assert.throws(() => parsePayload(Buffer.from(dup)), /duplicate key "type"/);
  // Keys equal to values elsewhere, and arrays of strings, are not duplicates.
  assert.doesNotThrow(() => parsePayload(ok(crit, { a: ['a', 'a'], b: { a: 'a' } })));
});
