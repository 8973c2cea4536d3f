/**
 * The pull-through cache: a project of `berth registry serve` in front of Debian's docker-registry (Basic auth).
 * The first pull fetches from the upstream, a tag moved upstream is seen once its copy is older than the
 * revalidation age, pulls go on with the upstream stopped, berthd with the project as its mirror of the upstream
 * (`registry-mirrors` with a path) pulls through it, pushes to the project are refused, and an upstream that is
 * down with nothing cached is a clear 503. With token auth, berthd pulls through the mirror path too: the mirror's
 * challenges name its own token service, which grants the names the client knows as the project's repositories.
 * A first pull streams each blob to the client while it is stored (a slow upstream: the client has bytes before the
 * upstream has sent them all), and a blob that fails its digest reaches no client whole and is not kept.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type DistributionRegistry,
  LOGIN,
  skopeo,
  skopeoPushArchive,
  skopeoRawManifest,
  startRegistry,
} from '../src/distribution/remote/testkit.ts';
import { type FaultyRegistry, startFaultyRegistry } from '../src/distribution/remote/testkit-faults.ts';
import {
  call,
  errorCode,
  getToken,
  pushBlob,
  registryCli,
  type ServedRegistry,
  serveRegistry,
  sha256,
} from '../src/registry/testkit.ts';
import { dir, file, image, layer, legacyArchive, tarOf } from './fixtures.ts';
import { docker, type Daemon, startDaemon, waitFor } from './harness.ts';

const ACCEPT = {
  Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
};

/** berthd with `reg`'s `cache` project as its mirror of `up` (both plain HTTP), from its own daemon.json. */
async function mirroringDaemon(up: DistributionRegistry, reg: ServedRegistry): Promise<Daemon> {
  const dd = await mkdtemp(join(tmpdir(), 'berth-proxy-d-'));
  await writeFile(
    join(dd, 'daemon.json'),
    JSON.stringify({
      'insecure-registries': [up.host, reg.host],
      'registry-mirrors': { [up.host]: [`${reg.url}/cache`] },
    }),
  );
  return startDaemon({ dir: dd, args: ['--config-file', join(dd, 'daemon.json')] });
}

/** The image's RepoDigests as `docker image inspect` prints them (JSON). */
async function repoDigests(d: Daemon, ref: string): Promise<string> {
  const r = await docker(d, ['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('registry pull-through cache', () => {
  let scratch: string;
  let up: DistributionRegistry;
  let reg: ServedRegistry;
  const digests: Record<string, string> = {};

  /** Puts a small real image at `ref` upstream; returns its manifest digest as the upstream stores it. */
  async function upstreamImage(ref: string, seed: string): Promise<string> {
    const l = await layer([dir('etc'), file('etc/seed', seed)], { gzip: true });
    const l2 = await layer([file(`data-${seed}`, seed.repeat(5000))], { gzip: true });
    const archive = join(scratch, `${seed}.tar`);
    await writeFile(archive, await tarOf(legacyArchive([{ image: image([l, l2]), tags: [`x/${seed}:1`] }])));
    const r = await skopeoPushArchive(archive, `${up.host}/${ref}`);
    assert.equal(r.code, 0, r.stderr);
    const raw = await skopeoRawManifest(`${up.host}/${ref}`);
    assert.equal(raw.code, 0, raw.stderr);
    return sha256(raw.stdout);
  }

  const pullThrough = (ref: string, to: string) =>
    skopeo(['copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/${ref}`, `oci:${join(scratch, to)}:t`]);

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-proxy-'));
    up = await startRegistry('plain', { basicAuth: true });
    digests.app = await upstreamImage('lib/app:1', 'one');
    const root = join(scratch, 'root');
    const made = await registryCli(
      [
        'project',
        'create',
        'cache',
        '--public',
        '--proxy',
        up.url,
        '--proxy-user',
        LOGIN.user,
        '--proxy-max-age',
        '1s',
        '--root',
        root,
      ],
      undefined,
      { BERTH_PROXY_PASSWORD: LOGIN.password },
    );
    assert.equal(made.code, 0, made.stderr);
    const ls = await registryCli(['project', 'ls', '--root', root]);
    assert.match(ls.stdout, new RegExp(`^cache\\s.*${up.url.replace(/[.]/g, '\\.')}`, 'm'));
    reg = await serveRegistry(undefined, { root });
  });
  after(async () => {
    await reg?.stop();
    await up?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('fetches on the first pull, serves the same digests, and sees a tag moved upstream after the revalidation age', async () => {
    const r = await pullThrough('cache/lib/app:1', 'first');
    assert.equal(r.code, 0, `${r.stderr}\n${reg.log().slice(-2000)}`);
    const head = await call(reg, 'HEAD', '/v2/cache/lib/app/manifests/1', { headers: ACCEPT });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), digests.app);
    // Every blob is now here: a blob GET answers without asking the upstream.
    const m = (await (
      await call(reg, 'GET', `/v2/cache/lib/app/manifests/${digests.app}`, { headers: ACCEPT })
    ).json()) as {
      layers: { digest: string }[];
    };
    for (const l of m.layers) {
      const b = await call(reg, 'GET', `/v2/cache/lib/app/blobs/${l.digest}`);
      assert.equal(b.status, 200);
      assert.equal(sha256(Buffer.from(await b.arrayBuffer())), l.digest);
    }
    // The tag moves upstream; once the copy here is older than 1 s, the next pull sees the new digest.
    const moved = await upstreamImage('lib/app:1', 'two');
    assert.notEqual(moved, digests.app);
    await new Promise((res) => setTimeout(res, 1200));
    const again = await call(reg, 'GET', '/v2/cache/lib/app/manifests/1', { headers: ACCEPT });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('docker-content-digest'), moved);
    assert.equal((await pullThrough('cache/lib/app:1', 'second')).code, 0);
    digests.moved = moved;
    // The old manifest stays pullable by digest.
    const old = await call(reg, 'GET', `/v2/cache/lib/app/manifests/${digests.app}`, { headers: ACCEPT });
    assert.equal(old.status, 200);
  });

  it('refuses pushes to the proxy project', async () => {
    await assert.rejects(pushBlob(reg, 'cache/lib/mine', Buffer.from('x')), /POST upload: 403 .*pull-through cache of/);
    const put = await call(reg, 'PUT', '/v2/cache/lib/app/manifests/mine', {
      body: '{}',
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(put.status, 403);
    assert.equal(await errorCode(put), 'DENIED');
  });

  it('serves from the cache with the upstream stopped; berthd pulls through it as its mirror of the upstream', async () => {
    await up.kill();
    await new Promise((res) => setTimeout(res, 1200)); // past the revalidation age: the upstream is asked, and is down
    const r = await pullThrough('cache/lib/app:1', 'offline');
    assert.equal(r.code, 0, `${r.stderr}\n${reg.log().slice(-2000)}`);
    assert.match(reg.log(), /serving the cached copy/);
    // Nothing cached and the upstream down: 503 naming the upstream.
    const none = await call(reg, 'GET', '/v2/cache/lib/none/manifests/1', { headers: ACCEPT });
    assert.equal(none.status, 503);
    assert.match(
      await none.text(),
      new RegExp(`upstream of project \\\\"cache\\\\", ${up.url.replace(/[.]/g, '\\.')}`),
    );

    const d = await mirroringDaemon(up, reg);
    try {
      const pulled = await docker(d, ['pull', `${up.host}/lib/app:1`]);
      assert.equal(pulled.code, 0, `${pulled.stderr}\n${d.log().slice(-2000)}`);
      const inspected = await repoDigests(d, `${up.host}/lib/app:1`);
      assert.ok(inspected.includes(`${up.host}/lib/app@${digests.moved}`), inspected);
    } finally {
      await d.cleanup();
    }
  });
});

describe('registry pull-through cache with token auth, as a mirror', () => {
  let scratch: string;
  let up: DistributionRegistry;
  let reg: ServedRegistry;
  let upstreamDigest: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-proxy-token-'));
    // The upstream asks for credentials berthd does not have: a pull that works went through the mirror.
    up = await startRegistry('plain', { basicAuth: true });
    const l = await layer([file('hello', 'through the mirror')], { gzip: true });
    const archive = join(scratch, 'img.tar');
    await writeFile(archive, await tarOf(legacyArchive([{ image: image([l]), tags: ['x/img:1'] }])));
    const r = await skopeoPushArchive(archive, `${up.host}/lib/tok:1`);
    assert.equal(r.code, 0, r.stderr);
    const raw = await skopeoRawManifest(`${up.host}/lib/tok:1`);
    upstreamDigest = sha256(raw.stdout);
    const root = join(scratch, 'root');
    // A user makes the registry use token auth; the proxy project is public, so anonymous tokens may pull.
    const user = await registryCli(['user', 'add', 'root', '--admin', '--password-stdin', '--root', root], 'rootpw\n');
    assert.equal(user.code, 0, user.stderr);
    const made = await registryCli(
      ['project', 'create', 'cache', '--public', '--proxy', up.url, '--proxy-user', LOGIN.user, '--root', root],
      undefined,
      { BERTH_PROXY_PASSWORD: LOGIN.password },
    );
    assert.equal(made.code, 0, made.stderr);
    reg = await serveRegistry(undefined, { root });
  });
  after(async () => {
    await reg?.stop();
    await up?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('names the token service of the mirror path, which grants the repository of the project for the name the client knows', async () => {
    const ping = await call(reg, 'GET', '/cache/v2/');
    assert.equal(ping.status, 401);
    assert.match(ping.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer realm="${reg.url}/cache/token"`));
    // A token of the registry's own service for the same name is for another repository, which nobody may pull:
    // the challenge names the mirror's service and the scope as the client knows it.
    const plain = (await (await getToken(reg, ['repository:lib/tok:pull'])).json()) as { token: string };
    const denied = await call(reg, 'GET', '/cache/v2/lib/tok/manifests/1', {
      headers: { ...ACCEPT, Authorization: `Bearer ${plain.token}` },
    });
    assert.equal(denied.status, 401);
    assert.equal(
      denied.headers.get('www-authenticate'),
      `Bearer realm="${reg.url}/cache/token",service="berth-registry",scope="repository:lib/tok:pull"`,
    );
    const q = new URLSearchParams({ service: 'berth-registry', scope: 'repository:lib/tok:pull' });
    const res = await fetch(`${reg.url}/cache/token?${q}`);
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
      access: { type: string; name: string; actions: string[] }[];
    };
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'cache/lib/tok', actions: ['pull'] }]);
    const m = await call(reg, 'GET', '/cache/v2/lib/tok/manifests/1', {
      headers: { ...ACCEPT, Authorization: `Bearer ${token}` },
    });
    assert.equal(m.status, 200, await m.clone().text());
    assert.equal(m.headers.get('docker-content-digest'), upstreamDigest);
  });

  it('berthd configured with the mirror path pulls through it, and pulls the project by its own name', async () => {
    const d = await mirroringDaemon(up, reg);
    try {
      const pulled = await docker(d, ['pull', `${up.host}/lib/tok:1`]);
      assert.equal(pulled.code, 0, `${pulled.stderr}\n${d.log().slice(-2000)}\n${reg.log().slice(-2000)}`);
      const inspected = await repoDigests(d, `${up.host}/lib/tok:1`);
      assert.ok(inspected.includes(`${up.host}/lib/tok@${upstreamDigest}`), inspected);
      // Through the registry's own name, the default realm and the full repository name.
      const direct = await docker(d, ['pull', `${reg.host}/cache/lib/tok:1`]);
      assert.equal(direct.code, 0, direct.stderr);
    } finally {
      await d.cleanup();
    }
  });
});

describe('registry pull-through cache, first pulls streamed', () => {
  let slow: FaultyRegistry;
  let bad: FaultyRegistry;
  let reg: ServedRegistry;
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-proxy-stream-'));
    slow = await startFaultyRegistry('stall', { layerBytes: 4 << 20 });
    bad = await startFaultyRegistry('bad-digest', { layerBytes: 2 << 20 });
    for (const [name, up] of [
      ['slow', slow],
      ['bad', bad],
    ] as const) {
      const made = await registryCli(['project', 'create', name, '--public', '--proxy', up.url, '--root', root]);
      assert.equal(made.code, 0, made.stderr);
    }
    reg = await serveRegistry(undefined, { root });
  });
  after(async () => {
    await reg?.stop();
    await slow?.stop();
    await bad?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('sends a blob to the client while the upstream is still sending it, then serves it from here', async () => {
    const m = await call(reg, 'GET', `/v2/slow/${slow.repository}/manifests/${slow.tag}`, { headers: ACCEPT });
    assert.equal(m.status, 200);
    const events: string[] = [];
    // Should the cache wait for the whole blob, the upstream is let go after a while and the order shows it.
    const fallback = setTimeout(() => {
      events.push('upstream released');
      slow.release();
    }, 20_000);
    try {
      const res = await call(reg, 'GET', `/v2/slow/${slow.repository}/blobs/${slow.layer.digest}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(slow.layer.body.length));
      const reader = res.body!.getReader();
      const chunks: Buffer[] = [];
      const first = await reader.read();
      assert.ok(!first.done && first.value.length > 0);
      chunks.push(Buffer.from(first.value));
      events.push('client got bytes');
      if (!events.includes('upstream released')) {
        events.push('upstream released');
        slow.release();
      }
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(Buffer.from(r.value));
      events.push('client got the whole blob');
      assert.deepEqual(events, ['client got bytes', 'upstream released', 'client got the whole blob']);
      assert.equal(sha256(Buffer.concat(chunks)), slow.layer.digest);
    } finally {
      clearTimeout(fallback);
    }
    // Stored: the next pull is served from here, the upstream not asked.
    const asked = slow.requests.length;
    const again = await call(reg, 'GET', `/v2/slow/${slow.repository}/blobs/${slow.layer.digest}`);
    assert.equal(sha256(Buffer.from(await again.arrayBuffer())), slow.layer.digest);
    assert.equal(slow.requests.length, asked);
  });

  it('cuts the answer short and keeps nothing when the blob fails its digest', async () => {
    const m = await call(reg, 'GET', `/v2/bad/${bad.repository}/manifests/${bad.tag}`, { headers: ACCEPT });
    assert.equal(m.status, 200);
    const res = await call(reg, 'GET', `/v2/bad/${bad.repository}/blobs/${bad.layer.digest}`);
    assert.equal(res.status, 200);
    let got = 0;
    const read = (async () => {
      for await (const c of res.body!) got += (c as Uint8Array).length;
    })();
    await assert.rejects(read);
    assert.ok(got < bad.layer.body.length, `${got} bytes of ${bad.layer.body.length}`);
    const hex = bad.layer.digest.slice('sha256:'.length);
    await assert.rejects(stat(join(root, 'blobs', 'sha256', hex)), { code: 'ENOENT' });
    await waitFor('the partial upload to go', async () => (await readdir(join(root, 'ingest'))).length === 0);
    // Healthy again upstream: fetched anew, whole and right.
    bad.setFault('healthy');
    const before = bad.requests.filter((r) => r.method === 'GET' && r.path.endsWith(bad.layer.digest)).length;
    const ok = await call(reg, 'GET', `/v2/bad/${bad.repository}/blobs/${bad.layer.digest}`);
    assert.equal(sha256(Buffer.from(await ok.arrayBuffer())), bad.layer.digest);
    const after = bad.requests.filter((r) => r.method === 'GET' && r.path.endsWith(bad.layer.digest)).length;
    assert.equal(after, before + 1);
    await stat(join(root, 'blobs', 'sha256', hex));
  });
});
