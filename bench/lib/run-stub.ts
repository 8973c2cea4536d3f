/**
 * An endpoint that answers every request `docker run -d` makes at once, with canned but well-formed answers and no
 * engine work: `/_ping` with berthd's headers (so the CLI settles on the same API version and sends the same
 * requests as against berthd), `POST /containers/create` with a fresh ID once the body (the create's config) is read,
 * `POST /containers/{id}/start` with 204, and the CLI's `POST /containers/{id}/wait?condition=next-exit` (sent
 * before the start even with `-d`) with its headers at once and no body, as for a container that keeps running. Anything else is answered 404 and counted, as every request is (by route,
 * IDs folded), so that a report can say what the CLI sent. 20 CLIs against it at once are the CLIs' own floor for
 * `run -d`: their start, flag parsing, the create's config, the round trips.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenUnix } from './drain.ts';

export interface RunStub {
  socket: string;
  host: string;
  /** Requests by route ("POST /containers/create", IDs folded), since the last `reset`. */
  routes: Map<string, number>;
  /** The IDs the creates were answered with, since the last `reset`. */
  ids: string[];
  /** Routes answered 404 since the last `reset`. */
  unknown: string[];
  reset(): void;
  stop(): Promise<void>;
}

const HEADERS = {
  'Api-Version': '1.47',
  Ostype: 'linux',
  'Docker-Experimental': 'false',
  Server: 'Berth/0.1.0 (linux)',
};

/**
 * How long the stub holds each answer, ms (default 0: at once), to stand in for an engine's answer times without its
 * work (bench/cli-wait.ts): the create's, the start's (from the request's end), the wait's headers.
 */
export interface StubDelays {
  create?: number;
  start?: number;
  wait?: number;
}

export async function startRunStub(socket: string, delays: StubDelays = {}): Promise<RunStub> {
  await rm(socket, { force: true });
  const state = { routes: new Map<string, number>(), ids: [] as string[], unknown: [] as string[] };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    const s = JSON.stringify(body);
    res.writeHead(status, {
      ...HEADERS,
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(s) + 1),
    });
    res.end(`${s}\n`);
  };
  const answer = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const path = (req.url ?? '').replace(/^\/v[0-9.]+/, '').split('?')[0]!;
    const route = `${req.method} ${path.replace(/[0-9a-f]{64}/g, '{id}')}`;
    state.routes.set(route, (state.routes.get(route) ?? 0) + 1);
    if (path === '/_ping') {
      res.writeHead(200, {
        ...HEADERS,
        'Builder-Version': '1',
        Swarm: 'inactive',
        'Cache-Control': 'no-cache, no-store, must-revalidate',
        Pragma: 'no-cache',
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': req.method === 'HEAD' ? '0' : '2',
      });
      res.end(req.method === 'HEAD' ? undefined : 'OK');
      return;
    }
    if (route === 'POST /containers/create') {
      // the config must be JSON with an image, as an engine would check
      const config = JSON.parse(body.toString('utf8')) as { Image?: string };
      if (!config.Image) return json(res, 400, { message: 'config has no Image' });
      const id = randomBytes(32).toString('hex');
      state.ids.push(id);
      return json(res, 201, { Id: id, Warnings: [] });
    }
    if (route === 'POST /containers/{id}/wait') {
      // as an engine answers it for a container that keeps running: the headers at once (the CLI waits for them
      // before it asks for the start), the body never; the CLI of `run -d` closes the request once started
      res.writeHead(200, { ...HEADERS, 'Content-Type': 'application/json' });
      res.flushHeaders();
      return;
    }
    if (route === 'POST /containers/{id}/start') {
      res.writeHead(204, HEADERS);
      res.end();
      return;
    }
    state.unknown.push(route);
    json(res, 404, { message: `page not found: ${req.method} ${req.url}` });
  };
  const delayOf = (req: IncomingMessage): number => {
    const path = (req.url ?? '').split('?')[0]!;
    if (req.method !== 'POST') return 0;
    if (path.endsWith('/containers/create')) return delays.create ?? 0;
    if (path.endsWith('/start')) return delays.start ?? 0;
    if (path.endsWith('/wait')) return delays.wait ?? 0;
    return 0;
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const go = (): void => {
        try {
          answer(req, res, Buffer.concat(chunks));
        } catch (err) {
          json(res, 400, { message: (err as Error).message });
        }
      };
      const ms = delayOf(req);
      if (ms > 0) setTimeout(go, ms);
      else go();
    });
  });
  const stop = await listenUnix(server, socket);
  return {
    socket,
    host: `unix://${socket}`,
    get routes() {
      return state.routes;
    },
    get ids() {
      return state.ids;
    },
    get unknown() {
      return state.unknown;
    },
    reset: () => {
      state.routes = new Map();
      state.ids = [];
      state.unknown = [];
    },
    stop,
  };
}
