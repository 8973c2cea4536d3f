import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CanceledError,
  ConflictError,
  NotFoundError,
  UnavailableError,
  BerthError,
  InvalidArgumentError,
} from '../util/index.ts';
import { EngineClient, encodeFilters, isDaemonError, compareVersions, parseHost } from './index.ts';
import { MAX_API_VERSION } from './core.ts';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A fake engine: records requests and answers from a per-test handler. */
let dir = '';
let sock = '';
let server: http.Server;
let seen: Seen[] = [];
let apiHeader: string | undefined = '1.41';
let headAllowed = true;
let handler: (req: Seen, res: http.ServerResponse) => void = (_req, res) => res.end();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-client-'));
  sock = join(dir, 'engine.sock');
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(s);
      if (apiHeader !== undefined) res.setHeader('Api-Version', apiHeader);
      res.setHeader('Ostype', 'linux');
      if (s.url === '/_ping') {
        if (s.method === 'HEAD' && !headAllowed) {
          res.statusCode = 405;
          res.end();
          return;
        }
        // As berthd and dockerd answer: with a length, so the connection can carry the next request.
        res.setHeader('Content-Length', '2');
        res.end(s.method === 'GET' ? 'OK' : undefined);
        return;
      }
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
  apiHeader = '1.41';
  headAllowed = true;
  handler = (_req, res) => res.end();
});

function json(res: http.ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(`${JSON.stringify(value)}\n`);
}

function client(): EngineClient {
  return new EngineClient({ host: `unix://${sock}` });
}

describe('version negotiation', () => {
  it('pings once with HEAD and uses the engine version on versioned paths', async () => {
    handler = (_r, res) => json(res, 200, { Version: 'x' });
    const c = client();
    await c.version();
    await c.info();
    c.close();
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url}`),
      ['HEAD /_ping', 'GET /v1.41/version', 'GET /v1.41/info'],
    );
  });

  it('sends the ping and the call after it each on a connection that the answer closes', async () => {
    handler = (_r, res) => json(res, 200, { Version: 'x' });
    const connections: import('node:net').Socket[] = [];
    const onConnection = (s: import('node:net').Socket) => connections.push(s);
    server.on('connection', onConnection);
    const c = client();
    try {
      await c.version();
    } finally {
      c.close();
      server.off('connection', onConnection);
    }
    assert.equal(connections.length, 2);
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url} ${s.headers.connection} ${s.headers.host}`),
      ['HEAD /_ping close localhost', 'GET /v1.41/version close localhost'],
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      connections.map((s) => s.destroyed || s.readableEnded),
      [true, true],
    );
  });

  it('sends an optimistic request at its own version with no ping, and later calls at that version', async () => {
    handler = (_r, res) => json(res, 200, { Need: [] });
    const c = client();
    await c.requestJSON('POST', '/build/context', { json: [], optimistic: true });
    await c.requestJSON('GET', '/info');
    c.close();
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url}`),
      [`POST /v${MAX_API_VERSION}/build/context`, `GET /v${MAX_API_VERSION}/info`],
    );
    assert.equal(seen[0]!.body, '[]');
  });

  it('pings and sends an optimistic request again when the engine refuses its version', async () => {
    handler = (r, res) =>
      r.url.startsWith(`/v${MAX_API_VERSION}/`)
        ? json(res, 400, {
            message: `client version ${MAX_API_VERSION} is too new. Maximum supported API version is 1.41`,
          })
        : json(res, 200, { Need: ['a'] });
    const c = client();
    const r = await c.requestJSON<{ Need: string[] }>('POST', '/build/context', { json: [1], optimistic: true });
    c.close();
    assert.deepEqual(r, { Need: ['a'] });
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url} ${s.body}`),
      [`POST /v${MAX_API_VERSION}/build/context [1]`, 'HEAD /_ping ', 'POST /v1.41/build/context [1]'],
    );
  });

  it("reports an optimistic request's other errors without negotiating", async () => {
    handler = (_r, res) => json(res, 404, { message: 'page not found' });
    const c = client();
    await assert.rejects(c.requestJSON('POST', '/build/context', { json: [], optimistic: true }), NotFoundError);
    c.close();
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url}`),
      [`POST /v${MAX_API_VERSION}/build/context`],
    );
  });

  it('falls back to 1.24 without an Api-Version header', async () => {
    apiHeader = undefined;
    handler = (_r, res) => json(res, 200, []);
    const c = client();
    await c.imageList();
    c.close();
    assert.equal(seen[1]?.url, '/v1.24/images/json');
  });

  it('never goes above 1.50', async () => {
    apiHeader = '1.99';
    handler = (_r, res) => json(res, 200, []);
    const c = client();
    assert.equal(await c.apiVersion(), '1.50');
    c.close();
  });

  it('retries the ping with GET when HEAD is refused', async () => {
    headAllowed = false;
    apiHeader = '1.43';
    const c = client();
    assert.equal(await c.apiVersion(), '1.43');
    c.close();
    assert.deepEqual(
      seen.map((s) => s.method),
      ['HEAD', 'GET'],
    );
  });

  it('does not negotiate when the version is pinned', async () => {
    handler = (_r, res) => json(res, 200, {});
    const c = new EngineClient({ host: `unix://${sock}`, apiVersion: '1.30' });
    await c.version();
    c.close();
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/v1.30/version'],
    );
  });
});

describe('errors', () => {
  it('maps statuses to error kinds carrying the engine message', async () => {
    const cases: [number, new (...a: never[]) => BerthError][] = [
      [404, NotFoundError],
      [409, ConflictError],
      [400, InvalidArgumentError],
    ];
    for (const [status, kind] of cases) {
      handler = (_r, res) => json(res, status, { message: `boom ${status}` });
      const c = client();
      await assert.rejects(c.imageInspect('nosuch'), (err: unknown) => {
        assert.ok(err instanceof kind, `status ${status}`);
        assert.equal((err as Error).message, `boom ${status}`);
        assert.ok(isDaemonError(err));
        return true;
      });
      c.close();
    }
  });

  it('maps 500 to an internal BerthError and keeps a plain-text body', async () => {
    handler = (_r, res) => {
      res.statusCode = 500;
      res.setHeader('Content-Type', 'text/plain');
      res.end('disk on fire\n');
    };
    const c = client();
    await assert.rejects(c.info(), (err: unknown) => {
      assert.ok(err instanceof BerthError);
      assert.equal(err.code, 'INTERNAL');
      assert.equal(err.message, 'disk on fire');
      return true;
    });
    c.close();
  });

  it('reports a missing socket as docker does, with Berth names', async () => {
    const host = `unix://${join(dir, 'absent.sock')}`;
    const c = new EngineClient({ host });
    await assert.rejects(c.version(), (err: unknown) => {
      assert.ok(err instanceof UnavailableError);
      assert.equal(err.message, `Cannot connect to the Berth daemon at ${host}. Is berthd running?`);
      assert.equal(isDaemonError(err), false);
      return true;
    });
    c.close();
  });

  it('reports an engine that hangs up without an answer as docker does (an EOF of the request)', async () => {
    handler = (_req, res) => res.socket?.destroy();
    const c = client();
    await assert.rejects(c.imageSave(['nosuch']), (err: unknown) => {
      assert.ok(err instanceof UnavailableError);
      assert.equal(
        err.message,
        `error during connect: Get "http://${encodeURIComponent(sock)}/v1.41/images/get?names=nosuch": EOF`,
      );
      return true;
    });
    c.close();
  });

  it('turns an aborted signal into CanceledError', async () => {
    handler = () => {
      // Never answers.
    };
    const c = client();
    const ac = new AbortController();
    const p = c.info({ signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, CanceledError);
    c.close();
  });
});

describe('image calls', () => {
  it('sends list, remove and prune parameters like docker', async () => {
    handler = (s, res) => {
      if (s.url.startsWith('/v1.41/images/prune')) json(res, 200, { ImagesDeleted: null, SpaceReclaimed: 0 });
      else json(res, 200, []);
    };
    const c = client();
    await c.imageList({ all: true, filters: { dangling: ['true'], reference: ['a', 'b'] } });
    await c.imageRemove('r/x:1', { force: true, noPrune: true });
    await c.imagePrune({ dangling: ['false'] });
    c.close();
    const urls = seen.slice(1).map((s) => `${s.method} ${decodeURIComponent(s.url.replace(/\+/g, ' '))}`);
    assert.deepEqual(urls, [
      'GET /v1.41/images/json?all=1&filters={"dangling":{"true":true},"reference":{"a":true,"b":true}}',
      'DELETE /v1.41/images/r/x:1?force=1&noprune=1',
      'POST /v1.41/images/prune?filters={"dangling":{"false":true}}',
    ]);
  });

  it('tags with repo and tag split, defaulting to latest', async () => {
    handler = (_s, res) => {
      res.statusCode = 201;
      res.end();
    };
    const c = client();
    await c.imageTag('busybox', 'localhost:5000/bb');
    await c.imageTag('busybox', 'bb:v2');
    assert.throws(() => c.imageTag('busybox', 'bb@sha256:00'), InvalidArgumentError);
    c.close();
    assert.deepEqual(
      seen.slice(1).map((s) => s.url),
      ['/v1.41/images/busybox/tag?repo=localhost%3A5000%2Fbb&tag=latest', '/v1.41/images/busybox/tag?repo=bb&tag=v2'],
    );
  });

  it('streams a load body up and parses JSON messages split across chunks', async () => {
    handler = (s, res) => {
      res.setHeader('Content-Type', 'application/json');
      assert.equal(s.body, 'TAR-BYTES-1TAR-BYTES-2');
      res.write('{"stream":"Loaded ima');
      setTimeout(() => {
        res.write('ge: a:1\\n"}\r\n{"status":"x","progressDetail":{"current":1,"total":2}}');
        res.end('{"stream":"{braces} \\"quoted\\""}');
      }, 10);
    };
    const c = client();
    const body = Readable.from([Buffer.from('TAR-BYTES-1'), Buffer.from('TAR-BYTES-2')]);
    const msgs = [];
    for await (const m of await c.imageLoad(body, { quiet: true })) msgs.push(m);
    c.close();
    assert.equal(seen[1]?.url, '/v1.41/images/load?quiet=1');
    assert.equal(seen[1]?.headers['content-type'], 'application/x-tar');
    assert.deepEqual(msgs, [
      { stream: 'Loaded image: a:1\n' },
      { status: 'x', progressDetail: { current: 1, total: 2 } },
      { stream: '{braces} "quoted"' },
    ]);
  });

  it('imports with repeated changes and returns save output as a byte stream', async () => {
    handler = (s, res) => {
      if (s.url.startsWith('/v1.41/images/get')) {
        res.setHeader('Content-Type', 'application/x-tar');
        res.end('archive');
        return;
      }
      json(res, 200, { status: 'sha256:abc' });
    };
    const c = client();
    const msgs = [];
    for await (const m of await c.imageImport('rootfs', {
      repo: 'imp:1',
      changes: ['CMD ["sh"]', 'ENV A=1'],
      message: 'hi there',
    })) {
      msgs.push(m);
    }
    const stream = await c.imageSave(['a:1', 'b']);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    c.close();
    assert.deepEqual(msgs, [{ status: 'sha256:abc' }]);
    assert.equal(seen[1]?.body, 'rootfs');
    assert.equal(
      seen[1]?.url,
      '/v1.41/images/create?changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3D1&fromSrc=-&message=hi+there&repo=imp%3A1',
    );
    assert.equal(seen[2]?.url, '/v1.41/images/get?names=a%3A1&names=b');
    assert.equal(Buffer.concat(chunks).toString(), 'archive');
  });

  it('calls the Berth rollback and tag-history endpoints', async () => {
    handler = (s, res) => {
      if (s.url.includes('rollback')) json(res, 200, { Name: 'a:1', From: 'sha256:2', To: 'sha256:1' });
      else json(res, 200, [{ Digest: 'sha256:1', ImageID: 'sha256:9', Time: '2024-01-01T00:00:00Z', Action: 'set' }]);
    };
    const c = client();
    const r = await c.imageRollback('a:1', { to: 'sha256:1' });
    const h = await c.imageTagHistory('a:1');
    c.close();
    assert.deepEqual(r, { Name: 'a:1', From: 'sha256:2', To: 'sha256:1' });
    assert.equal(h[0]?.Action, 'set');
    assert.deepEqual(
      seen.slice(1).map((s) => `${s.method} ${s.url}`),
      ['POST /v1.41/images/a:1/rollback?to=sha256%3A1', 'GET /v1.41/images/a:1/taghistory'],
    );
  });
});

describe('helpers', () => {
  it('encodes filters and drops empty keys', () => {
    assert.equal(encodeFilters({ label: ['a=b'], dangling: [] }), '{"label":{"a=b":true}}');
    assert.equal(encodeFilters({}), undefined);
  });

  it('compares versions numerically', () => {
    assert.ok(compareVersions('1.9', '1.41') < 0);
    assert.ok(compareVersions('1.50', '1.41') > 0);
    assert.equal(compareVersions('1.41', '1.41'), 0);
  });

  it('parses hosts', () => {
    assert.deepEqual(parseHost('unix:///run/x.sock'), { kind: 'unix', socketPath: '/run/x.sock' });
    assert.deepEqual(parseHost('tcp://10.0.0.1:2376'), { kind: 'tcp', host: '10.0.0.1', port: 2376 });
    assert.deepEqual(parseHost('tcp://[::1]'), { kind: 'tcp', host: '::1', port: 2375 });
    assert.throws(() => parseHost('ssh://x'), InvalidArgumentError);
  });
});
