import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError, UnauthorizedError } from '../util/errors.ts';
import {
  COSIGN_PRIVATE_KEY_LABEL,
  decodePem,
  decryptPrivateKey,
  encodePem,
  encryptPrivateKey,
  generatePrivateKey,
  importPrivateKey,
  parsePublicKey,
  publicKeyPem,
} from './keys.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

test('a key cosign wrote (SIGSTORE label, password "hello") decrypts to a P-256 key', async () => {
  const key = await decryptPrivateKey(fixture('cosign-sigstore-label.key'), 'hello');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.match(publicKeyPem(key), /^-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/);
});

test('a key cosign wrote with the COSIGN label decrypts too', async () => {
  const key = await decryptPrivateKey(fixture('cosign-cosign-label.key'), 'hello');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
});

test('the wrong password is an UnauthorizedError', async () => {
  await assert.rejects(decryptPrivateKey(fixture('cosign-sigstore-label.key'), 'wrong'), UnauthorizedError);
});

test('Berth writes the COSIGN label, scrypt N=32768 r=8 p=1, nacl/secretbox, in Go field order', async () => {
  const key = generatePrivateKey();
  const pem = await encryptPrivateKey(key, 'pw', { salt: Buffer.alloc(32, 1), nonce: Buffer.alloc(24, 2) });
  assert.ok(pem.startsWith(`-----BEGIN ${COSIGN_PRIVATE_KEY_LABEL}-----\n`));
  assert.ok(pem.endsWith(`-----END ${COSIGN_PRIVATE_KEY_LABEL}-----\n`));
  for (const line of pem.split('\n').slice(1, -2)) assert.ok(line.length <= 64);
  const body = decodePem(pem)!.bytes.toString('utf8');
  assert.ok(
    body.startsWith(
      `{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"${Buffer.alloc(32, 1).toString('base64')}"},` +
        `"cipher":{"name":"nacl/secretbox","nonce":"${Buffer.alloc(24, 2).toString('base64')}"},"ciphertext":"`,
    ),
    body,
  );
  // The first 16 bytes of the ciphertext are the Poly1305 tag; the rest is the PKCS#8 DER, so 16 bytes longer.
  const ct = Buffer.from(JSON.parse(body).ciphertext, 'base64');
  assert.equal(ct.length, key.export({ type: 'pkcs8', format: 'der' }).length + 16);
  const back = await decryptPrivateKey(pem, 'pw');
  assert.equal(publicKeyPem(back), publicKeyPem(key));
});

test('malformed encrypted keys are refused naming what is wrong', async () => {
  const enc = (doc: unknown) => encodePem(COSIGN_PRIVATE_KEY_LABEL, Buffer.from(JSON.stringify(doc)));
  const good = JSON.parse(decodePem(fixture('cosign-sigstore-label.key'))!.bytes.toString('utf8'));
  await assert.rejects(decryptPrivateKey('nothing here', 'x'), /no PEM block/);
  await assert.rejects(
    decryptPrivateKey(encodePem('EC PRIVATE KEY', Buffer.alloc(4)), 'x'),
    /unsupported PEM type "EC PRIVATE KEY"/,
  );
  await assert.rejects(decryptPrivateKey(encodePem(COSIGN_PRIVATE_KEY_LABEL, Buffer.from('{')), 'x'), /not JSON/);
  await assert.rejects(
    decryptPrivateKey(enc({ ...good, kdf: { ...good.kdf, name: 'pbkdf2' } }), 'x'),
    /unknown kdf name "pbkdf2"/,
  );
  await assert.rejects(
    decryptPrivateKey(enc({ ...good, cipher: { ...good.cipher, name: 'aes' } }), 'x'),
    /unknown cipher name "aes"/,
  );
  await assert.rejects(
    decryptPrivateKey(enc({ ...good, kdf: { ...good.kdf, params: { N: 1024, r: 8, p: 1 } } }), 'x'),
    /unsupported scrypt parameters N=1024/,
  );
  await assert.rejects(
    decryptPrivateKey(enc({ ...good, cipher: { ...good.cipher, nonce: 'AAAA' } }), 'x'),
    /nonce size/,
  );
  await assert.rejects(decryptPrivateKey(enc({ ...good, ciphertext: '!!' }), 'x'), /ciphertext is not base64/);
  // One flipped bit in the ciphertext: the box does not open.
  const ct = Buffer.from(good.ciphertext, 'base64');
  ct[20]! ^= 1;
  await assert.rejects(
    decryptPrivateKey(enc({ ...good, ciphertext: ct.toString('base64') }), 'hello'),
    UnauthorizedError,
  );
});

test('import reads EC PRIVATE KEY, PRIVATE KEY and a password-protected ENCRYPTED PRIVATE KEY from openssl', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-keys-'));
  try {
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'ec.pem')]);
    const sec1 = readFileSync(join(dir, 'ec.pem'), 'utf8');
    assert.match(sec1, /BEGIN EC PRIVATE KEY/);
    const k1 = importPrivateKey(sec1);
    execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', join(dir, 'ec.pem'), '-out', join(dir, 'p8.pem')]);
    const k2 = importPrivateKey(readFileSync(join(dir, 'p8.pem'), 'utf8'));
    execFileSync('openssl', [
      'pkcs8',
      '-topk8',
      '-passout',
      'pass:secret',
      '-in',
      join(dir, 'ec.pem'),
      '-out',
      join(dir, 'enc.pem'),
    ]);
    const encPem = readFileSync(join(dir, 'enc.pem'), 'utf8');
    const k3 = importPrivateKey(encPem, 'secret');
    assert.equal(publicKeyPem(k1), publicKeyPem(k2));
    assert.equal(publicKeyPem(k1), publicKeyPem(k3));
    assert.throws(() => importPrivateKey(encPem, 'wrong'), UnauthorizedError);
    execFileSync('openssl', ['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', join(dir, 'p384.pem')]);
    assert.throws(() => importPrivateKey(readFileSync(join(dir, 'p384.pem'), 'utf8')), /curve secp384r1: only P-256/);
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'ed.pem')]);
    assert.throws(() => importPrivateKey(readFileSync(join(dir, 'ed.pem'), 'utf8')), /ed25519 key/);
    assert.throws(() => importPrivateKey(fixture('cosign-cosign-label.key')), /already a cosign key/);
    // The public key Berth writes is the one openssl derives.
    const pub = execFileSync('openssl', ['ec', '-in', join(dir, 'ec.pem'), '-pubout'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    assert.equal(publicKeyPem(k1), pub.toString());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('public keys: PEM PUBLIC KEY of P-256 only', () => {
  const key = generatePrivateKey();
  const pem = publicKeyPem(key);
  assert.equal(publicKeyPem(parsePublicKey(pem)), pem);
  assert.throws(() => parsePublicKey('junk', 'keyPath /x'), /keyPath \/x: no PEM block/);
  assert.throws(() => parsePublicKey(encodePem('CERTIFICATE', Buffer.alloc(3))), /unsupported PEM type "CERTIFICATE"/);
  assert.throws(() => parsePublicKey(encodePem('PUBLIC KEY', Buffer.alloc(3))), InvalidArgumentError);
  const dir = mkdtempSync(join(tmpdir(), 'berth-keys-'));
  try {
    writeFileSync(join(dir, 'x'), '');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'ed.pem')]);
    const edPub = execFileSync('openssl', ['pkey', '-in', join(dir, 'ed.pem'), '-pubout']).toString();
    assert.throws(() => parsePublicKey(edPub), /only ECDSA P-256/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
