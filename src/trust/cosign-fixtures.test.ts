/**
 * A signature cosign made (with the image manifest it signs and its public key, as containers/image keeps them for
 * its own tests, in its `\0sigstore-json` attachment form): Berth writes the same payload bytes for the same
 * inputs, verifies the signature, and its policy accepts the image.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseReference } from '../oci/reference.ts';
import { sha256 } from '../util/digest.ts';
import { evaluatePolicy } from './evaluate.ts';
import { gpgVerify } from './gpg.ts';
import { parsePublicKey } from './keys.ts';
import { SIGNATURE_ANNOTATION, SIMPLESIGNING_MEDIA_TYPE } from './layout.ts';
import { buildPayload, COSIGN_SIGNATURE_TYPE, parsePayload } from './payload.ts';
import { parsePolicy } from './policy.ts';
import { verifyPayload } from './sign.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name));
const PREFIX = '\0sigstore-json\n';
const attachment = JSON.parse(fixture('cosign-signed.signature').toString().slice(PREFIX.length)) as {
  mimeType: string;
  payload: string;
  annotations: Record<string, string>;
};
const payload = Buffer.from(attachment.payload, 'base64');
const manifestDigest = sha256(fixture('cosign-signed.manifest'));

test('cosign’s payload is byte for byte the one Berth builds for the same reference and digest', () => {
  assert.equal(attachment.mimeType, SIMPLESIGNING_MEDIA_TYPE);
  const p = parsePayload(payload, COSIGN_SIGNATURE_TYPE);
  assert.equal(p.manifestDigest, manifestDigest);
  assert.equal(p.dockerReference, '192.168.64.2:5000/cosign-signed-single-sample');
  assert.equal(p.optional, null);
  assert.deepEqual(buildPayload({ dockerReference: p.dockerReference, manifestDigest }), payload);
});

test('Berth verifies cosign’s signature with cosign’s public key, and not another payload', () => {
  const key = parsePublicKey(fixture('cosign-signed.pub'));
  const sig = attachment.annotations[SIGNATURE_ANNOTATION]!;
  assert.equal(verifyPayload(key, payload, sig), true);
  assert.equal(
    verifyPayload(key, buildPayload({ dockerReference: '192.168.64.2:5000/other', manifestDigest }), sig),
    false,
  );
});

test('a sigstoreSigned policy with matchRepository accepts the image cosign signed', async () => {
  const policy = parsePolicy(
    JSON.stringify({
      default: [{ type: 'sigstoreSigned', keyPath: '/k.pub', signedIdentity: { type: 'matchRepository' } }],
    }),
    'p.json',
    () => fixture('cosign-signed.pub'),
  );
  const source = {
    sigstore: async () => ({
      signatures: [{ payload, signature: attachment.annotations[SIGNATURE_ANNOTATION]!, where: 'fixture' }],
      malformed: [],
    }),
    gpg: async () => [],
  };
  const image = { reference: parseReference('192.168.64.2:5000/cosign-signed-single-sample:latest'), manifestDigest };
  const d = await evaluatePolicy(policy, image, source, gpgVerify);
  assert.equal(d.allowed, true, d.reason);
  const tampered = { ...image, manifestDigest: `sha256:${'0'.repeat(64)}` };
  assert.match((await evaluatePolicy(policy, tampered, source, gpgVerify)).reason, /changed after signing/);
});
