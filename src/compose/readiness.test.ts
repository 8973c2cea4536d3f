import assert from 'node:assert/strict';
import { createServer as httpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import type { ContainerInspect } from '../client/index.ts';
import type { ComposeContext } from './context.ts';
import { normalizeService } from './normalize.ts';
import { probeReady } from './readiness.ts';
import { parseReadiness } from './ready-spec.ts';

const ctx0 = { workingDir: '/p', home: '/h', error: (_: unknown, r: string) => new Error(r) };
const svc = (ready: unknown) => normalizeService('db', { image: 'x', 'x-berth-ready': ready }, ctx0);

test('x-berth-ready: tcp, http with port, log, delay, timeout', () => {
  assert.deepEqual(parseReadiness(svc({ tcp: 5432 })), { tcp: 5432 });
  assert.deepEqual(parseReadiness(svc({ http: '/health', port: '8080' })), { http: '/health', port: 8080 });
  assert.deepEqual(parseReadiness(svc({ log: 'ready to accept', timeout: '30s' })), {
    log: 'ready to accept',
    timeout: 30_000,
  });
  assert.deepEqual(parseReadiness(svc({ delay: '2s' })), { delay: 2000 });
  assert.equal(parseReadiness(normalizeService('a', { image: 'x' }, ctx0)), undefined);
});

test('x-berth-ready: mistakes are errors naming the key', () => {
  assert.throws(() => parseReadiness(svc({ tcp: 70000 })), /services\.db\.x-berth-ready\.tcp: invalid port "70000"/);
  assert.throws(() => parseReadiness(svc({ http: '/h' })), /"http" needs a "port"/);
  assert.throws(() => parseReadiness(svc({ http: 'h', port: 80 })), /must be a path/);
  assert.throws(() => parseReadiness(svc({ tpc: 80 })), /unknown key "tpc"/);
  assert.throws(() => parseReadiness(svc({ delay: 'soon' })), /invalid duration "soon"/);
  assert.throws(() => parseReadiness(svc({})), /needs one of tcp, http, log or delay/);
  assert.throws(() => parseReadiness(svc('tcp')), /must be a mapping/);
});

let tcp: Server;
let http: ReturnType<typeof httpServer>;
let tcpPort = 0;
let httpPort = 0;
before(async () => {
  tcp = createServer((s) => s.end());
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  tcpPort = (tcp.address() as AddressInfo).port;
  http = httpServer((req, res) => {
    res.statusCode = req.url === '/ok' ? 200 : 503;
    res.end();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  httpPort = (http.address() as AddressInfo).port;
});
after(() => {
  tcp.close();
  http.close();
});

function container(startedAgoMs: number, running = true): ContainerInspect {
  return {
    Id: 'c1',
    Name: '/p-db-1',
    Image: 'x',
    State: {
      Running: running,
      Status: running ? 'running' : 'exited',
      StartedAt: new Date(Date.now() - startedAgoMs).toISOString(),
    },
    Config: {},
    HostConfig: { NetworkMode: 'p_default' },
    NetworkSettings: { Networks: { p_default: { IPAddress: '127.0.0.1' } } },
  } as unknown as ContainerInspect;
}
const ctx = {} as ComposeContext;

test('probes: a listening TCP port, an HTTP path that answers 2xx, a delay since start', async () => {
  assert.equal(await probeReady(ctx, container(0), { tcp: tcpPort }), true);
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  assert.equal(await probeReady(ctx, container(0), { tcp: closedPort }), false);
  assert.equal(await probeReady(ctx, container(0), { http: '/ok', port: httpPort }), true);
  assert.equal(await probeReady(ctx, container(0), { http: '/down', port: httpPort }), false);
  assert.equal(await probeReady(ctx, container(500), { delay: 2000 }), false);
  assert.equal(await probeReady(ctx, container(2500), { delay: 2000 }), true);
  assert.equal(await probeReady(ctx, container(5000, false), { delay: 10 }), false);
});
