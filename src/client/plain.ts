import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { hasControl, ResponseParser, TOKEN } from './wire.ts';

/**
 * One HTTP/1.1 request over a fresh unix-socket connection, written and parsed here rather than by node:http: a
 * CLI command makes one or two requests, and node:http's loading and first request cost it ~10 ms of CPU where a
 * socket costs ~5 (bench/README.md, issue 9). Only what node:http would send for the same call: the caller's
 * headers, `Host: localhost`, `Content-Length` for a fixed body (0 for a bodiless POST/PUT), and
 * `Connection: close` in place of keep-alive, so each answer ends with its connection. Streaming request bodies,
 * upgrades, TCP and TLS stay with node:http (transport.ts).
 */

/** The answer: node:http's IncomingMessage as far as the engine client reads one. */
export class PlainResponse extends Readable {
  statusCode = 0;
  statusMessage = '';
  headers: IncomingHttpHeaders = {};
  rawHeaders: string[] = [];
  trailers: IncomingHttpHeaders = {};
  rawTrailers: string[] = [];
  readonly httpVersion = '1.1';
  /** True once the whole body has arrived. */
  complete = false;
  readonly #socket: Socket;

  constructor(socket: Socket) {
    super();
    this.#socket = socket;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#socket.destroy();
    cb(err);
  }
}

/** What node:http refuses in a header value: a control character other than a tab, or one above U+00FF. */
function badValue(value: string): boolean {
  return hasControl(value) || /[\u0100-\uffff]/.test(value);
}

function codeError(code: string, message: string): TypeError {
  const err = new TypeError(message) as TypeError & { code: string };
  err.code = code;
  return err;
}

/** The request's head as node:http would write it, with `Connection: close`; throws on what node:http refuses. */
export function requestHead(
  method: string,
  path: string,
  headers: Record<string, string>,
  bodyLength: number | undefined,
): string {
  if (/[^\u0021-\u00ff]/.test(path))
    throw codeError('ERR_UNESCAPED_CHARACTERS', 'Request path contains unescaped characters');
  let head = `${method} ${path} HTTP/1.1\r\n`;
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    // A header name node:http would send; anything else it refuses with ERR_INVALID_HTTP_TOKEN.
    if (!TOKEN.test(name))
      throw codeError('ERR_INVALID_HTTP_TOKEN', `Header name must be a valid HTTP token ["${name}"]`);
    if (badValue(value)) throw codeError('ERR_INVALID_CHAR', `Invalid character in header content ["${name}"]`);
    seen.add(name.toLowerCase());
    head += `${name}: ${value}\r\n`;
  }
  if (!seen.has('host')) head += 'Host: localhost\r\n';
  if (!seen.has('connection')) head += 'Connection: close\r\n';
  if (!seen.has('content-length')) {
    if (bodyLength !== undefined) head += `Content-Length: ${bodyLength}\r\n`;
    else if (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') head += 'Content-Length: 0\r\n';
  }
  return `${head}\r\n`;
}

export interface PlainRequest {
  socketPath: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | undefined;
}

/**
 * Sends the request; `onResponse` gets the answer once its head is read, `onError` a failure before that (the
 * connection's own errors, with node:http's codes, or a malformed answer). A failure within the body destroys the
 * response with it, as node:http does (`aborted`, ECONNRESET). `live` holds the connection while it is open.
 * Returns a function that cuts the request short.
 */
export function sendPlain(
  req: PlainRequest,
  live: Set<Socket>,
  onResponse: (res: PlainResponse) => void,
  onError: (err: Error) => void,
): (err: Error) => void {
  const head = requestHead(req.method, req.path, req.headers, req.body?.byteLength);
  const net = process.getBuiltinModule('node:net');
  const socket = net.createConnection(req.socketPath);
  live.add(socket);
  let res: PlainResponse | undefined;
  let failed = false;
  const fail = (err: Error): void => {
    if (failed) return;
    failed = true;
    socket.destroy();
    if (res === undefined) onError(err);
    else if (!res.complete) res.destroy(err);
  };
  const parser = new ResponseParser(req.method, {
    head(h) {
      res = new PlainResponse(socket);
      res.statusCode = h.statusCode;
      res.statusMessage = h.statusMessage;
      res.headers = h.headers;
      res.rawHeaders = h.rawHeaders;
      onResponse(res);
    },
    data(chunk) {
      // The parser's slices of what the socket read, as node:http hands them on (a socket never reuses a chunk it
      // emitted). Read no more until the reader wants it.
      if (res !== undefined && !res.push(chunk)) socket.pause();
    },
    end(trailers, rawTrailers) {
      if (res === undefined) return;
      res.trailers = trailers;
      res.rawTrailers = rawTrailers;
      res.complete = true;
      res.push(null);
      socket.destroy();
    },
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      parser.feed(chunk);
    } catch (err) {
      fail(err as Error);
    }
  });
  socket.on('error', (err) => fail(err));
  // The connection's end (the engine's close, which ends a close-framed body, or a cut) is read once, at its close.
  socket.on('close', () => {
    live.delete(socket);
    try {
      parser.close();
    } catch (err) {
      fail(err as Error);
    }
  });
  socket.write(req.body === undefined ? head : Buffer.concat([Buffer.from(head, 'latin1'), req.body]));
  return fail;
}
