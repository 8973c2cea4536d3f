import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineClient, frame, stdCopy } from './index.ts';
import { NotFoundError } from '../util/errors.ts';

/**
 * A fake engine answering attach with a hand-written `101 UPGRADED`: it echoes what it reads only after
 * the client half-closes, then closes — so the test fails unless the client keeps reading after EOF.
 */
let dir = '';
let server: http.Server;
const seen: { url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-hijack-'));
  server = http.createServer((req, res) => {
    res.setHeader('Api-Version', '1.45');
    if (req.url === '/_ping') return void res.end();
    res.statusCode = 404;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ message: 'No such container: nope' }));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const chunks: Buffer[] = [head];
    let body = '';
    seen.push({ url: req.url ?? '', headers: req.headers, body });
    if ((req.url ?? '').includes('/containers/nope/')) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
      return;
    }
    const tty = (req.url ?? '').includes('/tty/');
    socket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.${tty ? 'raw' : 'multiplexed'}-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    );
    // Bytes sent right behind the headers must reach the client too.
    socket.write(tty ? 'early ' : frame(1, 'early\n'));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      body = Buffer.concat(chunks).toString();
      const last = seen[seen.length - 1];
      if (last !== undefined) last.body = body;
      if (tty) socket.end(`echo:${body}`);
      else socket.end(Buffer.concat([frame(1, `echo:${body}`), frame(2, 'to stderr\n')]));
    });
  });
  await new Promise<void>((resolve) => server.listen(join(dir, 'e.sock'), resolve));
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

function client(): EngineClient {
  return new EngineClient({ host: `unix://${join(dir, 'e.sock')}` });
}

async function readAll(socket: Socket): Promise<string> {
  let s = '';
  for await (const c of socket) s += (c as Buffer).toString();
  return s;
}

describe('hijacked connections', () => {
  it('asks for an upgrade, gets the raw socket, half-closes and reads the reply sent after EOF', async () => {
    const c = client();
    try {
      const conn = await c.containerAttach('abc', {
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        detachKeys: 'ctrl-x,y',
      });
      assert.equal(conn.contentType, 'application/vnd.docker.multiplexed-stream');
      conn.socket.end('hello\n');
      const out: string[] = [];
      const err: string[] = [];
      const { Writable } = await import('node:stream');
      const sink = (into: string[]) =>
        new Writable({
          write(chunk: Buffer, _e, cb) {
            into.push(chunk.toString());
            cb();
          },
        });
      await stdCopy(conn.socket, sink(out), sink(err));
      assert.equal(out.join(''), 'early\necho:hello\n');
      assert.equal(err.join(''), 'to stderr\n');
      const req = seen[seen.length - 1];
      assert.equal(req?.url, '/v1.45/containers/abc/attach?detachKeys=ctrl-x%2Cy&stderr=1&stdin=1&stdout=1&stream=1');
      assert.equal(req?.headers.connection, 'Upgrade');
      assert.equal(req?.headers.upgrade, 'tcp');
      assert.equal(req?.body, 'hello\n');
    } finally {
      c.close();
    }
  });

  it('sends the exec start body and reads a raw (TTY) stream', async () => {
    const c = client();
    try {
      const conn = await c.execAttach('tty/e1', { Tty: true, ConsoleSize: [30, 100] });
      assert.equal(conn.contentType, 'application/vnd.docker.raw-stream');
      conn.socket.end('ls\n');
      const text = await readAll(conn.socket);
      // The JSON body arrived before the stream, then what the client typed.
      assert.equal(text, 'early echo:{"Detach":false,"Tty":true,"ConsoleSize":[30,100]}ls\n');
    } finally {
      c.close();
    }
  });

  it("fails with docker's text when the engine does not upgrade", async () => {
    const c = client();
    try {
      await assert.rejects(
        c.containerAttach('nope', { stream: true }),
        (e: unknown) => e instanceof NotFoundError && e.message === 'unable to upgrade to tcp, received 404',
      );
    } finally {
      c.close();
    }
  });
});
