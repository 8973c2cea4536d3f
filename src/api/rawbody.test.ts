import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dechunker, wantsRawBody } from './rawbody.ts';
import { createApiServer } from './server.ts';
import { Router } from './router.ts';
import { sendJSON } from './http.ts';

const dir = await mkdtemp(join(tmpdir(), 'berth-rawbody-'));
const sock = join(dir, 'api.sock');
const router = new Router();
/** What each load saw: its body's digest and size, or its error; and whether it came off the socket. */
const seen: { sha?: string; size?: number; error?: string; raw: boolean }[] = [];
let slow = 0;
router.add('POST', '/images/load', async (req, res) => {
  const h = createHash('sha256');
  let size = 0;
  const raw = req.body !== req.raw;
  try {
    for await (const c of req.body) {
      h.update(c);
      size += c.length;
      if (slow > 0) await new Promise((r) => setTimeout(r, slow));
    }
  } catch (err) {
    seen.push({ error: (err as Error).message, raw });
    throw err;
  }
  const out = { sha: h.digest('hex'), size, raw };
  seen.push(out);
  sendJSON(res, 200, out);
});
router.add('GET', '/_ping', (_req, res) => sendJSON(res, 200, 'OK'));
const server = createApiServer({ router, serverVersion: 'test' });
await new Promise<void>((r) => server.listen(sock, () => r()));
after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Chunked framing of `body` in chunks of the given sizes (cycled), with an extension on some. */
function chunked(body: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  for (let off = 0, i = 0; off < body.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, body.length - off);
    parts.push(Buffer.from(`${n.toString(16)}${i % 3 === 1 ? ';x=y' : ''}\r\n`), body.subarray(off, off + n));
    parts.push(Buffer.from('\r\n'));
    off += n;
  }
  parts.push(Buffer.from('0\r\nX-Trailer: 1\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Writes `data` to a connection (after a ping and its answer, with `ping`) in pieces of `step` bytes; resolves with everything read until the server closes. */
function exchange(data: Buffer, step: number, opts: { cut?: boolean; ping?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(sock);
    let out = '';
    let pinged = !opts.ping;
    s.on('data', (d) => {
      out += d;
      if (!pinged && out.endsWith('"OK"\n')) {
        pinged = true;
        more();
      }
    });
    s.on('close', () => resolve(out));
    s.on('error', (err) => (opts.cut ? resolve(out) : reject(err)));
    let off = 0;
    const more = (): void => {
      if (off >= data.length) {
        if (opts.cut) s.destroy();
        return;
      }
      const piece = data.subarray(off, off + step);
      off += piece.length;
      if (s.write(piece)) setImmediate(more);
      else s.once('drain', more);
    };
    if (opts.ping) s.write('GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n');
    else more();
  });
}

test('which requests are read off the socket', () => {
  assert.equal(wantsRawBody('POST', '/v1.47/images/load?quiet=1'), true);
  assert.equal(wantsRawBody('POST', '/images/load'), true);
  assert.equal(wantsRawBody('POST', '/v1.41/images/create?fromSrc=-&repo=x'), true);
  assert.equal(wantsRawBody('POST', '/v1.41/images/create?fromImage=busybox'), false);
  assert.equal(wantsRawBody('GET', '/images/load'), false);
  assert.equal(wantsRawBody('POST', '/images/loadx'), false);
});

test('Dechunker: the data of any split of the framing, bytes after its end ignored', () => {
  const body = randomBytes(70_000);
  const framed = Buffer.concat([chunked(body, [1, 4096, 32768, 7]), Buffer.from('GET / HTTP/1.1\r\n')]);
  for (const step of [1, 3, 5000, 65536, framed.length]) {
    const d = new Dechunker();
    const got: Buffer[] = [];
    for (let off = 0; off < framed.length && !d.done; off += step)
      got.push(Buffer.from(d.take(Buffer.from(framed.subarray(off, off + step)))));
    assert.equal(d.done, true, `step ${step}`);
    assert.equal(sha(Buffer.concat(got)), sha(body), `step ${step}`);
  }
  // One read of three chunks comes out as one view of it.
  const three = Buffer.from('3\r\nabc\r\n2\r\nde\r\n1;x=1\r\nf\r\n');
  const one = new Dechunker().take(three);
  assert.equal(one.toString(), 'abcdef');
  assert.equal(one.buffer, three.buffer);
  assert.throws(() => new Dechunker().take(Buffer.from('zz\r\n')), /bad chunk size "zz"/);
  assert.throws(() => new Dechunker().take(Buffer.from('2\r\nabX\r\n')), /no CRLF after a chunk/);
});

test('a chunked body after a ping on the same connection: read off the socket, whole, then the connection closes', async () => {
  const body = randomBytes(3 << 20);
  const head = 'POST /v1.47/images/load HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
  const out = await exchange(Buffer.concat([Buffer.from(head), chunked(body, [32768, 32768, 100, 65536])]), 50_000, {
    ping: true,
  });
  assert.match(out, /^HTTP\/1\.1 200 OK\r\n[\s\S]*"OK"\n/);
  const second = out.slice(out.indexOf('HTTP/1.1', 10));
  assert.match(second, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(second, /\r\nConnection: close\r\n/);
  assert.deepEqual(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)), {
    sha: sha(body),
    size: body.length,
    raw: true,
  });
});

test('a load pipelined behind a request still being answered goes through the parser, whole', async () => {
  const body = randomBytes(1 << 20);
  const head = 'POST /images/load HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
  const data = Buffer.concat([
    Buffer.from('GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n'),
    Buffer.from(head),
    chunked(body, [32768]),
  ]);
  const out = await exchange(data, 50_000);
  const second = out.slice(out.indexOf('HTTP/1.1', 10));
  assert.deepEqual(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)), {
    sha: sha(body),
    size: body.length,
    raw: false,
  });
});

test('a Content-Length body, written slowly and read slowly (backpressure), is whole', async () => {
  const body = randomBytes(2 << 20);
  slow = 1;
  try {
    const head = `POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`;
    const out = await exchange(Buffer.concat([Buffer.from(head), body]), 8192);
    assert.deepEqual(JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4)), {
      sha: sha(body),
      size: body.length,
      raw: true,
    });
  } finally {
    slow = 0;
  }
});

test('a client gone mid-body: the handler sees the body end early', async () => {
  const before = seen.length;
  const head = 'POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n';
  await exchange(Buffer.concat([Buffer.from(head), randomBytes(300_000)]), 65536, { cut: true });
  for (let i = 0; i < 100 && seen.length === before; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen.slice(before), [{ error: 'aborted', raw: true }]);
});

test('malformed chunk framing is a 400', async () => {
  const head = 'POST /images/load HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nnothex\r\n';
  const out = await exchange(Buffer.from(head), 1000);
  assert.match(out, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.ok(out.includes('bad chunk size'), out);
});
