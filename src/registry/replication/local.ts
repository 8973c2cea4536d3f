import { type FileHandle, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FetchableBlob } from '../../content/index.ts';
import type { Digest } from '../../util/digest.ts';
import { DataLossError, isBerthError, isErrno } from '../../util/errors.ts';
import type { Upload } from '../meta/store.ts';
import type { Registry } from '../service.ts';
import type { Manifest, Side, UploadHandle } from './side.ts';

const PAGE = 1000;
/** Bytes of each read of a blob file this side sends (`readBlob`). */
const PIECE = 1 << 20;
/** Whole-piece read buffers kept for the next blobs, at most: one per blob in flight (`parallelBlobs`' default). */
const KEPT = 8;

/** This registry as a replication side: the registry service in-process, acting as `replication:RULE`. */
export class LocalSide implements Side {
  readonly label = 'this registry';
  readonly mountFindsOwn = false;
  readonly streamsUploads = false;
  readonly #reg: Registry;
  readonly #actor: string;
  /** Read buffers of PIECE bytes no blob is using (`readBlob`). */
  readonly #free: Buffer[] = [];

  constructor(reg: Registry, actor: string) {
    this.#reg = reg;
    this.#actor = actor;
  }

  async repositories(matches: (name: string) => boolean): Promise<string[]> {
    const out: string[] = [];
    for (let last = ''; ; ) {
      const page = await this.#reg.catalog(last, PAGE);
      out.push(...page.filter(matches));
      if (page.length < PAGE) return out;
      last = page[page.length - 1]!;
    }
  }

  async tags(repo: string): Promise<string[]> {
    const id = await this.#reg.store.repoId(repo);
    return id === undefined ? [] : this.#reg.store.tags(id, '', undefined);
  }

  async manifest(repo: string, ref: string): Promise<Manifest | undefined> {
    const m = ref.includes(':')
      ? await this.#reg.store.manifestByDigest(repo, ref as Digest)
      : await this.#reg.store.manifestByTag(repo, ref);
    return m && { bytes: m.content, mediaType: m.mediaType, digest: m.digest };
  }

  async manifestDigest(repo: string, ref: string): Promise<string | undefined> {
    return (await this.manifest(repo, ref))?.digest;
  }

  async smallBlob(repo: string, digest: Digest): Promise<Buffer> {
    const size = await this.#reg.blobSize(repo, digest);
    const chunks: Buffer[] = [];
    for await (const c of this.#reg.readBlob(digest, { start: 0, end: Math.max(0, size - 1) }))
      chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * From the blob's file when the store keeps blobs as files: read 1 MiB at a time into two buffers used in turn
   * (the next read under way while the consumer has the last one), whole ones kept for the next blobs and a last,
   * shorter piece read into one of its size, so a copy's reads make little garbage and hold no more memory than
   * they use; each chunk is valid only until the next is asked for (the remote side writes each to its
   * socket before it asks). A blob of another backend, or one the store makes on demand, comes as a stream.
   */
  async readBlob(repo: string, digest: Digest, start: number): Promise<AsyncIterable<Buffer>> {
    const size = await this.#reg.blobSize(repo, digest);
    if (start >= size) return (async function* () {})();
    const path = this.#reg.blobs.path?.(digest);
    if (path !== undefined) return this.#chunks(path, digest, start, size);
    return this.#reg.readBlob(digest, { start, end: size - 1 });
  }

  /** The file is opened on the first read, so a body its request never sends holds no descriptor. */
  async *#chunks(path: string, digest: Digest, start: number, end: number): AsyncGenerator<Buffer> {
    let fh: FileHandle;
    try {
      fh = await open(path);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      yield* this.#reg.readBlob(digest, { start, end: end - 1 }) as AsyncIterable<Buffer>;
      return;
    }
    const bufs: (Buffer | undefined)[] = [undefined, undefined];
    let next: Promise<number> | undefined;
    /** Reads the piece at `at` into buffer `i`: a kept one for a whole piece, one of its size for a last, short one. */
    const readInto = async (i: number, at: number): Promise<number> => {
      const want = Math.min(PIECE, end - at);
      let b = bufs[i];
      if (b === undefined || b.length < want) {
        b = want === PIECE ? (this.#free.pop() ?? Buffer.allocUnsafeSlow(PIECE)) : Buffer.allocUnsafeSlow(want);
        bufs[i] = b;
      }
      const { bytesRead } = await fh.read(b, 0, want, at);
      if (bytesRead < want) throw new DataLossError(`blob ${digest} ended at byte ${at + bytesRead} of ${end}`);
      return want;
    };
    try {
      let pos = start;
      let turn = 0;
      next = readInto(0, pos);
      while (next !== undefined) {
        const n = await next;
        next = undefined;
        const b = bufs[turn]!;
        pos += n;
        turn = 1 - turn;
        if (pos < end) next = readInto(turn, pos);
        yield n === b.length ? b : b.subarray(0, n);
      }
    } finally {
      // A read under way still fills its buffer: it ends before the buffer is kept for another blob.
      await next?.catch(() => {});
      await fh.close().catch(() => {});
      for (const b of bufs) if (b?.length === PIECE && this.#free.length < KEPT) this.#free.push(b);
    }
  }

  hasBlob(repo: string, digest: Digest): Promise<number | undefined> {
    return this.#reg.store.blobInRepo(repo, digest);
  }

  /** Any repository of this registry that holds the blob will do: the bytes are the digest's, verified. */
  async mount(repo: string, digest: Digest, from: string | undefined): Promise<boolean> {
    const source =
      from ??
      (
        await this.#reg.store.db.get<{ name: string }>(
          `SELECT r.name FROM repo_blobs l JOIN repositories r ON r.id = l.repo_id JOIN blobs b ON b.digest = l.digest
           WHERE l.digest = ? AND b.state = 'live' LIMIT 1`,
          [digest],
        )
      )?.name;
    if (source === undefined) return false;
    return (await this.#reg.mount(repo, source, digest, this.#actor)) !== undefined;
  }

  async upload(repo: string, token: string | undefined): Promise<UploadHandle | undefined> {
    let u: Upload;
    if (token !== undefined) {
      try {
        u = await this.#reg.upload(repo, token, this.#actor);
      } catch (err) {
        if (isBerthError(err) && err.code === 'NOT_FOUND') return undefined;
        throw err;
      }
    } else {
      const id = await this.#reg.startUpload(repo, this.#actor);
      u = await this.#reg.upload(repo, id, this.#actor);
    }
    return new LocalUpload(this.#reg, u, this.#actor);
  }

  /**
   * In one call to the registry (`Registry.putBlob`): no upload to resume, so none of its steps recorded.
   * `received` is called once the body is read, before the blob's commit and link.
   */
  putBlob(
    repo: string,
    digest: Digest,
    size: number,
    body: AsyncIterable<Buffer> | FetchableBlob,
    signal: AbortSignal,
    received?: () => void,
  ): Promise<void> {
    return this.#reg.putBlob(repo, digest, size, body, this.#actor, { signal, onReceived: received });
  }

  async putManifest(repo: string, ref: string, m: Manifest): Promise<void> {
    const r = ref.includes(':') ? { digest: ref as Digest } : { tag: ref };
    const got = await this.#reg.putManifest(repo, r, m.bytes, m.mediaType, [], this.#actor);
    if (got.digest !== m.digest)
      throw new DataLossError(`manifest ${repo}@${m.digest} was stored with digest ${got.digest}`);
  }

  async deleteTag(repo: string, tag: string): Promise<void> {
    await this.#reg.deleteManifest(repo, { tag }, this.#actor);
  }

  close(): void {}
}

class LocalUpload implements UploadHandle {
  readonly #reg: Registry;
  #u: Upload;
  readonly #actor: string;

  constructor(reg: Registry, u: Upload, actor: string) {
    this.#reg = reg;
    this.#u = u;
    this.#actor = actor;
  }

  get token(): string {
    return this.#u.id;
  }

  get offset(): number {
    return this.#u.size;
  }

  async append(body: AsyncIterable<Buffer> | Readable, length: number, signal: AbortSignal): Promise<void> {
    const size = await this.#reg.appendUpload(this.#u, body, { length, signal });
    // What the append recorded: read back, it would cost a query per chunk for the same number.
    this.#u = { ...this.#u, size };
  }

  async finish(digest: Digest): Promise<void> {
    await this.#reg.finishUpload(this.#u, digest, this.#actor);
  }
}
