/**
 * A registry over TLS with a private CA that redirects its blob GETs to storage on another host served under the
 * same CA (as a registry on S3 or behind a CDN does): Docker builds a repository's transport with the registry's TLS
 * settings and keeps it across redirects, so the storage host is reached with them. The same pull through berthd
 * (docker CLI 28, the CA in berthd's certs.d; its layers fetched by its unpack threads), through the reference
 * dockerd, and by a replication rule of a berth registry (the rule's CA; its small blobs through the ingest thread,
 * its large one through the registry client).
 *
 * The registry is docker-registry over plain HTTP behind a small node:https front: the front answers a blob GET
 * with a 307 to the storage endpoint, another https port under the CA, which serves the blob from docker-registry.
 * On loopback Docker (and Berth, as Docker) always skips verification, so berthd's and dockerd's pulls show the
 * skipped verification following the redirect; the replication rule's CA is verified even on loopback, so its copy
 * shows the CA following it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse, request as httpRequest } from 'node:http';
import { type Server, createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DistributionRegistry, makeCa, skopeo, startRegistry } from '../src/distribution/remote/testkit.ts';
import { call, registryCli, type ServedRegistry, serveRegistry, sha256 } from '../src/registry/testkit.ts';
import { file, image, layer, legacyArchive, tarOf } from './fixtures.ts';
import { type Daemon, api, docker, run, startDaemon } from './harness.ts';
import { startRefDockerd } from './refdockerd.ts';

const MiB = 1 << 20;
const BLOB_PATH = /^\/v2\/.+\/blobs\/sha256:[0-9a-f]{64}$/;

/** Passes a request on to docker-registry and its answer back. */
function forward(backend: number, req: IncomingMessage, res: ServerResponse): void {
  const { host: _host, ...headers } = req.headers;
  const out = httpRequest(
    { host: '127.0.0.1', port: backend, method: req.method, path: req.url, headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  out.on('error', () => res.destroy());
  req.pipe(out);
}

describe('a TLS registry with a private CA that redirects blob GETs to storage under the same CA', () => {
  let scratch: string;
  let backend: DistributionRegistry;
  const servers: Server[] = [];
  let front: string;
  let storage: string;
  /** The User-Agent of each blob GET the storage endpoint served. */
  const stored: string[] = [];
  let redirected = 0;
  let manifestDigest: string;
  let configDigest: string;
  /** The layers' digests as pushed (skopeo compresses them). */
  let layerDigests: string[] = [];

  const listen = async (s: Server) => {
    servers.push(s);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(s.address() as { port: number }).port}`;
  };

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-redirect-'));
    backend = await startRegistry('plain');
    // An image whose blobs all come through the redirect: two small layers and one over the rule's chunk size.
    const entries = [
      [file('small', randomBytes(40_000))],
      [file('other', randomBytes(3_000))],
      [file('large', randomBytes(5 * MiB))],
    ];
    const ls = [];
    for (const e of entries) ls.push(await layer(e, { gzip: false }));
    const img = image(ls);
    const archive = join(scratch, 'img.tar');
    await writeFile(archive, await tarOf(legacyArchive([{ image: img, tags: ['x:1'] }])));
    const pushed = await skopeo([
      'copy',
      '-q',
      ...backend.skopeoFlags('dest'),
      `docker-archive:${archive}`,
      `docker://${backend.host}/lib/x:1`,
    ]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${backend.host}/lib/x:1`]);
    assert.equal(raw.code, 0, raw.stderr);
    manifestDigest = sha256(raw.stdout);
    const manifest = JSON.parse(raw.stdout) as { config: { digest: string }; layers: { digest: string }[] };
    configDigest = manifest.config.digest;
    assert.equal(manifest.layers.length, 3);
    layerDigests = manifest.layers.map((l) => l.digest);

    await makeCa(scratch);
    const tls = {
      key: await readFile(join(scratch, 'server.key')),
      cert: await readFile(join(scratch, 'server.crt')),
    };
    storage = await listen(
      createHttpsServer(tls, (req, res) => {
        if (req.method === 'GET' && BLOB_PATH.test(req.url ?? '')) stored.push(req.headers['user-agent'] ?? '');
        forward(backend.port, req, res);
      }),
    );
    front = await listen(
      createHttpsServer(tls, (req, res) => {
        if (req.method === 'GET' && BLOB_PATH.test(req.url ?? '')) {
          redirected++;
          res.writeHead(307, { Location: `https://${storage}${req.url}`, 'Content-Length': 0 }).end();
        } else forward(backend.port, req, res);
      }),
    );
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    await backend?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('docker pull through berthd (the CA in its certs.d) follows the redirect to the storage host', async () => {
    const certs = join(scratch, 'certs.d');
    await mkdir(join(certs, front), { recursive: true });
    await writeFile(join(certs, front, 'ca.crt'), await readFile(join(scratch, 'ca.crt')));
    const dir = await mkdtemp(join(tmpdir(), 'berth-it-redirect-'));
    await writeFile(join(dir, 'daemon.json'), JSON.stringify({ 'certs-dir': certs }));
    let d: Daemon | undefined;
    try {
      d = await startDaemon({ dir, args: ['--config-file', join(dir, 'daemon.json')] });
      stored.length = 0;
      redirected = 0;
      const pull = await docker(d, ['pull', `${front}/lib/x:1`]);
      assert.equal(pull.code, 0, `${pull.stdout}${pull.stderr}\n--- berthd ---\n${d.log().slice(-3000)}`);
      assert.ok(pull.stdout.includes(`Digest: ${manifestDigest}`), pull.stdout);
      const inspect = await api(d.socket, 'GET', `/images/${encodeURIComponent(`${front}/lib/x:1`)}/json`);
      assert.equal((JSON.parse(inspect.body) as { Id: string }).Id, configDigest);
      assert.equal(redirected, 4, 'the config and three layers were redirected');
      assert.equal(stored.length, 4, `the storage host served them: ${stored.join(', ')}`);
      assert.ok(
        stored.every((ua) => ua.startsWith('berth/')),
        stored.join(', '),
      );
      // The layers by the unpack threads themselves (their own https, with the endpoint's TLS settings on every hop).
      assert.equal(stored.filter((ua) => /unpack thread/.test(ua)).length, 3, stored.join(', '));
    } finally {
      await d?.cleanup();
    }
  });

  // dockerd reads certs.d (/etc/docker/certs.d, a host path) only for a registry it verifies, never for one on
  // loopback: it is given no CA, and its pull shows the skipped verification following the redirect.
  it('the reference dockerd pulls the same (no CA: a loopback registry is never verified)', async () => {
    const ref = await startRefDockerd(join(scratch, 'ref'));
    try {
      stored.length = 0;
      redirected = 0;
      const env = { DOCKER_HOST: ref.host, DOCKER_CONFIG: join(scratch, 'ref', 'docker-config') };
      const pull = await run('docker', ['pull', `${front}/lib/x:1`], env, undefined, { timeoutMs: 120_000 });
      assert.equal(pull.code, 0, `${pull.stdout}${pull.stderr}\n--- dockerd ---\n${ref.log().slice(-3000)}`);
      assert.ok(pull.stdout.includes(`Digest: ${manifestDigest}`), pull.stdout);
      assert.equal(redirected, 4);
      assert.equal(stored.length, 4, stored.join(', '));
      assert.ok(
        stored.every((ua) => ua.startsWith('docker/')),
        stored.join(', '),
      );
    } finally {
      await ref.stop();
    }
  });

  it("a replication rule with the registry's CA copies the image: the ingest thread and the client both follow", async () => {
    const root = join(scratch, 'berth-registry');
    const added = await registryCli(['user', 'add', 'root', '--admin', '--password-stdin', '--root', root], 'rootpw\n');
    assert.equal(added.code, 0, added.stderr);
    const config = join(scratch, 'registry.json');
    await writeFile(config, JSON.stringify({ replication: { attempts: 2, backoff: '200ms', chunkBytes: 4 * MiB } }));
    let a: ServedRegistry | undefined;
    try {
      a = await serveRegistry(undefined, { root, args: ['--config', config] });
      const cli = async (args: string[]) => {
        const r = await registryCli([...args, '--url', a!.url, '-u', 'root'], undefined, {
          BERTH_REGISTRY_PASSWORD: 'rootpw',
        });
        assert.equal(r.code, 0, `berth registry ${args.join(' ')}: ${r.stderr}\n${a!.log().slice(-3000)}`);
        return r.stdout;
      };
      stored.length = 0;
      redirected = 0;
      await cli([
        'replication',
        'add',
        'via-storage',
        '--direction',
        'pull',
        '--remote',
        `https://${front}`,
        '--repo',
        'lib/x',
        '--remote-ca',
        join(scratch, 'ca.crt'),
      ]);
      const out = await cli(['replication', 'run', 'via-storage']);
      assert.match(out, /succeeded/, `${out}\n${a.log().slice(-3000)}`);
      const admin = { Authorization: `Basic ${Buffer.from('root:rootpw').toString('base64')}` };
      const head = await call(a, 'HEAD', '/v2/lib/x/manifests/1', {
        headers: {
          Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
          ...admin,
        },
      });
      assert.equal(head.headers.get('docker-content-digest'), manifestDigest);
      for (const digest of layerDigests) {
        const got = await call(a, 'GET', `/v2/lib/x/blobs/${digest}`, { headers: admin });
        assert.equal(sha256(Buffer.from(await got.arrayBuffer())), digest);
      }
      // The small blobs by the ingest thread, the one over the chunk size by the registry client.
      assert.ok(
        stored.some((ua) => /ingest thread/.test(ua)),
        `the ingest thread fetched from the storage host: ${stored.join(', ')}`,
      );
      assert.ok(
        stored.some((ua) => ua.startsWith('berth/') && !/ingest thread/.test(ua)),
        `the registry client fetched from the storage host: ${stored.join(', ')}`,
      );
    } finally {
      await a?.stop();
    }
  });
});
