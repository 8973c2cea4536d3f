import type { IncomingHttpHeaders } from 'node:http';
import { finished, type Readable } from 'node:stream';
import { InvalidArgumentError } from '../util/errors.ts';
import { parseJSONStream, type Reviver } from './jsonstream.ts';
import {
  Connections,
  type EngineAnswer,
  encodeQuery,
  errorFromResponse,
  escapePath,
  isJSON,
  parseHost,
  readText,
  sendHijack,
  sendRequest,
  type ClientTLS,
  type EngineEndpoint,
  type HijackedConnection,
  type Query,
  type RequestBody,
} from './transport.ts';
import type { Filters, JSONMessage, PingResult } from './types.ts';

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
  /** TLS to a TCP host (the CLI's --tls/--tlsverify, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH). */
  tls?: ClientTLS;
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
  /**
   * Before any negotiation, send at this client's own version rather than ping first (a request whose body can be
   * sent again: JSON or none); an engine that refuses that version gets the ping and the request again.
   */
  optimistic?: boolean;
}

/** A successful (2xx) response whose body has not been read yet. */
export interface EngineResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: EngineAnswer;
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

/** The API version to speak with an engine whose own is `server` (from a ping or `/version`): the lower of the two. */
export function negotiateVersion(server: string | undefined): string {
  const v = server ?? FALLBACK_API_VERSION;
  return compareVersions(v, MAX_API_VERSION) < 0 ? v : MAX_API_VERSION;
}

/**
 * The connection every call goes through: the endpoint and its connection pool, the API version (negotiated once,
 * lazily, from `HEAD /_ping` as docker's client does; every call then uses `/v1.xx/…` paths), and requests by the
 * kind of answer (JSON, none, a JSON-message stream, a hijacked connection). HTTP errors become BerthError
 * subclasses by status (see transport.ts `errorForStatus`). The calls are grouped by area in subclasses:
 * containers.ts, images.ts, and client.ts's EngineClient, which has them all.
 */
export class EngineConnection {
  readonly host: string;
  readonly #endpoint: EngineEndpoint;
  readonly #connections: Connections;
  readonly #userAgent: string;
  readonly #pinned: string | undefined;
  #negotiated: Promise<string> | undefined;
  #ping: PingResult | undefined;

  constructor(options: EngineClientOptions = {}) {
    this.host = options.host ?? DEFAULT_HOST;
    const endpoint = parseHost(this.host);
    this.#endpoint = endpoint.kind === 'tcp' && options.tls ? { ...endpoint, tls: options.tls } : endpoint;
    this.#connections = new Connections(this.#endpoint);
    this.#userAgent = options.userAgent ?? 'Berth-Client';
    this.#pinned = options.apiVersion;
  }

  /** Releases pooled connections. */
  close(): void {
    this.#connections.destroy();
  }

  /** The API version in use: pinned, or negotiated from a ping (once). */
  apiVersion(opts: CallOptions = {}): Promise<string> {
    if (this.#pinned !== undefined) return Promise.resolve(this.#pinned);
    this.#negotiated ??= this.ping(opts).then((p) => negotiateVersion(p.apiVersion));
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
    // Only the headers count: a body that fails to arrive is no failure of the ping.
    let res = await this.#send('HEAD', '/_ping', undefined, opts);
    await drain(res).catch(() => {});
    if (res.statusCode !== 200 && res.statusCode !== 500) {
      res = await this.#send('GET', '/_ping', undefined, opts);
      await drain(res).catch(() => {});
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
    const headers: Record<string, string> = { ...opts.headers };
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    if (
      opts.optimistic &&
      versioned &&
      this.#pinned === undefined &&
      this.#negotiated === undefined &&
      (body === undefined || typeof body === 'string' || body instanceof Uint8Array)
    ) {
      const first = await this.#send(
        method,
        `/v${MAX_API_VERSION}${path}${encodeQuery(opts.query)}`,
        body,
        opts,
        headers,
      );
      const status = first.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        // the engine speaks this version, so negotiation would settle on it (it never goes above this client's)
        this.#negotiated ??= Promise.resolve(MAX_API_VERSION);
        return { statusCode: status, headers: first.headers, body: first };
      }
      const err = await errorFromResponse(first);
      if (status !== 400 || !/client version .* is too new/i.test(err.message)) throw err;
    }
    const prefix = versioned ? `/v${await this.apiVersion(opts)}` : '';
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
    await drain((await this.request(method, path, opts)).body);
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
  ): Promise<EngineAnswer> {
    return sendRequest(this.#endpoint, this.host, this.#connections, {
      method,
      path,
      headers: { 'User-Agent': this.#userAgent, ...headers },
      ...(body !== undefined ? { body } : {}),
      signal: opts.signal,
    });
  }

  // ---- for the calls: a versioned request whose status the caller checks, and a hijacked connection ----

  protected async sendVersioned(method: string, path: string, opts: RequestOptions): Promise<EngineAnswer> {
    const prefix = `/v${await this.apiVersion(opts)}`;
    return this.#send(method, prefix + path + encodeQuery(opts.query), opts.body, opts, opts.headers);
  }

  protected async checkAndDrain(res: EngineAnswer): Promise<void> {
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await errorFromResponse(res);
    await drain(res);
  }

  protected async hijack(method: string, path: string, opts: RequestOptions): Promise<HijackedConnection> {
    const prefix = `/v${await this.apiVersion(opts)}`;
    return sendHijack(this.#endpoint, this.host, {
      method,
      path: prefix + path + encodeQuery(opts.query),
      headers: { 'User-Agent': this.#userAgent, ...opts.headers },
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      signal: opts.signal,
    });
  }
}

/** An object reference as a path segment; an empty one fails like docker's client ("value is empty"). */
export function objectPath(kind: string, id: string): string {
  const trimmed = id.trim();
  if (trimmed === '') throw new InvalidArgumentError(`invalid ${kind} name or ID: value is empty`);
  return escapePath(trimmed);
}

export function containerPath(id: string): string {
  return objectPath('container', id);
}

/**
 * Reads an answer to its end, discarding it, so that its connection goes back to node:http's pool before the next
 * request is sent (the request after a ping would otherwise open a second connection); a plain-socket answer's
 * connection closes with it. Rejects when the body fails, or is closed before its end.
 */
function drain(res: EngineAnswer): Promise<void> {
  res.resume();
  return new Promise((resolve, reject) => {
    finished(res, { writable: false }, (err) => (err ? reject(err) : resolve()));
  });
}

/** A non-JSON answer to a streaming call, as `stream` messages (docker prints such bodies verbatim). */
async function* textAsMessages(body: Readable): AsyncGenerator<JSONMessage> {
  for await (const chunk of body) {
    yield { stream: typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8') };
  }
}
