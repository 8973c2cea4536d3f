import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeCa } from '../distribution/remote/testkit.ts';
import { closeAgents, type FetchFailure, fetchInto, IDLE } from './blob-fetch.ts';

let dir: string;
let ca: string;
let server: Server;
let url: string;
const sockets = new Set<Socket>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-blob-fetch-'));
  await makeCa(dir);
  ca = await readFile(join(dir, 'ca.crt'), 'utf8');
  const tls = { key: await readFile(join(dir, 'server.key')), cert: await readFile(join(dir, 'server.crt')) };
  // A server that answers the head and the first bytes of the body, then sends nothing more.
  server = createServer(tls, (_req, res) => {
    res.writeHead(200, { 'Content-Length': 100_000 });
    res.write(Buffer.alloc(1000, 7));
  });
  server.on('secureConnection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/v2/r/blobs/sha256:${'0'.repeat(64)}`;
});
after(async () => {
  closeAgents();
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

test('over HTTPS, a body that stops coming fails with the idle code, after the bytes that came', async () => {
  // The registry client does not try a hung registry again (distribution/remote/blob.ts looks for IDLE): the
  // failure must say so, not look like a broken connection.
  let got = 0;
  await assert.rejects(
    fetchInto(
      { url, headers: {}, tls: { ca: [ca], verify: true }, idleMs: 300, connectMs: 5000 },
      100_000,
      (c) => {
        got += c.length;
      },
      {},
    ),
    (err: FetchFailure) => {
      assert.equal(err.code, IDLE, err.message);
      return true;
    },
  );
  assert.equal(got, 1000);
});
