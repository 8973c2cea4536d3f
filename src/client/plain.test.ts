import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CanceledError, UnavailableError } from '../util/errors.ts';
import { type PlainResponse, requestHead, sendPlain } from './plain.ts';
import { Connections, type RequestBody, sendRequest } from './transport.ts';

/**
 * The plain-socket request beside node:http's, against the same raw answers from a socket server: what the engine
 * client reads of each (status, headers, body, trailers, errors) must be the same.
 */

let dir = '';
let sock = '';
let server: net.Server;
/** The raw answer for each request path; `hang` answers nothing, `half:` sends the text then closes. */
const answers = new Map<string, string>();
const requests: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-plain-'));
  sock = join(dir, 'engine.sock');
  server = net.createServer((s) => {
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /\r\ncontent-length: (\d+)/i.exec(got.slice(0, end));
      if (got.length < end + 4 + Number(length?.[1] ?? 0)) return;
      requests.push(got);
      const path = got.split(' ')[1] ?? '';
      const answer = answers.get(path) ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
      got = '';
      if (answer === 'hang') return;
      if (answer.startsWith('half:')) {
        s.end(answer.slice(5));
        return;
      }
      // In pieces, so that both clients see split reads.
      const b = Buffer.from(answer, 'latin1');
      let i = 0;
      const send = (): void => {
        if (s.destroyed) return;
        const step = b.length > 4096 ? 65536 : 7;
        s.write(b.subarray(i, i + step));
        i += step;
        if (i < b.length) setImmediate(send);
        else if (!/\r\nconnection: keep-alive/i.test(answer)) s.end();
      };
      send();
    });
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

interface Seen {
  status?: number | undefined;
  message?: string | undefined;
  headers?: unknown;
  rawHeaders?: unknown;
  body?: string;
  trailers?: unknown;
  error?: string;
}

async function collect(res: http.IncomingMessage | PlainResponse, seen: Seen): Promise<Seen> {
  seen.status = res.statusCode;
  seen.message = res.statusMessage;
  seen.headers = res.headers;
  seen.rawHeaders = res.rawHeaders;
  let body = '';
  try {
    for await (const c of res) body += (c as Buffer).toString('latin1');
    seen.trailers = res.trailers;
  } catch (err) {
    seen.error = `${(err as { code?: string }).code} ${(err as Error).message}`;
  }
  seen.body = body;
  return seen;
}

function viaHttp(method: string, path: string, body?: string): Promise<Seen> {
  return new Promise((resolve) => {
    const r = http.request({ socketPath: sock, method, path, host: 'localhost', agent: false }, (res) =>
      resolve(collect(res, {})),
    );
    r.on('error', (err: Error & { code?: string }) => resolve({ error: `${err.code} ${err.message}` }));
    r.end(body);
  });
}

function viaPlain(method: string, path: string, body?: string): Promise<Seen> {
  return new Promise((resolve) => {
    sendPlain(
      { socketPath: sock, method, path, headers: {}, body: body === undefined ? undefined : Buffer.from(body) },
      new Set(),
      (res) => resolve(collect(res, {})),
      (err: Error & { code?: string }) => resolve({ error: `${err.code} ${err.message}` }),
    );
  });
}

async function same(method: string, path: string, answer: string, body?: string): Promise<Seen> {
  answers.set(path, answer);
  const want = await viaHttp(method, path, body);
  const got = await viaPlain(method, path, body);
  assert.deepEqual(got, want, `${method} ${path}`);
  return got;
}

/** Waits (up to a second) for the open plain connections to be closed; false if some stay open. */
async function closed(connections: Connections): Promise<void> {
  for (let i = 0; i < 100 && connections.plain.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(connections.plain.size, 0);
}

describe('plain-socket requests', () => {
  it('write the head node:http writes, with Connection: close', () => {
    assert.equal(
      requestHead('GET', '/v1.47/version', { 'User-Agent': 'B' }, undefined),
      'GET /v1.47/version HTTP/1.1\r\nUser-Agent: B\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    assert.match(requestHead('POST', '/x', {}, undefined), /\r\nContent-Length: 0\r\n\r\n$/);
    assert.doesNotMatch(requestHead('DELETE', '/x', {}, undefined), /Content-Length/);
    assert.match(requestHead('POST', '/x', { 'Content-Type': 'application/json' }, 7), /\r\nContent-Length: 7\r\n/);
    assert.throws(() => requestHead('GET', '/a b', {}, undefined), { code: 'ERR_UNESCAPED_CHARACTERS' });
    assert.throws(() => requestHead('GET', '/', { 'X-A': 'a\r\nb' }, undefined), {
      code: 'ERR_INVALID_CHAR',
      message: 'Invalid character in header content ["X-A"]',
    });
    assert.throws(() => requestHead('GET', '/', { 'X A': 'a' }, undefined), { code: 'ERR_INVALID_HTTP_TOKEN' });
  });

  it('read the same answers as node:http', async () => {
    const length = await same(
      'GET',
      '/length',
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"a":1}\n',
    );
    assert.equal(length.body, '{"a":1}\n');
    const chunked = await same(
      'GET',
      '/chunked',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nX-T: 1\r\n\r\n',
    );
    assert.deepEqual([chunked.body, chunked.trailers], ['abcdefg', { 'x-t': '1' }]);
    assert.equal(
      (await same('GET', '/close', 'HTTP/1.1 200 OK\r\nServer: x\r\nServer: y\r\n\r\nto the end')).body,
      'to the end',
    );
    await same('HEAD', '/head', 'HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Length: 2\r\n\r\n');
    await same('DELETE', '/gone', 'HTTP/1.1 204 No Content\r\nVary: a\r\nvary: b\r\n\r\n');
    const posted = await same('POST', '/post', 'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok', '{"x":1}');
    assert.equal(posted.status, 201);
    assert.match(requests.at(-1) ?? '', /\r\nConnection: close\r\nContent-Length: 7\r\n\r\n\{"x":1\}$/);
    const error = await same(
      'GET',
      '/404',
      'HTTP/1.1 404 Not Found\r\nContent-Length: 25\r\n\r\n{"message":"no such x"}\n\n',
    );
    assert.equal(error.status, 404);
    // A large answer, read slowly: the socket is paused while the reader lags, and every byte arrives.
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff;
    answers.set('/big', `HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n${big.toString('latin1')}`);
    const slow = await new Promise<Buffer>((resolve, reject) => {
      sendPlain(
        { socketPath: sock, method: 'GET', path: '/big', headers: {} },
        new Set(),
        async (res) => {
          const parts: Buffer[] = [];
          for await (const c of res) {
            parts.push(c as Buffer);
            if (parts.length % 8 === 0) await new Promise((r) => setTimeout(r, 1));
          }
          resolve(Buffer.concat(parts));
        },
        reject,
      );
    });
    assert.ok(slow.equals(big));
    await same('POST', '/continue', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  });

  it('fail as node:http does when the answer is cut short', async () => {
    const hangUp = await same('GET', '/hangup', 'half:');
    assert.equal(hangUp.error, 'ECONNRESET socket hang up');
    const partialHead = await same('GET', '/partial-head', 'half:HTTP/1.1 200 OK\r\nContent-');
    assert.equal(partialHead.error, 'ECONNRESET socket hang up');
    const cut = await same('GET', '/cut', 'half:HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    assert.deepEqual([cut.status, cut.error], [200, 'ECONNRESET aborted']);
  });

  it('carry a PUT with a fixed body or none, as GET, HEAD, POST and DELETE; a streamed body goes through node:http', async () => {
    answers.set('/put', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    const connections = new Connections({ kind: 'unix', socketPath: sock });
    const put = (body?: RequestBody) =>
      sendRequest({ kind: 'unix', socketPath: sock }, `unix://${sock}`, connections, {
        method: 'PUT',
        path: '/put',
        ...(body !== undefined ? { body } : {}),
      }).then((res) => res.resume());
    // A plain-socket request says Connection: close; node:http's pool keeps its connection alive.
    await put('{"x":1}');
    assert.match(
      requests.at(-1) ?? '',
      /^PUT \/put HTTP\/1\.1\r\n.*Connection: close\r\nContent-Length: 7\r\n\r\n\{"x":1\}$/s,
    );
    await put();
    assert.match(requests.at(-1) ?? '', /^PUT \/put HTTP\/1\.1\r\n.*Connection: close\r\nContent-Length: 0\r\n\r\n$/s);
    await put(
      (async function* () {
        yield Buffer.from('streamed');
      })(),
    );
    assert.match(requests.at(-1) ?? '', /^PUT \/put HTTP\/1\.1\r\n.*Connection: keep-alive\r\n/s);
    connections.destroy();
  });

  it('fail on a malformed answer with a clear message', async () => {
    answers.set('/bad', 'HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n');
    const got = await viaPlain('GET', '/bad', undefined);
    assert.equal(got.error, 'HPE_INVALID_HEADER_TOKEN Parse Error: invalid header line "Bad Header: x"');
    // node:http fails too, with its own words.
    assert.match((await viaHttp('GET', '/bad')).error ?? '', /^HPE_INVALID_HEADER_TOKEN /);
  });

  it('report an engine that is not there in docker words, as the node:http path does', async () => {
    const missing = join(dir, 'missing.sock');
    const refused = join(dir, 'refused.sock');
    await writeFile(refused, '');
    for (const [path, code] of [
      [missing, 'ENOENT'],
      [refused, 'ECONNREFUSED'],
    ] as const) {
      const host = `unix://${path}`;
      const connections = new Connections({ kind: 'unix', socketPath: path });
      // A streamed body goes through node:http; a fixed one through the plain socket.
      for (const body of [(async function* () {})(), undefined]) {
        const err = await sendRequest({ kind: 'unix', socketPath: path }, host, connections, {
          method: 'POST',
          path: '/_ping',
          ...(body !== undefined ? { body } : {}),
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof UnavailableError, String(err));
        assert.equal(err.message, `Cannot connect to the Berth daemon at ${host}. Is berthd running?`);
        assert.equal((err.cause as { code?: string }).code, code);
      }
      connections.destroy();
    }
  });

  it('cancel a request waiting for its answer, and close a connection when the answer is destroyed', async () => {
    answers.set('/wait', 'hang');
    const connections = new Connections({ kind: 'unix', socketPath: sock });
    const ac = new AbortController();
    const pending = sendRequest({ kind: 'unix', socketPath: sock }, `unix://${sock}`, connections, {
      method: 'GET',
      path: '/wait',
      signal: ac.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(connections.plain.size, 1);
    ac.abort();
    await assert.rejects(pending, (e: unknown) => e instanceof CanceledError && e.message === 'request canceled');
    await closed(connections);

    // A long answer (as `events` or `logs --follow`): the body arrives as it is sent, destroy ends the connection.
    answers.set(
      '/stream',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n2\r\nab\r\n',
    );
    const res = await sendRequest({ kind: 'unix', socketPath: sock }, `unix://${sock}`, connections, {
      method: 'GET',
      path: '/stream',
    });
    const first = await new Promise<Buffer>((resolve) => res.once('data', resolve));
    assert.equal(first.toString(), 'ab');
    assert.equal(connections.plain.size, 1);
    res.destroy();
    await new Promise((resolve) => res.once('close', resolve));
    await closed(connections);
    connections.destroy();
  });
});
