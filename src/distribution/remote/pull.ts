/**
 * `docker pull`: resolves a reference on a registry (through its mirrors first), picks the platform's manifest
 * from an index, downloads the config and layers into the content store — in parallel, verified by digest and
 * size while they stream, resumed with `Range` after a broken connection — unpacks each layer while it
 * downloads (layers.ts), and registers the image under its tag. A failure leaves nothing.
 */
import { pipeline } from 'node:stream/promises';
import {
  checkImageConfig,
  checkImageManifest,
  choosePlatform,
  hostPlatform,
  type ManifestDocument,
} from '../../images/index.ts';
import { isIndexType, isSchema1 } from '../../oci/mediatypes.ts';
import { formatPlatform, parsePlatform } from '../../oci/platform.ts';
import { familiarName, familiarString, parseReference, withDefaultTag, type Reference } from '../../oci/reference.ts';
import type { Descriptor, ImageConfig, Index, Platform } from '../../oci/types.ts';
import { type Digest, isDigest, VerifyingStream } from '../../util/digest.ts';
import {
  CanceledError,
  DataLossError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  errorMessage,
} from '../../util/errors.ts';
import { phase } from '../../util/trace.ts';
import { runImageWork, type ArchiveDeps, type ImageWork } from '../work.ts';
import { blobBytes, blobError, pullError } from './blob.ts';
import { openSession, type FetchedManifest, type Session } from './client.ts';
import { RemoteRepository } from './artifacts.ts';
import { fetchLayers, type BlobNotes } from './layers.ts';
import { Transport, endpointsFor } from './transport.ts';
import type { JSONMessage, PullOptions, PullResult, RegistryConfig } from './types.ts';

const MAX_JSON_BLOB = 8 << 20;
/**
 * How long a pull's lease keeps the blobs it verified if the daemon dies during the pull, so that the pull, run
 * again, reuses them instead of downloading them again (containerd's leases default to the same 24 hours).
 */
export const PULL_LEASE_MS = 24 * 60 * 60 * 1000;

/**
 * `docker pull NAME[:TAG|@DIGEST]` (or every tag with `allTags`). Progress messages are dockerd 20.10's.
 *
 * Errors: InvalidArgumentError for a bad reference or platform, a schema1 or unknown manifest type;
 * NotFoundError "manifest for NAME not found: manifest unknown: …" or no manifest for the platform;
 * UnauthorizedError; DataLossError naming the blob for a corrupt, truncated or mismatching blob;
 * UnavailableError for a registry that is down or hangs; CanceledError.
 */
export async function pullImage(
  deps: ArchiveDeps,
  registry: RegistryConfig,
  refString: string,
  opts: PullOptions = {},
): Promise<PullResult> {
  let ref = parseReference(refString);
  if (opts.allTags) {
    if (ref.tag !== undefined || ref.digest !== undefined)
      throw new InvalidArgumentError("tag can't be used with --all-tags/-a");
  } else if (ref.digest !== undefined) {
    // NAME:TAG@DIGEST pulls by digest and tags nothing, as Docker.
    ref = { domain: ref.domain, path: ref.path, digest: ref.digest };
  } else {
    ref = withDefaultTag(ref);
  }
  const platform = opts.platform ? parsePlatform(opts.platform, hostPlatform()) : hostPlatform();
  const transport = new Transport(registry);
  const emit = opts.onProgress ?? (() => {});
  try {
    const all = endpointsFor(registry, ref.domain, true);
    const groups = [...all.filter((e) => e.mirror).map((e) => [e]), all.filter((e) => !e.mirror)];
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      try {
        const session = await openSession(
          transport,
          group,
          opts.auth,
          opts.signal,
          deps.pings ? { kept: deps.pings } : {},
        );
        return await pullFrom(deps, registry, session, ref, platform, opts, emit);
      } catch (err) {
        // A mirror that fails (down, missing the image, refusing us) falls back to the next, then the registry.
        if (group[0]!.mirror && !(err instanceof CanceledError) && !opts.signal?.aborted) continue;
        // However the abort surfaced (a stream's AbortError, a timer's), a canceled pull says so.
        if (opts.signal?.aborted && !(err instanceof CanceledError))
          throw new CanceledError(`pull of ${refString} was canceled`, { cause: err });
        throw err;
      }
    }
    throw new UnavailableError(`no endpoint for ${ref.domain}`);
  } finally {
    transport.close();
  }
}

async function pullFrom(
  deps: ArchiveDeps,
  registry: RegistryConfig,
  session: Session,
  ref: Reference,
  platform: Platform,
  opts: PullOptions,
  emit: (m: JSONMessage) => void,
): Promise<PullResult> {
  const repo = ref.path;
  let refs: Reference[];
  if (opts.allTags) {
    const tags = await session.tags(repo, opts.signal).catch((err) => {
      if (err instanceof NotFoundError)
        throw new NotFoundError(`repository ${familiarName(ref)} not found: ${err.message.replace(/^[^:]*: /, '')}`, {
          cause: err,
        });
      throw err;
    });
    if (tags.length === 0) throw new NotFoundError(`repository ${familiarName(ref)} has no tags`);
    refs = tags.map((tag) => ({ domain: ref.domain, path: ref.path, tag }));
  } else {
    refs = [ref];
  }
  return runImageWork(
    deps,
    async (work) => {
      // Each verified blob: kept by the pull's lease at once, and where it came from (for mounts on push) noted
      // with the others of its image in one transaction once that image is done or failed: only a hint, which a
      // push meanwhile or a crash before can do without (metadata/blob-sources.ts).
      const noted: { digest: string; registry: string; repo: string }[] = [];
      const sources: BlobNotes = {
        note(digest, registry, repo) {
          noted.push({ digest, registry, repo });
          work.lease(digest);
        },
      };
      // A note that cannot be written (SQLite failing: disk full, I/O error) is logged and the pull goes on: the
      // image is stored and tagged by then, and a lost note costs a push an upload, never correctness.
      const flushNotes = (): void => {
        try {
          deps.blobSources?.noteAll(noted);
        } catch (err) {
          deps.log?.warn(`pull of ${familiarName(ref)}: where its blobs came from is not noted: ${errorMessage(err)}`);
        } finally {
          noted.length = 0;
        }
      };
      const out: PullResult = { images: [] };
      let anyNew = false;
      for (const r of refs) {
        emit({ status: `Pulling from ${r.path}`, id: r.tag ?? r.digest ?? 'latest' });
        let got: Awaited<ReturnType<typeof pullOne>>;
        try {
          got = await pullOne(work, registry, session, sources, r, platform, opts, emit);
        } finally {
          flushNotes();
        }
        anyNew ||= got.changed;
        out.images.push({ id: got.id, name: familiarString(r), digest: got.digest });
        if (!opts.allTags) {
          emit({ status: `Digest: ${got.digest}` });
          emit({
            status: `Status: ${got.changed ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarString(r)}`,
          });
        } else {
          emit({ status: `Digest: ${got.digest}`, id: r.tag! });
        }
      }
      if (opts.allTags)
        emit({
          status: `Status: ${anyNew ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarName(ref)}`,
        });
      return out;
    },
    { keepAfterCrashMs: PULL_LEASE_MS },
  );
}

/** Parses a manifest document's JSON. */
function parseDoc(m: FetchedManifest): ManifestDocument {
  return JSON.parse(m.bytes.toString('utf8')) as ManifestDocument;
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
    top = await phase('pull.manifest', '', () => session.manifest(repo, ref.digest ?? ref.tag!, signal));
  } catch (err) {
    if (err instanceof NotFoundError) {
      const detail = err.message.includes(': ') ? err.message.slice(err.message.indexOf(': ') + 2) : err.message;
      throw new NotFoundError(`manifest for ${name} not found: ${detail}`, { cause: err });
    }
    throw err;
  }
  refuseSchema1(top.mediaType, top.digest);
  // The signature policy decides on the manifest the tag names, before any blob is fetched.
  if (opts.verify) {
    const repository = new RemoteRepository(session, repo, signal);
    await opts.verify(ref, { digest: top.digest, mediaType: top.mediaType, size: top.bytes.length }, repository);
  }
  let chosen = top;
  let doc = parseDoc(top);
  if (isIndexType(top.mediaType) || (doc.manifests && !doc.config)) {
    const pick = choosePlatform(
      ((doc as Index).manifests ?? []).filter((d) => d && typeof d.digest === 'string'),
      platform,
    );
    if (!pick)
      throw new NotFoundError(`no matching manifest for ${formatPlatform(platform)} in the manifest list entries`);
    if (!isDigest(pick.digest))
      throw new InvalidArgumentError(`index ${top.digest} names an invalid digest "${pick.digest}"`);
    chosen = await session.manifest(repo, pick.digest, signal);
    refuseSchema1(chosen.mediaType, chosen.digest);
    doc = parseDoc(chosen);
    if (doc.manifests)
      throw new InvalidArgumentError(
        `index ${top.digest} names another index ${pick.digest}: nested indexes are not supported`,
      );
  }
  const manifest = checkImageManifest(doc, chosen.mediaType, chosen.digest);

  const desc: Descriptor = { mediaType: chosen.mediaType, digest: chosen.digest, size: chosen.bytes.length };
  const tagName =
    ref.tag !== undefined ? withDefaultTag({ domain: ref.domain, path: ref.path, tag: ref.tag }) : undefined;
  const records = work.images.records;
  const existing = records.get(chosen.digest);
  const tagBefore = tagName ? records.tag(`${ref.domain}/${ref.path}:${ref.tag}`)?.manifestDigest : undefined;
  const upToDate = existing !== undefined && (tagName === undefined || tagBefore === chosen.digest);

  // The config first: it names the diff IDs the layers must unpack to. Held in memory, verified, and stored with
  // the manifest while the layers download: each store write syncs its file, and the layers need neither on disk,
  // only the image record does (bench/README.md, "Data path", the pull's prelude).
  const config = await phase('pull.config', '', () =>
    fetchJSONBlob<ImageConfig>(work, session, repo, manifest.config, signal),
  );
  checkImageConfig(config.value, manifest, chosen.digest);
  const storing = (async () => {
    await work.put(chosen.bytes);
    sources.note(chosen.digest, ref.domain, repo);
    if (config.bytes) await work.put(config.bytes);
    sources.note(manifest.config.digest, ref.domain, repo);
  })();
  try {
    if (!upToDate)
      await phase('pull.layers', '', () =>
        fetchLayers({ work, registry, session, sources, ref, manifest, config: config.value, opts, emit }),
      );
  } catch (err) {
    // Nothing of this pull is left running when it fails: the operation's cleanup sees every blob it stored.
    await storing.catch(() => {});
    throw err;
  }
  await storing;

  await phase('pull.durable', '', () => work.durable());
  let img;
  try {
    img = await phase('pull.register', '', () =>
      work.images.register(desc, {
        ...(tagName ? { tags: [tagName] } : {}),
        // Pulled through an index: RepoDigests names the index's digest, and `repo@<that digest>` finds the image.
        ...(top.digest !== chosen.digest
          ? { repoDigests: [{ domain: ref.domain, path: ref.path, digest: top.digest }] }
          : {}),
        event: 'pull',
        ...(signal ? { signal } : {}),
      }),
    );
  } catch (err) {
    throw pullError(err, `registering ${name}`);
  }
  work.keep(img.record.manifestDigest, img.manifest);
  return { id: img.record.configDigest, digest: top.digest, changed: !upToDate };
}

/**
 * A small JSON blob (the config), parsed: from the store when it is there, else downloaded into memory and verified
 * by size and digest, with its bytes for the caller to store.
 */
async function fetchJSONBlob<T>(
  work: ImageWork,
  session: Session,
  repo: string,
  d: Descriptor,
  signal: AbortSignal | undefined,
): Promise<{ value: T; bytes?: Buffer }> {
  if (d.size > MAX_JSON_BLOB)
    throw new InvalidArgumentError(
      `blob ${d.digest} is ${d.size} bytes, more than the ${MAX_JSON_BLOB} allowed for a config`,
    );
  let data: Buffer;
  let fetched: Buffer | undefined;
  if (await work.content.has(d.digest)) {
    data = await work.content.readAll(d.digest, MAX_JSON_BLOB);
  } else {
    // Checked as the content store checks what it ingests (size, then digest), but held here.
    const chunks: Buffer[] = [];
    try {
      await pipeline(
        blobBytes(session, repo, d, signal, () => {}),
        new VerifyingStream({ digest: d.digest as Digest, size: d.size }),
        async (src) => {
          for await (const c of src as AsyncIterable<Buffer>) chunks.push(c);
        },
      );
    } catch (err) {
      throw blobError(err, d.digest);
    }
    data = fetched = Buffer.concat(chunks);
  }
  try {
    return { value: JSON.parse(data.toString('utf8')) as T, ...(fetched ? { bytes: fetched } : {}) };
  } catch (err) {
    throw new DataLossError(`blob ${d.digest} is not valid JSON: ${errorMessage(err)}`);
  }
}
