/**
 * `docker push`: sends an image's layers and config to a registry — skipping those it has (HEAD), mounting
 * those known to be in another repository of the same registry (`?mount=&from=`), uploading the rest
 * monolithically (small) or in PATCH chunks (large), at most maxConcurrentUploads at once — then PUTs the
 * manifest, byte for byte as stored, with its media type, under the tag.
 */
import { createReadStream } from 'node:fs';
import type { BlobSourceRecords, ImageRecord } from '../../metadata/index.ts';
import { MediaType } from '../../oci/mediatypes.ts';
import {
  familiarString,
  fullName,
  parseReference,
  referenceString,
  withDefaultTag,
  type Reference,
} from '../../oci/reference.ts';
import type { Descriptor } from '../../oci/types.ts';
import type { Digest } from '../../util/digest.ts';
import {
  CanceledError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  isBerthError,
  errorMessage,
} from '../../util/errors.ts';
import type { ArchiveDeps } from '../work.ts';
import { repoScope } from './auth.ts';
import { openSession, type Session } from './client.ts';
import { progressMessage, shortId, Throttle } from './progress.ts';
import { Limit } from '../../util/lock.ts';
import { Transport, endpointsFor } from './transport.ts';
import type { JSONMessage, PushOptions, PushResult, RegistryConfig } from './types.ts';

/** Where blobs came from, as a push reads and corrects it (metadata's BlobSourceRecords). */
type BlobSourceHints = Pick<BlobSourceRecords, 'note' | 'forget' | 'mountSource'>;

/** Without a record of sources: nothing to mount from. */
const NO_SOURCES: BlobSourceHints = { note() {}, forget() {}, mountSource: () => undefined };

const DEFAULT_MONOLITHIC_MAX = 8 << 20;
const DEFAULT_CHUNK = 128 << 20;
const FOREIGN = new Set<string>([
  MediaType.DockerForeignLayer,
  MediaType.OciLayerNondistributable,
  MediaType.OciLayerNondistributableGzip,
  MediaType.OciLayerNondistributableZstd,
]);

/**
 * `docker push NAME[:TAG]` (or every local tag of NAME with `allTags`). Progress messages are dockerd 20.10's.
 *
 * Errors: InvalidArgumentError for a bad or digest reference; NotFoundError "An image does not exist locally
 * with the tag: NAME"; UnauthorizedError / ForbiddenError from the registry; UnavailableError; CanceledError.
 */
export async function pushImage(
  deps: ArchiveDeps,
  registry: RegistryConfig,
  refString: string,
  opts: PushOptions = {},
): Promise<PushResult> {
  const parsed = parseReference(refString);
  if (parsed.digest !== undefined) throw new InvalidArgumentError(`cannot push a digest reference "${refString}"`);
  const records = deps.images.records;
  const repoName = fullName(parsed);
  let targets: { tag: string; record: ImageRecord }[];
  if (opts.allTags) {
    if (parsed.tag !== undefined) throw new InvalidArgumentError("tag can't be used with --all-tags/-a");
    targets = records
      .tags()
      .filter((t) => t.name.startsWith(`${repoName}:`))
      .map((t) => ({ tag: t.name.slice(repoName.length + 1), record: records.get(t.manifestDigest)! }))
      .filter((t) => t.record !== undefined)
      .sort((a, b) => a.tag.localeCompare(b.tag));
    if (targets.length === 0)
      throw new NotFoundError(
        `An image does not exist locally with the tag: ${familiarString({ domain: parsed.domain, path: parsed.path })}`,
      );
  } else {
    const ref = withDefaultTag(parsed);
    const tag = records.tag(referenceString(ref));
    const record = tag ? records.get(tag.manifestDigest) : undefined;
    if (!record) throw new NotFoundError(`An image does not exist locally with the tag: ${familiarString(parsed)}`);
    targets = [{ tag: ref.tag!, record }];
  }
  const emit = opts.onProgress ?? (() => {});
  emit({ status: `The push refers to repository [${repoName}]` });
  const transport = new Transport(registry);
  const sources = deps.blobSources ?? NO_SOURCES;
  try {
    const session = await openSession(transport, endpointsFor(registry, parsed.domain, false), opts.auth, opts.signal);
    const pusher = new Pusher(deps, registry, session, sources, parsed, opts, emit);
    const out: PushResult = { pushed: [] };
    for (const t of targets) out.pushed.push(await pusher.pushTag(t.tag, t.record));
    return out;
  } finally {
    transport.close();
  }
}

class Pusher {
  readonly #deps: ArchiveDeps;
  readonly #session: Session;
  readonly #sources: BlobSourceHints;
  readonly #ref: Reference;
  readonly #opts: PushOptions;
  readonly #emit: (m: JSONMessage) => void;
  readonly #limit: Limit;
  readonly #monolithicMax: number;
  readonly #chunk: number;
  readonly #throttle = new Throttle(100);
  /** Blobs this push has already seen to be in the repository. */
  readonly #done = new Map<string, Promise<void>>();
  readonly #scopes: string[];

  constructor(
    deps: ArchiveDeps,
    registry: RegistryConfig,
    session: Session,
    sources: BlobSourceHints,
    ref: Reference,
    opts: PushOptions,
    emit: (m: JSONMessage) => void,
  ) {
    this.#deps = deps;
    this.#session = session;
    this.#sources = sources;
    this.#ref = ref;
    this.#opts = opts;
    this.#emit = emit;
    this.#limit = new Limit(registry.maxConcurrentUploads || 5);
    this.#monolithicMax = registry.monolithicMax ?? DEFAULT_MONOLITHIC_MAX;
    this.#chunk = Math.max(1 << 20, registry.chunkSize ?? DEFAULT_CHUNK);
    this.#scopes = [repoScope(ref.path, ['pull', 'push'])];
  }

  async pushTag(tag: string, record: ImageRecord): Promise<{ tag: string; digest: string; size: number }> {
    const signal = this.#opts.signal;
    const manifest = await this.#deps.images.readManifest(record.manifestDigest as Digest);
    const config = await this.#deps.images.readConfig(record.configDigest as Digest);
    const layers = manifest.layers
      .map((l, i) => ({ desc: l, id: shortId(config.rootfs.diff_ids[i] ?? l.digest) }))
      .filter((l) => !FOREIGN.has(l.desc.mediaType));
    // Docker lists the top layer first.
    const shown = [...layers].reverse();
    const seen = new Set<string>();
    const unique = shown.filter((l) => !seen.has(l.id) && Boolean(seen.add(l.id)));
    for (const l of unique) this.#emit({ status: 'Preparing', progressDetail: {}, id: l.id });
    // A registry only accepts a manifest whose blobs it has: when the manifest is there, so is every blob.
    const has = await this.#session
      .statManifest(this.#ref.path, record.manifestDigest, this.#scopes, signal)
      .catch(() => undefined);
    if (has === record.manifestDigest) {
      for (const l of unique) this.#emit({ status: 'Layer already exists', progressDetail: {}, id: l.id });
      for (const d of [manifest.config, ...manifest.layers]) this.#done.set(d.digest, Promise.resolve());
    }
    const abort = new AbortController();
    const onOuter = () => abort.abort(signal?.reason);
    signal?.addEventListener('abort', onOuter, { once: true });
    let failure: unknown;
    try {
      await Promise.all(
        shown.map((l) =>
          this.#blob(l.desc, l.id, abort.signal).catch((err) => {
            failure ??= err;
            abort.abort(err);
          }),
        ),
      );
      if (failure === undefined) await this.#blob(manifest.config, undefined, abort.signal);
    } catch (err) {
      failure ??= err;
    } finally {
      signal?.removeEventListener('abort', onOuter);
    }
    if (failure !== undefined) {
      if (signal?.aborted)
        throw new CanceledError(`push of ${familiarString(this.#ref)} was canceled`, { cause: failure });
      throw failure;
    }
    const bytes = await this.#deps.content.readAll(record.manifestDigest as Digest, 4 << 20);
    const mediaType = record.mediaType || manifest.mediaType || MediaType.OciManifest;
    const digest = await this.#session.putManifest(this.#ref.path, tag, mediaType, bytes, signal);
    this.#sources.note(record.manifestDigest, this.#ref.domain, this.#ref.path);
    this.#emit({ status: `${tag}: digest: ${digest} size: ${bytes.length}` });
    this.#emit({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: bytes.length } });
    return { tag, digest, size: bytes.length };
  }

  /** Makes sure the repository has a blob (once per push, however many layers or tags name it). */
  #blob(d: Descriptor, id: string | undefined, signal: AbortSignal): Promise<void> {
    let p = this.#done.get(d.digest);
    if (!p) {
      p = this.#pushBlob(d, id, signal);
      this.#done.set(d.digest, p);
      p.catch(() => this.#done.delete(d.digest));
    }
    return p;
  }

  async #pushBlob(d: Descriptor, id: string | undefined, signal: AbortSignal): Promise<void> {
    const emit = (m: JSONMessage) => {
      if (id) this.#emit({ ...m, id });
    };
    if (!this.#limit.tryTake()) {
      emit({ status: 'Waiting', progressDetail: {} });
      await this.#limit.take();
    }
    try {
      if (signal.aborted) throw signal.reason;
      const repo = this.#ref.path;
      const s = this.#session;
      const size = await s.statBlob(repo, d.digest, this.#scopes, signal);
      if (size !== undefined) {
        emit({ status: 'Layer already exists', progressDetail: {} });
        this.#sources.note(d.digest, this.#ref.domain, repo);
        return;
      }
      const from = this.#sources.mountSource(d.digest, this.#ref.domain, repo);
      let location: string;
      if (from) {
        const start = await s.startUpload(
          repo,
          [...this.#scopes, repoScope(from, ['pull'])],
          { digest: d.digest, from },
          signal,
        );
        if (start.mounted) {
          emit({ status: `Mounted from ${from}`, progressDetail: {} });
          this.#sources.note(d.digest, this.#ref.domain, repo);
          return;
        }
        // The registry could not mount it (gone from there, or no access): it opened an upload instead.
        this.#sources.forget(d.digest, this.#ref.domain, from);
        location = start.location;
      } else {
        const start = await s.startUpload(repo, this.#scopes, undefined, signal);
        if (start.mounted) return;
        location = start.location;
      }
      await this.#upload(location, d, signal, (n) => {
        if (id && this.#throttle.ok(id, n >= d.size)) this.#emit(progressMessage('Pushing', id, n, d.size));
      });
      emit({ status: 'Pushed', progressDetail: {} });
      this.#sources.note(d.digest, this.#ref.domain, repo);
    } catch (err) {
      throw pushError(err, d.digest);
    } finally {
      this.#limit.release();
    }
  }

  async #upload(location: string, d: Descriptor, signal: AbortSignal, onSent: (n: number) => void): Promise<void> {
    const content = this.#deps.content;
    const info = await content.info(d.digest);
    if (info.size !== d.size)
      throw new InvalidArgumentError(
        `blob ${d.digest} is ${info.size} bytes in the store, but the manifest says ${d.size}`,
      );
    if (d.size <= this.#monolithicMax) {
      const data = await content.readAll(d.digest, this.#monolithicMax);
      await this.#session.finishUpload(location, d.digest, data, this.#scopes, signal, onSent);
      return;
    }
    const path = await content.file(d.digest, { signal });
    let loc = location;
    for (let start = 0; start < d.size; start += this.#chunk) {
      const end = Math.min(d.size, start + this.#chunk);
      const body = createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20, signal });
      const res = await this.#session.request(loc, {
        method: 'PATCH',
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(end - start),
          'Content-Range': `${start}-${end - 1}`,
        },
        body,
        scopes: this.#scopes,
        signal,
        onSent: (n) => onSent(start + n),
      });
      res.discard();
      if (res.status !== 202) await this.#session.fail(res, `uploading blob ${d.digest}`);
      if (res.headers.location) loc = new URL(res.headers.location, res.url).href;
    }
    await this.#session.finishUpload(loc, d.digest, Buffer.alloc(0), this.#scopes, signal);
  }
}

function pushError(err: unknown, digest: string): Error {
  const e = err as { name?: string; code?: string };
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR')
    return new CanceledError(`upload of blob ${digest} was canceled`, { cause: err });
  if (isBerthError(err)) return err;
  return new UnavailableError(`blob ${digest}: ${errorMessage(err)}`, { cause: err });
}
