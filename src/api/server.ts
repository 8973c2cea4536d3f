import type { IncomingMessage, Server, ServerResponse as Response } from 'node:http';
import type { TlsOptions } from 'node:tls';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { errorMessage } from '../util/errors.ts';
import { phaseEnd, phaseStart } from '../util/trace.ts';
import { httpStatus } from './errors.ts';
import { sendJSON, upgradeBodies, type Hijacked, type Request } from './http.ts';
import type { Router } from './router.ts';
import { API_VERSION, compareVersions, MAX_API_VERSION, MIN_API_VERSION } from './version.ts';

/**
 * node:http through `process.getBuiltinModule`: an ESM import of it builds a facade of every export, whose lazy
 * getters load undici (and with it http2, tls and webcrypto): about 13 MB of berthd's resident memory.
 */
const { createServer, ServerResponse } = process.getBuiltinModule('node:http');

export interface ServerOptions {
  router: Router;
  serverVersion: string;
  /**
   * Aborted when the daemon stops: connections that follow a container (attach, exec start, wait, logs, stats)
   * are closed then, since the containers outlive the daemon; other requests in flight
   * (a load, say) are waited for.
   */
  shutdown?: AbortSignal;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  /** Serve HTTPS with these (a TCP listener: `requestCert` + `rejectUnauthorized` for mutual TLS). */
  tls?: TlsOptions;
}

const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)$/;
// (The events stream ends itself, cleanly, on the same signal: see handlers/system.ts.)
const FOLLOWS = /^\/(?:containers\/[^/]+\/(?:attach|wait|logs|stats)|exec\/[^/]+\/start)$/;

/** The Engine API HTTP server: version prefix handling, common headers, routing, and errors → `{message}`. */
export function createApiServer(opts: ServerOptions): Server {
  const options = { keepAliveTimeout: 5000, requestTimeout: 0, headersTimeout: 60_000 };
  const onRequest = (req: IncomingMessage, res: Response) => {
    const t0 = phaseStart();
    if (t0 !== undefined) res.once('finish', () => phaseEnd(`api ${req.method} ${req.url}`, '', t0));
    void handle(opts, req, res);
  };
  // node:https (and with it tls) is loaded only for a TLS listener, as node:http is (see above).
  const server: Server = opts.tls
    ? process.getBuiltinModule('node:https').createServer({ ...options, ...opts.tls }, onRequest)
    : createServer(options, onRequest);
  // Requests with `Upgrade: tcp` (docker's attach and exec start) arrive here with the raw socket. A response
  // object is put on the socket so that errors before the hijack are ordinary JSON responses.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const res = new ServerResponse(req);
    res.assignSocket(socket);
    res.on('finish', () => socket.end());
    // Node does not parse the body of an upgrade request: read Content-Length bytes (exec start's JSON) and
    // hand them to the request as its body; what follows them is already the client's stdin.
    readUpgradeBody(req, socket, head).then(
      (rest) => void handle(opts, req, res, { socket, head: rest }),
      () => socket.destroy(),
    );
  });
  return server;
}

async function readUpgradeBody(req: IncomingMessage, socket: Socket, head: Buffer): Promise<Buffer> {
  const want = Number(req.headers['content-length'] ?? 0);
  let buf = head;
  while (buf.length < want) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (d: Buffer) => {
        socket.off('end', onEnd);
        socket.pause();
        resolve(d);
      };
      const onEnd = () => {
        socket.off('data', onData);
        resolve(null);
      };
      socket.once('data', onData);
      socket.once('end', onEnd);
      socket.resume();
    });
    if (chunk === null) break;
    buf = Buffer.concat([buf, chunk]);
  }
  upgradeBodies.set(req, buf.subarray(0, want));
  return buf.subarray(Math.min(want, buf.length));
}

function hijacker(
  raw: IncomingMessage,
  res: Response,
  upgrade: { socket: Socket; head: Buffer } | undefined,
): (contentType: string) => Hijacked {
  return (contentType) => {
    if (upgrade) {
      const { socket, head } = upgrade;
      res.detachSocket(socket);
      socket.write(
        `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
      );
      if (head.length > 0) socket.unshift(head);
      return { stream: socket, upgraded: true };
    }
    res.writeHead(200, { 'Content-Type': contentType });
    res.flushHeaders();
    return { stream: Duplex.from({ readable: raw, writable: res }), upgraded: false };
  };
}

async function handle(
  opts: ServerOptions,
  raw: IncomingMessage,
  res: Response,
  upgrade?: { socket: Socket; head: Buffer },
): Promise<void> {
  const url = new URL(raw.url ?? '/', 'http://berth');
  let path = url.pathname;
  let version = API_VERSION;
  res.setHeader('Server', `Berth/${opts.serverVersion} (linux)`);
  res.setHeader('Api-Version', API_VERSION);
  res.setHeader('Ostype', 'linux');
  res.setHeader('Docker-Experimental', 'false');
  const vm = VERSION_PREFIX.exec(path);
  if (vm) {
    version = vm[1]!;
    path = vm[2]!;
    if (compareVersions(version, MIN_API_VERSION) < 0) {
      sendJSON(res, 400, {
        message: `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
      });
      return;
    }
    if (compareVersions(version, MAX_API_VERSION) > 0) {
      sendJSON(res, 400, {
        message: `client version ${version} is too new. Maximum supported API version is ${MAX_API_VERSION}`,
      });
      return;
    }
  }
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const method = raw.method ?? 'GET';
  const match = opts.router.match(method, path);
  if (match === undefined || match === 'method') {
    sendJSON(res, 404, { message: 'page not found' });
    return;
  }
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  if (FOLLOWS.test(path) && opts.shutdown) {
    const close = () => {
      ac.abort();
      (upgrade?.socket ?? raw.socket)?.destroy();
    };
    if (opts.shutdown.aborted) close();
    else {
      opts.shutdown.addEventListener('abort', close, { once: true });
      res.on('close', () => opts.shutdown?.removeEventListener('abort', close));
    }
  }
  const req: Request = {
    raw,
    method,
    path,
    version,
    query: url.searchParams,
    params: match.params,
    signal: ac.signal,
    hijack: hijacker(raw, res, upgrade),
  };
  try {
    await match.handler(req, res);
  } catch (err) {
    const status = httpStatus(err);
    opts.log?.(status >= 500 ? 'error' : 'debug', `${method} ${raw.url}: ${status} ${errorMessage(err)}`);
    if (!res.headersSent) {
      if (status === 304) {
        res.writeHead(304);
        res.end();
      } else sendJSON(res, status, { message: errorMessage(err) });
    } else if (!res.writableEnded) {
      res.destroy(err as Error);
    }
  }
}
