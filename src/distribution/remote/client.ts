/**
 * The registry HTTP API (OCI distribution spec v1.1 / Docker registry v2) on one endpoint: ping, manifests,
 * blobs (with Range), uploads (monolithic, chunked, cross-repository mount) and tag lists. Every request is
 * authorized for the scopes it needs, and retried once after a 401 with a fresh token.
 */
import {
  ConflictError,
  DataLossError,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
  isBerthError,
} from '../../util/errors.ts';
import { sha256, type Digest } from '../../util/digest.ts';
import { phase } from '../../util/trace.ts';
import { credentialsGo } from '../../util/credentials.ts';
import { MediaType } from '../../oci/mediatypes.ts';
import { Authorizer, registryErrorText, repoScope } from './auth.ts';
import {
  isProtocolMismatch,
  type Endpoint,
  type RegistryResponse,
  type RequestOptions,
  type Transport,
} from './transport.ts';
import type { KeptPings, RegistryAuth } from './types.ts';

/** Media types a pull accepts, preferred first. schema1 is listed so its refusal is explicit, not a 404. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
  MediaType.DockerSchema1Signed,
  MediaType.DockerSchema1,
].join(', ');

/** Manifests larger than this are refused (distribution's own limit is 4 MiB). */
const MAX_MANIFEST = 4 << 20;

/** A fetched manifest: its bytes exactly as served, media type and digest. */
export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

interface SessionRequest extends RequestOptions {
  /** Token scopes the request needs. */
  scopes: string[];
}

/**
 * How long the endpoint that answered a pull's `/v2/` is kept (`openSession`'s `kept`): a later pull's session there
 * skips the ping. Docker pings before every pull (and tries https first at an insecure registry, a round trip more);
 * containerd never pings and learns the challenge from the first 401. The kept endpoint is checked by the session's
 * first request (`Session.request`), so a registry that moved or went down answers as without it.
 */
export const PING_KEEP_MS = 5 * 60 * 1000;

const groupKey = (endpoints: Endpoint[]): string =>
  endpoints.map((e) => `${e.base} ${e.registry} ${e.skipVerify ? 'k' : ''}${e.mirror ? 'm' : ''}`).join('|');

/**
 * A connection to one endpoint of a registry, with its authorizer. Opened by `openSession`, which pings
 * `/v2/` and learns how the registry authenticates (or takes both from a recent ping: see PING_KEEP_MS).
 */
export class Session {
  readonly transport: Transport;
  #endpoint: Endpoint;
  #authorizer: Authorizer;
  /** Set on a session from a kept ping until its first request: the ping to run if that request fails. */
  #unconfirmed: { endpoints: Endpoint[]; auth: RegistryAuth | undefined; kept: KeptPings } | undefined;

  constructor(transport: Transport, endpoint: Endpoint, auth: RegistryAuth | undefined) {
    this.transport = transport;
    this.#endpoint = endpoint;
    this.#authorizer = new Authorizer(transport, endpoint, auth);
  }

  get endpoint(): Endpoint {
    return this.#endpoint;
  }

  get authorizer(): Authorizer {
    return this.#authorizer;
  }

  /** Marks a session made from a kept ping (`openSession`): its first request checks it. */
  unconfirmed(endpoints: Endpoint[], auth: RegistryAuth | undefined, kept: KeptPings): void {
    this.#unconfirmed = { endpoints, auth, kept };
  }

  /** `GET /v2/`: 200 needs no auth, 401 names the challenge. Anything else is an error. */
  async ping(signal?: AbortSignal): Promise<RegistryResponse> {
    // A registry that takes longer than the connect timeout to answer a ping counts as down.
    const res = await this.transport.request(this.endpoint, '/v2/', {
      signal,
      headersTimeoutMs: this.transport.connectTimeout,
    });
    const text = await res.text(1 << 16).catch(() => '');
    if (res.status === 401) {
      this.authorizer.learn(res.headers['www-authenticate']);
      return res;
    }
    if (res.status >= 200 && res.status < 300) return res;
    throw new UnavailableError(
      `${this.endpoint.base}/v2/ answered ${res.status}${registryErrorText(text) ? `: ${registryErrorText(text)}` : ''}: not a registry`,
    );
  }

  /**
   * Sends a request with authorization; after a 401, learns the challenge, drops the token and tries once more.
   * `path` is the endpoint's (`/v2/…`) or a URL the registry gave (an upload's location, a redirect, the next page):
   * the authorization goes only to the endpoint's own origin (util/credentials.ts), so not to storage elsewhere nor
   * after a downgrade to plain http, and only the endpoint's own 401 teaches the authorizer a challenge.
   */
  async request(path: string, opts: SessionRequest): Promise<RegistryResponse> {
    const u = this.#unconfirmed;
    if (u === undefined) return this.#request(path, opts);
    this.#unconfirmed = undefined;
    // The kept endpoint is confirmed by any answer a registry could give to the request. It is not by no answer, by
    // a 400 (what an https server answers a plain request: the endpoint changed scheme), or by a 404 without the
    // registry API's version header (another server on that port): then it is pinged as without the cache and the
    // request sent again, so the answer is the one a pull without the cache gets. Any other status stands, as a
    // registry may act on a request (a scan queued on a refused pull): sent twice, it would be seen twice. A body
    // that cannot be sent twice waits for the ping instead.
    if (opts.body === undefined || Buffer.isBuffer(opts.body)) {
      try {
        const res = await this.#request(path, opts);
        const foreign = res.status === 404 && res.headers['docker-distribution-api-version'] === undefined;
        if (res.status !== 400 && !foreign) return res;
        res.discard();
      } catch (err) {
        if (opts.signal?.aborted) throw err;
      }
    }
    u.kept.delete(groupKey(u.endpoints));
    const fresh = await openSession(this.transport, u.endpoints, u.auth, opts.signal ?? undefined, { kept: u.kept });
    this.#endpoint = fresh.endpoint;
    this.#authorizer = fresh.authorizer;
    return this.#request(path, opts);
  }

  async #request(path: string, opts: SessionRequest): Promise<RegistryResponse> {
    const canRetry = opts.body === undefined || Buffer.isBuffer(opts.body);
    const home = path.startsWith('/') || credentialsGo(new URL(this.endpoint.base), new URL(path, this.endpoint.base));
    for (let attempt = 0; ; attempt++) {
      const authz = home ? await this.authorizer.header(opts.scopes, opts.signal ?? undefined) : undefined;
      const headers = { ...opts.headers, ...(authz ? { Authorization: authz } : {}) };
      const res = await this.transport.request(this.endpoint, path, { ...opts, headers });
      if (res.status !== 401 || attempt > 0 || !canRetry || !home) return res;
      this.authorizer.learn(res.headers['www-authenticate']);
      this.authorizer.invalidate(opts.scopes);
      res.discard();
    }
  }

  /** Turns an error answer into the BerthError Docker's message would match. */
  async fail(res: RegistryResponse, what: string): Promise<never> {
    const text = await res.text(1 << 16).catch(() => '');
    const msg = registryErrorText(text);
    switch (res.status) {
      case 401:
        throw new UnauthorizedError(
          msg && /^unauthorized/.test(msg) ? msg : `unauthorized: ${msg ?? 'authentication required'}`,
        );
      case 403:
        throw new ForbiddenError(`${what}: ${msg ?? 'denied: requested access to the resource is denied'}`);
      case 404:
        throw new NotFoundError(`${what}: ${msg ?? 'not found'}`);
      case 400:
        throw new InvalidArgumentError(`${what}: ${msg ?? 'bad request'}`);
      case 409:
        throw new ConflictError(`${what}: ${msg ?? 'conflict'}`);
      case 416:
        throw new InvalidArgumentError(`${what}: ${msg ?? 'range not satisfiable'}`);
      default:
        throw new UnavailableError(`${what}: the registry answered ${res.status}${msg ? `: ${msg}` : ''}`);
    }
  }

  /** GETs (or HEADs) a manifest by tag or digest, verifying a digest reference and the registry's digest header. */
  async manifest(repo: string, reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const res = await this.request(`/v2/${repo}/manifests/${reference}`, {
      headers: { Accept: MANIFEST_ACCEPT },
      scopes: [repoScope(repo, ['pull'])],
      signal,
    });
    if (res.status !== 200) return this.fail(res, `manifest for ${reference} in ${repo}`);
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (declared > MAX_MANIFEST) {
      res.raw.destroy();
      throw new InvalidArgumentError(
        `manifest ${repo}:${reference} is ${declared} bytes, more than the ${MAX_MANIFEST} allowed`,
      );
    }
    const bytes = await res.bytes(
      MAX_MANIFEST,
      () => new InvalidArgumentError(`manifest ${repo}:${reference} is more than the ${MAX_MANIFEST} bytes allowed`),
    );
    const digest = sha256(bytes);
    if (reference.includes(':') && reference !== digest) {
      throw new DataLossError(
        `manifest verification failed for digest ${reference}: the registry sent content with digest ${digest}`,
      );
    }
    const header = res.headers['docker-content-digest'];
    if (typeof header === 'string' && header.startsWith('sha256:') && header !== digest) {
      throw new DataLossError(
        `manifest ${repo}:${reference}: the registry says its digest is ${header}, but its content has digest ${digest}`,
      );
    }
    let mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    try {
      const doc = JSON.parse(bytes.toString('utf8')) as {
        mediaType?: string;
        schemaVersion?: number;
        manifests?: unknown;
        config?: unknown;
      };
      if (doc.schemaVersion === 1) mediaType = MediaType.DockerSchema1Signed;
      else if (typeof doc.mediaType === 'string' && doc.mediaType) mediaType = doc.mediaType;
      else if (!/^application\/vnd\.(oci|docker)\./.test(mediaType))
        mediaType = doc.manifests ? MediaType.OciIndex : MediaType.OciManifest;
    } catch {
      throw new InvalidArgumentError(`manifest ${repo}:${reference} is not valid JSON`);
    }
    return { bytes, mediaType, digest };
  }

  /**
   * `HEAD` of a manifest by tag or digest: its descriptor from the answer's headers (digest, media type, size);
   * undefined when the repository has no such manifest, `incomplete` when the registry left a header out.
   */
  async headManifest(
    repo: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ digest: string; mediaType: string; size: number } | undefined | 'incomplete'> {
    const res = await this.request(`/v2/${repo}/manifests/${reference}`, {
      method: 'HEAD',
      headers: { Accept: MANIFEST_ACCEPT },
      scopes: [repoScope(repo, ['pull'])],
      signal,
    });
    res.discard();
    if (res.status === 404) return undefined;
    if (res.status < 200 || res.status >= 300) return this.fail(res, `manifest for ${reference} in ${repo}`);
    const digest = String(res.headers['docker-content-digest'] ?? '');
    const mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    const size = Number(res.headers['content-length'] ?? NaN);
    if (!/^sha256:[a-f0-9]{64}$/.test(digest) || !/^application\/vnd\.(oci|docker)\./.test(mediaType) || !(size > 0))
      return 'incomplete';
    if (reference.includes(':') && reference !== digest) return 'incomplete';
    return { digest, mediaType, size };
  }

  /** `HEAD` of a manifest: whether the repository has it (by digest or tag), with the digest the registry reports. */
  async statManifest(
    repo: string,
    reference: string,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const res = await this.request(`/v2/${repo}/manifests/${reference}`, {
      method: 'HEAD',
      headers: { Accept: MANIFEST_ACCEPT },
      scopes,
      signal,
    });
    res.discard();
    if (res.status === 404) return undefined;
    if (res.status >= 200 && res.status < 300) return String(res.headers['docker-content-digest'] ?? reference);
    return this.fail(res, `manifest ${reference} in ${repo}`);
  }

  /** `HEAD` of a blob: its size when the repository has it, undefined when not. */
  async statBlob(repo: string, digest: string, scopes: string[], signal?: AbortSignal): Promise<number | undefined> {
    const res = await this.request(`/v2/${repo}/blobs/${digest}`, { method: 'HEAD', scopes, signal });
    res.discard();
    if (res.status === 404) return undefined;
    if (res.status >= 200 && res.status < 300) return Number(res.headers['content-length'] ?? 0);
    return this.fail(res, `blob ${digest} in ${repo}`);
  }

  /** GETs a blob from byte `start` (a Range request when start > 0); resolves at its headers. */
  async blob(repo: string, digest: string, start: number, signal?: AbortSignal): Promise<RegistryResponse> {
    const headers: Record<string, string> = start > 0 ? { Range: `bytes=${start}-` } : {};
    let path = `/v2/${repo}/blobs/${digest}`;
    for (let hops = 0; hops < 5; hops++) {
      // Every hop through `request`, whose rule keeps the registry's authorization to the registry's own origin: a
      // redirect to storage (S3 and the like, whose URL carries its own authorization) or to plain http goes without.
      const res = await this.request(path, { headers, scopes: [repoScope(repo, ['pull'])], signal });
      if (res.status >= 300 && res.status < 400 && res.headers.location) {
        res.discard();
        path = new URL(res.headers.location, res.url).href;
        continue;
      }
      if (res.status === 200 || res.status === 206) return res;
      return this.fail(res, `blob ${digest} in ${repo}`);
    }
    throw new UnavailableError(`blob ${digest} in ${repo}: too many redirects`);
  }

  /** Tags of a repository, following `Link` pagination. */
  async tags(repo: string, signal?: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    let path: string | undefined = `/v2/${repo}/tags/list`;
    while (path) {
      const res: RegistryResponse = await this.request(path, { scopes: [repoScope(repo, ['pull'])], signal });
      if (res.status !== 200) return this.fail(res, `tags of ${repo}`);
      const doc = JSON.parse(await res.text()) as { tags?: string[] | null };
      out.push(...(doc.tags ?? []));
      const link = String(res.headers.link ?? '');
      const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
      path = m ? new URL(m[1]!, res.url).href : undefined;
    }
    return out;
  }

  /**
   * Starts an upload; with `mount`, asks for a cross-repository mount first. Resolves with `mounted` when the
   * registry mounted the blob, else with the upload's location.
   */
  async startUpload(
    repo: string,
    scopes: string[],
    mount?: { digest: string; from: string },
    signal?: AbortSignal,
  ): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const q = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : '';
    const res = await this.request(`/v2/${repo}/blobs/uploads/${q}`, {
      method: 'POST',
      headers: { 'Content-Length': '0' },
      body: Buffer.alloc(0),
      scopes,
      signal,
    });
    res.discard();
    if (res.status === 201 && mount) return { mounted: true };
    if (res.status !== 202) return this.fail(res, `starting an upload to ${repo}`);
    const loc = res.headers.location;
    if (!loc) throw new UnavailableError(`starting an upload to ${repo}: the registry sent no Location`);
    return { mounted: false, location: new URL(loc, res.url).href };
  }

  /** Ends an upload with PUT `?digest=`, with the last bytes (or all of them: a monolithic upload). */
  async finishUpload(
    location: string,
    digest: string,
    body: Buffer,
    scopes: string[],
    signal?: AbortSignal,
    onSent?: (n: number) => void,
  ): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const res = await this.request(url.href, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) },
      body,
      scopes,
      signal,
      ...(onSent ? { onSent } : {}),
    });
    res.discard();
    if (res.status !== 201) return this.fail(res, `blob ${digest}`);
  }

  /** PUTs a manifest under a tag or digest with its media type; returns the digest the registry reports. */
  async putManifest(
    repo: string,
    reference: string,
    mediaType: string,
    bytes: Buffer,
    signal?: AbortSignal,
  ): Promise<string> {
    const res = await this.request(`/v2/${repo}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) },
      body: bytes,
      scopes: [repoScope(repo, ['pull', 'push'])],
      signal,
    });
    res.discard();
    if (res.status !== 201 && res.status !== 200) return this.fail(res, `manifest ${repo}:${reference}`);
    const d = res.headers['docker-content-digest'];
    return typeof d === 'string' && d ? d : sha256(bytes);
  }
}

/**
 * Opens a session on the first endpoint that answers `/v2/` (https, then http for insecure registries).
 * Mirrors are not tried here: the caller walks them and falls back. Errors of the last endpoint are thrown.
 * `kept` (pulls): where the endpoint that answered is kept, and one that answered within PING_KEEP_MS is taken from,
 * without a ping.
 */
export async function openSession(
  transport: Transport,
  endpoints: Endpoint[],
  auth: RegistryAuth | undefined,
  signal?: AbortSignal,
  opts: { kept?: KeptPings } = {},
): Promise<Session> {
  const key = groupKey(endpoints);
  const kept = opts.kept?.get(key);
  const ep = kept && Date.now() - kept.at < PING_KEEP_MS ? endpoints[kept.index] : undefined;
  if (kept && ep && opts.kept) {
    const s = new Session(transport, ep, auth);
    if (kept.challenge !== undefined) s.authorizer.learn(kept.challenge);
    s.unconfirmed(endpoints, auth, opts.kept);
    return s;
  }
  let lastErr: unknown;
  for (let i = 0; i < endpoints.length; i++) {
    const ep = endpoints[i]!;
    const s = new Session(transport, ep, auth);
    try {
      // Timed for bench/pull-timeline.ts (only when something listens): each ping, the https attempt at a plain-HTTP
      // registry among them.
      const res = await phase(`registry.ping.${ep.base.startsWith('https:') ? 'https' : 'http'}`, '', () =>
        s.ping(signal),
      );
      if (opts.kept) {
        for (const [k, v] of opts.kept) if (Date.now() - v.at >= PING_KEEP_MS) opts.kept.delete(k);
        opts.kept.set(key, {
          at: Date.now(),
          index: i,
          challenge: res.status === 401 ? res.headers['www-authenticate'] : undefined,
        });
      }
      return s;
    } catch (err) {
      lastErr = err;
      const next = endpoints[i + 1];
      // https refused to speak to a plain-http registry: try the http endpoint of the same registry.
      if (next && ep.base.startsWith('https:') && next.base.startsWith('http:') && isProtocolMismatch(err)) continue;
      throw err;
    }
  }
  throw isBerthError(lastErr)
    ? lastErr
    : new UnavailableError(`no endpoint of the registry answered`, { cause: lastErr });
}
