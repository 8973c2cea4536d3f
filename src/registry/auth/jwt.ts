import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';

/**
 * JSON Web Tokens signed with ES256 (P-256), the algorithm distribution's token auth and every client accept.
 * The registry makes its key on first start and keeps it in its metadata (so several processes over one
 * database share it); only the registry verifies its tokens.
 */
export interface JwtClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  [k: string]: unknown;
}

export class TokenKey {
  readonly #private: KeyObject;
  readonly #public: KeyObject;
  /** The key ID in every token's header: a fingerprint of the public key. */
  readonly kid: string;

  constructor(pem: string) {
    this.#private = createPrivateKey(pem);
    this.#public = createPublicKey(this.#private);
    const der = this.#public.export({ type: 'spki', format: 'der' });
    this.kid = createHash('sha256').update(der).digest('base64url').slice(0, 32);
  }

  static generate(): string {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  }

  sign(claims: JwtClaims): string {
    const header = b64(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: this.kid }));
    const body = b64(JSON.stringify(claims));
    const sig = sign('sha256', Buffer.from(`${header}.${body}`), { key: this.#private, dsaEncoding: 'ieee-p1363' });
    return `${header}.${body}.${sig.toString('base64url')}`;
  }

  /** The claims of a token this key signed, still valid at `now` (seconds); undefined for anything else. */
  verify(token: string, now = Math.floor(Date.now() / 1000)): JwtClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [h, b, s] = parts as [string, string, string];
    let header: { alg?: string; kid?: string };
    let claims: JwtClaims;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      if (header.alg !== 'ES256' || header.kid !== this.kid) return undefined;
      const ok = verify(
        'sha256',
        Buffer.from(`${h}.${b}`),
        { key: this.#public, dsaEncoding: 'ieee-p1363' },
        Buffer.from(s, 'base64url'),
      );
      if (!ok) return undefined;
      claims = JSON.parse(Buffer.from(b, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof claims.exp !== 'number' || claims.exp <= now) return undefined;
    if (typeof claims.nbf === 'number' && claims.nbf > now + 60) return undefined;
    return claims;
  }
}

function b64(s: string): string {
  return Buffer.from(s).toString('base64url');
}
