import type { Agent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { InvalidArgumentError } from '../util/errors.ts';
import { exactIntegers, parseJSONStream, type Reviver } from './jsonstream.ts';
import {
  encodeQuery,
  errorFromResponse,
  escapePath,
  isJSON,
  newAgent,
  parseHost,
  readText,
  sendRequest,
  type EngineEndpoint,
  type Query,
  type RequestBody,
} from './transport.ts';
import type {
  DiskUsage,
  EventMessage,
  Filters,
  ImageDeleteItem,
  ImageHistoryItem,
  ImageInspect,
  ImagePruneReport,
  ImageRollbackResult,
  ImageSummary,
  JSONMessage,
  PingResult,
  SystemInfo,
  SystemVersion,
  TagHistoryEntry,
} from './types.ts';

/** The newest API version this client speaks; negotiation only ever goes down from here. */
export const MAX_API_VERSION = '1.50';
/** Used when the engine's ping carries no `Api-Version` header (as docker's client does). */
export const FALLBACK_API_VERSION = '1.24';
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

export interface EngineClientOptions {
  /** `unix:///path` or `tcp://host:port`; defaults to {@link DEFAULT_HOST}. */
  host?: string;
  /** Pins the API version and turns negotiation off (like `DOCKER_API_VERSION`). */
  apiVersion?: string;
  userAgent?: string;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
}

export interface RequestOptions extends CallOptions {
  query?: Query;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** A JSON request body; sets Content-Type. */
  json?: unknown;
  /** Prefix the path with `/v1.xx` (default true). */
  versioned?: boolean;
}

/** A successful (2xx) response whose body has not been read yet. */
export interface EngineResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

export interface ImageListOptions extends CallOptions {
  all?: boolean;
  filters?: Filters;
  digests?: boolean;
  sharedSize?: boolean;
}

export interface ImageRemoveOptions extends CallOptions {
  force?: boolean;
  noPrune?: boolean;
}

export interface ImageLoadOptions extends CallOptions {
  quiet?: boolean;
}

export interface ImageImportOptions extends CallOptions {
  /** `-` when the tar comes in the request body (the default), else a URL the engine fetches. */
  source?: string;
  repo?: string;
  tag?: string;
  changes?: readonly string[];
  message?: string;
  platform?: string;
}

export interface EventsOptions extends CallOptions {
  since?: string;
  until?: string;
  filters?: Filters;
}

/** Encodes filters as the Engine API expects: `{"key":{"value":true}}`. */
export function encodeFilters(filters: Filters | undefined): string | undefined {
  if (filters === undefined) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    const set: Record<string, boolean> = (out[key] ??= {});
    for (const v of values) set[v] = true;
  }
  return Object.keys(out).length === 0 ? undefined : JSON.stringify(out);
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.parseInt(pa[i] ?? '0', 10) || 0;
    const y = Number.parseInt(pb[i] ?? '0', 10) || 0;
    if (x !== y) return x - y;
  }
  return 0;
}

/**
 * A typed Docker Engine API client over HTTP (unix socket or TCP). The API version is negotiated
 * once, lazily, from `HEAD /_ping` as docker's client does; every call then uses `/v1.xx/…` paths.
 * HTTP errors become BerthError subclasses by status (see transport.ts `errorForStatus`).
 */
export class EngineClient {
  readonly host: string;
  readonly #endpoint: EngineEndpoint;
  readonly #agent: Agent;
  readonly #userAgent: string;
  readonly #pinned: string | undefined;
  #negotiated: Promise<string> | undefined;
  #ping: PingResult | undefined;

  constructor(options: EngineClientOptions = {}) {
    this.host = options.host ?? DEFAULT_HOST;
    this.#endpoint = parseHost(this.host);
    this.#agent = newAgent();
    this.#userAgent = options.userAgent ?? 'Berth-Client';
    this.#pinned = options.apiVersion;
  }

  /** Releases pooled connections. */
  close(): void {
    this.#agent.destroy();
  }

  /** The API version in use: pinned, or negotiated from a ping (once). */
  apiVersion(opts: CallOptions = {}): Promise<string> {
    if (this.#pinned !== undefined) return Promise.resolve(this.#pinned);
    this.#negotiated ??= this.ping(opts).then((p) => {
      const server = p.apiVersion ?? FALLBACK_API_VERSION;
      return compareVersions(server, MAX_API_VERSION) < 0 ? server : MAX_API_VERSION;
    });
    // A failed negotiation is not cached: the next call tries again.
    this.#negotiated.catch(() => {
      this.#negotiated = undefined;
    });
    return this.#negotiated;
  }

  /** The headers of the last ping, if one was made. */
  get lastPing(): PingResult | undefined {
    return this.#ping;
  }

  /** `HEAD /_ping`, retried as `GET` when HEAD is refused; 200 and 500 answers both carry headers. */
  async ping(opts: CallOptions = {}): Promise<PingResult> {
    let res = await this.#send('HEAD', '/_ping', undefined, opts);
    res.resume();
    if (res.statusCode !== 200 && res.statusCode !== 500) {
      res = await this.#send('GET', '/_ping', undefined, opts);
      res.resume();
    }
    const h = res.headers;
    const one = (name: string): string | undefined => {
      const v = h[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const result: PingResult = {
      apiVersion: one('api-version'),
      osType: one('ostype'),
      experimental: one('docker-experimental') === 'true',
      builderVersion: one('builder-version'),
      swarmStatus: one('swarm'),
      server: one('server'),
    };
    this.#ping = result;
    return result;
  }

  /**
   * Sends any Engine API request and checks its status: 2xx resolves with the unread body, anything
   * else rejects with the mapped BerthError. Paths are given unversioned (`/containers/json`).
   */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<EngineResponse> {
    const versioned = opts.versioned ?? true;
    const prefix = versioned ? `/v${await this.apiVersion(opts)}` : '';
    const headers: Record<string, string> = { ...opts.headers };
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    const res = await this.#send(method, prefix + path + encodeQuery(opts.query), body, opts, headers);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await errorFromResponse(res);
    return { statusCode: status, headers: res.headers, body: res };
  }

  /** A request whose JSON answer is parsed and returned. */
  async requestJSON<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = await readText(res.body);
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** A request whose answer body is ignored. */
  async requestVoid(method: string, path: string, opts: RequestOptions = {}): Promise<void> {
    const res = await this.request(method, path, opts);
    res.body.resume();
    await new Promise<void>((resolve, reject) => {
      res.body.once('end', resolve);
      res.body.once('error', reject);
    });
  }

  /** A request whose answer is a JSON-message stream (load, import, pull, push, build, events). */
  async requestJSONStream<T = JSONMessage>(
    method: string,
    path: string,
    opts: RequestOptions & { reviver?: Reviver } = {},
  ): Promise<AsyncGenerator<T>> {
    const res = await this.request(method, path, opts);
    if (!isJSON(res.headers)) return textAsMessages(res.body) as AsyncGenerator<T>;
    return parseJSONStream<T>(res.body, opts.reviver);
  }

  #send(
    method: string,
    path: string,
    body: RequestBody | undefined,
    opts: CallOptions,
    headers: Record<string, string> = {},
  ): Promise<IncomingMessage> {
    return sendRequest(this.#endpoint, this.host, this.#agent, {
      method,
      path,
      headers: { 'User-Agent': this.#userAgent, ...headers },
      ...(body !== undefined ? { body } : {}),
      signal: opts.signal,
    });
  }

  // ---- system ----

  version(opts: CallOptions = {}): Promise<SystemVersion> {
    return this.requestJSON<SystemVersion>('GET', '/version', opts);
  }

  info(opts: CallOptions = {}): Promise<SystemInfo> {
    return this.requestJSON<SystemInfo>('GET', '/info', opts);
  }

  systemDf(opts: CallOptions = {}): Promise<DiskUsage> {
    return this.requestJSON<DiskUsage>('GET', '/system/df', opts);
  }

  /**
   * `GET /events`: a stream that ends at `until` (or never, until the signal aborts). `timeNano`
   * arrives as a bigint when it is too large for an exact number.
   */
  events(opts: EventsOptions = {}): Promise<AsyncGenerator<EventMessage>> {
    return this.requestJSONStream<EventMessage>('GET', '/events', {
      query: { since: opts.since, until: opts.until, filters: encodeFilters(opts.filters) },
      signal: opts.signal,
      reviver: exactIntegers,
    });
  }

  // ---- images ----

  imageList(opts: ImageListOptions = {}): Promise<ImageSummary[]> {
    return this.requestJSON<ImageSummary[]>('GET', '/images/json', {
      query: {
        all: opts.all === true ? '1' : undefined,
        filters: encodeFilters(opts.filters),
        digests: opts.digests === true ? '1' : undefined,
        'shared-size': opts.sharedSize === true ? '1' : undefined,
      },
      signal: opts.signal,
    });
  }

  imageInspect(name: string, opts: CallOptions = {}): Promise<ImageInspect> {
    return this.requestJSON<ImageInspect>('GET', `/images/${escapePath(name)}/json`, opts);
  }

  /** The inspect answer as the engine sent it (for byte-faithful re-indentation). */
  async imageInspectRaw(name: string, opts: CallOptions = {}): Promise<string> {
    const res = await this.request('GET', `/images/${escapePath(name)}/json`, opts);
    return readText(res.body);
  }

  imageHistory(name: string, opts: CallOptions = {}): Promise<ImageHistoryItem[]> {
    return this.requestJSON<ImageHistoryItem[]>('GET', `/images/${escapePath(name)}/history`, opts);
  }

  /** `POST /images/{name}/tag?repo=&tag=`; `target` is `repo[:tag]`, the tag defaulting to `latest`. */
  imageTag(source: string, target: string, opts: CallOptions = {}): Promise<void> {
    if (target.includes('@')) throw new InvalidArgumentError('refusing to create a tag with a digest reference');
    const { repo, tag } = splitRepoTag(target);
    return this.requestVoid('POST', `/images/${escapePath(source)}/tag`, {
      query: { repo, tag: tag ?? 'latest' },
      signal: opts.signal,
    });
  }

  imageRemove(name: string, opts: ImageRemoveOptions = {}): Promise<ImageDeleteItem[]> {
    return this.requestJSON<ImageDeleteItem[]>('DELETE', `/images/${escapePath(name)}`, {
      query: { force: opts.force === true ? '1' : undefined, noprune: opts.noPrune === true ? '1' : undefined },
      signal: opts.signal,
    });
  }

  /** `POST /images/load`: streams the tar up, yields the engine's JSON messages. */
  imageLoad(tar: RequestBody, opts: ImageLoadOptions = {}): Promise<AsyncGenerator<JSONMessage>> {
    return this.requestJSONStream('POST', '/images/load', {
      query: { quiet: opts.quiet === true ? '1' : '0' },
      headers: { 'Content-Type': 'application/x-tar' },
      body: tar,
      signal: opts.signal,
    });
  }

  /** `GET /images/get?names=…`: the docker-archive tar as a byte stream. */
  async imageSave(names: readonly string[], opts: CallOptions = {}): Promise<Readable> {
    const res = await this.request('GET', '/images/get', { query: { names }, signal: opts.signal });
    return res.body;
  }

  /** `POST /images/create?fromSrc=…`: a root filesystem tar (body) or URL becomes an image. */
  imageImport(tar: RequestBody | undefined, opts: ImageImportOptions = {}): Promise<AsyncGenerator<JSONMessage>> {
    return this.requestJSONStream('POST', '/images/create', {
      query: {
        fromSrc: opts.source ?? '-',
        repo: opts.repo,
        tag: opts.tag,
        message: opts.message,
        platform: opts.platform,
        changes: opts.changes !== undefined && opts.changes.length > 0 ? opts.changes : undefined,
      },
      ...(tar !== undefined ? { body: tar, headers: { 'Content-Type': 'application/x-tar' } } : {}),
      signal: opts.signal,
    });
  }

  imagePrune(filters: Filters = {}, opts: CallOptions = {}): Promise<ImagePruneReport> {
    return this.requestJSON<ImagePruneReport>('POST', '/images/prune', {
      query: { filters: encodeFilters(filters) },
      signal: opts.signal,
    });
  }

  /** Berth addition: points `name` (`repo:tag`) back at an earlier digest (default: the previous one). */
  imageRollback(name: string, opts: CallOptions & { to?: string } = {}): Promise<ImageRollbackResult> {
    return this.requestJSON<ImageRollbackResult>('POST', `/images/${escapePath(name)}/rollback`, {
      query: { to: opts.to },
      signal: opts.signal,
    });
  }

  /** Berth addition: what a tag pointed at over time, newest first. */
  imageTagHistory(name: string, opts: CallOptions = {}): Promise<TagHistoryEntry[]> {
    return this.requestJSON<TagHistoryEntry[]>('GET', `/images/${escapePath(name)}/taghistory`, opts);
  }
}

/** Splits `repo[:tag]`, where a `:` before the last `/` belongs to a registry port. */
export function splitRepoTag(ref: string): { repo: string; tag: string | undefined } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: undefined };
}

/** A non-JSON answer to a streaming call, as `stream` messages (docker prints such bodies verbatim). */
async function* textAsMessages(body: Readable): AsyncGenerator<JSONMessage> {
  for await (const chunk of body) {
    yield { stream: typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8') };
  }
}
