/**
 * `berth registry serve` with real peers: skopeo copying to and from it, Debian's docker-registry (distribution
 * 2.8) as a second registry with identical digests both ways, and berthd pushing and pulling (docker CLI and
 * berth CLI; `docker manifest inspect` straight from the registry).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveRegistry, type ServedRegistry } from '../src/registry/testkit.ts';
import { dir, file, image, layer, legacyArchive, ociArchive, ociManifest, sha256, tarOf } from './fixtures.ts';
import { BERTH, docker, run, startDaemon, type Daemon, type RunResult } from './harness.ts';
import { skopeo, startRegistry, type DistributionRegistry } from '../src/distribution/remote/testkit.ts';

const plain = ['--src-tls-verify=false', '--dest-tls-verify=false'];

async function rawDigest(host: string, ref: string): Promise<string> {
  const r = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/${ref}`]);
  assert.equal(r.code, 0, r.stderr);
  return sha256(r.stdout);
}

function ok(r: RunResult, what: string, log = ''): RunResult {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}\n${log.slice(-3000)}`);
  return r;
}

describe('berth registry serve with skopeo and docker-registry', () => {
  let reg: ServedRegistry;
  let dist: DistributionRegistry;
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-regpeers-'));
    reg = await serveRegistry(undefined);
    dist = await startRegistry('plain');
  });
  after(async () => {
    await reg.stop();
    await dist.stop();
    await rm(reg.root, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('skopeo copies an image in, out to a directory, and both ways with docker-registry, digests identical', async () => {
    const layers = [];
    for (let i = 0; i < 3; i++) layers.push(await layer([dir(`d${i}`), file(`d${i}/f`, `layer ${i}`)], { gzip: true }));
    const img = image(layers, { created: '2024-03-03T00:00:00Z' });
    const archive = join(scratch, 'img.tar');
    await writeFile(archive, await tarOf(legacyArchive([{ image: img, tags: ['peer:1'] }])));
    ok(
      await skopeo(['copy', '-q', ...plain, `docker-archive:${archive}`, `docker://${reg.host}/peers/app:1`]),
      'skopeo in',
    );
    const digest = await rawDigest(reg.host, 'peers/app:1');
    // berth → docker-registry → berth (another repository): the same bytes everywhere.
    ok(
      await skopeo(['copy', '-q', ...plain, `docker://${reg.host}/peers/app:1`, `docker://${dist.host}/app:1`]),
      'to dist',
    );
    assert.equal(await rawDigest(dist.host, 'app:1'), digest);
    ok(
      await skopeo(['copy', '-q', ...plain, `docker://${dist.host}/app:1`, `docker://${reg.host}/peers/back:1`]),
      'back',
    );
    assert.equal(await rawDigest(reg.host, 'peers/back:1'), digest);
    const out = join(scratch, 'oci');
    ok(await skopeo(['copy', '-q', ...plain, `docker://${reg.host}/peers/back:1`, `oci:${out}:x`]), 'skopeo out');
    const tags = await skopeo(['list-tags', '--tls-verify=false', `docker://${reg.host}/peers/app`]);
    assert.deepEqual(JSON.parse(tags.stdout).Tags, ['1']);
  });

  it('an OCI index of two platforms with --all, both ways, with identical digests', async () => {
    const a = image([await layer([file('arch', 'amd64')], { gzip: true })], { architecture: 'amd64' });
    const b = image([await layer([file('arch', 'arm64')], { gzip: true })], { architecture: 'arm64' });
    const ma = ociManifest(a);
    const mb = ociManifest(b);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: sha256(ma),
            size: ma.length,
            platform: { os: 'linux', architecture: 'amd64' },
          },
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: sha256(mb),
            size: mb.length,
            platform: { os: 'linux', architecture: 'arm64' },
          },
        ],
      }),
    );
    const entries = ociArchive(
      [{ manifest: index, name: 'multi:1', mediaType: 'application/vnd.oci.image.index.v1+json' }],
      [a, b],
      { [sha256(ma)]: ma, [sha256(mb)]: mb },
    );
    const path = join(scratch, 'multi.tar');
    await writeFile(path, await tarOf(entries));
    ok(
      await skopeo(['copy', '-q', '--all', ...plain, `oci-archive:${path}`, `docker://${reg.host}/peers/multi:1`]),
      'in',
    );
    assert.equal(await rawDigest(reg.host, 'peers/multi:1'), sha256(index));
    ok(
      await skopeo([
        'copy',
        '-q',
        '--all',
        ...plain,
        `docker://${reg.host}/peers/multi:1`,
        `docker://${dist.host}/multi:1`,
      ]),
      'out',
    );
    assert.equal(await rawDigest(dist.host, 'multi:1'), sha256(index));
    const child = await skopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${reg.host}/peers/multi@${sha256(mb)}`,
    ]);
    assert.equal(sha256(child.stdout), sha256(mb));
  });
});

describe('berth registry serve with berthd (docker CLI and berth CLI)', () => {
  let reg: ServedRegistry;
  let d: Daemon;
  let home: string;
  before(async () => {
    reg = await serveRegistry(undefined);
    d = await startDaemon({ seed: true, args: ['--insecure-registry', '127.0.0.1'] });
    home = await mkdtemp(join(d.dir, 'home-'));
  });
  after(async () => {
    await d?.cleanup();
    await reg.stop();
    await rm(reg.root, { recursive: true, force: true });
  });

  it('docker push, docker pull, docker manifest inspect; berth push and pull', async () => {
    const ref = `${reg.host}/lib/bb:1`;
    ok(await docker(d, ['tag', 'busybox:latest', ref]), 'docker tag', d.log());
    const p = ok(await docker(d, ['push', ref]), 'docker push', d.log());
    const m = /1: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(p.stdout);
    assert.ok(m, p.stdout);
    assert.equal(await rawDigest(reg.host, 'lib/bb:1'), m[1]);
    ok(await docker(d, ['rmi', ref]), 'docker rmi', d.log());
    ok(await docker(d, ['pull', ref]), 'docker pull', d.log());
    const insp = ok(
      await run('docker', ['manifest', 'inspect', '--insecure', ref], { DOCKER_CONFIG: join(home, '.docker') }),
      'docker manifest inspect',
    );
    assert.equal(JSON.parse(insp.stdout).schemaVersion, 2);
    const env = { HOME: home, DOCKER_CONFIG: join(home, '.docker') };
    ok(await run(BERTH, ['-H', d.host, 'tag', 'busybox:latest', `${reg.host}/lib/bb:2`], env), 'berth tag');
    ok(await run(BERTH, ['-H', d.host, 'push', `${reg.host}/lib/bb:2`], env), 'berth push', d.log());
    ok(await run(BERTH, ['-H', d.host, 'rmi', `${reg.host}/lib/bb:2`], env), 'berth rmi');
    ok(await run(BERTH, ['-H', d.host, 'pull', `${reg.host}/lib/bb:2`], env), 'berth pull', d.log());
    const run1 = ok(
      await docker(d, ['run', '--rm', `${reg.host}/lib/bb:2`, 'echo', 'pulled from berth registry']),
      'docker run',
      d.log(),
    );
    assert.match(run1.stdout, /pulled from berth registry/);
  });
});
