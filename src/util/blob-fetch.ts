/**
 * A blob's bytes fetched over HTTP(S) by the thread that writes and hashes them, so that they never pass through
 * the calling thread: the content store's ingest thread (`IngestWriter.fetch`, a pull rule's blobs) and the unpack
 * readers (snapshots/reader.ts, a pull's layers). Over plain HTTP through a reader of the thread's own (`plainGet`:
 * one reused buffer, no allocation per read, which is where node:http's receipt spent its time), which leaves every
 * answer but a plain 200 to the caller; over HTTPS through node:https, following redirects. Node's built-ins only.
 */
import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import { type Socket, connect, isIP } from 'node:net';
import { credentialsGo } from './credentials.ts';
import { builtin } from './http-builtins.ts';
import { type ProxySettings, proxyFor } from './proxy.ts';

/** Where a blob's bytes come from: a GET of `url` with `headers`, answered 200 with the whole blob. */
export interface FetchSource {
  url: string;
  /**
   * Sent to `url`'s origin (scheme, host and port) only: a redirect elsewhere (to storage: S3 and the like) or to
   * plain http goes without them (util/credentials.ts).
   */
  headers: Record<string, string>;
  /**
   * For https, on every hop (the hosts redirects lead to as well as `url`'s): extra CA certificates (PEM) beside the
   * system's, a client key pair, and whether certificates are verified at all. The registry client's settings for
   * the endpoint `url` belongs to (`Transport.tlsSettings` in distribution/, which holds the rule), as they are.
   */
  tls?: { ca?: string[] | undefined; cert?: string | undefined; key?: string | undefined; verify: boolean } | undefined;
  /** The request fails when nothing comes for this long (ms). */
  idleMs: number;
  /** A new connection (with its TLS handshake) not made within this long fails the request (ms). */
  connectMs: number;
  /**
   * The proxies the source's client goes through (util/proxy.ts): a fetch takes none, so a redirect to a host that
   * would go through one fails (code `EPROXY`), for the caller to take the blob its client's way.
   */
  proxy?: ProxySettings | undefined;
}

/**
 * A blob another server holds: where to GET it, for a writer that fetches on its own thread (`IngestWriter.fetch`),
 * and how to read it on the caller's thread instead.
 */
export interface FetchableBlob {
  source: FetchSource;
  open(): Promise<AsyncIterable<Buffer>>;
}

/** Why a fetch failed, as the thread reports it: an HTTP status, or a network error's code. */
export class FetchFailure extends Error {
  readonly status: number | undefined;
  readonly code: string | undefined;
  constructor(message: string, opts: { status?: number | undefined; code?: string | undefined } = {}) {
    super(message);
    this.name = 'FetchFailure';
    this.status = opts.status;
    this.code = opts.code;
  }
}

/**
 * The code of a fetch that failed because the server sent nothing for `idleMs`: a hung server, which a caller does
 * not try again (the registry client does not resume after its idle timeout either).
 */
export const IDLE = 'EIDLE';

const MAX_REDIRECTS = 5;
/**
 * As the registry client's, marked with the thread's role: a source's access log tells the threads' own downloads
 * apart. One per thread (this module is loaded once in each), set by `fetchingAs`.
 */
let userAgent = 'berth/0.1 (docker compatible; ingest thread)';

/** Names the thread in the User-Agent of its downloads ("ingest thread" unless told otherwise). */
export function fetchingAs(role: string): void {
  userAgent = `berth/0.1 (docker compatible; ${role})`;
}

/** Kept-alive connections per origin and TLS settings, for the thread's life. */
const agents = new Map<string, HttpAgent>();

function agentFor(url: URL, tls: FetchSource['tls'] | undefined): HttpAgent {
  const key =
    url.protocol === 'https:'
      ? `${url.origin} ${tls?.verify ?? true} ${tls?.ca?.join('') ?? ''} ${tls?.cert ?? ''}`
      : url.origin;
  let a = agents.get(key);
  if (a) return a;
  const common = { keepAlive: true, maxSockets: 32 };
  a =
    url.protocol === 'https:'
      ? (new builtin.https.Agent({
          ...common,
          ...(tls?.ca ? { ca: [...builtin.tls.rootCertificates, ...tls.ca] } : {}),
          ...(tls?.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
          rejectUnauthorized: tls?.verify ?? true,
          servername: isIP(url.hostname) ? '' : url.hostname,
        }) as unknown as HttpAgent)
      : new builtin.http.Agent(common);
  agents.set(key, a);
  return a;
}

/** Ends every kept-alive connection (the thread is closing its files). */
export function closeAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
  for (const conns of idle.values()) for (const c of conns) c.socket.destroy();
  idle.clear();
}

/** What cancels a fetch under way: `stop` ends it with `reason`. */
export interface Cancel {
  reason?: Error;
  stop?: (err: Error) => void;
}

/**
 * GETs `url`, following redirects; resolves with the 200 response. `ended.error` is what the request was destroyed
 * with by its own timeout: once the response has begun, its body then fails only as "aborted" (ECONNRESET).
 */
function get(src: FetchSource, cancel: Cancel, ended: { error?: FetchFailure }): Promise<IncomingMessage> {
  const origin = new URL(src.url);
  const hop = (url: URL, left: number): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      if (cancel.reason) return reject(cancel.reason);
      // As the registry client: the source's headers (its authorization) go to its own origin only, never after a
      // downgrade to plain http (util/credentials.ts), and its TLS settings to every host, a redirect's to storage
      // included (distribution/remote/transport.ts, Docker's rule).
      if (proxyFor(url, src.proxy))
        return reject(new FetchFailure(`GET ${url.href}: goes through a proxy`, { code: 'EPROXY' }));
      const home = credentialsGo(origin, url);
      const send = url.protocol === 'https:' ? builtin.https.request : builtin.http.request;
      const req = send(url, {
        headers: { 'User-Agent': userAgent, ...(home ? src.headers : {}) },
        agent: agentFor(url, src.tls),
      });
      cancel.stop = (err) => req.destroy(err);
      // As the registry client: from when the agent hands over a socket still connecting (not while one waits for
      // a pooled socket) to its connection, or the end of its TLS handshake (a redirect may lead to plain http).
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => req.destroy(noConnection(url, src)), src.connectMs);
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      req.setTimeout(src.idleMs, () => {
        ended.error = new FetchFailure(`GET ${url.href}: nothing came for ${src.idleMs / 1000} s`, { code: IDLE });
        req.destroy(ended.error);
      });
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          err instanceof FetchFailure ? err : new FetchFailure(`GET ${url.href}: ${err.message}`, { code: err.code }),
        ),
      );
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location && left > 0) {
          res.resume();
          resolve(hop(new URL(res.headers.location, url), left - 1));
          return;
        }
        if (status !== 200) {
          res.resume();
          reject(new FetchFailure(`GET ${url.href} answered ${status}`, { status }));
          return;
        }
        resolve(res);
      });
      req.end();
    });
  return hop(origin, MAX_REDIRECTS);
}

function noConnection(url: URL, src: FetchSource): FetchFailure {
  return new FetchFailure(`GET ${url.href}: no connection within ${src.connectMs / 1000} s`, { code: 'ETIMEDOUT' });
}

/**
 * Fetches the blob and hands each chunk to `write` as it comes (synchronously: the next is read after it);
 * resolves with the bytes received. More than `max` bytes, a body cut short, a status other than 200 (after
 * redirects), no connection within `connectMs`, silence for `idleMs`, or `cancel.reason` set (then the request is
 * destroyed) fail it.
 */
export async function fetchInto(
  src: FetchSource,
  max: number,
  write: (chunk: Buffer) => void,
  cancel: Cancel,
): Promise<number> {
  if (src.url.startsWith('http:')) return plainGet(new URL(src.url), src, max, write, cancel, true);
  const ended: { error?: FetchFailure } = {};
  const res = await get(src, cancel, ended);
  const announced = Number(res.headers['content-length']);
  if (res.headers['content-length'] !== undefined && announced > max) {
    res.destroy();
    throw new FetchFailure(`GET ${src.url}: ${announced} bytes announced, ${max} expected`, { code: 'ETOOBIG' });
  }
  let n = 0;
  return new Promise((resolve, reject) => {
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      res.destroy();
      reject(err);
    };
    res.on('data', (chunk: Buffer) => {
      if (failed) return;
      n += chunk.length;
      if (n > max) return fail(new FetchFailure(`GET ${src.url}: more than ${max} bytes came`, { code: 'ETOOBIG' }));
      try {
        write(chunk);
      } catch (err) {
        fail(err as Error);
      }
    });
    res.on('end', () => {
      if (failed) return;
      if (!res.complete) fail(new FetchFailure(`GET ${src.url}: the connection closed before the end of the body`));
      else resolve(n);
    });
    res.on('error', (err: NodeJS.ErrnoException) =>
      fail(cancel.reason ?? ended.error ?? new FetchFailure(`GET ${src.url}: ${err.message}`, { code: err.code })),
    );
    res.on('close', () => {
      if (!res.complete)
        fail(cancel.reason ?? ended.error ?? new FetchFailure(`GET ${src.url}: the connection closed early`));
    });
  });
}

/**
 * One buffer every plain connection of the thread reads into (a socket's `onread`): each read is hashed and written
 * before the next, so nothing is allocated per read, where node:http makes a buffer of each (and the young
 * generation's collections that follow).
 */
const READ = Buffer.allocUnsafe(256 << 10);
const MAX_HEAD = 64 << 10;

interface Conn {
  socket: Socket;
  key: string;
  /** The fetch using the connection: its bytes, and its end (an error, or undefined when the peer closed). */
  data?: ((bytes: Buffer) => void) | undefined;
  closed?: ((err: (Error & { code?: string }) | undefined) => void) | undefined;
}

/** Kept-alive plain connections with no request, by `host:port`. */
const idle = new Map<string, Conn[]>();

function dial(url: URL): Conn {
  const key = url.host;
  const c: Conn = {
    key,
    socket: connect({
      host: url.hostname,
      port: Number(url.port || 80),
      onread: {
        buffer: READ,
        callback: (n: number) => {
          c.data?.(READ.subarray(0, n));
          return true;
        },
      },
    }),
  };
  let err: Error | undefined;
  c.socket.on('error', (e) => (err = e));
  c.socket.on('close', () => {
    const pool = idle.get(key);
    const at = pool?.indexOf(c) ?? -1;
    if (at >= 0) pool!.splice(at, 1);
    c.closed?.(err);
  });
  return c;
}

/**
 * A GET over plain HTTP/1.1 on a kept-alive connection of the thread's own, read through `READ`: the answer must be
 * a 200 with a `Content-Length` and no other transfer coding. Any other answer (a redirect, an error status, a
 * chunked body) fails with its status, for the caller to take the blob another way; a kept-alive connection the
 * peer had closed before answering is tried once more on a new one.
 */
function plainGet(
  url: URL,
  src: FetchSource,
  max: number,
  write: (chunk: Buffer) => void,
  cancel: Cancel,
  again: boolean,
): Promise<number> {
  return new Promise((resolve, reject) => {
    if (cancel.reason) return reject(cancel.reason);
    const pooled = idle.get(url.host)?.pop();
    const c = pooled ?? dial(url);
    let head: Buffer | undefined = Buffer.alloc(0);
    let left = 0;
    let n = 0;
    let keep = true;
    let over = false;
    const connecting = c.socket.connecting ? setTimeout(() => done(noConnection(url, src)), src.connectMs) : undefined;
    if (connecting) c.socket.once('connect', () => clearTimeout(connecting));
    // the idle timeout's listener goes with the request: a kept-alive connection serves many
    const idleOut = (): void =>
      done(new FetchFailure(`GET ${url.href}: nothing came for ${src.idleMs / 1000} s`, { code: IDLE }));
    const done = (err?: Error) => {
      if (over) return;
      over = true;
      clearTimeout(connecting);
      c.data = c.closed = undefined;
      c.socket.setTimeout(0, idleOut);
      if (err || !keep) c.socket.destroy();
      else {
        const pool = idle.get(c.key) ?? [];
        pool.push(c);
        idle.set(c.key, pool);
      }
      if (err) reject(err);
      else resolve(n);
    };
    const body = (b: Buffer) => {
      if (b.length > left) return done(new FetchFailure(`GET ${url.href}: more bytes came than announced`));
      write(b);
      n += b.length;
      left -= b.length;
      if (left === 0) done();
    };
    c.data = (bytes) => {
      try {
        if (head === undefined) return body(bytes);
        // Most heads come whole in the first read: read in place, not copied with the body's first bytes (up to
        // the size of READ) into a new buffer for every blob; a head cut across reads is kept in a copy.
        const all = head.length === 0 ? bytes : Buffer.concat([head, bytes]);
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) {
          head = Buffer.from(all);
          if (head.length > MAX_HEAD) done(new FetchFailure(`GET ${url.href}: the answer's head is too long`));
          return;
        }
        const lines = all.toString('latin1', 0, end).split('\r\n');
        const rest = all.subarray(end + 4);
        head = undefined;
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
        const fields = new Map<string, string>();
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) fields.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
        }
        const length = fields.get('content-length');
        keep = !/\bclose\b/i.test(fields.get('connection') ?? '') && lines[0]!.startsWith('HTTP/1.1');
        if (status !== 200 || length === undefined || fields.has('transfer-encoding') || !/^\d+$/.test(length)) {
          keep = false;
          return done(new FetchFailure(`GET ${url.href} answered ${status} (taken another way)`, { status }));
        }
        left = Number(length);
        if (left > max)
          return done(
            new FetchFailure(`GET ${url.href}: ${left} bytes announced, ${max} expected`, { code: 'ETOOBIG' }),
          );
        if (left === 0) return done();
        if (rest.length > 0) body(rest);
      } catch (err) {
        done(err as Error);
      }
    };
    c.closed = (err) => {
      // A kept-alive connection the peer closed before it answered: once more, on a new one.
      if (pooled && again && head !== undefined && head.length === 0 && !cancel.reason) {
        over = true;
        c.data = c.closed = undefined;
        resolve(plainGet(url, src, max, write, cancel, false));
        return;
      }
      done(
        cancel.reason ??
          new FetchFailure(`GET ${url.href}: the connection closed before the end of the body`, {
            code: err?.code ?? 'ECONNRESET',
          }),
      );
    };
    cancel.stop = (err) => done(err);
    c.socket.setTimeout(src.idleMs, idleOut);
    const fields = Object.entries(src.headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    c.socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: ${userAgent}\r\n${fields}Accept-Encoding: identity\r\n\r\n`,
    );
  });
}
