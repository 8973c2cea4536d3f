import type { Agent, IncomingHttpHeaders, IncomingMessage, RequestOptions as HttpRequestOptions } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BerthError,
  EngineStatusError,
  CanceledError,
  ConflictError,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  NotModifiedError,
  UnauthorizedError,
  UnavailableError,
} from '../util/errors.ts';
import { sendPlain } from './plain.ts';

/**
 * node:http, taken with `process.getBuiltinModule` when first needed: an ESM `import` of it builds a facade of every
 * export, whose lazy getters load undici (about 40 ms of each CLI start), and loading it at all costs a CLI command
 * ~3.5 ms that the plain-socket requests (plain.ts) do without.
 */
function http(): typeof import('node:http') {
  return process.getBuiltinModule('node:http');
}

/**
 * TLS to an engine's TCP listener, as the docker CLI's `--tls`/`--tlsverify` set it up: the CA to check the
 * engine against (verify), and the client certificate and key the engine asks for.
 */
export interface ClientTLS {
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function tlsRequestOptions(t: ClientTLS): Record<string, unknown> {
  return {
    rejectUnauthorized: t.verify,
    ...(t.ca ? { ca: t.ca } : {}),
    ...(t.cert ? { cert: t.cert } : {}),
    ...(t.key ? { key: t.key } : {}),
  };
}

/** A connection pool for one engine; keep-alive lets a command's requests share a connection. */
export function newAgent(endpoint?: EngineEndpoint): Agent {
  if (endpoint?.kind === 'tcp' && endpoint.tls) {
    const https = process.getBuiltinModule('node:https');
    return new https.Agent({ keepAlive: true, ...tlsRequestOptions(endpoint.tls) });
  }
  return new (http().Agent)({ keepAlive: true });
}

/**
 * An engine's connections: node:http's pool (made on first use) and the open plain-socket requests. `destroy`
 * ends them all.
 */
export class Connections {
  readonly #endpoint: EngineEndpoint;
  #agent: Agent | undefined;
  readonly plain = new Set<Socket>();

  constructor(endpoint: EngineEndpoint) {
    this.#endpoint = endpoint;
  }

  get agent(): Agent {
    this.#agent ??= newAgent(this.#endpoint);
    return this.#agent;
  }

  destroy(): void {
    this.#agent?.destroy();
    for (const socket of this.plain) socket.destroy();
    this.plain.clear();
  }
}

/** The request function for an endpoint: https for a TCP listener with TLS. */
function requestFor(endpoint: EngineEndpoint): typeof import('node:http').request {
  return endpoint.kind === 'tcp' && endpoint.tls
    ? (process.getBuiltinModule('node:https').request as typeof import('node:http').request)
    : http().request;
}

/** A node:http request's address options for `endpoint` (a pooled request's TLS options are its agent's). */
function target(endpoint: EngineEndpoint): HttpRequestOptions & { servername?: string } {
  return endpoint.kind === 'unix'
    ? // An empty TLS server name spares the agent from deriving one (an IPv6 check that costs ~5 ms once).
      { socketPath: endpoint.socketPath, host: 'localhost', servername: '' }
    : { host: endpoint.host, port: endpoint.port };
}

/** Where an engine listens: a unix socket or a TCP address (with TLS when set up). */
export type EngineEndpoint =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; tls?: ClientTLS };

/**
 * Parses `unix:///path`, `tcp://host:port` (also `http://`) as docker's `-H` does.
 * A TCP address without a port uses 2375.
 */
export function parseHost(host: string): EngineEndpoint {
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (socketPath === '') throw new InvalidArgumentError(`invalid host "${host}": no socket path`);
    return { kind: 'unix', socketPath };
  }
  const m = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(host);
  if (m === null) throw new InvalidArgumentError(`invalid host "${host}": expected unix:///path or tcp://host:port`);
  const name = m[1] ?? '';
  const port = m[2] === undefined ? 2375 : Number(m[2]);
  if (port < 1 || port > 65535) throw new InvalidArgumentError(`invalid host "${host}": bad port`);
  return { kind: 'tcp', host: name.replace(/^\[|\]$/g, ''), port };
}

export { EngineStatusError, isDaemonError } from '../util/errors.ts';

/** Maps an HTTP error status to the BerthError kind for it; the message is the engine's own. */
export function errorForStatus(statusCode: number, message: string): BerthError {
  const cause = new EngineStatusError(statusCode, message);
  switch (statusCode) {
    case 304:
      return new NotModifiedError(message, { cause });
    case 400:
      return new InvalidArgumentError(message, { cause });
    case 401:
      return new UnauthorizedError(message, { cause });
    case 403:
      return new ForbiddenError(message, { cause });
    case 404:
      return new NotFoundError(message, { cause });
    case 409:
      return new ConflictError(message, { cause });
    case 501:
      return new NotImplementedError(message, { cause });
    case 503:
      return new UnavailableError(message, { cause });
    default:
      return new BerthError(message, { cause });
  }
}

/** A query value: repeated keys for arrays, omitted when undefined. */
export type QueryValue = string | number | boolean | readonly string[] | undefined;
export type Query = Record<string, QueryValue>;

/** Encodes like Go's url.Values.Encode: keys sorted, QueryEscape rules (space as '+'). */
export function encodeQuery(query: Query | undefined): string {
  if (query === undefined) return '';
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? (value as readonly string[]) : [String(value)];
    for (const v of values) parts.push(`${queryEscape(key)}=${queryEscape(v)}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Escapes a path segment that may hold a reference (`r/x:1`, `a@sha256:…`), keeping `/`, `:` and `@`. */
export function escapePath(s: string): string {
  return encodeURIComponent(s).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/gi, '@');
}

export type RequestBody = Uint8Array | string | Readable | AsyncIterable<Uint8Array>;

export interface RawRequest {
  method: string;
  /** Full path including any version prefix and query. */
  path: string;
  headers?: Record<string, string>;
  body?: RequestBody;
  signal?: AbortSignal | undefined;
}

/** An answer whose body is read as a stream: node:http's IncomingMessage, or plain.ts's PlainResponse. */
export type EngineAnswer = Readable & { statusCode?: number | undefined; headers: IncomingHttpHeaders };

/** The methods a plain-socket request carries (with a fixed body or none). */
const PLAIN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);

/**
 * Sends one HTTP request to the engine and resolves with the response once its headers arrive.
 * Connection failures become UnavailableError with docker's wording; an aborted signal becomes CanceledError.
 * The status is not checked here. A request to a unix socket with a fixed body (or none) goes over a plain
 * socket (plain.ts), with the same answers and errors; the others through node:http.
 */
export function sendRequest(
  endpoint: EngineEndpoint,
  hostText: string,
  connections: Connections,
  req: RawRequest,
): Promise<EngineAnswer> {
  return new Promise<EngineAnswer>((resolve, reject) => {
    const signal = req.signal;
    if (signal?.aborted === true) {
      reject(new CanceledError('request canceled', { cause: signal.reason }));
      return;
    }
    const body = req.body;
    const fixed = fixedBody(body);
    if (endpoint.kind === 'unix' && (body === undefined || fixed !== undefined) && PLAIN_METHODS.has(req.method)) {
      sendPlainRequest(endpoint, hostText, connections, req, fixed, resolve, reject);
      return;
    }
    const headers: Record<string, string> = { ...req.headers };
    if (fixed !== undefined) headers['Content-Length'] = String(fixed.byteLength);
    const options: HttpRequestOptions = {
      method: req.method,
      path: req.path,
      headers,
      agent: connections.agent,
      ...target(endpoint),
    };
    let settled = false;
    const fail = (err: unknown): void => {
      watch.unwatch();
      if (settled) return;
      settled = true;
      reject(translateError(err, hostText, endpoint, req));
    };
    const r = requestFor(endpoint)(options, (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      watch.answered(res);
      resolve(res);
    });
    // The signal is watched here rather than given to http.request: there it would stay bound to the pooled
    // keep-alive socket and later destroy it with an error nobody listens to.
    const watch = watchSignal(signal, (err) => r.destroy(err));
    r.on('error', fail);
    if (body === undefined) {
      r.end();
    } else if (fixed !== undefined) {
      r.end(fixed);
    } else {
      const source = body instanceof Readable ? body : Readable.from(body as AsyncIterable<Uint8Array>);
      pipeline(source, r).catch((err: unknown) => {
        r.destroy();
        fail(err);
      });
    }
  });
}

/** sendRequest over a plain socket: the same abort handling, the same errors. */
function sendPlainRequest(
  endpoint: EngineEndpoint & { kind: 'unix' },
  hostText: string,
  connections: Connections,
  req: RawRequest,
  body: Uint8Array | undefined,
  resolve: (res: EngineAnswer) => void,
  reject: (err: unknown) => void,
): void {
  const cancel = sendPlain(
    { socketPath: endpoint.socketPath, method: req.method, path: req.path, headers: req.headers ?? {}, body },
    connections.plain,
    (res) => {
      watch.answered(res);
      resolve(res);
    },
    (err) => {
      watch.unwatch();
      reject(translateError(err, hostText, endpoint, req));
    },
  );
  const watch = watchSignal(req.signal, cancel);
}

/**
 * Ties a request to its signal until the answer's end: an abort before the answer cancels the request with a
 * CanceledError, one after it destroys the answer handed to `answered`. `unwatch` lets go of the signal.
 */
function watchSignal(
  signal: AbortSignal | undefined,
  cancel: (err: Error) => void,
): { answered: (res: Readable) => void; unwatch: () => void } {
  let response: Readable | undefined;
  const onAbort = (): void => {
    if (response !== undefined) response.destroy();
    else cancel(new CanceledError('request canceled', { cause: signal?.reason }));
  };
  const unwatch = (): void => signal?.removeEventListener('abort', onAbort);
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    answered: (res) => {
      response = res;
      res.once('close', unwatch);
    },
    unwatch,
  };
}

/** A request body that is bytes or text, as bytes; undefined for a stream (or no body). */
function fixedBody(body: RequestBody | undefined): Uint8Array | undefined {
  return typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? body : undefined;
}

const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOTSOCK',
]);

/** The request's URL as docker's Go client names it in errors: `http://%2Frun%2Fx.sock/v1.47/_ping`. */
function requestURL(endpoint: EngineEndpoint, req: RawRequest): string {
  const host =
    endpoint.kind === 'unix'
      ? encodeURIComponent(endpoint.socketPath)
      : `${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
  return `http://${host}${req.path}`;
}

function translateError(err: unknown, hostText: string, endpoint: EngineEndpoint, req: RawRequest): Error {
  const signal = req.signal;
  if (signal?.aborted === true || (err instanceof Error && err.name === 'AbortError')) {
    return new CanceledError('request canceled', { cause: err });
  }
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && CONNECT_ERRORS.has(code)) {
    return new UnavailableError(`Cannot connect to the Berth daemon at ${hostText}. Is berthd running?`, {
      cause: err,
    });
  }
  if (code === 'EACCES') {
    return new UnavailableError(`permission denied while trying to connect to the Berth daemon socket at ${hostText}`, {
      cause: err,
    });
  }
  if (code === 'ECONNRESET' && err instanceof Error && err.message === 'socket hang up') {
    // The engine closed the connection without an answer; docker's client reports it as an EOF of the request.
    const method = req.method.charAt(0) + req.method.slice(1).toLowerCase();
    return new UnavailableError(`error during connect: ${method} "${requestURL(endpoint, req)}": EOF`, { cause: err });
  }
  if (err instanceof Error) return err;
  return new BerthError(String(err));
}

/** Reads a whole response body as text. */
export async function readText(res: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Builds the error for a non-2xx response, using the `{"message": …}` body when there is one. */
export async function errorFromResponse(res: EngineAnswer): Promise<BerthError> {
  const status = res.statusCode ?? 0;
  let text = '';
  try {
    text = (await readText(res)).trim();
  } catch {
    // A body that fails to arrive leaves only the status to report.
  }
  let message = text;
  if (isJSON(res.headers)) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // Not JSON after all: keep the text.
    }
  }
  if (message === '') message = `${status} ${http().STATUS_CODES[status] ?? 'Unknown Status'}`;
  return errorForStatus(status, message);
}

export function isJSON(headers: IncomingHttpHeaders): boolean {
  const ct = headers['content-type'];
  return typeof ct === 'string' && /^application\/json\b/i.test(ct);
}

/** An upgraded (hijacked) connection: raw bytes both ways after the engine's `101 UPGRADED`. */
export interface HijackedConnection {
  /** Read the engine's output here; write stdin here, then `end()` it to half-close. */
  readonly socket: import('node:net').Socket;
  /** The answer's Content-Type (`application/vnd.docker.multiplexed-stream` or `…raw-stream`), if any. */
  readonly contentType: string | undefined;
}

/**
 * Sends a request asking for `Connection: Upgrade` / `Upgrade: tcp` over a fresh connection (never a
 * pooled one) and resolves with the raw socket once the engine answers 101. Bytes the engine sent right
 * after its headers are put back in front of the socket's stream. Any other status is an error with
 * docker's wording ("unable to upgrade to tcp, received 404").
 */
export function sendHijack(endpoint: EngineEndpoint, hostText: string, req: RawRequest): Promise<HijackedConnection> {
  return new Promise<HijackedConnection>((resolve, reject) => {
    const headers: Record<string, string> = { ...req.headers, Connection: 'Upgrade', Upgrade: 'tcp' };
    const body = req.body;
    const fixed = fixedBody(body);
    if (body !== undefined && fixed === undefined) throw new TypeError('a hijacked request takes a fixed body');
    headers['Content-Length'] = String(fixed?.byteLength ?? 0);
    const options: HttpRequestOptions = {
      method: req.method,
      path: req.path,
      headers,
      agent: false,
      // No agent: the TLS options go with the request.
      ...target(endpoint),
      ...(endpoint.kind === 'tcp' && endpoint.tls ? tlsRequestOptions(endpoint.tls) : {}),
    };
    let settled = false;
    const r = requestFor(endpoint)(options);
    const onAbort = (): void => {
      r.destroy();
    };
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      settled = true;
      req.signal?.removeEventListener('abort', onAbort);
    };
    r.on('upgrade', (res: IncomingMessage, socket: import('node:net').Socket, head: Buffer) => {
      if (settled) {
        socket.destroy();
        return;
      }
      done();
      if (head.length > 0) socket.unshift(head);
      const ct = res.headers['content-type'];
      resolve({ socket, contentType: typeof ct === 'string' ? ct : undefined });
    });
    r.on('response', (res: IncomingMessage) => {
      res.resume();
      if (settled) return;
      done();
      const status = res.statusCode ?? 0;
      reject(errorKindForStatus(status, `unable to upgrade to tcp, received ${status}`));
    });
    r.on('error', (err) => {
      if (settled) return;
      done();
      reject(translateError(err, hostText, endpoint, req));
    });
    r.end(fixed);
  });
}

/** The BerthError kind for a status, carrying a client-side message (not an engine answer). */
function errorKindForStatus(status: number, message: string): BerthError {
  switch (status) {
    case 400:
      return new InvalidArgumentError(message);
    case 404:
      return new NotFoundError(message);
    case 409:
      return new ConflictError(message);
    case 501:
      return new NotImplementedError(message);
    case 503:
      return new UnavailableError(message);
    default:
      return new BerthError(message);
  }
}
