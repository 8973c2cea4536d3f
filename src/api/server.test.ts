import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { createApiServer } from './server.ts';
import { Router } from './router.ts';
import { NotFoundError } from '../util/errors.ts';

const dir = await mkdtemp(join(tmpdir(), 'berth-api-'));
const sock = join(dir, 'api.sock');
const router = new Router();
router.add('POST', '/echo/{id}/attach', async (req) => {
  if (req.params.id === 'missing') throw new NotFoundError('No such container: missing');
  const { stream } = req.hijack('application/vnd.docker.raw-stream');
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  // The client half-closed its side; ours is still open for the answer.
  stream.end(Buffer.concat(chunks).toString().toUpperCase());
});
const server = createApiServer({ router, serverVersion: 'test' });
await new Promise<void>((r) => server.listen(sock, () => r()));
after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

function rawUpgrade(path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`);
    setTimeout(() => {
      s.write(body);
      s.end();
    }, 20);
  });
}

test('upgrade: 101 UPGRADED, then stdin to EOF and our answer after the client half-closed', async () => {
  const out = await rawUpgrade('/v1.47/echo/abc/attach', 'hello');
  assert.match(out, /^HTTP\/1\.1 101 UPGRADED\r\n/);
  assert.match(out, /Content-Type: application\/vnd\.docker\.raw-stream\r\n/);
  assert.ok(out.endsWith('\r\n\r\nHELLO'), JSON.stringify(out));
});

test('upgrade: an error before the hijack is an ordinary JSON response', async () => {
  const out = await rawUpgrade('/echo/missing/attach', '');
  assert.match(out, /^HTTP\/1\.1 404 Not Found\r\n/);
  assert.ok(out.includes('{"message":"No such container: missing"}'));
});

test('without Upgrade: 200 and the body as stdin', async () => {
  const body = await new Promise<string>((resolve, reject) => {
    const r = request({ socketPath: sock, path: '/echo/x/attach', method: 'POST' }, (res) => {
      assert.equal(res.statusCode, 200);
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    });
    r.on('error', reject);
    r.end('quiet');
  });
  assert.equal(body, 'QUIET');
});
