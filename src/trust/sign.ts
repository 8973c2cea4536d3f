/**
 * ECDSA signatures over a payload as cosign makes them: SHA-256, ASN.1 DER, carried base64 (standard alphabet,
 * padded) in the signature layer's annotation. `openssl dgst -sha256 -verify pub.pem -signature sig.der payload`
 * checks one.
 */
import { type KeyObject, sign, verify } from 'node:crypto';
import { InvalidArgumentError } from '../util/errors.ts';

/** The base64 DER signature of `payload` by `key`. */
export function signPayload(key: KeyObject, payload: Uint8Array): string {
  return sign('sha256', payload, key).toString('base64');
}

/** Decodes a base64 signature; InvalidArgumentError for anything that is not base64 of some bytes. */
export function decodeSignature(b64: string): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new InvalidArgumentError('the signature is not valid base64');
  }
  return Buffer.from(b64, 'base64');
}

/** Whether the base64 signature verifies over `payload` with `key` (false for a malformed DER signature). */
export function verifyPayload(key: KeyObject, payload: Uint8Array, b64: string): boolean {
  const sig = decodeSignature(b64);
  try {
    return verify('sha256', payload, key, sig);
  } catch {
    return false;
  }
}
