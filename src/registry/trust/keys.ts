/**
 * The public keys a project trusts, as given to `berth registry project key add`: a cosign public key (a PEM
 * `PUBLIC KEY`, ECDSA P-256, what `cosign generate-key-pair` and `berth trust key generate` write) or an OpenPGP
 * public key (armored or binary, as `gpg --export` writes). Each is checked when it is added, so a key that does not
 * parse is refused then, with the reason, and never stored.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../util/errors.ts';
import type { KeyKind } from './store.ts';

const trust = () => import('../../trust/index.ts');

export interface ParsedKey {
  kind: KeyKind;
  /** What is stored: the PEM text (cosign), base64 of the key as given (gpg). */
  data: string;
  fingerprint: string;
}

const PGP_ARMOR = '-----BEGIN PGP PUBLIC KEY BLOCK-----';

/** Whether bytes look like a binary OpenPGP packet stream (a public key packet, tag 6, first). */
function binaryPgp(b: Buffer): boolean {
  if (b.length < 3 || (b[0]! & 0x80) === 0) return false;
  const tag = (b[0]! & 0x40) !== 0 ? b[0]! & 0x3f : (b[0]! >> 2) & 0x0f;
  return tag === 6;
}

/** Parses a key file's bytes; `what` names it in errors (the file name). */
export async function parseKey(bytes: Buffer, what: string): Promise<ParsedKey> {
  const text = bytes.toString('utf8');
  if (text.includes(PGP_ARMOR) || binaryPgp(bytes)) {
    const t = await trust();
    let fingerprints: string[];
    try {
      fingerprints = await t.gpgKeyFingerprints(bytes);
    } catch (err) {
      throw new InvalidArgumentError(`${what}: ${(err as Error).message}`, { cause: err });
    }
    return { kind: 'gpg', data: bytes.toString('base64'), fingerprint: fingerprints.join(',') };
  }
  if (text.includes('-----BEGIN ')) {
    const t = await trust();
    const key = t.parsePublicKey(text, what);
    const der = key.export({ format: 'der', type: 'spki' });
    return {
      kind: 'cosign',
      data: key.export({ format: 'pem', type: 'spki' }).toString(),
      fingerprint: `sha256:${createHash('sha256').update(der).digest('hex')}`,
    };
  }
  throw new InvalidArgumentError(
    `${what}: neither a cosign public key (PEM "PUBLIC KEY") nor an OpenPGP public key (gpg --export)`,
  );
}

/** A key name: letters, digits, `.`, `_`, `-`, at most 64. */
export function checkKeyName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
    throw new InvalidArgumentError(`invalid key name "${name}": letters, digits, ".", "_" and "-", at most 64`);
  return name;
}
