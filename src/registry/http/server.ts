import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { RegistryError } from '../errors.ts';
import { sendError } from './respond.ts';

/** A part of the HTTP surface: `/v2/`, `/token`, `/admin/`. */
export interface Handler {
  /**
   * `base` is the URL the client addressed the registry at (with a mirror's path); `mirror` the project a mirror
   * path named (`/cache/v2/<repo>/…` is `/v2/cache/<repo>/…`), whose repositories the client knows without it.
   */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    base: string,
    mirror?: string,
  ): Promise<void>;
}

export interface Routes {
  v2: Handler;
  token?: Handler | undefined;
  admin?: Handler | undefined;
  /** The signatures API extension (`/extensions/v2/…`), when it is on. */
  extensions?: Handler | undefined;
}

export interface ServeOptions {
  tls?: { cert: Buffer | string; key: Buffer | string } | undefined;
  /** Called with each failed request that was the server's fault (5xx). */
  onError?: (err: unknown, req: IncomingMessage) => void;
}

const PROJECT =
  '((?!v2\\/|v2$|admin\\/|token|extensions\\/)[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)';
const PREFIXED_RE = new RegExp(`^\\/${PROJECT}\\/v2(\\/.*)?$`);
const PREFIXED_TOKEN_RE = new RegExp(`^\\/${PROJECT}\\/token\\/?$`);

/** The registry's HTTP(S) server: splits path and query, sends each request to its part. */
export function createRegistryServer(routes: Routes, opts: ServeOptions = {}): Server {
  const scheme = opts.tls ? 'https' : 'http';
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q < 0 ? url : url.slice(0, q);
    // A mirror URL with a path (`http://registry/cache` in berthd's registry-mirrors, containerd's override_path):
    // `/cache/v2/<repo>/…` is `/v2/cache/<repo>/…`, so a proxy project mirrors its upstream under its own name.
    // Its token service is `/cache/token` (the realm its challenges name), which grants `<repo>` as `cache/<repo>`:
    // the client asks for the scopes of the names it knows, and those are the ones without the project.
    let mirror: string | undefined;
    const prefixed = PREFIXED_RE.exec(path);
    if (prefixed) {
      mirror = prefixed[1]!;
      path = prefixed[2] === undefined || prefixed[2] === '/' ? '/v2/' : `/v2/${mirror}${prefixed[2]}`;
    } else {
      const token = PREFIXED_TOKEN_RE.exec(path);
      if (token) {
        mirror = token[1]!;
        path = '/token';
      }
    }
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const base = `${scheme}://${req.headers.host ?? 'localhost'}${mirror === undefined ? '' : `/${mirror}`}`;
    let handler: Handler | undefined;
    if (path.startsWith('/v2')) handler = routes.v2;
    else if (path === '/token' || path === '/token/') handler = routes.token;
    else if (path.startsWith('/admin/')) handler = routes.admin;
    else if (path.startsWith('/extensions/v2/')) handler = routes.extensions;
    if (!handler) {
      sendError(req, res, new RegistryError('NAME_UNKNOWN', `no route for ${req.method} ${path}`, { status: 404 }));
      return;
    }
    handler.handle(req, res, path, query, base, mirror).catch((err: unknown) => {
      opts.onError?.(err, req);
      sendError(req, res, err);
    });
  };
  const server = opts.tls ? createHttps({ cert: opts.tls.cert, key: opts.tls.key }, listener) : createHttp(listener);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  // Uploads of large layers take as long as they take.
  server.requestTimeout = 0;
  return server;
}

/** Listens on `host:port` (port 0: one from the kernel); resolves with the address bound. */
export function listen(server: Server, addr: string): Promise<AddressInfo> {
  const i = addr.lastIndexOf(':');
  const host = i <= 0 ? '0.0.0.0' : addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(i < 0 ? addr : addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid listen address "${addr}"`);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
