import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Readable } from 'node:stream';
import {
  type BlobInfo,
  type Expected,
  type IngestWriter,
  checkLimit,
  checkRef,
  verifyCommit,
} from '../../content/index.ts';
import { type Digest, Digester, digestAlgorithm, digestHex, isDigest } from '../../util/digest.ts';
import { DataLossError, InvalidArgumentError, NotFoundError } from '../../util/errors.ts';
import type { S3Config } from '../config.ts';
import type { BlobBackend } from './backend.ts';

/** CopyObject copies up to 5 GiB in one request. */
const MAX_COPY = 5 * 1024 ** 3;

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/**
 * Blobs in an S3-compatible bucket: `<prefix>blobs/<alg>/<hex>`. An upload in progress is one object per
 * acknowledged chunk, `<prefix>uploads/<ref>/<offset>`, so any registry process can continue it; the commit
 * verifies the digest (kept in memory between chunks, recomputed from the parts by another process) before the
 * blob is copied into place server-side, so no object under `blobs/` is ever wrong.
 */
export class S3Blobs implements BlobBackend {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly #digesters = new Map<string, Digester>();

  constructor(c: S3Config) {
    this.bucket = c.bucket;
    this.prefix = c.prefix ?? '';
    this.client = new S3Client({
      region: c.region ?? 'us-east-1',
      forcePathStyle: c.forcePathStyle ?? true,
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
      ...(c.accessKeyId && c.secretAccessKey
        ? { credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } }
        : {}),
    });
  }

  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (!isMissing(err)) throw err;
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  key(digest: Digest): string {
    if (!isDigest(digest)) throw new InvalidArgumentError(`invalid digest "${digest}"`);
    return `${this.prefix}blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
  }

  partKey(ref: string, offset: number): string {
    return `${this.prefix}uploads/${ref}/${String(offset).padStart(16, '0')}`;
  }

  read(digest: Digest, opts: { start?: number; end?: number; signal?: AbortSignal } = {}): Readable {
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const range =
      opts.start !== undefined || opts.end !== undefined ? `bytes=${opts.start ?? 0}-${opts.end ?? ''}` : undefined;
    this.client
      .send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key(digest), ...(range ? { Range: range } : {}) }),
        opts.signal ? { abortSignal: opts.signal } : {},
      )
      .then((res) => {
        const body = res.Body as Readable;
        body.on('error', (err) => out.destroy(err));
        body.pipe(out);
      })
      .catch((err: unknown) =>
        out.destroy(isMissing(err) ? new NotFoundError(`blob ${digest} not found`) : (err as Error)),
      );
    return out;
  }

  async delete(digest: Digest): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(digest) }));
  }

  async *#list(prefix: string): AsyncIterable<{ key: string; size: number; modified: number }> {
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of page.Contents ?? [])
        if (o.Key) yield { key: o.Key, size: o.Size ?? 0, modified: o.LastModified?.getTime() ?? 0 };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async *walk(): AsyncIterable<BlobInfo> {
    for await (const o of this.#list(`${this.prefix}blobs/`)) {
      const [alg, hex] = o.key.slice(this.prefix.length + 6).split('/');
      const digest = `${alg}:${hex}` as Digest;
      if (isDigest(digest)) yield { digest, size: o.size };
    }
  }

  async *digests(): AsyncIterable<Digest> {
    for await (const b of this.walk()) yield b.digest;
  }

  async info(digest: Digest): Promise<BlobInfo> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(digest) }));
      return { digest, size: head.ContentLength ?? 0 };
    } catch (err) {
      if (isMissing(err)) throw new NotFoundError(`blob ${digest} not found`);
      throw err;
    }
  }

  /** The parts of an upload, in order: offset and size. */
  async parts(ref: string): Promise<{ key: string; offset: number; size: number }[]> {
    const out: { key: string; offset: number; size: number }[] = [];
    for await (const o of this.#list(`${this.prefix}uploads/${ref}/`))
      out.push({ key: o.key, offset: Number(o.key.slice(o.key.lastIndexOf('/') + 1)), size: o.size });
    return out.sort((a, b) => a.offset - b.offset);
  }

  async #deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }

  async writer(ref: string, opts: { size: number; algorithm?: 'sha256' | 'sha512' }): Promise<IngestWriter> {
    checkRef(ref);
    const parts = await this.parts(ref);
    // Parts past the acknowledged size were written but never acknowledged (a crash between the two): dropped.
    const beyond = parts.filter((p) => p.offset >= opts.size);
    if (beyond.length > 0) await this.#deleteKeys(beyond.map((p) => p.key));
    const kept = parts.filter((p) => p.offset < opts.size);
    let next = 0;
    for (const p of kept) {
      if (p.offset !== next) throw new DataLossError(`upload "${ref}" lost the part at byte ${next}`);
      next += p.size;
    }
    if (next !== opts.size)
      throw new DataLossError(`upload "${ref}" holds ${next} bytes, ${opts.size} were acknowledged`);
    return new S3IngestWriter(this, ref, opts.size, opts.algorithm ?? 'sha256', this.#digesters);
  }

  async abort(ref: string): Promise<void> {
    this.#digesters.delete(ref);
    await this.#deleteKeys((await this.parts(ref)).map((p) => p.key));
  }

  async *partials(): AsyncIterable<{ ref: string; size: number; updatedAt: number }> {
    const byRef = new Map<string, { size: number; updatedAt: number }>();
    for await (const o of this.#list(`${this.prefix}uploads/`)) {
      const ref = o.key.slice(this.prefix.length + 8).split('/')[0]!;
      const e = byRef.get(ref) ?? { size: 0, updatedAt: 0 };
      e.size += o.size;
      e.updatedAt = Math.max(e.updatedAt, o.modified);
      byRef.set(ref, e);
    }
    for (const [ref, e] of byRef) yield { ref, ...e };
  }

  /** Writes one part from `body`; the object appears only when the upload completes. */
  async putPart(key: string, body: Readable): Promise<void> {
    await new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body },
      queueSize: 2,
    }).done();
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async copy(from: string, to: string): Promise<void> {
    await this.client.send(
      new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: `${this.bucket}/${from}` }),
    );
  }

  async getStream(key: string): Promise<Readable> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return res.Body as Readable;
  }

  async deleteKeys(keys: string[]): Promise<void> {
    await this.#deleteKeys(keys);
  }
}

class S3IngestWriter implements IngestWriter {
  readonly ref: string;
  #size: number;
  readonly #s3: S3Blobs;
  readonly #algorithm: 'sha256' | 'sha512';
  /** Running digests shared by the writers of this process, keyed by upload; valid for their `size`. */
  readonly #digesters: Map<string, Digester>;

  constructor(
    s3: S3Blobs,
    ref: string,
    size: number,
    algorithm: 'sha256' | 'sha512',
    digesters: Map<string, Digester>,
  ) {
    this.#s3 = s3;
    this.ref = ref;
    this.#size = size;
    this.#algorithm = algorithm;
    this.#digesters = digesters;
  }

  get size(): number {
    return this.#size;
  }

  /** The digest of bytes [0, size): kept from earlier appends in this process, else read back from the parts. */
  async #hasher(): Promise<Digester> {
    const d = this.#digesters.get(this.ref);
    if (d && d.size === this.#size) return d;
    const fresh = new Digester(this.#algorithm);
    for (const p of await this.#s3.parts(this.ref)) {
      if (p.offset >= this.#size) break;
      for await (const chunk of await this.#s3.getStream(p.key)) fresh.update(chunk as Buffer);
    }
    this.#digesters.set(this.ref, fresh);
    return fresh;
  }

  async append(
    source: AsyncIterable<Uint8Array> | Readable,
    opts: { signal?: AbortSignal; maxSize?: number } = {},
  ): Promise<number> {
    const start = this.#size;
    const digester = await this.#hasher();
    let n = 0;
    const key = this.#s3.partKey(this.ref, start);
    const maxSize = opts.maxSize;
    const body = Readable.from(
      (async function* () {
        for await (const chunk of source) {
          opts.signal?.throwIfAborted();
          checkLimit(maxSize, start + n + chunk.byteLength);
          n += chunk.byteLength;
          digester.update(chunk);
          yield chunk;
        }
      })(),
    );
    try {
      await this.#s3.putPart(key, body);
    } catch (err) {
      // The running digest saw bytes that were not stored: it is rebuilt from the parts when next needed.
      this.#digesters.delete(this.ref);
      await this.#s3.deleteKeys([key]).catch(() => {});
      throw err;
    }
    if (n === 0) await this.#s3.deleteKeys([key]);
    this.#size = start + n;
    return this.#size;
  }

  async commit(expected: Expected): Promise<BlobInfo & { created: boolean }> {
    let parts: { key: string; offset: number; size: number }[] = [];
    const discard = () => this.#s3.deleteKeys(parts.map((p) => p.key));
    const { digest, size } = await verifyCommit(
      this.#algorithm,
      expected,
      async () => {
        const digest = (await this.#hasher()).digest();
        this.#digesters.delete(this.ref);
        const size = this.#size;
        parts = (await this.#s3.parts(this.ref)).filter((p) => p.offset < size);
        return { digest, size };
      },
      discard,
    );
    const final = this.#s3.key(digest);
    let created = false;
    if (!(await this.#s3.exists(final))) {
      if (parts.length === 1 && size <= MAX_COPY) await this.#s3.copy(parts[0]!.key, final);
      else if (parts.length === 0) await this.#s3.putPart(final, Readable.from([Buffer.alloc(0)]));
      else {
        const s3 = this.#s3;
        const all = Readable.from(
          (async function* () {
            for (const p of parts) for await (const chunk of await s3.getStream(p.key)) yield chunk as Buffer;
          })(),
        );
        await this.#s3.putPart(final, all);
      }
      created = true;
    }
    await discard();
    return { digest, size, created };
  }

  async close(): Promise<void> {}
}
