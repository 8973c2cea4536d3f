/**
 * The pull-through cache: a project of `berth registry serve` in front of Debian's docker-registry (Basic auth).
 * The first pull fetches from the upstream, a tag moved upstream is seen once its copy is older than the
 * revalidation age, pulls go on with the upstream stopped, berthd with the project as its mirror of the upstream
 * (`registry-mirrors` with a path) pulls through it, pushes to the project are refused, and an upstream that is
 * down with nothing cached is a clear 503.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DistributionRegistry, skopeo, startRegistry } from '../src/distribution/remote/testkit.ts';
import {
  call,
  errorCode,
  pushBlob,
  registryCli,
  type ServedRegistry,
  serveRegistry,
  sha256,
} from '../src/registry/testkit.ts';
import { dir, file, image, layer, legacyArchive, tarOf } from './fixtures.ts';
import { docker, type Daemon, startDaemon } from './harness.ts';

const ACCEPT = {
  Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
};

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
    const r = await skopeo([
      'copy',
      '-q',
      '--dest-tls-verify=false',
      '--dest-creds',
      'alice:wonderland',
      `docker-archive:${archive}`,
      `docker://${up.host}/${ref}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const raw = await skopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      'alice:wonderland',
      `docker://${up.host}/${ref}`,
    ]);
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
        'alice',
        '--proxy-max-age',
        '1s',
        '--root',
        root,
      ],
      undefined,
      { BERTH_PROXY_PASSWORD: 'wonderland' },
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

    const d: Daemon = await (async () => {
      const dd = await mkdtemp(join(tmpdir(), 'berth-proxy-d-'));
      await writeFile(
        join(dd, 'daemon.json'),
        JSON.stringify({
          'insecure-registries': [up.host, reg.host],
          'registry-mirrors': { [up.host]: [`${reg.url}/cache`] },
        }),
      );
      return startDaemon({ dir: dd, args: ['--config-file', join(dd, 'daemon.json')] });
    })();
    try {
      const pulled = await docker(d, ['pull', `${up.host}/lib/app:1`]);
      assert.equal(pulled.code, 0, `${pulled.stderr}\n${d.log().slice(-2000)}`);
      const inspect = await docker(d, [
        'image',
        'inspect',
        '--format',
        '{{json .RepoDigests}}',
        `${up.host}/lib/app:1`,
      ]);
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.ok(inspect.stdout.includes(`${up.host}/lib/app@${digests.moved}`), inspect.stdout);
    } finally {
      await d.cleanup();
    }
  });
});
