/**
 * Signing keys in cosign's formats, which upstream cosign and skopeo 1.9 read:
 *
 * - the private key is PEM labelled `ENCRYPTED COSIGN PRIVATE KEY` (newer cosign writes `ENCRYPTED SIGSTORE PRIVATE
 *   KEY`, which skopeo 1.9 refuses: both are read, the former is written). Its body is the JSON document of
 *   go-securesystemslib's `encrypted` package: `{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},
 *   "salt":B64},"cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}`, where the key is scrypt(password,
 *   salt 32 bytes, N, r, p) → 32 bytes and the plaintext is the key's PKCS#8 DER, sealed by NaCl secretbox
 *   (XSalsa20-Poly1305) under a 24-byte nonce. N is written as exactly 32768 (older readers accept only that);
 *   65536 and 131072 are read too, as newer cosign writes them.
 * - the public key is a PKIX `PUBLIC KEY` PEM.
 *
 * Keys are ECDSA P-256, signing SHA-256 digests with ASN.1 DER signatures.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  scrypt,
} from 'node:crypto';
import { InvalidArgumentError, UnauthorizedError } from '../util/errors.ts';

export const COSIGN_PRIVATE_KEY_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';
export const SIGSTORE_PRIVATE_KEY_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const PUBLIC_KEY_LABEL = 'PUBLIC KEY';

/** NaCl secretbox, loaded when a key is sealed or opened (not by every berthd start that loads this module). */
const secretboxModule = () => import('@noble/ciphers/salsa.js');

/** The scrypt parameters written (go-securesystemslib's "legacy" strength, the only one older readers take). */
export const SCRYPT_WRITE = { N: 32768, r: 8, p: 1 } as const;
/** Parameter sets read: legacy, standard and OWASP strength, as go-securesystemslib accepts. */
const SCRYPT_READ = [32768, 65536, 131072];
const SALT_BYTES = 32;
const NONCE_BYTES = 24;
const BOX_KEY_BYTES = 32;

/** A PEM block: its label and DER (or, for the encrypted key, JSON) bytes. */
export interface PemBlock {
  label: string;
  bytes: Buffer;
}

/** The first PEM block of `text`, or undefined when there is none. Headers (`Proc-Type:`) are refused. */
export function decodePem(text: string): PemBlock | undefined {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) return undefined;
  const body = m[2]!;
  if (/^[A-Za-z-]+:/m.test(body))
    throw new InvalidArgumentError(`PEM block "${m[1]}" has headers, which are not supported`);
  const b64 = body.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new InvalidArgumentError(`PEM block "${m[1]}" is not valid base64`);
  return { label: m[1]!, bytes: Buffer.from(b64, 'base64') };
}

/** Go's pem.EncodeToMemory: base64 lines of 64 characters. */
export function encodePem(label: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.map((l) => `${l}\n`).join('')}-----END ${label}-----\n`;
}

function scryptKey(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      Buffer.from(password, 'utf8'),
      salt,
      BOX_KEY_BYTES,
      { N, r, p, maxmem: 256 * N * r + (1 << 20) },
      (err, k) => (err ? reject(err) : resolve(k)),
    );
  });
}

/** An ECDSA P-256 private key, or InvalidArgumentError naming what it is instead. */
function requireP256(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ec') {
    throw new InvalidArgumentError(`${what} is a ${key.asymmetricKeyType} key: only ECDSA P-256 keys are supported`);
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve !== 'prime256v1') {
    throw new InvalidArgumentError(`${what} is an ECDSA key on curve ${curve}: only P-256 is supported`);
  }
  return key;
}

/** Encrypts a private key in cosign's format; `salt` and `nonce` are for byte-level tests only. */
export async function encryptPrivateKey(
  key: KeyObject,
  password: string,
  fixed: { salt?: Buffer; nonce?: Buffer } = {},
): Promise<string> {
  requireP256(key, 'the private key');
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const salt = fixed.salt ?? randomBytes(SALT_BYTES);
  const nonce = fixed.nonce ?? randomBytes(NONCE_BYTES);
  const boxKey = await scryptKey(password, salt, SCRYPT_WRITE.N, SCRYPT_WRITE.r, SCRYPT_WRITE.p);
  const sealed = (await secretboxModule()).secretbox(boxKey, nonce).seal(der);
  // Field order and spelling as Go's json.Marshal writes go-securesystemslib's structs.
  const doc = {
    kdf: {
      name: 'scrypt',
      params: { N: SCRYPT_WRITE.N, r: SCRYPT_WRITE.r, p: SCRYPT_WRITE.p },
      salt: salt.toString('base64'),
    },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(sealed).toString('base64'),
  };
  return encodePem(COSIGN_PRIVATE_KEY_LABEL, Buffer.from(JSON.stringify(doc)));
}

function b64Field(v: unknown, what: string): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
    throw new InvalidArgumentError(`encrypted private key: ${what} is not base64`);
  }
  return Buffer.from(v, 'base64');
}

/**
 * Decrypts a cosign or sigstore encrypted private key. UnauthorizedError for a wrong password (the box does not
 * open); InvalidArgumentError for anything malformed, naming what.
 */
export async function decryptPrivateKey(pem: string, password: string): Promise<KeyObject> {
  const block = decodePem(pem);
  if (!block) throw new InvalidArgumentError('private key: no PEM block found');
  if (block.label !== COSIGN_PRIVATE_KEY_LABEL && block.label !== SIGSTORE_PRIVATE_KEY_LABEL) {
    throw new InvalidArgumentError(
      `private key: unsupported PEM type "${block.label}" (expected "${COSIGN_PRIVATE_KEY_LABEL}" or "${SIGSTORE_PRIVATE_KEY_LABEL}"; use "berth trust key import" for other keys)`,
    );
  }
  let doc: {
    kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown };
    cipher?: { name?: unknown; nonce?: unknown };
    ciphertext?: unknown;
  };
  try {
    doc = JSON.parse(block.bytes.toString('utf8'));
  } catch {
    throw new InvalidArgumentError('encrypted private key: the PEM body is not JSON');
  }
  if (doc.kdf?.name !== 'scrypt')
    throw new InvalidArgumentError(`encrypted private key: unknown kdf name ${JSON.stringify(doc.kdf?.name)}`);
  if (doc.cipher?.name !== 'nacl/secretbox') {
    throw new InvalidArgumentError(`encrypted private key: unknown cipher name ${JSON.stringify(doc.cipher?.name)}`);
  }
  const { N, r, p } = doc.kdf.params ?? {};
  if (typeof N !== 'number' || !SCRYPT_READ.includes(N) || r !== 8 || p !== 1) {
    throw new InvalidArgumentError(`encrypted private key: unsupported scrypt parameters N=${N} r=${r} p=${p}`);
  }
  const salt = b64Field(doc.kdf.salt, 'kdf.salt');
  const nonce = b64Field(doc.cipher.nonce, 'cipher.nonce');
  if (nonce.length !== NONCE_BYTES) throw new InvalidArgumentError('encrypted private key: incorrect nonce size');
  const ciphertext = b64Field(doc.ciphertext, 'ciphertext');
  const boxKey = await scryptKey(password, salt, N, 8, 1);
  const { secretbox } = await secretboxModule();
  let der: Uint8Array;
  try {
    der = secretbox(boxKey, nonce).open(ciphertext);
  } catch {
    throw new UnauthorizedError('decrypting the private key failed: wrong password, or the key file is corrupt');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new InvalidArgumentError('encrypted private key: the decrypted key is not PKCS#8', { cause: err });
  }
  return requireP256(key, 'the private key');
}

/**
 * Reads a PEM ECDSA P-256 private key as openssl and Go write it (`EC PRIVATE KEY`, `PRIVATE KEY`, or a
 * password-protected `ENCRYPTED PRIVATE KEY`), for `berth trust key import`.
 */
export function importPrivateKey(pem: string, password?: string): KeyObject {
  const block = decodePem(pem);
  if (!block) throw new InvalidArgumentError('private key: no PEM block found');
  if (block.label === COSIGN_PRIVATE_KEY_LABEL || block.label === SIGSTORE_PRIVATE_KEY_LABEL) {
    throw new InvalidArgumentError(`private key: "${block.label}" is already a cosign key; use it as it is`);
  }
  if (!['EC PRIVATE KEY', 'PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'].includes(block.label)) {
    throw new InvalidArgumentError(`private key: unsupported PEM type "${block.label}"`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem', ...(password !== undefined ? { passphrase: password } : {}) });
  } catch (err) {
    if (block.label === 'ENCRYPTED PRIVATE KEY') {
      throw new UnauthorizedError('decrypting the private key failed: wrong password, or the key file is corrupt', {
        cause: err,
      });
    }
    throw new InvalidArgumentError(`private key: the "${block.label}" block does not parse`, { cause: err });
  }
  return requireP256(key, 'the private key');
}

/** A fresh ECDSA P-256 key. */
export function generatePrivateKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

/** The PKIX `PUBLIC KEY` PEM of a private or public key. */
export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return encodePem(PUBLIC_KEY_LABEL, pub.export({ type: 'spki', format: 'der' }));
}

/** Parses a `PUBLIC KEY` PEM (ECDSA P-256). InvalidArgumentError naming `what` otherwise. */
export function parsePublicKey(pem: string | Uint8Array, what = 'public key'): KeyObject {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
  const block = decodePem(text);
  if (!block) throw new InvalidArgumentError(`${what}: no PEM block found`);
  if (block.label !== PUBLIC_KEY_LABEL) {
    throw new InvalidArgumentError(`${what}: unsupported PEM type "${block.label}" (expected "${PUBLIC_KEY_LABEL}")`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: block.bytes, format: 'der', type: 'spki' });
  } catch (err) {
    throw new InvalidArgumentError(`${what}: the PUBLIC KEY block does not parse`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new InvalidArgumentError(`${what}: only ECDSA P-256 public keys are supported`);
  }
  return key;
}
