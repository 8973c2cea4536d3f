/**
 * An endpoint that only drains: it answers `/_ping` (and `/version`) as an engine of the classic builder would, and
 * for `POST /build` reads the whole body (the context tar) and answers one image ID, with no engine work at all. The
 * docker CLI's build against it is the CLI's own floor: its walk, tar and send of the context, its start and its
 * round trips.
 */
import { createServer, type Server } from 'node:http';
import { rm } from 'node:fs/promises';

const ID = `sha256:${'0'.repeat(64)}`;

export interface DrainServer {
  socket: string;
  host: string;
  /** Context bytes received by the last build. */
  lastBytes: number;
  stop(): Promise<void>;
}

export async function startDrain(socket: string): Promise<DrainServer> {
  await rm(socket, { force: true });
  const state = { lastBytes: 0 };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').replace(/^\/v[0-9.]+/, '').split('?')[0];
    const headers = { 'Api-Version': '1.41', 'Builder-Version': '1', 'Docker-Experimental': 'false', Ostype: 'linux' };
    if (path === '/_ping') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/plain' });
      res.end(req.method === 'HEAD' ? undefined : 'OK');
      return;
    }
    if (path === '/version') {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ Version: '20.10.0', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux' }));
      return;
    }
    if (path === '/build' && req.method === 'POST') {
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      req.on('end', () => {
        state.lastBytes = bytes;
        res.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify({ aux: { ID } })}\n${JSON.stringify({ stream: `${ID}\n` })}\n`);
      });
      return;
    }
    req.resume();
    res.writeHead(404, { ...headers, 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: `page not found: ${req.method} ${req.url}` }));
  });
  const stop = await listenUnix(server, socket);
  return {
    socket,
    host: `unix://${socket}`,
    get lastBytes() {
      return state.lastBytes;
    },
    stop,
  };
}

/** Listens on the unix socket `socket`; resolves to what closes every connection, the server and the socket file. */
export async function listenUnix(server: Server, socket: string): Promise<() => Promise<void>> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, resolve);
  });
  return async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(socket, { force: true });
  };
}
