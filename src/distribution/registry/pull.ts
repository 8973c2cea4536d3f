/**
 * `docker pull`: resolves a reference on a registry (through its mirrors first), picks the platform's manifest
 * from an index, downloads the config and layers into the content store — in parallel, verified by digest and
 * size while they stream, resumed with `Range` after a broken connection — unpacks each layer as soon as it
 * and the layers below it are complete, and registers the image under its tag. A failure leaves nothing.
 */
import { choosePlatform, hostPlatform } from '../../images/index.ts';
import { isIndexType, isManifestType, isSchema1, layerCompression, isConfigType } from '../../oci/mediatypes.ts';
import { familiarName, familiarString, parseReference, withDefaultTag, type Reference } from '../../oci/reference.ts';
import type { Descriptor, ImageConfig, Index, Manifest, Platform } from '../../oci/types.ts';
import { isDigest } from '../../util/digest.ts';
import { CanceledError, DataLossError, InvalidArgumentError, NotFoundError, UnavailableError, errorMessage, isBerthError } from '../../util/errors.ts';
import { runImageWork, type ArchiveDeps, type ImageWork } from '../work.ts';
import { openSession, type FetchedManifest, type Session } from './client.ts';
import { progressMessage, shortId, Throttle } from './progress.ts';
import { Limit } from './limit.ts';
import { PullJournal } from './journal.ts';
import { BlobSources } from './sources.ts';
import { IdleTimeoutError, Transport, endpointsFor } from './transport.ts';
import type { JSONMessage, PullOptions, PullResult, RegistryConfig } from './types.ts';

/** Records a blob verified into the store, and where it came from. */
type BlobNotes = Pick<BlobSources, 'note'>;

/** Times a broken blob download is resumed before the pull fails. */
const MAX_RESUMES = 5;
const MAX_JSON_BLOB = 8 << 20;
/** Blobs up to this size download in their own pool, SMALL_BLOB_PARALLELISM times maxConcurrentDownloads wide. */
const SMALL_BLOB = 1 << 20;
const SMALL_BLOB_PARALLELISM = 4;
/** Bytes of a download handed to the content store at once. */
const WRITE_BATCH = 1 << 20;

/** Parses `os/arch[/variant]` (or `arch` alone) as containerd's platforms.Parse, normalising arch names. */
export function parsePlatform(s: string): Platform {
  const parts = s.toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => p === '')) throw new InvalidArgumentError(`"${s}": invalid platform: expected os/arch[/variant]`);
  const oses = new Set(['linux', 'windows', 'darwin', 'freebsd']);
  let os = 'linux';
  let rest = parts;
  if (parts.length === 1) {
    if (oses.has(parts[0]!)) return { ...hostPlatform(), os: parts[0]! };
  } else {
    os = parts[0]!;
    rest = parts.slice(1);
  }
  let arch = rest[0]!;
  let variant = rest[1];
  const alias: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386', armhf: 'arm', armel: 'arm' };
  if (arch === 'armhf') variant ??= 'v7';
  if (arch === 'armel') variant ??= 'v6';
  arch = alias[arch] ?? arch;
  if (arch === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (arch === 'arm' && variant && /^\d$/.test(variant)) variant = `v${variant}`;
  if (arch === 'arm' && !variant) variant = 'v7';
  return variant ? { os, architecture: arch, variant } : { os, architecture: arch };
}

function platformString(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/**
 * `docker pull NAME[:TAG|@DIGEST]` (or every tag with `allTags`). Progress messages are dockerd 20.10's.
 *
 * Errors: InvalidArgumentError for a bad reference or platform, a schema1 or unknown manifest type;
 * NotFoundError "manifest for NAME not found: manifest unknown: …" or no manifest for the platform;
 * UnauthorizedError; DataLossError naming the blob for a corrupt, truncated or mismatching blob;
 * UnavailableError for a registry that is down or hangs; CanceledError.
 */
export async function pullImage(deps: ArchiveDeps, registry: RegistryConfig, refString: string, opts: PullOptions = {}): Promise<PullResult> {
  let ref = parseReference(refString);
  if (opts.allTags) {
    if (ref.tag !== undefined || ref.digest !== undefined) throw new InvalidArgumentError('tag can\'t be used with --all-tags/-a');
  } else if (ref.digest !== undefined) {
    // NAME:TAG@DIGEST pulls by digest and tags nothing, as Docker.
    ref = { domain: ref.domain, path: ref.path, digest: ref.digest };
  } else {
    ref = withDefaultTag(ref);
  }
  const platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const transport = new Transport(registry);
  const blobSources = new BlobSources(registry.blobSourcesFile);
  const journal = new PullJournal(registry.pullJournalDir);
  // Where each verified blob came from (for mounts on push), and the crash journal of this pull.
  const sources: BlobNotes = {
    note(digest, reg, repo) {
      blobSources.note(digest, reg, repo);
      journal.note(digest);
    },
  };
  const emit = opts.onProgress ?? (() => {});
  try {
    const all = endpointsFor(registry, ref.domain, true);
    const groups = [...all.filter((e) => e.mirror).map((e) => [e]), all.filter((e) => !e.mirror)];
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      try {
        const session = await openSession(transport, group, opts.auth, opts.signal);
        return await pullFrom(deps, registry, session, sources, ref, platform, opts, emit);
      } catch (err) {
        // A mirror that fails (down, missing the image, refusing us) falls back to the next, then the registry.
        if (group[0]!.mirror && !(err instanceof CanceledError) && !opts.signal?.aborted) continue;
        // However the abort surfaced (a stream's AbortError, a timer's), a canceled pull says so.
        if (opts.signal?.aborted && !(err instanceof CanceledError)) throw new CanceledError(`pull of ${refString} was canceled`, { cause: err });
        throw err;
      }
    }
    throw new UnavailableError(`no endpoint for ${ref.domain}`);
  } finally {
    transport.close();
    blobSources.save();
    journal.close();
  }
}

async function pullFrom(
  deps: ArchiveDeps,
  registry: RegistryConfig,
  session: Session,
  sources: BlobNotes,
  ref: Reference,
  platform: Platform,
  opts: PullOptions,
  emit: (m: JSONMessage) => void,
): Promise<PullResult> {
  const repo = ref.path;
  let refs: Reference[];
  if (opts.allTags) {
    const tags = await session.tags(repo, opts.signal).catch((err) => {
      if (err instanceof NotFoundError) throw new NotFoundError(`repository ${familiarName(ref)} not found: ${err.message.replace(/^[^:]*: /, '')}`, { cause: err });
      throw err;
    });
    if (tags.length === 0) throw new NotFoundError(`repository ${familiarName(ref)} has no tags`);
    refs = tags.map((tag) => ({ domain: ref.domain, path: ref.path, tag }));
  } else {
    refs = [ref];
  }
  return runImageWork(deps, async (work) => {
    const out: PullResult = { images: [] };
    let anyNew = false;
    for (const r of refs) {
      emit({ status: `Pulling from ${r.path}`, id: r.tag ?? r.digest ?? 'latest' });
      const got = await pullOne(work, registry, session, sources, r, platform, opts, emit);
      anyNew ||= got.changed;
      out.images.push({ id: got.id, name: familiarString(r), digest: got.digest });
      if (!opts.allTags) {
        emit({ status: `Digest: ${got.digest}` });
        emit({ status: `Status: ${got.changed ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarString(r)}` });
      } else {
        emit({ status: `Digest: ${got.digest}`, id: r.tag! });
      }
    }
    if (opts.allTags) emit({ status: `Status: ${anyNew ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarName(ref)}` });
    return out;
  });
}

/** Parses and checks a manifest document's JSON. */
function parseDoc(m: FetchedManifest): { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[]; schemaVersion?: number; mediaType?: string } {
  return JSON.parse(m.bytes.toString('utf8')) as ReturnType<typeof parseDoc>;
}

function refuseSchema1(mt: string, digest: string): void {
  if (isSchema1(mt)) {
    throw new InvalidArgumentError(
      `image ${digest} uses Docker Image manifest version 2, schema 1, which is not supported (deprecated and removed from Docker): push the image again with a current client to convert it to schema 2 or OCI`,
    );
  }
}

async function pullOne(
  work: ImageWork,
  registry: RegistryConfig,
  session: Session,
  sources: BlobNotes,
  ref: Reference,
  platform: Platform,
  opts: PullOptions,
  emit: (m: JSONMessage) => void,
): Promise<{ id: string; digest: string; changed: boolean }> {
  const repo = ref.path;
  const signal = opts.signal;
  const name = familiarString(ref);
  let top: FetchedManifest;
  try {
    top = await session.manifest(repo, ref.digest ?? ref.tag!, signal);
  } catch (err) {
    if (err instanceof NotFoundError) {
      const detail = err.message.includes(': ') ? err.message.slice(err.message.indexOf(': ') + 2) : err.message;
      throw new NotFoundError(`manifest for ${name} not found: ${detail}`, { cause: err });
    }
    throw err;
  }
  refuseSchema1(top.mediaType, top.digest);
  let chosen = top;
  let doc = parseDoc(top);
  if (isIndexType(top.mediaType) || (doc.manifests && !doc.config)) {
    const pick = choosePlatform(((doc as Index).manifests ?? []).filter((d) => d && typeof d.digest === 'string'), platform);
    if (!pick) throw new NotFoundError(`no matching manifest for ${platformString(platform)} in the manifest list entries`);
    if (!isDigest(pick.digest)) throw new InvalidArgumentError(`index ${top.digest} names an invalid digest "${pick.digest}"`);
    chosen = await session.manifest(repo, pick.digest, signal);
    refuseSchema1(chosen.mediaType, chosen.digest);
    doc = parseDoc(chosen);
    if (doc.manifests) throw new InvalidArgumentError(`index ${top.digest} names another index ${pick.digest}: nested indexes are not supported`);
  }
  if (!isManifestType(chosen.mediaType) && !(doc.config && doc.layers)) throw new InvalidArgumentError(`unsupported manifest media type "${chosen.mediaType}" (${chosen.digest})`);
  const manifest = doc as Manifest;
  if (!manifest.config || !Array.isArray(manifest.layers)) throw new InvalidArgumentError(`manifest ${chosen.digest} has no config or layers`);
  if (!isConfigType(manifest.config.mediaType)) throw new InvalidArgumentError(`unsupported config media type "${manifest.config.mediaType}" in manifest ${chosen.digest}`);
  for (const d of [manifest.config, ...manifest.layers]) {
    if (!d || !isDigest(d.digest) || typeof d.size !== 'number' || d.size < 0) throw new InvalidArgumentError(`manifest ${chosen.digest} has a malformed descriptor: ${JSON.stringify(d).slice(0, 200)}`);
  }
  for (const l of manifest.layers) {
    if (layerCompression(l.mediaType) === undefined) throw new InvalidArgumentError(`unsupported layer media type "${l.mediaType}" in manifest ${chosen.digest}`);
  }

  const desc: Descriptor = { mediaType: chosen.mediaType, digest: chosen.digest, size: chosen.bytes.length };
  const tagName = ref.tag !== undefined ? withDefaultTag({ domain: ref.domain, path: ref.path, tag: ref.tag }) : undefined;
  const records = work.images.records;
  const existing = records.get(chosen.digest);
  const tagBefore = tagName ? records.tag(`${ref.domain}/${ref.path}:${ref.tag}`)?.manifestDigest : undefined;
  const upToDate = existing !== undefined && (tagName === undefined || tagBefore === chosen.digest);

  // The config first: it names the diff IDs the layers must unpack to.
  const config = await fetchJSONBlob<ImageConfig>(work, session, repo, manifest.config, signal);
  if (config.rootfs?.type !== 'layers' || !Array.isArray(config.rootfs.diff_ids)) throw new InvalidArgumentError(`image config ${manifest.config.digest} has no rootfs.diff_ids`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new InvalidArgumentError(`image config ${manifest.config.digest} lists ${config.rootfs.diff_ids.length} layers but manifest ${chosen.digest} has ${manifest.layers.length}`);
  }
  await work.put(chosen.bytes);
  sources.note(chosen.digest, ref.domain, repo);
  sources.note(manifest.config.digest, ref.domain, repo);

  if (!upToDate) await fetchLayers(work, registry, session, sources, ref, manifest, config, opts, emit);

  let img;
  try {
    img = await work.images.register(desc, {
      ...(tagName ? { tags: [tagName] } : {}),
      // Pulled through an index: RepoDigests names the index's digest, and `repo@<that digest>` finds the image.
      ...(top.digest !== chosen.digest ? { repoDigests: [{ domain: ref.domain, path: ref.path, digest: top.digest }] } : {}),
      event: 'pull',
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    throw pullError(err, `registering ${name}`);
  }
  work.keep(img.record.manifestDigest, img.manifest);
  return { id: img.record.configDigest, digest: top.digest, changed: !upToDate };
}

/** Downloads a small JSON blob (the config) into the store and parses it. */
async function fetchJSONBlob<T>(work: ImageWork, session: Session, repo: string, d: Descriptor, signal: AbortSignal | undefined): Promise<T> {
  if (d.size > MAX_JSON_BLOB) throw new InvalidArgumentError(`blob ${d.digest} is ${d.size} bytes, more than the ${MAX_JSON_BLOB} allowed for a config`);
  if (!(await work.content.has(d.digest))) {
    try {
      await work.ingest(blobBytes(session, repo, d, signal, () => {}), { digest: d.digest, size: d.size }, signal);
    } catch (err) {
      throw blobError(err, d.digest);
    }
  }
  const data = await work.content.readAll(d.digest, MAX_JSON_BLOB);
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch (err) {
    throw new DataLossError(`blob ${d.digest} is not valid JSON: ${errorMessage(err)}`);
  }
}

/**
 * Downloads the layers not in the store (at most maxConcurrentDownloads at once) and unpacks them as the
 * complete prefix grows: each time the layers 0..k are all present, layers up to k are unpacked (on overlay
 * in parallel) while later ones still download.
 */
async function fetchLayers(
  work: ImageWork,
  registry: RegistryConfig,
  session: Session,
  sources: BlobNotes,
  ref: Reference,
  manifest: Manifest,
  config: ImageConfig,
  opts: PullOptions,
  emit: (m: JSONMessage) => void,
): Promise<void> {
  const repo = ref.path;
  const layers = manifest.layers;
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = abort.signal;
  const throttle = new Throttle(100);
  const present = new Set<string>();
  const shown = new Set<string>();
  const downloads = new Map<string, Descriptor>();
  for (const l of layers) {
    if (present.has(l.digest) || downloads.has(l.digest)) continue;
    if (await work.content.has(l.digest)) {
      // No lease needed: GC waits for this whole operation (runImageWork holds it off).
      present.add(l.digest);
      if (!shown.has(l.digest)) emit({ status: 'Already exists', progressDetail: {}, id: shortId(l.digest) });
      shown.add(l.digest);
    } else {
      downloads.set(l.digest, l);
    }
  }
  for (const l of downloads.values()) emit({ status: 'Pulling fs layer', progressDetail: {}, id: shortId(l.digest) });
  await work.noteChains(config);

  const limit = new Limit(registry.maxConcurrentDownloads || 3);
  // Small blobs are bound by round trips and fsyncs, not bandwidth: they get a wider pool of their own.
  const smallLimit = new Limit(SMALL_BLOB_PARALLELISM * (registry.maxConcurrentDownloads || 3));
  let failure: unknown;
  let unpackedTo = 0;
  let unpacking: Promise<void> | undefined;
  const extracted = new Set<string>();
  const completeDigests = new Set<string>(present);

  const unpackMore = (): void => {
    if (unpacking || failure !== undefined) return;
    let k = unpackedTo;
    while (k < layers.length && completeDigests.has(layers[k]!.digest)) k++;
    if (k <= unpackedTo) return;
    const upto = k;
    const partManifest: Manifest = { ...manifest, layers: layers.slice(0, upto) };
    const partConfig: ImageConfig = { ...config, rootfs: { type: 'layers', diff_ids: config.rootfs.diff_ids.slice(0, upto) } };
    unpacking = (async () => {
      try {
        // Only the caller's signal: a download failing elsewhere lets a running unpack (local, bounded) end
        // by itself, since aborting one mid-layer can leave a stream error unhandled in images.unpack.
        await work.images.unpack(partManifest, partConfig, {
          ...(opts.signal ? { signal: opts.signal } : {}),
          onLayerProgress: (layer, current) => {
            if (!downloads.has(layer.digest)) return;
            if (throttle.ok(`x${layer.digest}`, current >= layer.size)) emit(progressMessage('Extracting', shortId(layer.digest), current, layer.size));
          },
        });
        for (let i = unpackedTo; i < upto; i++) {
          const d = layers[i]!.digest;
          if (downloads.has(d) && !extracted.has(d)) {
            extracted.add(d);
            emit({ status: 'Pull complete', progressDetail: {}, id: shortId(d) });
          }
        }
        unpackedTo = upto;
      } catch (err) {
        failure ??= pullError(err, `unpacking layer of ${familiarString(ref)}`);
        abort.abort(failure);
      } finally {
        unpacking = undefined;
      }
      unpackMore();
    })();
  };

  const downloadOne = async (l: Descriptor): Promise<void> => {
    const id = shortId(l.digest);
    let started = false;
    const waitTimer = setTimeout(() => {
      if (!started) emit({ status: 'Waiting', progressDetail: {}, id });
    }, 0);
    await (l.size <= SMALL_BLOB ? smallLimit : limit).run(async () => {
      started = true;
      clearTimeout(waitTimer);
      if (failure !== undefined) return;
      try {
        await work.ingest(
          blobBytes(session, repo, l, signal, (n) => {
            if (throttle.ok(id, n >= l.size)) emit(progressMessage('Downloading', id, n, l.size));
          }),
          { digest: l.digest, size: l.size },
          signal,
        );
      } catch (err) {
        throw blobError(err, l.digest);
      }
      emit({ status: 'Verifying Checksum', progressDetail: {}, id });
      emit({ status: 'Download complete', progressDetail: {}, id });
      sources.note(l.digest, ref.domain, repo);
      completeDigests.add(l.digest);
      unpackMore();
    });
  };

  unpackMore();
  await Promise.all(
    [...downloads.values()].map((l) =>
      downloadOne(l).catch((err) => {
        failure ??= err;
        abort.abort(err);
      }),
    ),
  );
  opts.signal?.removeEventListener('abort', onOuterAbort);
  while (unpacking) await unpacking;
  if (failure === undefined) unpackMore();
  while (unpacking) await unpacking;
  if (failure !== undefined) {
    if (opts.signal?.aborted) throw new CanceledError(`pull of ${familiarString(ref)} was canceled`, { cause: failure });
    throw failure;
  }
  if (unpackedTo < layers.length) throw new DataLossError(`pull of ${familiarString(ref)} left layers unpacked`);
}

/**
 * A blob's bytes from byte 0 to the end, resuming with `Range` after a broken connection (not after an idle
 * timeout: a hung registry would hang again). `onBytes` gets the running count.
 */
export async function* blobBytes(session: Session, repo: string, d: Descriptor, signal: AbortSignal | undefined, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  let received = 0;
  let resumes = 0;
  // Socket reads are 16-64 KiB: hand them on in batches, so the store writes (each a thread-pool round trip)
  // are few. What is batched was received, so a resume continues after it.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = (): Buffer => {
    const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return out;
  };
  for (;;) {
    let res;
    try {
      res = await session.blob(repo, d.digest, received, signal);
    } catch (err) {
      if (!resumable(err) || ++resumes > MAX_RESUMES) throw err;
      await new Promise((r) => setTimeout(r, 100 * resumes));
      continue;
    }
    let skip = 0;
    if (received > 0) {
      const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      if (res.status === 200) skip = received; // the registry ignored Range: drop what we have
      else if (!range || Number(range[1]) > received) {
        res.raw.destroy();
        throw new DataLossError(`the registry resumed blob ${d.digest} at the wrong offset (${res.headers['content-range']})`);
      } else skip = received - Number(range[1]);
    }
    try {
      for await (const c of res.body) {
        let chunk = c;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        received += chunk.length;
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= WRITE_BATCH) {
          onBytes(received);
          yield flush();
        }
      }
      onBytes(received);
      if (pendingBytes > 0) yield flush();
      return;
    } catch (err) {
      if (!resumable(err) || ++resumes > MAX_RESUMES || received >= d.size) throw err;
    } finally {
      if (!res.raw.complete) res.raw.destroy();
    }
  }
}

function resumable(err: unknown): boolean {
  return err instanceof UnavailableError && !(err instanceof IdleTimeoutError);
}

/** A failed blob download as an error naming the blob. */
function blobError(err: unknown, digest: string): Error {
  if (err instanceof CanceledError) return err;
  const e = err as { name?: string; code?: string };
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR') return new CanceledError(`download of blob ${digest} was canceled`, { cause: err });
  if (err instanceof DataLossError) return new DataLossError(`filesystem layer verification failed for digest ${digest}: ${err.message}`, { cause: err });
  if (isBerthError(err)) {
    if (err.message.includes(digest)) return err;
    const Cls = err.constructor as new (m: string, o?: { cause?: unknown }) => Error;
    return new Cls(`blob ${digest}: ${err.message}`, { cause: err });
  }
  return new DataLossError(`blob ${digest}: ${errorMessage(err)}`, { cause: err });
}

function pullError(err: unknown, what: string): Error {
  if (isBerthError(err)) return err;
  const e = err as { name?: string; code?: string };
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR') return new CanceledError(`${what} was canceled`, { cause: err });
  return new DataLossError(`${what}: ${errorMessage(err)}`, { cause: err });
}
