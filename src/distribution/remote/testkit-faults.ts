/**
 * The registry test kit's misbehaving peers: a "faulty registry" in node:http that serves one image and breaks one
 * of its blobs (or its manifest) on demand, and a TCP proxy that can cut or hang a connection. See testkit.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { closeServer, listen } from './testkit-token.ts';

/**
 * What the faulty registry does wrong:
 * - `healthy`: nothing;
 * - `bad-digest`: the layer blob's bytes do not match its digest (same length);
 * - `truncated`: the layer blob is sent with its full Content-Length but only half its bytes, then the
 *   connection is closed, on every request (Range is ignored: 200 and the whole length again);
 * - `bad-manifest`: the manifest's bytes (asked by digest or by tag) hash to another digest than the one asked
 *   for, or than its `Docker-Content-Digest` header says;
 * - `hang`: the layer blob stops after half its bytes and the connection stays open, silent;
 * - `cut-once`: the first GET of the layer blob stops after half its bytes and the connection is cut; later
 *   GETs are healthy and honour `Range` (206), so a client can resume;
 * - `schema1`: the tag serves a signed Docker schema 1 manifest (`…manifest.v1+prettyjws`), which clients refuse;
 * - `stall`: the layer blob stops after half its bytes, the connection open, until `release()` sends the rest.
 */
export type Fault = 'healthy' | 'bad-digest' | 'truncated' | 'bad-manifest' | 'hang' | 'cut-once' | 'schema1' | 'stall';

/** One request the faulty registry saw. */
export interface SeenRequest {
  method: string;
  path: string;
  range?: string;
}

/** A blob or manifest the faulty registry serves. */
export interface ServedBlob {
  digest: string;
  body: Buffer;
  mediaType: string;
}

export interface FaultyRegistry {
  /** `127.0.0.1:PORT`, the registry part of image references. */
  host: string;
  port: number;
  /** `http://…`. */
  url: string;
  /** Its temp dir. */
  dir: string;
  /** The requests it saw, as text. */
  log(): string;
  /** Closes it and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** The repository it serves (`faulty/x`), the tag (`1`) and the manifest digest. */
  repository: string;
  tag: string;
  manifestDigest: string;
  /** The layer blob the faults apply to (the top layer). */
  layer: ServedBlob;
  /** The healthy layers below it. */
  healthy: ServedBlob[];
  config: ServedBlob;
  manifest: ServedBlob;
  /** Every request so far. */
  requests: SeenRequest[];
  /** Changes the fault from now on (`cut-once` re-arms). */
  setFault(f: Fault): void;
  /** Sends the rest of every layer blob held by `stall`. */
  release(): void;
}

/**
 * Starts the faulty registry, serving one image at `faulty/x:1` (Docker schema2): `healthyLayers` small healthy
 * layers (64 KiB each, default 0) below the layer the faults apply to, an uncompressed tar holding `layerBytes`
 * random bytes (default 4 MiB).
 */
export async function startFaultyRegistry(
  fault: Fault,
  opts: { layerBytes?: number; healthyLayers?: number } = {},
): Promise<FaultyRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-registry-faulty-'));
  const digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const tarMediaType = 'application/vnd.docker.image.rootfs.diff.tar';
  const healthy: ServedBlob[] = Array.from({ length: opts.healthyLayers ?? 0 }, (_, i) => {
    const body = tarOfOneFile(`healthy${i}.bin`, randomBytes(64 << 10));
    return { digest: digest(body), body, mediaType: tarMediaType };
  });
  const tar = tarOfOneFile('payload.bin', randomBytes(opts.layerBytes ?? 4 << 20));
  const layer: ServedBlob = { digest: digest(tar), body: tar, mediaType: tarMediaType };
  const layers = [...healthy, layer];
  const configBody = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-05-05T00:00:00Z',
      config: { Cmd: ['/payload.bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      history: layers.map(() => ({ created: '2024-05-05T00:00:00Z', created_by: 'faulty registry' })),
    }),
  );
  const config: ServedBlob = {
    digest: digest(configBody),
    body: configBody,
    mediaType: 'application/vnd.docker.container.image.v1+json',
  };
  const manifestBody = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: config.mediaType, size: config.body.length, digest: config.digest },
      layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.body.length, digest: l.digest })),
    }),
  );
  const manifest: ServedBlob = {
    digest: digest(manifestBody),
    body: manifestBody,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  };
  const repository = 'faulty/x';
  const tag = '1';
  const requests: SeenRequest[] = [];
  let current = fault;
  let cutDone = false;
  const stalled: (() => void)[] = [];
  const sockets = new Set<Socket>();
  let log = '';

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ method: req.method ?? '', path, ...(req.headers.range ? { range: req.headers.range } : {}) });
    log += `${req.method} ${path}${req.headers.range ? ` (${req.headers.range})` : ''} fault=${current}\n`;
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.writeHead(405, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'the faulty registry only serves pulls' }] }),
      );
    }
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
      return res.end(head ? undefined : '{}');
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (!m || m[1] !== repository) return notFound(res, 'NAME_UNKNOWN', `repository name not known to registry`);
    const [, , kind, ref] = m;
    if (kind === 'manifests') {
      if (ref !== tag && ref !== manifest.digest) return notFound(res, 'MANIFEST_UNKNOWN', 'manifest unknown');
      let body = manifest.body;
      let mediaType = manifest.mediaType;
      let digestHeader = manifest.digest;
      // Same JSON, other bytes: a space more at the end changes the digest and nothing else.
      if (current === 'bad-manifest') body = Buffer.concat([manifest.body, Buffer.from(' ')]);
      if (current === 'schema1') {
        body = schema1Manifest(repository, tag, layers);
        mediaType = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
        digestHeader = digest(body);
      }
      res.writeHead(200, {
        'content-type': mediaType,
        'content-length': String(body.length),
        'docker-content-digest': digestHeader,
      });
      return res.end(head ? undefined : body);
    }
    const blob = layers.find((l) => l.digest === ref) ?? (ref === config.digest ? config : undefined);
    if (!blob) return notFound(res, 'BLOB_UNKNOWN', 'blob unknown to registry');
    const base = {
      'content-type': 'application/octet-stream',
      'docker-content-digest': blob.digest,
      'accept-ranges': 'bytes',
    };
    if (head) {
      res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
      return res.end();
    }
    const half = blob.body.subarray(0, blob.body.length >> 1);
    if (blob === layer && current === 'bad-digest') {
      const wrong = Buffer.from(blob.body);
      for (let i = wrong.length - 1024; i < wrong.length; i++) wrong[i]! ^= 0xff;
      res.writeHead(200, { ...base, 'content-length': String(wrong.length) });
      return res.end(wrong);
    }
    if (blob === layer && current === 'truncated') {
      res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
      return res.write(half, () => res.socket?.end());
    }
    if (blob === layer && current === 'hang') {
      res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
      return res.write(half);
    }
    if (blob === layer && current === 'stall') {
      res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
      res.write(half);
      stalled.push(() => res.end(blob.body.subarray(half.length)));
      return;
    }
    if (blob === layer && current === 'cut-once' && !cutDone) {
      cutDone = true;
      res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
      return res.write(half, () => res.socket?.destroy());
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), blob.body.length - 1) : blob.body.length - 1;
      if (start > end || start >= blob.body.length) {
        res.writeHead(416, { ...base, 'content-range': `bytes */${blob.body.length}` });
        return res.end();
      }
      res.writeHead(206, {
        ...base,
        'content-length': String(end - start + 1),
        'content-range': `bytes ${start}-${end}/${blob.body.length}`,
      });
      return res.end(blob.body.subarray(start, end + 1));
    }
    res.writeHead(200, { ...base, 'content-length': String(blob.body.length) });
    res.end(blob.body);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  const host = `127.0.0.1:${port}`;
  let stopped = false;
  return {
    host,
    port,
    url: `http://${host}`,
    dir,
    repository,
    tag,
    manifestDigest: manifest.digest,
    layer,
    healthy,
    config,
    manifest,
    requests,
    log: () => log,
    setFault: (f) => {
      current = f;
      cutDone = false;
    },
    release: () => {
      for (const send of stalled.splice(0)) send();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      for (const s of sockets) s.destroy();
      await closeServer(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A schema 1 manifest of the image's layers (the signature is not a real one: clients refuse schema 1 first). */
function schema1Manifest(name: string, tag: string, layers: ServedBlob[]): Buffer {
  return Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 1,
        name,
        tag,
        architecture: 'amd64',
        fsLayers: layers.map((l) => ({ blobSum: l.digest })).reverse(),
        history: layers.map((_, i) => ({
          v1Compatibility: JSON.stringify({ id: `${i}`.padStart(64, '0'), created: '2024-05-05T00:00:00Z' }),
        })),
        signatures: [{ header: { alg: 'ES256' }, signature: 'c2lnbmF0dXJl', protected: 'e30' }],
      },
      null,
      3,
    ),
  );
}

function notFound(res: ServerResponse, code: string, message: string): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code, message }] }));
}

/** A ustar archive of one regular file (enough for a layer; kept here so the kit needs no tar library). */
function tarOfOneFile(name: string, body: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000755\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${(1_700_000_000).toString(8).padStart(11, '0')}\0`, 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([h, body, pad, Buffer.alloc(1024)]);
}

// ---- the misbehaving proxy ------------------------------------------------------------------------------

export interface TestProxy {
  host: string;
  port: number;
  /** Connections seen. */
  connections: number;
  /** Request heads seen (method, path and headers of each request, as text). */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target`. `tamper(n, chunk)` sees each response chunk of the n-th
 * connection (from 1) and returns 'pass', 'cut' (destroy both sides now) or 'hang' (stop forwarding).
 */
export async function startProxy(
  t: TestContext,
  targetPort: number,
  tamper: (conn: number, sentSoFar: number, chunk: Buffer) => 'pass' | 'cut' | 'hang' = () => 'pass',
): Promise<TestProxy> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: NetServer = createNetServer((client) => {
    const n = ++count;
    proxy.connections = count;
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let sent = 0;
    let hung = false;
    client.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(text)) proxy.requests.push(head >= 0 ? text.slice(0, head) : text);
      // Backpressure both ways, as a real hop has: the proxy holds no more than its socket buffers.
      if (!upstream.write(d)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    upstream.on('data', (d: Buffer) => {
      if (hung) return;
      const verdict = tamper(n, sent, d);
      if (verdict === 'cut') {
        client.destroy();
        upstream.destroy();
        return;
      }
      if (verdict === 'hang') {
        hung = true;
        return;
      }
      sent += d.length;
      if (!client.write(d)) upstream.pause();
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const proxy: TestProxy = {
    host: `127.0.0.1:${port}`,
    port,
    connections: 0,
    requests: [],
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  t.after(() => proxy.close());
  return proxy;
}
