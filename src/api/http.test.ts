import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { test } from 'node:test';
import { listenLoopback } from '../util/testkit.ts';
import { JSONLines, readJSONBody } from './http.ts';

/** A server on 127.0.0.1 whose one response is `handle`'s; resolves with the client's response. */
async function serve(
  t: { after: (fn: () => Promise<void>) => void },
  handle: (res: ServerResponse) => Promise<void>,
): Promise<IncomingMessage> {
  const server = createServer((_req, res) => void handle(res));
  const { port } = await listenLoopback(server, t);
  return new Promise((resolve, reject) => get({ host: '127.0.0.1', port, path: '/' }, resolve).on('error', reject));
}

test('batched JSON lines: every line in order, in fewer reads than lines, the end at once', async (t) => {
  const res = await serve(t, async (r) => {
    const out = new JSONLines(r, { batchMs: 20 });
    for (let i = 0; i < 200; i++) {
      await out.write({ i });
      if (i % 50 === 49) await new Promise((w) => setTimeout(w, 30)); // a batch goes out by its timer
    }
    out.end();
  });
  assert.equal(res.statusCode, 200);
  let reads = 0;
  let text = '';
  for await (const c of res) {
    reads++;
    text += c;
  }
  const lines = text
    .trim()
    .split('\r\n')
    .map((l) => (JSON.parse(l) as { i: number }).i);
  assert.deepEqual(
    lines,
    Array.from({ length: 200 }, (_, i) => i),
  );
  assert.ok(reads <= 20, `200 lines in ${reads} reads`);
});

test('batched JSON lines: a client that does not read holds the writer up; the rest follows once it reads', async (t) => {
  let resolvedWrites = 0;
  let writer: Promise<void> | undefined;
  const res = await serve(t, async (r) => {
    const out = new JSONLines(r, { batchMs: 5 });
    writer = (async () => {
      for (let i = 0; i < 20_000; i++) {
        await out.write({ i, pad: 'x'.repeat(2000) });
        resolvedWrites++;
      }
      out.end();
    })();
  });
  res.pause();
  await new Promise((w) => setTimeout(w, 500));
  const held = resolvedWrites;
  assert.ok(held < 20_000, `the writer waits for the client (${held} of 20000 written)`);
  await new Promise((w) => setTimeout(w, 200));
  assert.equal(resolvedWrites, held, 'no further writes while the client does not read');
  let n = 0;
  let rest = '';
  for await (const c of res) rest += c;
  n = rest.trim().split('\r\n').length;
  await writer;
  assert.equal(n, 20_000);
  assert.equal((JSON.parse(rest.trim().split('\r\n').at(-1)!) as { i: number }).i, 19_999);
});

test('readJSONBody: a body in one or many chunks, none, bad JSON, and one past the limit', async (t) => {
  const results: unknown[] = [];
  const server = createServer((req, res) => {
    readJSONBody(req, 64).then(
      (v) => results.push(v === undefined ? 'none' : v),
      (e: Error) => results.push(e.message),
    );
    req.on('end', () => res.end());
    req.on('close', () => res.end());
  });
  const { port } = await listenLoopback(server, t);
  const send = (chunks: string[]) =>
    new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => resolve());
      for (const c of chunks) req.write(c);
      req.end();
    });
  await send(['{"a":1}']);
  await send(['{"b":', '[1,2', ']}']);
  await send([]);
  await send(['{"a":']);
  await send(['x'.repeat(100)]);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(results.slice(0, 3), [{ a: 1 }, { b: [1, 2] }, 'none']);
  assert.match(String(results[3]), /^invalid JSON in request body/);
  assert.equal(results[4], 'request body is larger than 64 bytes');
});
