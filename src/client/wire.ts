import type { IncomingHttpHeaders } from 'node:http';

/**
 * An HTTP/1.1 response parser for the engine client's plain-socket requests (plain.ts): the status line, the
 * headers, and a body framed by Content-Length, chunked transfer-coding (extensions skipped, trailers kept) or the
 * connection's close. Fed whatever the socket reads, split anywhere. Bad input throws a {@link WireError} quoting
 * what was wrong, as node:http's parser fails with an `HPE_` code.
 */

/** The most header bytes a response may have before its body, as node:http's default (16 KiB). */
export const MAX_HEAD_BYTES = 16 * 1024;
/** The longest chunk-size line (with extensions) accepted. */
const MAX_CHUNK_LINE = 4096;

/** A malformed response; `code` names the kind as node:http's parser does. */
export class WireError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`Parse Error: ${message}`);
    this.code = code;
  }
}

export interface ResponseHead {
  statusCode: number;
  statusMessage: string;
  /** Lowercased names; repeated headers combined as node:http does. */
  headers: IncomingHttpHeaders;
  /** Names and values as sent, alternating. */
  rawHeaders: string[];
}

export interface ResponseSink {
  head(head: ResponseHead): void;
  data(chunk: Buffer): void;
  /** The body is complete; trailers (chunked only) as node:http's `trailers`. */
  end(trailers: IncomingHttpHeaders, rawTrailers: string[]): void;
}

type State = 'head' | 'length' | 'close' | 'size' | 'chunk' | 'chunk-end' | 'trailers' | 'done';

/** An HTTP token (RFC 9110): what a field name may be. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/s;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;(.*))?$/s;

/** Whether text holds a control character other than a tab (which no status line, field or extension may). */
export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}
/** Headers of which node:http keeps the first when repeated. */
const SINGLE = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** Adds one header to a node:http-style headers object. */
function addHeader(headers: IncomingHttpHeaders, name: string, value: string): void {
  const key = name.toLowerCase();
  const had = headers[key];
  if (key === 'set-cookie') {
    if (Array.isArray(had)) had.push(value);
    else headers[key] = [value];
  } else if (had === undefined) {
    headers[key] = value;
  } else if (!SINGLE.has(key)) {
    headers[key] = `${had}${key === 'cookie' ? '; ' : ', '}${value}`;
  }
}

/** Parses header lines (`Name: value`) into both forms. */
function parseFields(lines: string[], what: string): { headers: IncomingHttpHeaders; raw: string[] } {
  const headers: IncomingHttpHeaders = {};
  const raw: string[] = [];
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      throw new WireError('HPE_INVALID_HEADER_TOKEN', `folded ${what} line ${JSON.stringify(line)}`);
    }
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    if (colon < 0 || !TOKEN.test(name)) {
      throw new WireError('HPE_INVALID_HEADER_TOKEN', `invalid ${what} line ${JSON.stringify(line)}`);
    }
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (hasControl(value)) {
      throw new WireError('HPE_INVALID_HEADER_TOKEN', `invalid ${what} value ${JSON.stringify(value)} of "${name}"`);
    }
    raw.push(name, value);
    addHeader(headers, name, value);
  }
  return { headers, raw };
}

export class ResponseParser {
  readonly #noBody: boolean;
  readonly #sink: ResponseSink;
  #state: State = 'head';
  /** Bytes of a line-oriented state not yet complete. */
  #pending: Buffer = Buffer.alloc(0);
  /** Body bytes left: of the Content-Length, or of the current chunk. */
  #left = 0;

  /** `method` is the request's: the answer to HEAD has no body whatever its headers say. */
  constructor(method: string, sink: ResponseSink) {
    this.#noBody = method === 'HEAD';
    this.#sink = sink;
  }

  /** Whether the response has been read to its end. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /** Takes the next bytes read from the connection; throws a WireError on bad input. */
  feed(input: Buffer): void {
    let buf = input;
    while (buf.length > 0) {
      switch (this.#state) {
        case 'head':
        case 'trailers': {
          const joined = this.#pending.length > 0 ? Buffer.concat([this.#pending, buf]) : buf;
          const end = joined.indexOf('\r\n\r\n');
          // A trailer section may be empty: the last chunk's line is followed straight by CRLF.
          const emptyTrailers =
            this.#state === 'trailers' && joined.length >= 2 && joined[0] === 13 && joined[1] === 10;
          if (end < 0 && !emptyTrailers) {
            if (joined.length > MAX_HEAD_BYTES) {
              throw new WireError('HPE_HEADER_OVERFLOW', `headers longer than ${MAX_HEAD_BYTES} bytes`);
            }
            this.#pending = Buffer.from(joined);
            return;
          }
          const stop = emptyTrailers ? 0 : end;
          if (stop > MAX_HEAD_BYTES)
            throw new WireError('HPE_HEADER_OVERFLOW', `headers longer than ${MAX_HEAD_BYTES} bytes`);
          const text = joined.toString('latin1', 0, stop);
          this.#pending = Buffer.alloc(0);
          buf = joined.subarray(emptyTrailers ? 2 : end + 4);
          if (this.#state === 'head') this.#head(text);
          else this.#trailers(text);
          break;
        }
        case 'size':
        case 'chunk-end': {
          const joined = this.#pending.length > 0 ? Buffer.concat([this.#pending, buf]) : buf;
          const eol = joined.indexOf('\r\n');
          if (eol < 0) {
            if (joined.length > MAX_CHUNK_LINE)
              throw new WireError('HPE_INVALID_CHUNK_SIZE', 'chunk size line too long');
            this.#pending = Buffer.from(joined);
            return;
          }
          const line = joined.toString('latin1', 0, eol);
          this.#pending = Buffer.alloc(0);
          buf = joined.subarray(eol + 2);
          if (this.#state === 'chunk-end') {
            if (line !== '')
              throw new WireError('HPE_STRICT', `expected CRLF after chunk data, got ${JSON.stringify(line)}`);
            this.#state = 'size';
            break;
          }
          const m = CHUNK_SIZE.exec(line);
          if (m === null || hasControl(m[2] ?? ''))
            throw new WireError('HPE_INVALID_CHUNK_SIZE', `invalid chunk size line ${JSON.stringify(line)}`);
          this.#left = Number.parseInt(m[1] ?? '', 16);
          this.#state = this.#left === 0 ? 'trailers' : 'chunk';
          break;
        }
        case 'chunk':
        case 'length': {
          const n = Math.min(this.#left, buf.length);
          this.#left -= n;
          this.#sink.data(buf.subarray(0, n));
          buf = buf.subarray(n);
          if (this.#left === 0) {
            if (this.#state === 'chunk') this.#state = 'chunk-end';
            else this.#finish({}, []);
          }
          break;
        }
        case 'close':
          this.#sink.data(buf);
          return;
        case 'done':
          // Bytes after a complete answer to a `Connection: close` request: nothing more is read.
          return;
      }
    }
  }

  /**
   * The connection's end: completes a body that runs to it. Throws when the answer is cut short (an
   * `ECONNRESET` "socket hang up" before the head, as node:http; "aborted" within the body).
   */
  close(): void {
    if (this.#state === 'done') return;
    if (this.#state === 'close') {
      this.#finish({}, []);
      return;
    }
    const err = new Error(this.#state === 'head' ? 'socket hang up' : 'aborted') as Error & { code: string };
    err.code = 'ECONNRESET';
    throw err;
  }

  #head(text: string): void {
    const lines = text.split('\r\n');
    const statusLine = lines.shift() ?? '';
    const m = STATUS_LINE.exec(statusLine);
    if (m === null || hasControl(m[2] ?? ''))
      throw new WireError('HPE_INVALID_CONSTANT', `invalid status line ${JSON.stringify(statusLine)}`);
    const statusCode = Number(m[1]);
    if (statusCode < 100) throw new WireError('HPE_INVALID_STATUS', `invalid status code ${statusCode}`);
    const { headers, raw } = parseFields(lines, 'header');
    if (statusCode === 101) throw new WireError('HPE_UNEXPECTED', 'a 101 answer to a request that asked no upgrade');
    // Informational answers (100 Continue, 102, 103) come before the real one, which follows on the same connection.
    if (statusCode < 200) return;
    const te = headers['transfer-encoding'];
    const clValues = raw.filter((_, i) => i % 2 === 1 && raw[i - 1]?.toLowerCase() === 'content-length');
    if (clValues.length > 1) throw new WireError('HPE_UNEXPECTED_CONTENT_LENGTH', 'duplicate Content-Length');
    if (te !== undefined && clValues.length > 0) {
      throw new WireError('HPE_UNEXPECTED_CONTENT_LENGTH', 'both Content-Length and Transfer-Encoding');
    }
    this.#sink.head({ statusCode, statusMessage: m[2] ?? '', headers, rawHeaders: raw });
    if (this.#noBody || statusCode === 204 || statusCode === 304) {
      this.#finish({}, []);
    } else if (te !== undefined) {
      const codings = te.split(',').map((s) => s.trim().toLowerCase());
      // Chunked must be the last coding of a response that uses it; without it the body runs to the close.
      this.#state = codings[codings.length - 1] === 'chunked' ? 'size' : 'close';
    } else if (clValues.length === 1) {
      const v = clValues[0] ?? '';
      if (!/^\d{1,15}$/.test(v))
        throw new WireError('HPE_INVALID_CONTENT_LENGTH', `invalid Content-Length ${JSON.stringify(v)}`);
      this.#left = Number(v);
      if (this.#left === 0) this.#finish({}, []);
      else this.#state = 'length';
    } else {
      this.#state = 'close';
    }
  }

  #trailers(text: string): void {
    const { headers, raw } = parseFields(text === '' ? [] : text.split('\r\n'), 'trailer');
    this.#finish(headers, raw);
  }

  #finish(trailers: IncomingHttpHeaders, raw: string[]): void {
    this.#state = 'done';
    this.#sink.end(trailers, raw);
  }
}
