import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { MAX_HEAD_BYTES, ResponseParser, WireError, type ResponseHead } from './wire.ts';

interface Parsed {
  head?: ResponseHead;
  body: string;
  trailers?: IncomingHttpHeaders;
  rawTrailers?: string[];
  ended: boolean;
}

/** Feeds `pieces` one by one, then the connection's end when `eof`; returns what the sink saw. */
function parse(method: string, pieces: Buffer[], eof = false): Parsed {
  const out: Parsed = { body: '', ended: false };
  const p = new ResponseParser(method, {
    head: (h) => {
      assert.equal(out.head, undefined, 'one head');
      out.head = h;
    },
    data: (c) => {
      assert.ok(out.head !== undefined, 'data after the head');
      assert.ok(!out.ended, 'no data after the end');
      out.body += c.toString('latin1');
    },
    end: (t, raw) => {
      assert.ok(!out.ended, 'one end');
      out.ended = true;
      out.trailers = t;
      out.rawTrailers = raw;
    },
  });
  for (const piece of pieces) p.feed(piece);
  if (eof) p.close();
  return out;
}

/** Every way of cutting `text` in two, and in single bytes: each must parse as the whole does. */
function splits(text: string): Buffer[][] {
  const b = Buffer.from(text, 'latin1');
  const out: Buffer[][] = [[b]];
  for (let i = 1; i < b.length; i++) out.push([b.subarray(0, i), b.subarray(i)]);
  out.push([...b].map((x) => Buffer.from([x])));
  return out;
}

function parseAllSplits(method: string, text: string, eof = false): Parsed {
  let first: Parsed | undefined;
  for (const pieces of splits(text)) {
    const got = parse(method, pieces, eof);
    if (first === undefined) first = got;
    else assert.deepEqual(got, first, `split at ${pieces[0]?.length}`);
  }
  return first as Parsed;
}

function throwsWire(method: string, text: string, code: string, pattern: RegExp, eof = false): void {
  for (const pieces of splits(text)) {
    assert.throws(
      () => parse(method, pieces, eof),
      (err: unknown) => err instanceof WireError && err.code === code && pattern.test(err.message),
      `split at ${pieces[0]?.length}`,
    );
  }
}

describe('ResponseParser', () => {
  it('reads a Content-Length body at every split, and nothing after it', () => {
    const r = parseAllSplits(
      'GET',
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloEXTRA',
    );
    assert.equal(r.head?.statusCode, 200);
    assert.equal(r.head?.statusMessage, 'OK');
    assert.deepEqual(r.head?.headers, { 'content-type': 'text/plain', 'content-length': '5' });
    assert.deepEqual(r.head?.rawHeaders, ['Content-Type', 'text/plain', 'Content-Length', '5']);
    assert.equal(r.body, 'hello');
    assert.equal(r.ended, true);
  });

  it('reads chunked bodies with extensions and trailers at every split', () => {
    const text =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;name=value;other\r\nhello\r\n1A\r\n' +
      'abcdefghijklmnopqrstuvwxyz\r\n0;last\r\nX-Sum: 1\r\nx-sum: 2\r\nSet-Cookie: a\r\n\r\n';
    const r = parseAllSplits('GET', text);
    assert.equal(r.body, 'helloabcdefghijklmnopqrstuvwxyz');
    assert.deepEqual(r.trailers, { 'x-sum': '1, 2', 'set-cookie': ['a'] });
    assert.deepEqual(r.rawTrailers, ['X-Sum', '1', 'x-sum', '2', 'Set-Cookie', 'a']);
    assert.equal(r.ended, true);
  });

  it('reads a chunked body without trailers at every split', () => {
    const r = parseAllSplits(
      'POST',
      'HTTP/1.1 201 Created\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    assert.equal(r.head?.statusCode, 201);
    assert.equal(r.body, 'abc');
    assert.deepEqual(r.trailers, {});
    assert.equal(r.ended, true);
  });

  it('reads a body that runs to the connection end, and only ends there', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"a":1}\n';
    const open = parseAllSplits('GET', text);
    assert.equal(open.body, '{"a":1}\n');
    assert.equal(open.ended, false);
    assert.equal(parseAllSplits('GET', text, true).ended, true);
    // A transfer coding that is not chunked last also runs to the end.
    const gz = parseAllSplits('GET', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz', true);
    assert.equal(gz.body, 'xyz');
  });

  it('gives no body to HEAD, 204 and 304 whatever the headers say', () => {
    const head = parseAllSplits('HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 20\r\nApi-Version: 1.47\r\n\r\n');
    assert.equal(head.ended, true);
    assert.equal(head.body, '');
    assert.equal(head.head?.headers['api-version'], '1.47');
    assert.equal(parseAllSplits('DELETE', 'HTTP/1.1 204 No Content\r\n\r\n').ended, true);
    assert.equal(parseAllSplits('GET', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n').ended, true);
  });

  it('skips informational answers and reads the one after them', () => {
    const r = parseAllSplits('POST', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    assert.equal(r.head?.statusCode, 200);
    assert.equal(r.body, 'ok');
  });

  it('combines repeated headers as node:http does and keeps odd spacing out of values', () => {
    const r = parse('GET', [
      Buffer.from(
        'HTTP/1.0 404 \r\nServer: a\r\nserver: b\r\nVary: x\r\nVARY:  y \t\r\nCookie: c=1\r\ncookie: d=2\r\n' +
          'Set-Cookie: s=1\r\nset-cookie: t=2\r\nContent-Length: 0\r\n\r\n',
      ),
    ]);
    assert.equal(r.head?.statusCode, 404);
    assert.equal(r.head?.statusMessage, '');
    assert.deepEqual(r.head?.headers, {
      server: 'a',
      vary: 'x, y',
      cookie: 'c=1; d=2',
      'set-cookie': ['s=1', 't=2'],
      'content-length': '0',
    });
    assert.equal(parse('GET', [Buffer.from('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n')]).head?.statusMessage, '');
  });

  it('refuses bad input with a clear error at every split', () => {
    throwsWire('GET', 'HTTP/2 200 OK\r\n\r\n', 'HPE_INVALID_CONSTANT', /invalid status line "HTTP\/2 200 OK"/);
    throwsWire('GET', 'SSH-2.0-OpenSSH\r\n\r\n', 'HPE_INVALID_CONSTANT', /invalid status line "SSH-2.0-OpenSSH"/);
    throwsWire('GET', 'HTTP/1.1 099 Odd\r\n\r\n', 'HPE_INVALID_STATUS', /invalid status code 99/);
    throwsWire('GET', 'HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', /"Bad Name: x"/);
    throwsWire('GET', 'HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', /"NoColon"/);
    throwsWire('GET', 'HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', /folded/);
    throwsWire('GET', 'HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', /value "b\\u0000c" of "A"/);
    throwsWire('GET', 'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH', /"1x"/);
    throwsWire(
      'GET',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n',
      'HPE_UNEXPECTED_CONTENT_LENGTH',
      /duplicate/,
    );
    throwsWire(
      'GET',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      'HPE_UNEXPECTED_CONTENT_LENGTH',
      /both/,
    );
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    throwsWire('GET', `${chunked}zz\r\n`, 'HPE_INVALID_CHUNK_SIZE', /invalid chunk size line "zz"/);
    throwsWire('GET', `${chunked}3\r\nabcX\r\n`, 'HPE_STRICT', /expected CRLF after chunk data, got "X"/);
    throwsWire('GET', `${chunked}0\r\nbad trailer\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN', /trailer line "bad trailer"/);
    throwsWire('GET', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', 'HPE_UNEXPECTED', /101/);
  });

  it('refuses a head longer than node:http allows, and a chunk line without end', () => {
    const big = `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
    assert.throws(() => parse('GET', [Buffer.from(big)]), /headers longer than 16384 bytes/);
    assert.throws(
      () => parse('GET', [Buffer.from(big.slice(0, 9000)), Buffer.from(big.slice(9000, 17000))]),
      /headers longer than 16384 bytes/,
    );
    assert.throws(
      () => parse('GET', [Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${'x'.repeat(5000)}`)]),
      /chunk size line too long/,
    );
  });

  it('reports an answer cut short as node:http does', () => {
    const cut = (text: string, method = 'GET') => {
      try {
        parse(method, [Buffer.from(text)], true);
      } catch (err) {
        return `${(err as { code?: string }).code} ${(err as Error).message}`;
      }
      return 'no error';
    };
    assert.equal(cut(''), 'ECONNRESET socket hang up');
    assert.equal(cut('HTTP/1.1 200 OK\r\nContent-'), 'ECONNRESET socket hang up');
    assert.equal(cut('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc'), 'ECONNRESET aborted');
    assert.equal(cut('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'), 'ECONNRESET aborted');
    assert.equal(cut('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n'), 'ECONNRESET aborted');
    assert.equal(cut('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'HEAD'), 'no error');
  });
});
