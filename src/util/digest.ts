import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DataLossError, InvalidArgumentError } from './errors.ts';

/** A content digest, `sha256:<64 hex>`. Only sha256 is produced; sha512 is accepted when parsing. */
export type Digest = `${string}:${string}`;

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: string): value is Digest {
  return DIGEST_RE.test(value);
}

export function parseDigest(value: string): Digest {
  if (!isDigest(value)) throw new InvalidArgumentError(`invalid digest "${value}"`);
  return value;
}

export function digestAlgorithm(d: Digest): 'sha256' | 'sha512' {
  return d.slice(0, d.indexOf(':')) as 'sha256' | 'sha512';
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A running digest over bytes seen so far. */
export class Digester {
  readonly #hash: Hash;
  readonly algorithm: 'sha256' | 'sha512';
  size = 0;
  #result: Digest | undefined;
  constructor(algorithm: 'sha256' | 'sha512' = 'sha256') {
    this.algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.size += chunk.byteLength;
  }
  /** The digest of everything so far; after the first call the digester is final. */
  digest(): Digest {
    this.#result ??= `${this.algorithm}:${this.#hash.digest('hex')}`;
    return this.#result;
  }
}

/**
 * A pass-through stream that counts and hashes what flows through it, and fails at the end when an
 * expected size or digest does not match. A mismatch is a DataLossError; the bytes already passed on
 * must then be thrown away by the consumer (the content store only commits after the stream ends cleanly).
 */
export class VerifyingStream extends Transform {
  readonly digester: Digester;
  readonly #expected: { digest?: Digest | undefined; size?: number | undefined };
  constructor(expected: { digest?: Digest | undefined; size?: number | undefined }) {
    super();
    this.#expected = expected;
    this.digester = new Digester(expected.digest ? digestAlgorithm(expected.digest) : 'sha256');
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.digester.update(chunk);
    const max = this.#expected.size;
    if (max !== undefined && this.digester.size > max) {
      cb(new DataLossError(`content is larger than the expected ${max} bytes`));
      return;
    }
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    cb(mismatch({ digest: this.digester.digest(), size: this.digester.size }, this.#expected) ?? null);
  }
}

/**
 * Whether content is what was expected, size first, then digest: the DataLossError that says how it differs, or
 * undefined. The one rule every writer of blobs applies before a blob becomes visible.
 */
export function mismatch(
  got: { digest: Digest; size: number },
  expected: { digest?: Digest | undefined; size?: number | undefined },
): DataLossError | undefined {
  if (expected.size !== undefined && got.size !== expected.size)
    return new DataLossError(`content size ${got.size} does not match the expected ${expected.size}`);
  if (expected.digest !== undefined && got.digest !== expected.digest)
    return new DataLossError(`content digest ${got.digest} does not match the expected ${expected.digest}`);
  return undefined;
}
