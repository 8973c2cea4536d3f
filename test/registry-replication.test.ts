/**
 * Replication between registries through `berth registry replication …` and the admin API: a berth registry
 * pushing to Debian's docker-registry (TLS with its CA, Basic auth) and pulling back from it with identical
 * digests; on-push and cron triggers towards a second `berth registry serve` with bearer tokens, deletions
 * replicated; filters by repository, tag and label; a destination killed mid-transfer and restarted, the blob
 * resumed rather than sent again; unreachable, hanging and refusing remotes recorded as failures; bad input refused;
 * the end of an execution delivered to a project's `replication` webhook, signed.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DistributionRegistry, skopeo, startRegistry, LOGIN } from '../src/distribution/remote/testkit.ts';
import { startProxy } from '../src/distribution/remote/testkit-faults.ts';
import { call, pushImage, registryCli, type ServedRegistry, serveRegistry, sha256 } from '../src/registry/testkit.ts';
import { waitFor } from './harness.ts';

const ROOT_PW = { BERTH_REGISTRY_PASSWORD: 'rootpw' };
const ADMIN = { Authorization: `Basic ${Buffer.from('root:rootpw').toString('base64')}` };
const MiB = 1 << 20;

interface Status {
  executions: {
    id: number;
    trigger: string;
    state: string;
    copied: number;
    skipped: number;
    failed: number;
    deleted: number;
    bytes: number;
    error: string | null;
  }[];
  items: { repo: string; tag: string; digest: string | null; state: string; bytes: number; error: string | null }[];
}

/** Bytes of the uploads in progress under a berth registry's root. */
async function partialBytes(root: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(join(root, 'ingest')).catch(() => [])) {
    n += await stat(join(root, 'ingest', name)).then(
      (st) => st.size,
      () => 0,
    );
  }
  return n;
}

describe('registry replication', () => {
  let root: string;
  let a: ServedRegistry;
  let b: ServedRegistry;
  let dist: DistributionRegistry;
  const at = (...args: string[]) => [...args, '--url', a.url, '-u', 'root'];
  const cli = async (args: string[], env: Record<string, string> = {}) => {
    const r = await registryCli(at(...args), undefined, { ...ROOT_PW, ...env });
    assert.equal(r.code, 0, `berth registry ${args.join(' ')}: ${r.stderr}\n${a.log().slice(-2000)}`);
    return r.stdout;
  };
  const status = async (rule: string): Promise<Status> =>
    JSON.parse(await cli(['replication', 'status', rule, '--format', 'json'])) as Status;
  const headDigest = async (reg: { url: string }, repo: string, ref: string, headers: Record<string, string> = {}) => {
    const res = await call(reg, 'HEAD', `/v2/${repo}/manifests/${ref}`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json', ...headers },
    });
    return res.status === 200 ? res.headers.get('docker-content-digest') : null;
  };
  const distDigest = async (ref: string) => {
    const r = await skopeo([
      'inspect',
      '--raw',
      '--cert-dir',
      join(dist.dir, 'skopeo-certs'),
      '--creds',
      LOGIN.creds,
      `docker://${dist.host}/${ref}`,
    ]);
    return r.code === 0 ? sha256(r.stdout) : `skopeo: ${r.stderr}`;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-repl-'));
    const config = join(root, 'config.json');
    await writeFile(config, JSON.stringify({ replication: { attempts: 10, backoff: '200ms', chunkBytes: 4 * MiB } }));
    const rootA = join(root, 'a');
    const add = (r: string, user: string, pw: string, admin: boolean) =>
      registryCli(['user', 'add', user, ...(admin ? ['--admin'] : []), '--password-stdin', '--root', r], `${pw}\n`);
    assert.equal((await add(rootA, 'root', 'rootpw', true)).code, 0);
    const rootB = join(root, 'b');
    assert.equal((await add(rootB, 'bob', 'bobpw', true)).code, 0);
    a = await serveRegistry(undefined, { root: rootA, args: ['--config', config] });
    b = await serveRegistry(undefined, { root: rootB });
    dist = await startRegistry('tls');
    await writeFile(join(root, 'dist-ca.crt'), dist.caCert!);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await dist?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('pushes to docker-registry over TLS with Basic auth, filtered by repository and tag; digests identical', async (t) => {
    const layers = Array.from({ length: 12 }, (_, i) => randomBytes(2000 + i));
    layers.push(randomBytes(9 * MiB)); // larger than a chunk: sent in acknowledged chunks
    layers.push(randomBytes(2 * MiB + 12345)); // one request, read from its file in several pieces
    const web = await pushImage(a, 'app/web', '1.0', { layers, headers: ADMIN });
    await pushImage(a, 'app/web', 'dev', { headers: ADMIN });
    const api = await pushImage(a, 'app/api', '1.2', { layers: layers.slice(0, 4), headers: ADMIN });
    await pushImage(a, 'other/x', '1.0', { headers: ADMIN });
    await cli(
      [
        'replication',
        'add',
        'to-dist',
        '--direction',
        'push',
        '--remote',
        dist.url,
        '--repo',
        'app/*',
        '--tag',
        '1.*',
        '--remote-user',
        LOGIN.user,
        '--remote-ca',
        join(root, 'dist-ca.crt'),
      ],
      { BERTH_REMOTE_PASSWORD: LOGIN.password },
    );
    const ls = await cli(['replication', 'ls']);
    assert.match(ls, /^to-dist\s+push\s+https:\/\/127\.0\.0\.1:\d+\s+app\/\*\s+1\.\*\s+manual\s+no\s+-/m);
    // The project's webhook for replications: one signed delivery per repository the execution copied.
    const hooks: { headers: IncomingHttpHeaders; body: string }[] = [];
    const receiver = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    t.after(() => {
      receiver.closeAllConnections();
      receiver.close();
    });
    const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    await cli(['project', 'create', 'app']);
    await cli(['webhook', 'add', 'app', hookUrl, '--secret', 'replicated', '--events', 'replication']);
    const out = await cli(['replication', 'run', 'to-dist']);
    assert.match(out, /succeeded/);
    await waitFor('two replication deliveries', () => hooks.length >= 2, 30_000);
    const payloads = hooks.map((h) => {
      assert.equal(h.headers['x-berth-event'], 'replication');
      const mac = `sha256=${createHmac('sha256', 'replicated').update(h.body).digest('hex')}`;
      assert.equal(h.headers['x-berth-signature-256'], mac);
      return JSON.parse(h.body) as {
        type: string;
        operator: string;
        event_data: { repository: { repo_full_name: string }; custom_attributes: Record<string, unknown> };
      };
    });
    assert.deepEqual(payloads.map((p) => p.event_data.repository.repo_full_name).sort(), ['app/api', 'app/web']);
    for (const p of payloads) {
      assert.equal(p.type, 'REPLICATION');
      assert.equal(p.operator, 'replication:to-dist');
      assert.deepEqual(
        [
          p.event_data.custom_attributes.rule,
          p.event_data.custom_attributes.state,
          p.event_data.custom_attributes.copied,
        ],
        ['to-dist', 'succeeded', 2],
      );
    }
    assert.equal(await distDigest('app/web:1.0'), web.digest);
    assert.equal(await distDigest('app/api:1.2'), api.digest);
    assert.match(await distDigest('app/web:dev'), /skopeo: .*manifest unknown/i);
    assert.match(await distDigest('other/x:1.0'), /skopeo: /);
    let s = await status('to-dist');
    assert.deepEqual(s.items.map((i) => `${i.repo}:${i.tag} ${i.state}`).sort(), [
      'app/api:1.2 copied',
      'app/web:1.0 copied',
    ]);
    const size = layers.reduce((n, l) => n + l.length, 0);
    // Each blob once, however many tags need it; the config blobs are small.
    assert.ok(s.executions[0]!.bytes >= size && s.executions[0]!.bytes < size + 10_000, String(s.executions[0]!.bytes));
    // A second run finds everything there.
    assert.match(await cli(['replication', 'run', 'to-dist']), /succeeded/);
    s = await status('to-dist');
    assert.deepEqual([s.executions[0]!.copied, s.executions[0]!.skipped, s.executions[0]!.bytes], [0, 2, 0]);
    assert.equal(s.executions.length, 2);
  });

  it('pulls from docker-registry into a prefix, and a label filter leaves out images without the label', async () => {
    await cli(
      [
        'replication',
        'add',
        'from-dist',
        '--direction',
        'pull',
        '--remote',
        dist.url,
        '--repo',
        'app/web',
        '--dest-prefix',
        'mirror',
        '--remote-user',
        LOGIN.user,
        '--remote-ca',
        join(root, 'dist-ca.crt'),
      ],
      { BERTH_REMOTE_PASSWORD: LOGIN.password },
    );
    assert.match(await cli(['replication', 'run', 'from-dist']), /succeeded/);
    assert.equal(await headDigest(a, 'mirror/app/web', '1.0', ADMIN), await distDigest('app/web:1.0'));
    // Labels: only the image whose config carries `tier=prod` goes.
    const labelled = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { tier: 'prod' } },
        rootfs: { type: 'layers', diff_ids: [] },
      }),
    );
    const prod = await pushImage(a, 'lab/app', 'prod', { config: labelled, headers: ADMIN });
    await pushImage(a, 'lab/app', 'plain', { headers: ADMIN });
    await cli(
      [
        'replication',
        'add',
        'labelled',
        '--direction',
        'push',
        '--remote',
        dist.url,
        '--repo',
        'lab/**',
        '--label',
        'tier=prod',
        '--remote-user',
        LOGIN.user,
        '--remote-ca',
        join(root, 'dist-ca.crt'),
      ],
      { BERTH_REMOTE_PASSWORD: LOGIN.password },
    );
    assert.match(await cli(['replication', 'run', 'labelled']), /succeeded/);
    assert.equal(await distDigest('lab/app:prod'), prod.digest);
    assert.match(await distDigest('lab/app:plain'), /skopeo: /);
  });

  it('pulls blobs it lacks through its ingest thread: from a berth registry with bearer tokens, from docker-registry over TLS', async () => {
    const bob = { Authorization: `Basic ${Buffer.from('bob:bobpw').toString('base64')}` };
    const layers = [randomBytes(300_000), randomBytes(2 * MiB + 5), randomBytes(1000)];
    const img = await pushImage(b, 'fresh/img', '1', { layers, headers: bob });
    await cli(
      [
        'replication',
        'add',
        'from-b',
        '--direction',
        'pull',
        '--remote',
        b.url,
        '--repo',
        'fresh/*',
        '--remote-user',
        'bob',
      ],
      { BERTH_REMOTE_PASSWORD: 'bobpw' },
    );
    assert.match(await cli(['replication', 'run', 'from-b']), /succeeded/);
    assert.equal(await headDigest(a, 'fresh/img', '1', ADMIN), img.digest);
    const got = await call(a, 'GET', `/v2/fresh/img/blobs/${sha256(layers[1]!)}`, { headers: ADMIN });
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(layers[1]!));

    // Another image, copied to docker-registry by skopeo, pulled into a prefix here: blobs this registry lacks,
    // fetched over TLS with the rule's CA.
    await pushImage(b, 'fresh/other', '1', {
      layers: [randomBytes(700_000), randomBytes(4000)],
      headers: bob,
    });
    const copied = await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--src-creds',
      'bob:bobpw',
      '--dest-cert-dir',
      join(dist.dir, 'skopeo-certs'),
      '--dest-creds',
      LOGIN.creds,
      `docker://${b.host}/fresh/other:1`,
      `docker://${dist.host}/tls/img:1`,
    ]);
    assert.equal(copied.code, 0, copied.stderr);
    await cli(
      [
        'replication',
        'add',
        'tls-pull',
        '--direction',
        'pull',
        '--remote',
        dist.url,
        '--repo',
        'tls/img',
        '--dest-prefix',
        'viatls',
        '--remote-user',
        LOGIN.user,
        '--remote-ca',
        join(root, 'dist-ca.crt'),
      ],
      { BERTH_REMOTE_PASSWORD: LOGIN.password },
    );
    assert.match(await cli(['replication', 'run', 'tls-pull']), /succeeded/);
    assert.equal(await headDigest(a, 'viatls/tls/img', '1', ADMIN), await distDigest('tls/img:1'));
    const byThread = [
      ...dist.log().matchAll(/"GET \/v2\/tls\/img\/blobs\/(sha256:[0-9a-f]{64}) [^"]*" 200 .*ingest thread/g),
    ];
    assert.ok(
      byThread.length >= 1,
      `no blob GET from the ingest thread in docker-registry's log:\n${dist.log().slice(-3000)}`,
    );
  });

  it('on push and on a schedule to a second berth registry with bearer tokens; deletions replicated', async () => {
    const bob = { Authorization: `Basic ${Buffer.from('bob:bobpw').toString('base64')}` };
    await cli(
      [
        'replication',
        'add',
        'live',
        '--direction',
        'push',
        '--remote',
        b.url,
        '--repo',
        'live/*',
        '--trigger',
        'push',
        '--deletes',
        '--remote-user',
        'bob',
      ],
      { BERTH_REMOTE_PASSWORD: 'bobpw' },
    );
    const one = await pushImage(a, 'live/svc', 'v1', { headers: ADMIN });
    await waitFor(
      'live/svc:v1 at the second registry',
      async () => (await headDigest(b, 'live/svc', 'v1', bob)) === one.digest,
    );
    const two = await pushImage(a, 'live/svc', 'v2', { layers: [randomBytes(3000)], headers: ADMIN });
    await waitFor(
      'live/svc:v2 at the second registry',
      async () => (await headDigest(b, 'live/svc', 'v2', bob)) === two.digest,
    );
    const s = await status('live');
    assert.ok(
      s.executions.every((e) => e.trigger === 'push' && e.state === 'succeeded'),
      JSON.stringify(s.executions),
    );
    // A tag deleted here goes there too.
    assert.equal((await call(a, 'DELETE', `/v2/live/svc/manifests/${one.digest}`, { headers: ADMIN })).status, 202);
    await waitFor(
      'live/svc:v1 deleted at the second registry',
      async () => (await headDigest(b, 'live/svc', 'v1', bob)) === null,
    );
    assert.equal(await headDigest(b, 'live/svc', 'v2', bob), two.digest);

    // A cron schedule (seconds first): runs on its own, then the rule is removed through the admin API.
    const c = await pushImage(a, 'cron/job', 'x', { headers: ADMIN });
    const res = await fetch(`${a.url}/admin/v1/replication`, {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        name: 'nightly',
        direction: 'push',
        remote: { url: b.url, username: 'bob', password: 'bobpw' },
        repo: 'cron/*',
        trigger: 'cron:*/2 * * * * *',
      }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    assert.equal(((await res.json()) as { trigger: string }).trigger, 'cron:*/2 * * * * *');
    await waitFor('the scheduled run', async () => (await headDigest(b, 'cron/job', 'x', bob)) === c.digest, 60_000);
    assert.equal((await status('nightly')).executions[0]!.trigger, 'cron');
    const del = await fetch(`${a.url}/admin/v1/replication/nightly`, { method: 'DELETE', headers: ADMIN });
    assert.equal(del.status, 204);
    assert.doesNotMatch(await cli(['replication', 'ls']), /nightly/);
  });

  it('resumes a blob when the destination is killed mid-transfer and restarted', async (t) => {
    const c = await serveRegistry(undefined);
    const proxy = await startProxy(t, Number(c.host.split(':')[1]));
    try {
      // Large enough that what is in flight when the destination dies (socket buffers over two hops, here about
      // 8 MiB, and up to 4 MiB it had not yet recorded) stays within the fifth of the image the goal allows.
      const big = randomBytes(96 * MiB);
      const img = await pushImage(a, 'big/img', '1', { layers: [big, randomBytes(1000)], headers: ADMIN });
      await cli([
        'replication',
        'add',
        'big',
        '--direction',
        'push',
        '--remote',
        `http://${proxy.host}`,
        '--repo',
        'big/img',
      ]);
      const started = await fetch(`${a.url}/admin/v1/replication/big/run`, {
        method: 'POST',
        headers: { ...ADMIN, 'Content-Type': 'application/json' },
        body: '{}',
      });
      assert.equal(started.status, 202);
      const id = ((await started.json()) as { id: number }).id;
      // The blob goes in one request; once 24 MiB of it are at the destination, it dies and comes back on the
      // same port.
      await waitFor('24 MiB at the destination', async () => (await partialBytes(c.root)) >= 24 * MiB, 60_000);
      await c.kill();
      await new Promise((r) => setTimeout(r, 500));
      await c.restart();
      const done = await waitFor(
        'the execution to end',
        async () => {
          const r = await fetch(`${a.url}/admin/v1/replication/executions/${id}`, { headers: ADMIN });
          const e = ((await r.json()) as { execution: Status['executions'][0] }).execution;
          return e.state === 'running' ? undefined : e;
        },
        120_000,
      );
      assert.equal(done.state, 'succeeded', JSON.stringify(done));
      assert.equal(await headDigest(c, 'big/img', '1'), img.digest);
      const total = big.length + 1000;
      assert.ok(done.bytes <= 1.2 * total, `${done.bytes} bytes sent for an image of ${total}`);
      // Ranged reads and appends: the upload went on from where the destination stood, in one more request.
      const patches = proxy.requests.filter((r) => r.startsWith('PATCH '));
      assert.ok(patches.length >= 2 && patches.length <= 3, `${patches.length} PATCH requests`);
    } finally {
      await c.stop();
      await rm(c.root, { recursive: true, force: true });
    }
  });

  it('takes over, after a restart, an execution the registry stopped in the middle of', async (t) => {
    const c = await serveRegistry(undefined);
    const proxy = await startProxy(t, Number(c.host.split(':')[1]));
    try {
      const big = randomBytes(40 * MiB);
      const img = await pushImage(a, 'moving/img', '1', { layers: [big], headers: ADMIN });
      await cli([
        'replication',
        'add',
        'moving',
        '--direction',
        'push',
        '--remote',
        `http://${proxy.host}`,
        '--repo',
        'moving/img',
      ]);
      const started = await fetch(`${a.url}/admin/v1/replication/moving/run`, {
        method: 'POST',
        headers: { ...ADMIN, 'Content-Type': 'application/json' },
        body: '{}',
      });
      assert.equal(started.status, 202);
      const id = ((await started.json()) as { id: number }).id;
      await waitFor('8 MiB at the destination', async () => (await partialBytes(c.root)) >= 8 * MiB, 60_000);
      // A graceful stop leaves the execution running in the metadata; the restarted registry takes it over.
      await a.stop();
      await a.restart();
      const done = await waitFor(
        'the execution to end',
        async () => {
          const r = await fetch(`${a.url}/admin/v1/replication/executions/${id}`, { headers: ADMIN });
          if (r.status !== 200) return undefined;
          const e = ((await r.json()) as { execution: Status['executions'][0] }).execution;
          return e.state === 'running' ? undefined : e;
        },
        120_000,
      );
      assert.equal(done.state, 'succeeded', `${JSON.stringify(done)}\n${a.log().slice(-2000)}`);
      assert.match(a.log(), new RegExp(`taking over execution ${id} of rule moving`));
      assert.equal(await headDigest(c, 'moving/img', '1'), img.digest);
      // The upload went on where it stood: the request cut by the stop, and one for the rest.
      const patches = proxy.requests.filter((r) => r.startsWith('PATCH ')).length;
      assert.ok(patches >= 2 && patches <= 3, `${patches} PATCH requests`);
      assert.ok(done.bytes <= 1.2 * big.length, `${done.bytes} bytes sent for a blob of ${big.length}`);
    } finally {
      await c.stop();
      await rm(c.root, { recursive: true, force: true });
    }
  });

  it('takes a blob the ingest thread could not (a redirect, an expired token) through the registry client', async (t) => {
    // A small registry of its own: its blobs answer the ingest thread's GET with a redirect or a 401 (its token
    // "expired"), and the registry client (other User-Agent) with the bytes, behind the same redirect.
    const layers = [randomBytes(100_000), randomBytes(50_000)];
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
    );
    const desc = (b: Buffer, mediaType: string) => ({ mediaType, digest: sha256(b), size: b.length });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: desc(config, 'application/vnd.oci.image.config.v1+json'),
        layers: layers.map((l) => desc(l, 'application/vnd.oci.image.layer.v1.tar')),
      }),
    );
    const blobs = new Map([config, ...layers].map((b) => [sha256(b), b]));
    const byThread: string[] = [];
    const server = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const blob = /^\/v2\/odd\/img\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
      if (url.pathname === '/v2/') res.writeHead(200, { 'Content-Length': 2 }).end('{}');
      else if (url.pathname === '/v2/odd/img/tags/list')
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ name: 'odd/img', tags: ['1'] }));
      else if (
        url.pathname === '/v2/odd/img/manifests/1' ||
        url.pathname === `/v2/odd/img/manifests/${sha256(manifest)}`
      )
        res
          .writeHead(200, {
            'Content-Type': 'application/vnd.oci.image.manifest.v1+json',
            'Content-Length': manifest.length,
            'Docker-Content-Digest': sha256(manifest),
          })
          .end(req.method === 'HEAD' ? undefined : manifest);
      else if (blob && blobs.has(blob[1]!)) {
        const d = blob[1]!;
        if (/ingest thread/.test(req.headers['user-agent'] ?? '')) {
          byThread.push(d);
          // The first layer is "stored elsewhere"; the rest "needs a new token".
          if (d === sha256(layers[0]!)) res.writeHead(307, { Location: `/storage/${d}`, 'Content-Length': 0 }).end();
          else res.writeHead(401, { 'Content-Length': 0 }).end();
        } else res.writeHead(307, { Location: `/storage/${d}`, 'Content-Length': 0 }).end();
      } else if (url.pathname.startsWith('/storage/') && blobs.has(url.pathname.slice(9))) {
        const b = blobs.get(url.pathname.slice(9))!;
        res.writeHead(200, { 'Content-Length': b.length }).end(b);
      } else res.writeHead(404, { 'Content-Length': 0 }).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    await cli(['replication', 'add', 'odd', '--direction', 'pull', '--remote', url, '--repo', 'odd/img']);
    assert.match(await cli(['replication', 'run', 'odd']), /succeeded/);
    assert.equal(await headDigest(a, 'odd/img', '1', ADMIN), sha256(manifest));
    assert.deepEqual(byThread.sort(), [...blobs.keys()].sort(), 'every blob was offered to the ingest thread first');
    for (const [d, b] of blobs) {
      const got = await call(a, 'GET', `/v2/odd/img/blobs/${d}`, { headers: ADMIN });
      assert.equal(Buffer.compare(Buffer.from(await got.arrayBuffer()), b), 0);
    }
    assert.equal(
      (await status('odd')).executions[0]!.bytes,
      [...blobs.values()].reduce((n, b) => n + b.length, 0),
    );
  });

  it('records unreachable, hanging and refusing remotes as failed executions, and refuses bad rules', async () => {
    // Nothing listens there.
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as { port: number }).port;
    await new Promise((r) => gone.close(r));
    await cli([
      'replication',
      'add',
      'nowhere',
      '--direction',
      'push',
      '--remote',
      `http://127.0.0.1:${port}`,
      '--repo',
      'app/*',
    ]);
    let r = await registryCli(at('replication', 'run', 'nowhere'), undefined, ROOT_PW);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /failed/);
    let e = (await status('nowhere')).executions[0]!;
    assert.equal(e.state, 'failed');
    assert.match(e.error!, /ECONNREFUSED|connect|unreachable/i);

    // Accepts connections and never answers: the rule's timeout ends it.
    const held = new Set<Socket>();
    const hang: Server = createServer((s) => held.add(s));
    await new Promise<void>((res) => hang.listen(0, '127.0.0.1', res));
    try {
      const hp = (hang.address() as { port: number }).port;
      await cli([
        'replication',
        'add',
        'hung',
        '--direction',
        'pull',
        '--remote',
        `http://127.0.0.1:${hp}`,
        '--repo',
        'x',
        '--timeout',
        '1s',
      ]);
      const t0 = Date.now();
      r = await registryCli(at('replication', 'run', 'hung'), undefined, ROOT_PW);
      assert.equal(r.code, 1);
      assert.ok(Date.now() - t0 < 30_000);
      e = (await status('hung')).executions[0]!;
      assert.equal(e.state, 'failed');
      assert.match(e.error!, /no answer within 1 s/);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((res) => hang.close(res));
    }

    // Wrong credentials: each item fails, with the remote's refusal recorded.
    await pushImage(a, 'fault/x', '1', { headers: ADMIN });
    await cli(
      [
        'replication',
        'add',
        'badcreds',
        '--direction',
        'push',
        '--remote',
        b.url,
        '--repo',
        'fault/x',
        '--remote-user',
        'bob',
      ],
      { BERTH_REMOTE_PASSWORD: 'wrong' },
    );
    r = await registryCli(at('replication', 'run', 'badcreds'), undefined, ROOT_PW);
    assert.equal(r.code, 1);
    e = (await status('badcreds')).executions[0]!;
    assert.equal(e.state, 'failed');
    assert.match(e.error!, /unauthorized|credentials|401/i);
    assert.equal(
      await headDigest(b, 'fault/x', '1', { Authorization: `Basic ${Buffer.from('bob:bobpw').toString('base64')}` }),
      null,
    );

    // Bad input, each named.
    const bad = async (args: string[], re: RegExp) => {
      const x = await registryCli(at('replication', 'add', ...args), undefined, ROOT_PW);
      assert.notEqual(x.code, 0, args.join(' '));
      assert.match(x.stderr, re);
    };
    await bad(
      ['c1', '--direction', 'push', '--remote', b.url, '--repo', 'a', '--trigger', 'cron:61 * * * *'],
      /"61 \* \* \* \*"|61/,
    );
    await bad(['c2', '--direction', 'sideways', '--remote', b.url, '--repo', 'a'], /sideways/);
    await bad(['c3', '--direction', 'push', '--remote', 'ftp://x', '--repo', 'a'], /ftp:\/\/x/);
    await bad(['c4', '--direction', 'pull', '--remote', b.url, '--repo', 'a', '--trigger', 'push'], /push trigger/);
    await bad(['nowhere', '--direction', 'push', '--remote', b.url, '--repo', 'a'], /already exists/);
    const res = await fetch(`${a.url}/admin/v1/replication`, {
      method: 'POST',
      headers: { ...ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'x', direction: 'push', remote: { url: b.url }, repo: 'a', trigger: 'cron:nope' }),
    });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /nope/);
    const missing = await registryCli(at('replication', 'run', 'no-such-rule'), undefined, ROOT_PW);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no-such-rule/);
  });
});
