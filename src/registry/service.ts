import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlobInfo, FetchableBlob, IngestWriter } from '../content/index.ts';
import { coalesce } from '../util/chunks.ts';
import { type Digest, digestAlgorithm } from '../util/digest.ts';
import { DataLossError, InvalidArgumentError, isBerthError } from '../util/errors.ts';
import { KeyedMutex } from '../util/lock.ts';
import { RegistryError, blobUnknown, manifestUnknown, nameUnknown, uploadUnknown } from './errors.ts';
import { MAX_MANIFEST_BYTES, digestOf, parseManifest } from './manifest.ts';
import {
  BlobBeingDeleted,
  type ManifestRecord,
  type NewManifest,
  type Referrer,
  type RegistryStore,
  type Upload,
} from './meta/store.ts';
import type { BlobBackend } from './storage/backend.ts';

/**
 * What happened, for listeners: the audit log, webhooks, replication's on-push trigger. A `push` or `delete` with
 * a media type is a manifest's (one without is a blob's); `pull` is a manifest's. `scan` (a scan report stored),
 * `quota` (a push refused by a quota) and `replication` (an execution ended) come from the operations.
 */
export interface RegistryEvent {
  action: 'push' | 'pull' | 'delete' | 'mount' | 'scan' | 'quota' | 'replication';
  repo: string;
  digest: Digest;
  tag?: string | undefined;
  mediaType?: string | undefined;
  actor: string;
  /** The client's address, when the event comes from a request. */
  address?: string | undefined;
  /** Anything else a listener may want (a quota's limit and usage, an execution's counts). */
  detail?: Record<string, unknown> | undefined;
}

/**
 * The trust policies' hooks (registry/trust/gate.ts): `beforePut` before a manifest is stored, `beforePull` before
 * the distribution API sends one (GET only; internal reads are not pulls). Each throws to refuse.
 */
export interface ManifestGuard {
  beforePut(repo: string, m: NewManifest, tags: string[]): Promise<void>;
  beforePull(repo: string, m: ManifestRecord): Promise<void>;
}

export interface RegistryOptions {
  store: RegistryStore;
  blobs: BlobBackend;
  /** Whether DELETE of manifests, tags and blobs is allowed (UNSUPPORTED otherwise). */
  deleteEnabled?: boolean;
  /** Largest blob accepted, in bytes (unlimited by default). */
  maxBlobBytes?: number;
}

/** A chunk's place in the blob, from `Content-Range`. */
export interface ChunkRange {
  start: number;
  end: number;
}

const WRITER_IDLE_MS = 60_000;
/** How often a ranged chunk's progress is recorded while it arrives (what a crash can cost its client). */
const PROGRESS_BYTES = 4 << 20;

/**
 * Bytes gathered before a write to the upload's file (socket reads are 64 KiB at most), for a writer that does not
 * gather itself: each write costs the serving thread a dispatch.
 */
const WRITE_BYTES = 256 << 10;

/** `body` until it ends or fails: a failure ends it, handed to `onCut`. */
async function* cuttable(body: AsyncIterable<Buffer>, onCut: (err: unknown) => void): AsyncGenerator<Buffer> {
  try {
    for await (const c of body) yield c;
  } catch (err) {
    onCut(err);
  }
}

/** Commits `w` as the blob `expected` names; DIGEST_INVALID when its bytes hash otherwise. */
async function commitBlob(w: IngestWriter, expected: { digest: Digest; size?: number }): Promise<BlobInfo> {
  try {
    return await w.commit(expected);
  } catch (err) {
    if (err instanceof DataLossError)
      throw new RegistryError('DIGEST_INVALID', `uploaded content does not match digest ${expected.digest}`, {
        cause: err,
      });
    throw err;
  }
}

/**
 * Runs `claim` (which claims `digest` for an upload) again while the collector is removing that blob, every 50 ms
 * for up to 30 s; then TOOMANYREQUESTS.
 */
async function whileDeleting<T>(claim: () => Promise<T>, digest: Digest): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await claim();
    } catch (err) {
      if (!(err instanceof BlobBeingDeleted)) throw err;
      if (i >= 600)
        throw new RegistryError('TOOMANYREQUESTS', `blob ${digest} is being garbage-collected; try again`, {
          cause: err,
        });
      await sleep(50);
    }
  }
}

/**
 * The registry's operations, one per thing the distribution API can do, independent of HTTP. Uploads keep an
 * open writer (and its running digest) between requests; a restart or another process reopens it from storage.
 */
export class Registry {
  readonly store: RegistryStore;
  readonly blobs: BlobBackend;
  readonly deleteEnabled: boolean;
  readonly maxBlobBytes: number | undefined;
  readonly #writers = new Map<string, { writer: IngestWriter; timer: NodeJS.Timeout }>();
  readonly #uploadLocks = new KeyedMutex();
  readonly #listeners: ((e: RegistryEvent) => void)[] = [];
  /** Whether an append's bytes are in storage as each piece is written (the backend's `appendsInPlace`). */
  readonly #progressKept: boolean;
  /** Consulted before a manifest is stored (set once the trust policies are wired). */
  guard: ManifestGuard | undefined;

  constructor(opts: RegistryOptions) {
    this.store = opts.store;
    this.blobs = opts.blobs;
    this.deleteEnabled = opts.deleteEnabled ?? true;
    this.maxBlobBytes = opts.maxBlobBytes;
    this.#progressKept = opts.blobs.appendsInPlace === true;
  }

  onEvent(fn: (e: RegistryEvent) => void): void {
    this.#listeners.push(fn);
  }

  emit(e: RegistryEvent): void {
    for (const fn of this.#listeners) fn(e);
  }

  // Blobs

  async blobSize(repo: string, digest: Digest): Promise<number> {
    const size = await this.store.blobInRepo(repo, digest);
    if (size === undefined) throw blobUnknown(digest);
    return size;
  }

  readBlob(digest: Digest, range?: ChunkRange): Readable {
    return this.blobs.read(digest, range ? { start: range.start, end: range.end } : {});
  }

  async deleteBlob(repo: string, digest: Digest): Promise<void> {
    this.#checkDelete();
    if (!(await this.store.unlinkBlob(repo, digest))) throw blobUnknown(digest);
  }

  /** Cross-repository mount: the size when `from` has the blob, undefined to fall back to an upload. */
  async mount(
    repo: string,
    from: string,
    digest: Digest,
    actor: string,
    address?: string,
  ): Promise<number | undefined> {
    const size = await this.store.mount(repo, from, digest);
    if (size !== undefined) this.emit({ action: 'mount', repo, digest, actor, address });
    return size;
  }

  // Uploads

  async startUpload(repo: string, owner: string, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
    const id = randomUUID();
    await this.store.createUpload({ id, repo, owner, algorithm });
    const w = await this.blobs.writer(id, { size: 0, algorithm });
    this.#keep(id, w);
    return id;
  }

  /** The upload, when it exists, belongs to `repo` and was started by `owner`; BLOB_UPLOAD_UNKNOWN otherwise. */
  async upload(repo: string, id: string, owner: string): Promise<Upload> {
    const u = await this.store.upload(id);
    if (!u || u.repo !== repo || u.owner !== owner) throw uploadUnknown(id);
    return u;
  }

  #keep(id: string, writer: IngestWriter): void {
    const old = this.#writers.get(id);
    if (old) clearTimeout(old.timer);
    const timer = setTimeout(() => {
      this.#writers.delete(id);
      void writer.close();
    }, WRITER_IDLE_MS);
    timer.unref();
    this.#writers.set(id, { writer, timer });
  }

  async #drop(id: string): Promise<void> {
    const w = this.#writers.get(id);
    if (!w) return;
    clearTimeout(w.timer);
    this.#writers.delete(id);
    await w.writer.close();
  }

  /** Takes an upload's writer out of those kept between requests: its commit comes next. */
  #unkeep(id: string): void {
    const kept = this.#writers.get(id);
    if (kept) clearTimeout(kept.timer);
    this.#writers.delete(id);
  }

  /** The upload as recorded, to be finished as blob `digest`, whose algorithm must be the upload's. */
  async #finishing(u: Upload, digest: Digest): Promise<Upload> {
    const fresh = await this.store.upload(u.id);
    if (!fresh) throw uploadUnknown(u.id);
    if (digestAlgorithm(digest) !== fresh.algorithm)
      throw new RegistryError('DIGEST_INVALID', `digest ${digest} is not ${fresh.algorithm}, the upload's algorithm`);
    return fresh;
  }

  /** The open writer of an upload positioned at its acknowledged size (reopened when this process has none). */
  async #writer(u: Upload): Promise<IngestWriter> {
    const kept = this.#writers.get(u.id);
    if (kept && kept.writer.size === u.size) return kept.writer;
    await this.#drop(u.id);
    let w: IngestWriter;
    try {
      w = await this.blobs.writer(u.id, { size: u.size, algorithm: u.algorithm });
    } catch (err) {
      if (isBerthError(err) && (err.code === 'NOT_FOUND' || err.code === 'DATA_LOSS')) {
        await this.store.deleteUpload(u.id).catch(() => {});
        throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `blob upload ${u.id} was lost: ${err.message}`, { cause: err });
      }
      throw err;
    }
    this.#keep(u.id, w);
    return w;
  }

  /**
   * Appends a chunk. With a range, it must start where the upload ends (416 otherwise) and the body must be as
   * long as the range says (SIZE_INVALID otherwise). Returns the new size.
   *
   * A ranged chunk's bytes are kept as they arrive: every PROGRESS_BYTES the upload's size is recorded, and a body
   * cut short keeps what came before the cut, so a client that says where its bytes go (and reads the upload's
   * `Range` after a failure) resumes from there, even after this process was killed. A chunk without a range is
   * all or nothing, as clients that send none restart the upload when it fails.
   */
  async appendUpload(
    u: Upload,
    body: Readable | AsyncIterable<Buffer>,
    opts: { range?: ChunkRange | undefined; length?: number | undefined; signal?: AbortSignal } = {},
  ): Promise<number> {
    return this.#uploadLocks.run(u.id, async () => {
      const fresh = await this.store.upload(u.id);
      if (!fresh) throw uploadUnknown(u.id);
      const { range, length } = opts;
      if (range) {
        if (range.start !== fresh.size || range.end < range.start)
          throw new RegistryError(
            'BLOB_UPLOAD_INVALID',
            `chunk range ${range.start}-${range.end} does not follow byte ${fresh.size - 1}`,
            {
              status: 416,
              detail: { size: fresh.size },
            },
          );
        if (length !== undefined && length !== range.end - range.start + 1)
          throw new RegistryError(
            'SIZE_INVALID',
            `Content-Length ${length} does not match Content-Range ${range.start}-${range.end}`,
          );
      }
      const w = await this.#writer(fresh);
      const announced = range ? range.end + 1 : length !== undefined ? fresh.size + length : undefined;
      const limit = Math.min(announced ?? Number.POSITIVE_INFINITY, this.maxBlobBytes ?? Number.POSITIVE_INFINITY);
      // What the metadata says the upload holds; with a range it moves during the append.
      let acked = fresh.size;
      let cut: unknown;
      // A ranged chunk's body ends at a cut instead of failing, so that the bytes before it are kept.
      const source = range ? cuttable(body, (err) => (cut = err)) : body;
      // Gathered into one buffer where each piece is written before the next is asked for (the filesystem store's
      // writer on this thread); S3's writer keeps a chunk's pieces, so it gets fresh ones. A writer that gathers
      // itself (the ingest thread's) takes the chunks as they come.
      const pieces = w.gathers ? source : coalesce(source, WRITE_BYTES, { reuse: this.#progressKept });
      // A ranged chunk's progress is recorded every PROGRESS_BYTES written, for the filesystem store only: S3's
      // writer stores a chunk as one object at the end of its append, so a size recorded before would name bytes a
      // crash loses.
      const onWritten =
        range && this.#progressKept
          ? async (n: number) => {
              if (n - acked >= PROGRESS_BYTES && (await this.store.advanceUpload(u.id, acked, n))) acked = n;
            }
          : undefined;
      let size: number;
      try {
        size = await w.append(pieces, {
          ...(Number.isFinite(limit) ? { maxSize: limit } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
          onWritten,
        });
      } catch (err) {
        // The writer cut the file back to where the chunk started: so goes the recorded size.
        if (acked !== fresh.size && !(await this.store.advanceUpload(u.id, acked, fresh.size))) await this.#drop(u.id);
        if (err instanceof InvalidArgumentError) throw new RegistryError('SIZE_INVALID', err.message, { cause: err });
        throw err;
      }
      const expected = announced ?? size;
      if (size !== expected && cut === undefined) {
        if (acked !== fresh.size) await this.store.advanceUpload(u.id, acked, fresh.size);
        await this.#drop(u.id);
        throw new RegistryError(
          'SIZE_INVALID',
          `received ${size - fresh.size} bytes, ${expected - fresh.size} were announced`,
        );
      }
      if (size !== acked && !(await this.store.advanceUpload(u.id, acked, size))) {
        await this.#drop(u.id);
        throw new RegistryError('BLOB_UPLOAD_INVALID', `blob upload ${u.id} was changed by another request`, {
          status: 416,
        });
      }
      // Cut short: what came is kept, and the client (if it is still there) learns of the cut.
      if (cut !== undefined) throw cut;
      return size;
    });
  }

  /**
   * A PUT that brings the upload's last `length` bytes (or all of them), without a range: `appendUpload` and
   * `finishUpload` under one hold of the upload, the new size recorded and the digest claimed in one transaction
   * (three before, with two more reads of the upload), and the body's last piece written with the commit. Like an
   * append without a range, all or nothing: bytes short of `length` leave the upload as it was.
   */
  async appendAndFinish(
    u: Upload,
    body: Readable | AsyncIterable<Buffer>,
    length: number,
    digest: Digest,
    actor: string,
    address?: string,
  ): Promise<{ digest: Digest; size: number }> {
    return this.#uploadLocks.run(u.id, async () => {
      const fresh = await this.#finishing(u, digest);
      const size = fresh.size + length;
      if (this.maxBlobBytes !== undefined && size > this.maxBlobBytes)
        throw new RegistryError('SIZE_INVALID', `blob is larger than the ${this.maxBlobBytes} bytes allowed`);
      // Before the bytes: a refusal after them would leave the writer holding a last piece that is not on file.
      await this.store.guard?.beforeUpload?.(fresh.repo, digest, size);
      const w = await this.#writer(fresh);
      const pieces = w.gathers ? body : coalesce(body, WRITE_BYTES, { reuse: this.#progressKept });
      let got: number;
      try {
        got = await w.append(pieces, { maxSize: size, last: true });
      } catch (err) {
        if (err instanceof InvalidArgumentError) throw new RegistryError('SIZE_INVALID', err.message, { cause: err });
        throw err;
      }
      if (
        got !== size ||
        !(await whileDeleting(() => this.store.advanceAndClaim(fresh.id, fresh.size, size, digest), digest))
      ) {
        // The writer holds bytes the upload does not: a later request reopens it from what is recorded.
        await this.#drop(u.id);
        if (got !== size)
          throw new RegistryError('SIZE_INVALID', `received ${got - fresh.size} bytes, ${length} were announced`);
        throw new RegistryError('BLOB_UPLOAD_INVALID', `blob upload ${u.id} was changed by another request`, {
          status: 416,
        });
      }
      return this.#commitAndLink(w, { ...fresh, size }, { digest, size }, actor, address);
    });
  }

  /** Verifies the whole upload against `digest`, stores the blob and links it to the repository. */
  async finishUpload(
    u: Upload,
    digest: Digest,
    actor: string,
    address?: string,
  ): Promise<{ digest: Digest; size: number }> {
    return this.#uploadLocks.run(u.id, async () => {
      const fresh = await this.#finishing(u, digest);
      await this.store.guard?.beforeUpload?.(fresh.repo, digest, fresh.size);
      const w = await this.#writer(fresh);
      await whileDeleting(() => this.store.claimDigest(fresh.id, digest), digest);
      return this.#commitAndLink(w, fresh, { digest }, actor, address);
    });
  }

  /**
   * The end of an upload whose digest is claimed: the writer no longer kept, its bytes committed as `expected`
   * (the upload dropped when they are not), the blob linked to the repository and the push told.
   */
  async #commitAndLink(
    w: IngestWriter,
    u: Upload,
    expected: { digest: Digest; size?: number },
    actor: string,
    address: string | undefined,
  ): Promise<{ digest: Digest; size: number }> {
    this.#unkeep(u.id);
    let info: BlobInfo;
    try {
      info = await commitBlob(w, expected);
    } catch (err) {
      // (A row the database keeps is an abandoned upload for the collector: the caller hears why the commit failed.)
      await this.store.deleteUpload(u.id).catch(() => {});
      throw err;
    }
    await this.store.linkUploaded(u, info.digest, info.size);
    this.emit({ action: 'push', repo: u.repo, digest: expected.digest, actor, address });
    return info;
  }

  /**
   * A whole blob of known digest and size, in one call: what an upload's POST, PATCH and PUT do, for a replication
   * pulling into this registry. The metadata takes two transactions, not one per step: the upload is recorded with
   * its digest claimed, and at the end the blob is linked and the upload dropped. The last piece is written with the
   * commit (the writer's `last`). Nothing is resumable: a failure drops the upload. `onReceived` hears when the
   * body is read, before the commit and the link. A `FetchableBlob` is fetched by the writer's own thread where it
   * can (`IngestWriter.fetch`; a replication waits for the ingest thread to be up), else read through `open`.
   */
  async putBlob(
    repo: string,
    digest: Digest,
    size: number,
    body: AsyncIterable<Buffer> | FetchableBlob,
    actor: string,
    opts: { signal?: AbortSignal | undefined; onReceived?: (() => void) | undefined } = {},
  ): Promise<void> {
    const { signal } = opts;
    if (this.maxBlobBytes !== undefined && size > this.maxBlobBytes)
      throw new RegistryError('SIZE_INVALID', `blob is larger than the ${this.maxBlobBytes} bytes allowed`);
    const algorithm = digestAlgorithm(digest);
    await this.store.guard?.beforeUpload?.(repo, digest, size);
    const id = randomUUID();
    const repoId = await whileDeleting(
      () => this.store.createUpload({ id, repo, owner: actor, algorithm, digest }),
      digest,
    );
    let w: IngestWriter | undefined;
    try {
      if ('source' in body) await this.blobs.warm?.().catch(() => {});
      w = await this.blobs.writer(id, { size: 0, algorithm });
      let got: number;
      if ('source' in body && w.fetch) got = await w.fetch(body.source, { maxSize: size, signal });
      else {
        const bytes = 'source' in body ? await body.open() : body;
        const pieces = w.gathers ? bytes : coalesce(bytes, WRITE_BYTES, { reuse: this.#progressKept });
        got = await w.append(pieces, { maxSize: size, last: true, ...(signal ? { signal } : {}) });
      }
      if (got !== size)
        throw new RegistryError('SIZE_INVALID', `received ${got} bytes of blob ${digest}, ${size} were announced`);
      opts.onReceived?.();
      const committing = w;
      w = undefined;
      await commitBlob(committing, { digest, size });
      await this.store.linkUploaded(
        { id, repo, repoId, owner: actor, size, algorithm, createdAt: 0, updatedAt: 0 },
        digest,
        size,
      );
    } catch (err) {
      // Why the blob was refused is what the caller hears: each step of the clean-up is tried, and one that fails
      // leaves an abandoned upload, which the collector drops (`purgeUpload`).
      await w?.close().catch(() => {});
      await this.store.deleteUpload(id).catch(() => {});
      await this.blobs.abort(id).catch(() => {});
      if (err instanceof InvalidArgumentError) throw new RegistryError('SIZE_INVALID', err.message, { cause: err });
      throw err;
    }
    this.emit({ action: 'push', repo, digest, actor });
  }

  async cancelUpload(u: Upload): Promise<void> {
    await this.#uploadLocks.run(u.id, async () => {
      await this.#drop(u.id);
      await this.store.deleteUpload(u.id);
      await this.blobs.abort(u.id);
    });
  }

  /** Drops an abandoned upload (the collector's job): its row and its partial blob. */
  async purgeUpload(id: string): Promise<void> {
    await this.#uploadLocks.run(id, async () => {
      await this.#drop(id);
      await this.store.deleteUpload(id);
      await this.blobs.abort(id);
    });
  }

  // Manifests

  async manifest(repo: string, ref: { digest: Digest } | { tag: string }): Promise<ManifestRecord> {
    const m =
      'digest' in ref
        ? await this.store.manifestByDigest(repo, ref.digest)
        : await this.store.manifestByTag(repo, ref.tag);
    if (!m) throw manifestUnknown('digest' in ref ? ref.digest : ref.tag);
    return m;
  }

  /** Validates and stores a manifest under a tag or digest (plus `extraTags`); returns its digest and subject. */
  async putManifest(
    repo: string,
    ref: { digest: Digest } | { tag: string },
    content: Buffer,
    contentType: string | undefined,
    extraTags: string[],
    actor: string,
    address?: string,
  ): Promise<{ digest: Digest; subject?: Digest | undefined; tags: string[] }> {
    if (content.length > MAX_MANIFEST_BYTES)
      throw new RegistryError('MANIFEST_INVALID', `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`, {
        status: 413,
      });
    const digest = digestOf(content, 'digest' in ref ? digestAlgorithm(ref.digest) : 'sha256');
    if ('digest' in ref && ref.digest !== digest)
      throw new RegistryError('DIGEST_INVALID', `manifest digest ${digest} does not match the reference ${ref.digest}`);
    const m = parseManifest(content, contentType, digest);
    const tags = 'tag' in ref ? [ref.tag, ...extraTags] : extraTags;
    await this.guard?.beforePut(repo, m, tags);
    await this.store.putManifest(repo, m, tags);
    this.emit({ action: 'push', repo, digest, tag: tags[0], mediaType: m.mediaType, actor, address });
    return { digest, subject: m.subject, tags };
  }

  /**
   * Stores a manifest a pull-through cache fetched from its upstream (verified against `digest`), tagged `tag` if
   * given, without requiring its blobs: they are fetched when first asked for.
   */
  async cacheManifest(repo: string, digest: Digest, content: Buffer, mediaType: string, tag?: string): Promise<void> {
    if (digestOf(content, digestAlgorithm(digest)) !== digest)
      throw new DataLossError(`the upstream's manifest does not match its digest ${digest}`);
    const m = parseManifest(content, mediaType, digest);
    await this.store.putManifest(repo, m, tag === undefined ? [] : [tag], { unchecked: true });
  }

  async deleteManifest(
    repo: string,
    ref: { digest: Digest } | { tag: string },
    actor: string,
    address?: string,
  ): Promise<void> {
    this.#checkDelete();
    let digest = 'digest' in ref ? ref.digest : ('' as Digest);
    let mediaType: string | undefined;
    if ('tag' in ref) {
      const m = await this.store.manifestByTag(repo, ref.tag);
      if (m) ({ digest, mediaType } = m);
      await this.store.deleteTag(repo, ref.tag);
    } else {
      mediaType = (await this.store.manifestByDigest(repo, ref.digest))?.mediaType;
      await this.store.deleteManifest(repo, ref.digest);
    }
    this.emit({ action: 'delete', repo, digest, tag: 'tag' in ref ? ref.tag : undefined, mediaType, actor, address });
  }

  #checkDelete(): void {
    if (!this.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled on this registry');
  }

  // Discovery

  async tags(repo: string, last: string, n: number | undefined): Promise<string[]> {
    const id = await this.store.repoId(repo);
    if (id === undefined) throw nameUnknown(repo);
    return this.store.tags(id, last, n);
  }

  /** Referrers of `subject` in digest order, after `page.after`, at most `page.limit`. */
  async referrers(
    repo: string,
    subject: Digest,
    artifactType?: string,
    page: { after?: string; limit?: number } = {},
  ): Promise<Referrer[]> {
    const id = await this.store.repoId(repo);
    if (id === undefined) return [];
    return this.store.referrers(id, subject, artifactType, page);
  }

  catalog(last: string, n: number): Promise<string[]> {
    return this.store.catalog(last, n);
  }

  async close(): Promise<void> {
    for (const id of [...this.#writers.keys()]) await this.#drop(id);
  }
}
