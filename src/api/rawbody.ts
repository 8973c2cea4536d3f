/**
 * Request bodies read off the socket by the server itself, without node:http's parser: for the requests that
 * stream large archives in (`POST /images/load`, `POST /images/create?fromSrc=-`). The parser hands each piece of a
 * body to JavaScript as a new copy (a malloc'd buffer per piece of up to 64 KiB, garbage until V8's next young
 * collection), through an IncomingMessage stream; here the socket's own read buffers are handed on as views, with
 * the HTTP framing (Content-Length, or chunked as the docker CLI sends it) taken off (bench/README.md, "Data path").
 *
 * How the socket is taken: the server's per-connection parser calls `onIncoming` with a request's head; for such a
 * request it is answered as node:http answers an upgrade (`req.upgrade`, return 2: the parser stops at the end of the
 * head, lets go of the socket and the server emits 'upgrade' with the bytes read past the head), and the server
 * serves the request from its 'upgrade' handler with this module's body. The connection is then the request's own:
 * the response says `Connection: close`, and the socket is ended once the response is written.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { InvalidArgumentError } from '../util/errors.ts';

/** Requests whose body is read here: marked when their head is parsed, served from the 'upgrade' event. */
export const rawBodyRequests = new WeakSet<IncomingMessage>();

const RAW_PATH = /^(?:\/v\d+\.\d+)?\/images\/(load|create)(?:\?(.*))?$/;

/** Whether a request streams an archive in: `POST /images/load`, `POST /images/create?fromSrc=-`. */
export function wantsRawBody(method: string | undefined, url: string | undefined): boolean {
  if (method !== 'POST' || url === undefined) return false;
  const m = RAW_PATH.exec(url);
  if (m === null) return false;
  if (m[1] === 'load') return true;
  return new URLSearchParams(m[2] ?? '').get('fromSrc') === '-';
}

interface ParserLike {
  onIncoming?: ((req: IncomingMessage, keepAlive: boolean) => unknown) | null;
}

/**
 * Has the server's parser of this connection (node:http's, set by its own 'connection' listener, which runs first)
 * hand over the socket after the head of a request that `wantsRawBody`. A connection still answering an earlier
 * request keeps the parser (its response owns the socket until it is written). TLS connections get their parser
 * later and keep it.
 */
export function takeRawBodies(socket: Socket): void {
  const parser = (socket as Socket & { parser?: ParserLike }).parser;
  const onIncoming = parser?.onIncoming;
  if (parser === undefined || typeof onIncoming !== 'function') return;
  parser.onIncoming = function (this: unknown, req: IncomingMessage & { upgrade?: boolean }, keepAlive: boolean) {
    const busy = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
    if (!req.upgrade && (busy === null || busy === undefined) && wantsRawBody(req.method, req.url)) {
      req.upgrade = true;
      rawBodyRequests.add(req);
      return 2;
    }
    return onIncoming.call(this, req, keepAlive);
  };
}

/** Bytes of a read-ahead the socket may hold before it is paused (its reads are up to 64 KiB). */
const HIGH_WATER = 256 << 10;
/** A chunk-size line (with extensions) or a trailer line longer than this is refused. */
const MAX_LINE = 16 << 10;

/**
 * The socket's reads as they come, `head` (what the parser read past the request's head) first; paused while the
 * consumer is HIGH_WATER behind (the backpressure goes back to the client through the socket's buffers). A socket
 * that ends or closes before the body did is an 'aborted' error, as node:http's request stream gives.
 */
class SocketReads {
  readonly #socket: Socket;
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  readonly #onData = (d: Buffer): void => {
    this.#queue.push(d);
    this.#queued += d.length;
    if (this.#queued >= HIGH_WATER) this.#socket.pause();
    this.#notify();
  };
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#notify();
  };
  readonly #onError = (err: Error): void => {
    this.#error ??= err;
    this.#notify();
  };

  constructor(socket: Socket, head: Buffer) {
    this.#socket = socket;
    if (head.length > 0) {
      this.#queue.push(head);
      this.#queued = head.length;
    }
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
    socket.resume();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** The next read; null once the socket ended (or closed). */
  async next(): Promise<Buffer | null> {
    for (;;) {
      const d = this.#queue.shift();
      if (d !== undefined) {
        this.#queued -= d.length;
        if (this.#queued < HIGH_WATER && this.#socket.isPaused() && !this.#ended) this.#socket.resume();
        return d;
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Stops reading for the body: the socket is paused, what was read and not taken stays unread. */
  release(): void {
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onError);
    this.#socket.pause();
    this.#notify();
  }
}

function aborted(): Error {
  return Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
}

/**
 * A request's body read off `socket` (the connection taken as above), `head` being what the parser read past the
 * request's head: the socket's own buffers as views, the HTTP framing taken off. `Transfer-Encoding: chunked` (the
 * docker CLI's) or `Content-Length`; neither is an empty body. Malformed chunk framing is an InvalidArgumentError;
 * a connection that ends before the body does, an 'aborted' error (code ECONNRESET). Reading stops (the socket
 * paused) when the body ends or its consumer stops.
 */
export async function* socketBody(
  socket: Socket,
  head: Buffer,
  headers: IncomingMessage['headers'],
): AsyncGenerator<Buffer> {
  const te = headers['transfer-encoding'];
  const chunked = te !== undefined && /(?:^|,)\s*chunked\s*$/i.test(te);
  const length = chunked ? 0 : Number(headers['content-length'] ?? 0);
  if (!chunked && !(Number.isSafeInteger(length) && length >= 0))
    throw new InvalidArgumentError(`invalid Content-Length "${headers['content-length']}"`);
  if (!chunked && length === 0) return;
  const reads = new SocketReads(socket, head);
  try {
    if (!chunked) {
      for (let left = length; left > 0; ) {
        const d = await reads.next();
        if (d === null) throw aborted();
        const piece = d.length > left ? d.subarray(0, left) : d;
        left -= piece.length;
        yield piece;
      }
      return;
    }
    const frames = new Dechunker();
    while (!frames.done) {
      const d = await reads.next();
      if (d === null) throw aborted();
      const data = frames.take(d);
      if (data.length > 0) yield data;
    }
  } finally {
    reads.release();
  }
}

/**
 * HTTP/1.1 chunked framing taken off, a read at a time: `size[;ext]\r\n`, `size` bytes, `\r\n`, …, `0\r\n`, trailer
 * lines, `\r\n`. A read's data come out as one view of it, moved together over the framing between them: the
 * docker CLI's chunks are 32 KiB, so a 64 KiB read holds pieces of two or three, and each piece handed on costs
 * the load's pipeline (the archive's tar reader, the layer's progress, the copy into the unpack ring) a few
 * promise turns, more than moving ~32 KiB within the read. The read is the caller's to change (a socket's reads
 * are fresh buffers, referenced nowhere else).
 */
export class Dechunker {
  /** 'size': reading a chunk-size line; 'data': in a chunk's data; 'crlf': after it; 'trailer': after the last. */
  #state: 'size' | 'data' | 'crlf' | 'trailer' | 'done' = 'size';
  #line = '';
  #left = 0;

  get done(): boolean {
    return this.#state === 'done';
  }

  /** The data in `d`, gathered at its start (bytes after the body's end are ignored); empty when it held none. */
  take(d: Buffer): Buffer {
    let i = 0;
    let w = 0;
    while (i < d.length && this.#state !== 'done') {
      if (this.#state === 'data') {
        const n = Math.min(this.#left, d.length - i);
        if (w !== i) d.copyWithin(w, i, i + n);
        w += n;
        i += n;
        this.#left -= n;
        if (this.#left === 0) this.#state = 'crlf';
        continue;
      }
      // A line: up to its LF (a line may span reads).
      const lf = d.indexOf(10, i);
      const end = lf < 0 ? d.length : lf;
      this.#line += d.toString('latin1', i, end);
      i = end;
      if (this.#line.length > MAX_LINE)
        throw new InvalidArgumentError('malformed chunked request body: a line too long');
      if (lf < 0) break;
      i = lf + 1;
      const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
      this.#line = '';
      this.#lineDone(line);
    }
    return d.subarray(0, w);
  }

  #lineDone(line: string): void {
    switch (this.#state) {
      case 'size': {
        const m = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (m === null)
          throw new InvalidArgumentError(`malformed chunked request body: bad chunk size "${line.slice(0, 40)}"`);
        this.#left = Number.parseInt(m[1]!, 16);
        this.#state = this.#left === 0 ? 'trailer' : 'data';
        return;
      }
      case 'crlf':
        if (line !== '') throw new InvalidArgumentError('malformed chunked request body: no CRLF after a chunk');
        this.#state = 'size';
        return;
      case 'trailer':
        if (line === '') this.#state = 'done';
        return;
      default:
        return;
    }
  }
}
