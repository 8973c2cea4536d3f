import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EngineClient, imageBuild } from './index.ts';

/** A fake engine that records one build request and answers as the classic builder does. */
let dir = '';
let server: http.Server;
let seen: { url: string; headers: http.IncomingHttpHeaders; body: Buffer } | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-client-build-'));
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.41');
      if (req.url === '/_ping') return void res.end();
      seen = { url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      res.setHeader('Content-Type', 'application/json');
      res.end('{"stream":"Step 1/1 : FROM busybox\\n"}\r\n{"aux":{"ID":"sha256:abc"}}\r\n');
    });
  });
  await new Promise<void>((r) => server.listen(join(dir, 'e.sock'), r));
});
after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

test('POST /build: the context as the body, options in the query as the docker CLI sends them', async () => {
  const client = new EngineClient({ host: `unix://${join(dir, 'e.sock')}` });
  try {
    const messages = await imageBuild(client, Buffer.from('tar bytes'), {
      tags: ['app:1', 'app:latest'],
      dockerfile: 'build/Dockerfile',
      buildArgs: { V: '1', UNSET: null },
      labels: { a: 'b' },
      target: 'final',
      cacheFrom: ['app:cache'],
      noCache: true,
      pull: true,
    });
    const out = [];
    for await (const m of messages) out.push(m);
    assert.deepEqual(out, [{ stream: 'Step 1/1 : FROM busybox\n' }, { aux: { ID: 'sha256:abc' } }]);
  } finally {
    client.close();
  }
  const url = new URL(seen!.url, 'http://x');
  assert.equal(url.pathname, '/v1.41/build');
  assert.deepEqual(url.searchParams.getAll('t'), ['app:1', 'app:latest']);
  assert.equal(url.searchParams.get('dockerfile'), 'build/Dockerfile');
  assert.deepEqual(JSON.parse(url.searchParams.get('buildargs')!), { V: '1', UNSET: null });
  assert.deepEqual(JSON.parse(url.searchParams.get('labels')!), { a: 'b' });
  assert.equal(url.searchParams.get('target'), 'final');
  assert.deepEqual(JSON.parse(url.searchParams.get('cachefrom')!), ['app:cache']);
  assert.equal(url.searchParams.get('nocache'), '1');
  assert.equal(url.searchParams.get('pull'), '1');
  assert.equal(url.searchParams.get('rm'), '1');
  assert.equal(seen!.headers['content-type'], 'application/x-tar');
  assert.equal(seen!.body.toString(), 'tar bytes');
});
