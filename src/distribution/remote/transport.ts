/**
 * HTTP(S) to registries with node:http/https: keep-alive agents, TLS from certs.d (CAs and client
 * certificates), insecure registries (https without verification, then plain http), proxies from the
 * configuration (Node's own `proxyEnv` agents: CONNECT tunnels for https), and two timeouts: connecting, and
 * idleness of a response (headers or body) — so a registry that is down or hangs fails in bounded time.
 */
import type { ClientRequest, Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { drained } from '../../util/chunks.ts';
import { builtin } from '../../util/http-builtins.ts';
import { proxyFor } from '../../util/proxy.ts';
import {
  CanceledError,
  InvalidArgumentError,
  UnavailableError,
  errorMessage,
  isBerthError,
  isErrno,
} from '../../util/errors.ts';
import type { RegistryConfig } from './types.ts';

/** A response that sent nothing for the idle timeout: not resumed (a hung registry would hang again). */
export class IdleTimeoutError extends UnavailableError {}

/**
 * An endpoint's TLS settings, resolved once (`Transport.tlsSettings`) and used for every request made for the
 * endpoint, to its own host and to any host a redirect from it leads to: extra CAs (PEM) beside the system's, a
 * client key pair, and whether the server's certificate is verified at all. Plain data, so that the ingest thread,
 * which fetches a blob on its own, gets the very same (`FetchSource.tls`).
 */
export interface TlsSettings {
  ca?: string[];
  cert?: string;
  key?: string;
  verify: boolean;
}

/** Where requests for a registry go. */
export interface Endpoint {
  /** `https://host:port` or `http://host:port`, no trailing slash. */
  base: string;
  /** The registry's name as references spell it (`127.0.0.1:5000`, `docker.io`): certs.d and credentials key. */
  registry: string;
  /**
   * TLS without verifying the server's certificate (insecure registries): for the endpoint's own host and for the
   * hosts its redirects lead to. Set on an insecure registry's plain http endpoint too, as Docker does, for a
   * redirect from it to https.
   */
  skipVerify: boolean;
  /** A mirror of `registry` (pulls only). */
  mirror: boolean;
}

/** A response whose body has not been read yet. */
export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  url: string;
  /** The body, with the idle timeout and cancellation turned into BerthErrors. */
  body: AsyncIterable<Buffer>;
  /** The raw message, for `destroy()` and headers. */
  raw: IncomingMessage;
  /**
   * The whole body, at most `max` bytes (default 4 MiB): a longer one is cut off and fails with `tooLarge()`, or an
   * InvalidArgumentError saying so.
   */
  bytes(max?: number, tooLarge?: () => Error): Promise<Buffer>;
  /** `bytes` as UTF-8 text. */
  text(max?: number): Promise<string>;
  discard(): void;
}

/** A request's method, headers, body, cancellation and timeouts. */
export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A body: bytes, or a stream (send Content-Length in headers with it). */
  body?: Buffer | Readable | AsyncIterable<Uint8Array>;
  /**
   * Each chunk of a streamed body is handed to the socket before the next is asked for: for a source that fills
   * the same buffers again (a file read into reused buffers, which spares the collector a buffer per read).
   */
  writeEach?: boolean;
  signal?: AbortSignal | undefined;
  /** Upload progress: bytes of the body sent so far. */
  onSent?: (n: number) => void;
  /** The response headers must arrive within this time (default: the idle timeout). */
  headersTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT = 10_000;
const DEFAULT_IDLE_TIMEOUT = 60_000;
/** Errors meaning "TLS was spoken to something that is not TLS" or the connection broke at once. */
const TLS_FALLBACK_CODES = new Set([
  'EPROTO',
  'ECONNRESET',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ECONNREFUSED',
  'EPIPE',
]);

/** `docker.io` is served from `registry-1.docker.io`. */
export function registryHost(domain: string): string {
  return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
}

/** Splits `host[:port]` (IPv6 in brackets). */
function hostOnly(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const i = hostPort.lastIndexOf(':');
  return i > 0 ? hostPort.slice(0, i) : hostPort;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, p) => (a << 8) + Number(p), 0) >>> 0;
}

/** Whether `ip` is inside `cidr` (IPv4 only; an IPv6 CIDR matches only its exact address). */
function inCidr(ip: string, cidr: string): boolean {
  const [net, bitsStr] = cidr.split('/');
  if (!net || bitsStr === undefined) return false;
  if (isIP(ip) !== 4 || isIP(net) !== 4) return ip === net;
  const bits = Number(bitsStr);
  if (!(bits >= 0 && bits <= 32)) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (ipv4ToInt(ip) & mask) === (ipv4ToInt(net) & mask);
}

/** Whether a registry (`host[:port]`) may be reached without verified TLS. Loopback always may, as in Docker. */
export function isInsecure(config: RegistryConfig, registry: string): boolean {
  const host = hostOnly(registry);
  if (host === 'localhost' || host === '::1' || (isIP(host) === 4 && inCidr(host, '127.0.0.0/8'))) return true;
  for (const entry of config.insecureRegistries) {
    const e = entry.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
    if (e.includes('/')) {
      if (isIP(host) && inCidr(host, e)) return true;
    } else if (e === registry || e === host) return true;
  }
  return false;
}

/** Mirrors configured for a registry, as endpoint bases. */
function mirrorsOf(config: RegistryConfig, registry: string): string[] {
  const m = config.mirrors;
  const list = Array.isArray(m) ? (registry === 'docker.io' ? m : []) : (m[registry] ?? []);
  return list.map((u) => (/^https?:\/\//.test(u) ? u : `https://${u}`).replace(/\/+$/, ''));
}

/**
 * The endpoints to try for a registry: for pulls its mirrors first; then https (verified unless the registry is
 * insecure), and for insecure registries plain http after.
 */
export function endpointsFor(config: RegistryConfig, registry: string, pull: boolean): Endpoint[] {
  const out: Endpoint[] = [];
  if (pull) {
    for (const base of mirrorsOf(config, registry)) {
      const host = new URL(base).host;
      out.push({ base, registry, skipVerify: isInsecure(config, host), mirror: true });
    }
  }
  const host = registryHost(registry);
  const insecure = isInsecure(config, registry);
  out.push({ base: `https://${host}`, registry, skipVerify: insecure, mirror: false });
  if (insecure) out.push({ base: `http://${host}`, registry, skipVerify: true, mirror: false });
  return out;
}

/** Whether an error from `request` means the endpoint does not speak that protocol (try the next scheme). */
export function isProtocolMismatch(err: unknown): boolean {
  const cause = (err as { cause?: unknown })?.cause ?? err;
  const code = (cause as { code?: string })?.code ?? '';
  return (
    TLS_FALLBACK_CODES.has(code) ||
    /wrong version number|packet length too long|ssl3_get_record|EPROTO/i.test(errorMessage(cause))
  );
}

/**
 * One operation's connections. Agents keep connections alive for the operation; `close()` ends them.
 */
export class Transport {
  readonly config: RegistryConfig;
  readonly #agents = new Map<string, HttpAgent>();
  readonly #tls = new Map<string, TlsSettings>();
  readonly connectTimeout: number;
  readonly idleTimeout: number;

  constructor(config: RegistryConfig) {
    this.config = config;
    this.connectTimeout = config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT;
    this.idleTimeout = config.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT;
  }

  /**
   * The TLS settings of every request made for `ep`, whichever host it goes to (Docker's rule: a repository's
   * transport carries its endpoint's TLS configuration, and Go's client keeps the transport across redirects, so a
   * registry's CA, client certificate and skipped verification follow its redirects to storage). From certs.d under
   * the endpoint's own host (`*.crt` CAs, a `*.cert` + `*.key` client key pair) and its `skipVerify`. Read once per
   * endpoint for the transport's life.
   *
   * certs.d is read for an insecure endpoint too, where dockerd 20.10 does not read it (`newTLSConfig` reads it only
   * when the registry is secure): its client certificate is then presented to a registry that asks for one, so a
   * registry on loopback (always insecure) can require client certificates. For such an endpoint certs.d is an
   * extra that never fails a request, as Docker, which never reads it there: a client certificate without its key
   * or a file that cannot be read is left out (docs/design-notes.md, Registries).
   */
  tlsSettings(ep: Endpoint): TlsSettings {
    const id = `${ep.base} ${ep.skipVerify}`;
    let out = this.#tls.get(id);
    if (out) return out;
    try {
      out = this.#readCertsD(ep);
    } catch (err) {
      if (!ep.skipVerify) throw err;
      out = { verify: false };
    }
    this.#tls.set(id, out);
    return out;
  }

  #readCertsD(ep: Endpoint): TlsSettings {
    const out: TlsSettings = { verify: !ep.skipVerify };
    const dir = join(this.config.certsDir, new URL(ep.base).host.replace(/^\[|\](?=:|$)/g, ''));
    let names: string[] = [];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      if (!(isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EACCES'))) throw err;
    }
    const cas = names.filter((n) => n.endsWith('.crt')).map((n) => readFileSync(join(dir, n), 'utf8'));
    if (cas.length > 0) out.ca = cas;
    for (const n of names.filter((x) => x.endsWith('.cert'))) {
      const keyName = `${n.slice(0, -'.cert'.length)}.key`;
      if (!names.includes(keyName))
        throw new InvalidArgumentError(`missing key ${keyName} for client certificate ${join(dir, n)}`);
      out.cert = readFileSync(join(dir, n), 'utf8');
      out.key = readFileSync(join(dir, keyName), 'utf8');
      break;
    }
    return out;
  }

  #agent(url: URL, ep: Endpoint): HttpAgent {
    const key = url.protocol === 'https:' ? `${url.origin} ${ep.base} ${ep.skipVerify}` : url.origin;
    let agent = this.#agents.get(key);
    if (agent) return agent;
    // Agents are per origin: whether this one goes through a proxy is decided here, by the rule the threads' own
    // downloads follow too (util/proxy.ts), and Node's agent is given only the proxy, never its NO_PROXY rule.
    const via = proxyFor(url, this.config.proxy);
    const proxyEnv = via ? (url.protocol === 'https:' ? { HTTPS_PROXY: via } : { HTTP_PROXY: via }) : undefined;
    const common = { keepAlive: true, maxSockets: 32, ...(proxyEnv ? { proxyEnv } : {}) };
    if (url.protocol === 'https:') {
      const tls = this.tlsSettings(ep);
      agent = new builtin.https.Agent({
        ...common,
        ...(tls.ca ? { ca: [...builtin.tls.rootCertificates, ...tls.ca] } : {}),
        ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
        rejectUnauthorized: tls.verify,
        servername: isIP(url.hostname) ? '' : url.hostname,
      } as ConstructorParameters<typeof builtin.https.Agent>[0]);
    } else {
      agent = new builtin.http.Agent(common);
    }
    this.#agents.set(key, agent);
    return agent;
  }

  /**
   * Sends a request and resolves with the response once its headers arrive. A connection not made within the
   * connect timeout, or a response silent for the idle timeout (headers or body), fails with UnavailableError;
   * an abort with CanceledError.
   */
  request(ep: Endpoint, pathOrUrl: string, opts: RequestOptions = {}): Promise<RegistryResponse> {
    return this.#send(ep, pathOrUrl, opts, false);
  }

  #send(ep: Endpoint, pathOrUrl: string, opts: RequestOptions, isRetry: boolean): Promise<RegistryResponse> {
    // A path goes after the base's own path: a mirror may live under one (`http://registry/cache`).
    const url = pathOrUrl.startsWith('/')
      ? new URL(`${ep.base.replace(/\/+$/, '')}${pathOrUrl}`)
      : new URL(pathOrUrl, ep.base);
    const method = opts.method ?? 'GET';
    const label = `${method} ${url.href}`;
    if (opts.signal?.aborted) return Promise.reject(new CanceledError(`${label} was canceled`));
    const agent = this.#agent(url, ep);
    const send = url.protocol === 'https:' ? builtin.https.request : builtin.http.request;
    return new Promise<RegistryResponse>((resolve, reject) => {
      let failure: Error | undefined;
      const req = send(url, {
        method,
        headers: { 'User-Agent': 'berth/0.1 (docker compatible)', ...opts.headers },
        agent,
      });
      const fail = (err: Error) => {
        failure ??= err;
        req.destroy(failure);
      };
      const onAbort = () => fail(new CanceledError(`${label} was canceled`));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const headersTimeout = opts.headersTimeoutMs;
      const headersTimer =
        headersTimeout === undefined
          ? undefined
          : setTimeout(
              () => fail(new IdleTimeoutError(`${label}: no answer within ${headersTimeout / 1000} s`)),
              headersTimeout,
            );
      // The connect timer runs from when the agent hands the request a socket that is still connecting, not from
      // here: waiting for a free pooled socket (all busy with other downloads) is not "no connection".
      let connectTimer: ReturnType<typeof setTimeout> | undefined;
      req.on('socket', (socket) => {
        if (!(socket as { connecting?: boolean }).connecting) return; // a kept-alive socket, or already connected
        connectTimer = setTimeout(
          () => fail(new UnavailableError(`${label}: no connection within ${this.connectTimeout / 1000} s`)),
          this.connectTimeout,
        );
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      req.setTimeout(this.idleTimeout, () =>
        fail(new IdleTimeoutError(`${label}: the registry sent nothing for ${this.idleTimeout / 1000} s`)),
      );
      const done = () => {
        clearTimeout(connectTimer);
        clearTimeout(headersTimer);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      req.on('error', (err) => {
        done();
        // A kept-alive connection the server had closed: send an idempotent request once more, on a new one.
        const code = (err as { code?: string }).code;
        if (
          !failure &&
          req.reusedSocket &&
          (code === 'ECONNRESET' || code === 'EPIPE') &&
          opts.body === undefined &&
          (method === 'GET' || method === 'HEAD') &&
          !isRetry
        ) {
          resolve(this.#send(ep, pathOrUrl, opts, true));
          return;
        }
        reject(wrapNetError(failure ?? err, label));
      });
      req.on('response', (res) => {
        clearTimeout(connectTimer);
        clearTimeout(headersTimer);
        const body = (async function* (): AsyncGenerator<Buffer> {
          try {
            for await (const chunk of res) yield chunk as Buffer;
            if (!res.complete) throw new UnavailableError(`${label}: the connection closed before the end of the body`);
          } catch (err) {
            throw wrapNetError(failure ?? err, label);
          } finally {
            done();
          }
        })();
        res.on('end', done);
        res.on('close', done);
        const readAll = async (max = 4 << 20, tooLarge?: () => Error): Promise<Buffer> => {
          const chunks: Buffer[] = [];
          let n = 0;
          for await (const c of body) {
            n += c.length;
            if (n > max) {
              res.destroy();
              throw tooLarge?.() ?? new InvalidArgumentError(`${label}: response larger than ${max} bytes`);
            }
            chunks.push(c);
          }
          return Buffer.concat(chunks);
        };
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          url: url.href,
          body,
          raw: res,
          bytes: readAll,
          async text(max) {
            return (await readAll(max)).toString('utf8');
          },
          discard() {
            // Even a complete body must be read to its end, or the socket never returns to the pool.
            res.resume();
          },
        });
      });
      const body = opts.body;
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) {
        req.end(body);
        opts.onSent?.(body.length);
      } else {
        void (async () => {
          let sent = 0;
          try {
            for await (const chunk of body) {
              sent += chunk.length;
              if (opts.writeEach) await written(req, chunk);
              else if (!req.write(chunk)) await drained(req);
              opts.onSent?.(sent);
              if (failure || req.destroyed) return;
            }
            req.end();
          } catch (err) {
            fail(err instanceof Error ? err : new Error(String(err)));
          }
        })();
      }
    });
  }

  /** Ends the operation's kept-alive connections. */
  close(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
    this.#tls.clear();
  }
}

/** Resolves once `chunk` was handed to the socket (or the request failed: its error is the request's). */
function written(req: ClientRequest, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (req.destroyed) return resolve();
    const done = () => {
      req.off('close', done);
      resolve();
    };
    req.once('close', done);
    req.write(chunk, done);
  });
}

/** Network errors as BerthErrors: refused, unreachable, reset, TLS failures are UnavailableError. */
export function wrapNetError(err: unknown, label: string): Error {
  if (isBerthError(err)) return err;
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR')
    return new CanceledError(`${label} was canceled`, { cause: err });
  const what =
    e?.code === 'ECONNREFUSED'
      ? 'connection refused'
      : e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN'
        ? 'no such host'
        : (e?.message ?? String(err));
  return new UnavailableError(`${label}: ${what}`, { cause: err });
}
