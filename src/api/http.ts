import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgumentError } from '../util/errors.ts';
import { drained } from '../util/chunks.ts';

export interface Request {
  raw: IncomingMessage;
  method: string;
  /** Path without the version prefix. */
  path: string;
  /** The API version the client asked for (the daemon's own when unversioned). */
  version: string;
  query: URLSearchParams;
  params: Record<string, string>;
  signal: AbortSignal;
  /**
   * Takes the connection over for a raw stream (attach, exec start): with `Upgrade: tcp` it answers
   * `101 UPGRADED` and returns the socket itself (half-close kept: the client's EOF on stdin does not end our
   * output); without, it answers 200 and returns the request body and response as one duplex.
   */
  hijack(contentType: string): Hijacked;
}

export interface Hijacked {
  stream: import('node:stream').Duplex;
  upgraded: boolean;
}

/** Docker's boolean query values: '1', 'true', 'True' are true; '0', 'false', '' false. */
export function boolParam(q: URLSearchParams, name: string, fallback = false): boolean {
  const v = q.get(name);
  if (v === null) return fallback;
  const l = v.toLowerCase();
  if (l === '1' || l === 'true' || l === 'yes') return true;
  if (l === '0' || l === 'false' || l === 'no' || l === '') return false;
  throw new InvalidArgumentError(`invalid boolean value "${v}" for query parameter ${name}`);
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`invalid value "${v}" for query parameter ${name}`);
  return n;
}

/**
 * The `filters` query parameter: JSON `{"key": {"value": true}}` (current) or `{"key": ["value"]}` (old clients).
 */
export function filtersParam(q: URLSearchParams, allowed: readonly string[]): Map<string, string[]> {
  const raw = q.get('filters');
  const out = new Map<string, string[]>();
  if (raw === null || raw === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError(`invalid filter: "${raw}" is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError(`invalid filter: "${raw}"`);
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (!allowed.includes(k)) throw new InvalidArgumentError(`Invalid filter '${k}'`);
    let values: string[];
    if (Array.isArray(v)) values = v.map(String);
    else if (typeof v === 'object' && v !== null)
      values = Object.entries(v as Record<string, unknown>)
        .filter(([, b]) => b === true)
        .map(([s]) => s);
    else throw new InvalidArgumentError(`Invalid filter '${k}'`);
    out.set(k, values);
  }
  return out;
}

export function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(`${JSON.stringify(body)}\n`);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  res.end(data);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

/** Bodies of upgrade requests, which Node does not parse: the server reads them off the socket (server.ts). */
export const upgradeBodies = new WeakMap<IncomingMessage, Buffer>();

export async function readJSONBody<T>(req: IncomingMessage, maxBytes = 8 << 20): Promise<T | undefined> {
  const pre = upgradeBodies.get(req);
  if (pre !== undefined && pre.length > maxBytes)
    throw new InvalidArgumentError(`request body is larger than ${maxBytes} bytes`);
  const body = pre ?? (await readBody(req, maxBytes));
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch (err) {
    throw new InvalidArgumentError(`invalid JSON in request body: ${(err as Error).message}`);
  }
}

/**
 * The whole body, from the stream's events: a create's config is one chunk, and an async iterator over the request
 * (its promises, one per chunk and one for the end) cost more than reading it. Past `maxBytes` the request is
 * destroyed, as leaving a `for await` over it did.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.destroy();
        reject(new InvalidArgumentError(`request body is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new InvalidArgumentError('request body ended early'));
    });
  });
}

/** A batched `JSONLines` writes at once when this many bytes are waiting. */
const BATCH_BYTES = 64 << 10;

/**
 * A JSON-lines response (progress streams): headers go out at once; each `write` is one line. Errors after the
 * headers are sent become `{"errorDetail":{"message":…},"error":…}` lines, as dockerd writes them. With `batchMs`,
 * the lines written within that many milliseconds go out in one write (and one read on the client's side), and
 * the end or an error goes out at once with what waits: a pull's ~350 progress messages for 50 layers were as many
 * writes, wake-ups and reads of the client, for a display redrawn far less often.
 */
export class JSONLines {
  readonly #res: ServerResponse;
  #started = false;
  readonly #batchMs: number;
  #pending: string[] = [];
  #pendingBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Settles once the client has read a batch the socket would not take at once. */
  #blocked: Promise<void> | undefined;
  constructor(res: ServerResponse, opts: { batchMs?: number } = {}) {
    this.#res = res;
    this.#batchMs = opts.batchMs ?? 0;
    if (this.#batchMs > 0) res.once('close', () => this.#drop());
  }
  get started(): boolean {
    return this.#started;
  }
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#res.writeHead(200, { 'Content-Type': 'application/json' });
  }
  write(obj: unknown): Promise<void> {
    this.start();
    const line = `${JSON.stringify(obj)}\r\n`;
    if (this.#batchMs <= 0) return this.#send(line);
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    // A client that reads slowly: the caller waits for it, as for an unbatched write that found the socket full.
    if (this.#blocked) return this.#blocked;
    if (this.#pendingBytes >= BATCH_BYTES) return this.#flush();
    this.#arm();
    return Promise.resolve();
  }
  #arm(): void {
    this.#timer ??= setTimeout(() => void this.#flush().catch(() => {}), this.#batchMs);
  }
  #send(text: string): Promise<void> {
    const ok = this.#res.write(text);
    if (ok) return Promise.resolve();
    if (this.#batchMs <= 0) return drained(this.#res).then(() => undefined);
    // Nothing more is written until the client has read this: what comes meanwhile waits, then goes out together.
    this.#blocked = drained(this.#res).then(() => {
      this.#blocked = undefined;
      if (this.#pending.length > 0) this.#arm();
    });
    return this.#blocked;
  }
  /** Writes what waits (unless the client has yet to read the last write: then once it has). */
  #flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#blocked) return this.#blocked;
    return this.#writePending() ?? Promise.resolve();
  }
  #writePending(): Promise<void> | undefined {
    if (this.#pending.length === 0) return undefined;
    const text = this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    return this.#send(text);
  }
  /** The client went away: nothing waiting is written. */
  #drop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
    this.#pendingBytes = 0;
  }
  error(message: string): void {
    this.start();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#writePending()?.catch(() => {});
    this.#res.write(`${JSON.stringify({ errorDetail: { message }, error: message })}\r\n`);
  }
  end(): void {
    this.start();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#writePending()?.catch(() => {});
    this.#res.end();
  }
}
