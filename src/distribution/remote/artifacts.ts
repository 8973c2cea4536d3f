/**
 * Small artifacts in a registry repository: what signing, SBOMs and scan reports need besides pull and push.
 * Manifests by tag or digest (absent is `undefined`, not an error), small blobs read whole, blobs and manifests
 * written, and the OCI 1.1 referrers of a manifest (the referrers API where the registry has it; its tag-schema
 * fallback, an index tagged `sha256-<hex>`, where it does not).
 */
import { MediaType } from '../../oci/mediatypes.ts';
import type { Reference } from '../../oci/reference.ts';
import type { Descriptor } from '../../oci/types.ts';
import { sha256 } from '../../util/digest.ts';
import { DataLossError, isBerthError, UnavailableError } from '../../util/errors.ts';
import { repoScope } from './auth.ts';
import { type FetchedManifest, openSession, type Session } from './client.ts';
import { endpointsFor, Transport } from './transport.ts';
import type { RegistryAuth, RegistryConfig } from './types.ts';

const MAX_SMALL_BLOB = 16 << 20;
/** Pages of the referrers API followed at most (a registry whose `Link`s never end is not followed forever). */
const MAX_REFERRER_PAGES = 1000;

/** One repository of one registry, for the length of a `withRepository` call. */
export class RemoteRepository {
  readonly #session: Session;
  readonly #path: string;
  readonly #signal: AbortSignal | undefined;

  constructor(session: Session, path: string, signal?: AbortSignal) {
    this.#session = session;
    this.#path = path;
    this.#signal = signal;
  }

  /** A manifest by tag or digest, or undefined when the repository has no such manifest. */
  async manifest(reference: string): Promise<FetchedManifest | undefined> {
    try {
      return await this.#session.manifest(this.#path, reference, this.#signal);
    } catch (err) {
      if (isBerthError(err) && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  /**
   * A manifest's descriptor by tag or digest, from a HEAD (no content is sent: a registry that refuses to send an
   * unsigned image's manifest still says what it is, which signing needs); a GET when the HEAD's headers fall short.
   */
  async describe(reference: string): Promise<Descriptor | undefined> {
    const h = await this.#session.headManifest(this.#path, reference, this.#signal);
    if (h === undefined) return undefined;
    if (h !== 'incomplete') return h as Descriptor;
    const m = await this.manifest(reference);
    return m ? ({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length } as Descriptor) : undefined;
  }

  /** A blob read whole (signature payloads, configs, SBOMs), checked against its digest. */
  async blob(digest: string, max = MAX_SMALL_BLOB): Promise<Buffer> {
    const res = await this.#session.blob(this.#path, digest, 0, this.#signal);
    const bytes = await res.bytes(
      max,
      () => new DataLossError(`blob ${digest} in ${this.#path} is larger than ${max} bytes`),
    );
    if (sha256(bytes) !== digest)
      throw new DataLossError(`blob ${digest} in ${this.#path}: the registry sent other content`);
    return bytes;
  }

  /** Uploads a blob unless the repository has it. */
  async putBlob(bytes: Buffer): Promise<Descriptor> {
    const digest = sha256(bytes);
    const scopes = [repoScope(this.#path, ['pull', 'push'])];
    const size = await this.#session.statBlob(this.#path, digest, scopes, this.#signal);
    if (size === undefined) {
      const up = await this.#session.startUpload(this.#path, scopes, undefined, this.#signal);
      if (!up.mounted) await this.#session.finishUpload(up.location, digest, bytes, scopes, this.#signal);
    }
    return { mediaType: 'application/octet-stream', digest, size: bytes.length } as Descriptor;
  }

  /** PUTs a manifest under a tag or its digest; returns its digest. */
  putManifest(reference: string, mediaType: string, bytes: Buffer): Promise<string> {
    return this.#session.putManifest(this.#path, reference, mediaType, bytes, this.#signal);
  }

  /**
   * The referrers of `digest` from the referrers API (`GET /v2/<name>/referrers/<digest>`, following `Link`
   * pagination), or undefined when the registry does not have the API (it answers 404 or 405 for the path).
   */
  async referrersApi(digest: string): Promise<Descriptor[] | undefined> {
    const out: Descriptor[] = [];
    let path: string | undefined = `/v2/${this.#path}/referrers/${digest}`;
    for (let page = 0; path; page++) {
      if (page >= MAX_REFERRER_PAGES)
        throw new UnavailableError(`referrers of ${digest} in ${this.#path}: more than ${MAX_REFERRER_PAGES} pages`);
      const res = await this.#session.request(path, {
        headers: { Accept: MediaType.OciIndex },
        scopes: [repoScope(this.#path, ['pull'])],
        ...(this.#signal ? { signal: this.#signal } : {}),
      });
      if (page === 0 && (res.status === 404 || res.status === 405 || res.status === 400)) {
        res.discard();
        return undefined;
      }
      if (res.status !== 200) return this.#session.fail(res, `referrers of ${digest} in ${this.#path}`);
      const type = String(res.headers['content-type'] ?? '');
      const text = await res.text(4 << 20);
      if (!type.startsWith(MediaType.OciIndex)) return page === 0 ? undefined : out;
      const doc = JSON.parse(text) as { manifests?: Descriptor[] };
      out.push(...(doc.manifests ?? []));
      const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      path = m ? new URL(m[1]!, res.url).href : undefined;
    }
    return out;
  }

  /** The referrers of `digest`: from the API, else from the fallback tag's index. */
  async referrers(digest: string): Promise<{ descriptors: Descriptor[]; api: boolean }> {
    const viaApi = await this.referrersApi(digest);
    if (viaApi) return { descriptors: viaApi, api: true };
    const idx = await this.manifest(fallbackTag(digest));
    if (!idx) return { descriptors: [], api: false };
    const doc = JSON.parse(idx.bytes.toString('utf8')) as { manifests?: Descriptor[] };
    return { descriptors: doc.manifests ?? [], api: false };
  }

  /**
   * Stores an artifact manifest whose `subject` is `subjectDigest` (blobs must be up already): by digest, and,
   * unless the registry answered with `OCI-Subject` (it keeps referrers itself), added to the fallback tag's
   * index. Returns the artifact's digest.
   */
  async putReferrer(
    subjectDigest: string,
    manifest: Buffer,
    artifactType: string,
    annotations?: Record<string, string>,
  ): Promise<string> {
    const digest = sha256(manifest);
    const res = await this.#session.request(`/v2/${this.#path}/manifests/${digest}`, {
      method: 'PUT',
      headers: { 'Content-Type': MediaType.OciManifest, 'Content-Length': String(manifest.length) },
      body: manifest,
      scopes: [repoScope(this.#path, ['pull', 'push'])],
      ...(this.#signal ? { signal: this.#signal } : {}),
    });
    res.discard();
    if (res.status !== 201 && res.status !== 200) return this.#session.fail(res, `manifest ${this.#path}@${digest}`);
    if (res.headers['oci-subject']) return digest;
    if (await this.referrersApi(subjectDigest)) return digest;
    const tag = fallbackTag(subjectDigest);
    const current = await this.manifest(tag);
    const manifests: Descriptor[] = current
      ? ((JSON.parse(current.bytes.toString('utf8')) as { manifests?: Descriptor[] }).manifests ?? [])
      : [];
    if (!manifests.some((m) => m.digest === digest)) {
      manifests.push({
        mediaType: MediaType.OciManifest,
        digest,
        size: manifest.length,
        artifactType,
        ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
      } as Descriptor);
    }
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }));
    await this.putManifest(tag, MediaType.OciIndex, index);
    return digest;
  }
}

/** The referrers tag schema's tag for a digest: `sha256-<hex>`. */
function fallbackTag(digest: string): string {
  return digest.replace(':', '-');
}

/**
 * Runs `fn` with the repository `ref` names (its domain and path), over one connection set that is closed after.
 * Mirrors are not used: artifacts are read from and written to the registry itself.
 */
export async function withRepository<T>(
  registry: RegistryConfig,
  ref: Pick<Reference, 'domain' | 'path'>,
  opts: { auth?: RegistryAuth | undefined; signal?: AbortSignal | undefined },
  fn: (repo: RemoteRepository) => Promise<T>,
): Promise<T> {
  const transport = new Transport(registry);
  try {
    const session = await openSession(transport, endpointsFor(registry, ref.domain, false), opts.auth, opts.signal);
    return await fn(new RemoteRepository(session, ref.path, opts.signal));
  } finally {
    transport.close();
  }
}
