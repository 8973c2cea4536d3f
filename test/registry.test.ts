/**
 * Pull, push, login and logout against real registries (issue 5's acceptance): Debian's docker-registry in three
 * set-ups (plain HTTP, TLS + htpasswd, token auth), through the docker CLI 28 and through `berth`, cross-checked
 * with skopeo; a faulty registry for each fault (wrong digest, truncated body, manifest of another digest, a
 * hang, a cut connection that must be resumed); mirrors; a registry that is down; kill -9 of berthd mid-pull.
 *
 * Every `berth` run gets a temp HOME (and DOCKER_CONFIG under it), so no real credentials are read or written.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BERTH, api, docker, imageIds, run, startDaemon, waitFor, type Daemon, type RunResult } from './harness.ts';
import {
  blobFiles,
  dir,
  file,
  image,
  layer,
  legacyArchive,
  listDir,
  ociArchive,
  ociManifest,
  sha256,
  storeProblems,
  tarOf,
  type Image,
} from './fixtures.ts';
import {
  accessLog,
  skopeo,
  startFaultyRegistry,
  startRegistry,
  type DistributionRegistry,
  type Fault,
  type FaultyRegistry,
  LOGIN,
  loginArgs,
} from '../src/distribution/remote/testkit.ts';

const COMMAND_TIMEOUT_MS = 120_000;

// ---- helpers -------------------------------------------------------------------------------------------------

/** A berthd whose JSON config file holds `config` (registry settings). */
async function daemonWith(config: Record<string, unknown>, opts: { seed?: boolean } = {}): Promise<Daemon> {
  const d = await mkdtemp(join(tmpdir(), 'berth-it-registry-'));
  const path = join(d, 'daemon.json');
  await writeFile(path, JSON.stringify(config));
  try {
    return await startDaemon({ dir: d, seed: opts.seed ?? false, args: ['--config-file', path] });
  } catch (err) {
    await rm(d, { recursive: true, force: true });
    throw err;
  }
}

/** A temp HOME for the berth CLI; its DOCKER_CONFIG is `<home>/.docker`. */
async function tempHome(under: string): Promise<string> {
  const home = await mkdtemp(join(under, 'home-'));
  return home;
}

/** `berth -H … ARGS` with HOME (and DOCKER_CONFIG) in `home`. */
function berthAs(
  d: Daemon,
  home: string,
  args: string[],
  input?: string,
  env: Record<string, string> = {},
): Promise<RunResult> {
  return run(BERTH, ['-H', d.host, ...args], { HOME: home, DOCKER_CONFIG: join(home, '.docker'), ...env }, input, {
    timeoutMs: COMMAND_TIMEOUT_MS,
  });
}

/** Asserts a command succeeded, showing its output and the daemon's log tail when not. */
function ok(r: RunResult, d: Daemon, what: string): RunResult {
  assert.equal(
    r.code,
    0,
    `${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}\n--- berthd log tail ---\n${d.log().slice(-3000)}`,
  );
  return r;
}

/** Writes a docker-archive and pushes it with skopeo to `reg` as `ref` (repo:tag); returns the manifest digest. */
async function skopeoPush(
  reg: DistributionRegistry,
  archive: Buffer | string,
  ref: string,
  scratch: string,
  opts: { format?: 'oci' | 'v2s2'; all?: boolean; transport?: string } = {},
): Promise<string> {
  let path = archive as string;
  if (Buffer.isBuffer(archive)) {
    path = join(scratch, `${ref.replace(/[/:]/g, '_')}.tar`);
    await writeFile(path, archive);
  }
  const src = `${opts.transport ?? 'docker-archive'}:${path}`;
  const args = [
    'copy',
    '-q',
    ...reg.skopeoFlags('dest'),
    ...(opts.format ? ['--format', opts.format] : []),
    ...(opts.all ? ['--all'] : []),
    src,
    `docker://${reg.host}/${ref}`,
  ];
  const r = await skopeo(args);
  assert.equal(r.code, 0, `skopeo ${args.join(' ')}: ${r.stderr}`);
  return manifestDigest(reg, ref);
}

/** skopeo's view of a manifest in `reg`: its digest (of the raw bytes, as served). */
async function manifestDigest(reg: DistributionRegistry, ref: string): Promise<string> {
  const raw = await skopeoRaw(reg, ref);
  return sha256(raw);
}

function srcFlags(reg: DistributionRegistry): string[] {
  return reg.skopeoFlags('src').map((f) => f.replace(/^--src-/, '--'));
}

/** The image ID the registry's copy of `ref` has: the digest of its config blob (skopeo may rewrite the config). */
async function configDigestOf(reg: DistributionRegistry, ref: string): Promise<string> {
  return sha256(await skopeoRaw(reg, ref, true));
}

async function skopeoRaw(reg: DistributionRegistry, ref: string, config = false): Promise<string> {
  const r = await skopeo([
    'inspect',
    '--raw',
    ...(config ? ['--config'] : []),
    ...srcFlags(reg),
    `docker://${reg.host}/${ref}`,
  ]);
  assert.equal(r.code, 0, `skopeo inspect ${ref}: ${r.stderr}`);
  return r.stdout;
}

interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Architecture: string;
  Os: string;
}

async function inspectImage(d: Daemon, name: string): Promise<ImageInspect | undefined> {
  const r = await api(d.socket, 'GET', `/images/${encodeURIComponent(name)}/json`);
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200, `inspect ${name}: ${r.body}`);
  return JSON.parse(r.body) as ImageInspect;
}

/** A distinct image of `n` layers (content depends on `seed`) as a legacy docker-archive. */
async function layeredArchive(
  seed: string,
  n: number,
  tag: string,
  config: Record<string, unknown> = {},
): Promise<{ archive: Buffer; image: Image }> {
  const layers = [];
  for (let i = 0; i < n; i++)
    layers.push(await layer([dir(`l${i}`), file(`l${i}/${seed}`, `${seed} ${i} ${Math.random()}`)]));
  const img = image(layers, config);
  return { archive: await tarOf(legacyArchive([{ image: img, tags: [tag] }])), image: img };
}

/** The auths entry for `host` in a docker-format config file, whatever form of the key was used. */
function authFor(config: { auths?: Record<string, { auth?: string }> }, host: string): { auth?: string } | undefined {
  for (const [k, v] of Object.entries(config.auths ?? {}))
    if (k === host || k.replace(/^https?:\/\//, '').replace(/\/.*$/, '') === host) return v;
  return undefined;
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A TCP server on 127.0.0.1 that accepts connections and never answers (a registry that hangs). */
async function silentServer(): Promise<{ host: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    stop: () =>
      new Promise((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

// ---- plain HTTP --------------------------------------------------------------------------------------------

describe('plain HTTP registry (insecure-registries): docker CLI, berth, skopeo', () => {
  let reg: DistributionRegistry;
  let down: DistributionRegistry;
  let silent: Awaited<ReturnType<typeof silentServer>>;
  let d: Daemon;
  let scratch: string;
  let home: string;
  const seeded: Record<string, { digest: string; id: string }> = {};

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-registry-test-'));
    reg = await startRegistry('plain');
    down = await startRegistry('plain');
    silent = await silentServer();
    for (const [ref, format] of [
      ['x:1', 'v2s2'],
      ['oci:1', 'oci'],
      ['multi:a', 'v2s2'],
      ['multi:b', 'oci'],
    ] as const) {
      const img = await layeredArchive(ref, 2, 'seed:1');
      seeded[ref] = { digest: await skopeoPush(reg, img.archive, ref, scratch, { format }), id: '' };
      seeded[ref]!.id = await configDigestOf(reg, ref);
    }
    d = await daemonWith({ 'insecure-registries': [reg.host, down.host, silent.host] }, { seed: true });
    home = await tempHome(scratch);
  });
  after(async () => {
    await d?.cleanup();
    await reg?.stop();
    await down?.stop();
    await silent?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('docker pull 127.0.0.1:PORT/x:1: the digest skopeo pushed, the config as the image ID, docker progress lines', async () => {
    const ref = `${reg.host}/x:1`;
    const r = ok(await docker(d, ['pull', ref]), d, 'docker pull');
    const want = seeded['x:1']!;
    assert.match(r.stdout, /1: Pulling from x/);
    assert.match(r.stdout, /Pull complete/);
    assert.ok(r.stdout.includes(`Digest: ${want.digest}`), r.stdout);
    assert.ok(r.stdout.includes(`Status: Downloaded newer image for ${ref}`), r.stdout);
    const img = await inspectImage(d, ref);
    assert.ok(img, 'the image exists');
    assert.equal(img.Id, want.id);
    assert.ok(img.RepoDigests.includes(`${reg.host}/x@${want.digest}`), JSON.stringify(img.RepoDigests));
    // Again: nothing new.
    const again = ok(await docker(d, ['pull', ref]), d, 'docker pull again');
    assert.ok(again.stdout.includes(`Status: Image is up to date for ${ref}`), again.stdout);
  });

  it('POST /images/create?fromImage=…&tag=…: JSON-lines progress with status, id and progressDetail', async () => {
    const r = await api(d.socket, 'POST', `/images/create?fromImage=${encodeURIComponent(`${reg.host}/oci`)}&tag=1`);
    assert.equal(r.status, 200, r.body);
    const lines = r.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { status?: string; id?: string; progressDetail?: unknown; error?: string });
    assert.ok(!lines.some((l) => l.error), r.body);
    assert.ok(
      lines.some((l) => l.status === 'Pulling from oci' && l.id === '1'),
      r.body,
    );
    assert.ok(
      lines.some((l) => l.status === 'Pull complete' && typeof l.id === 'string' && l.id.length === 12),
      r.body,
    );
    assert.ok(
      lines.some((l) => l.status === `Digest: ${seeded['oci:1']!.digest}`),
      r.body,
    );
    assert.ok(
      lines.some((l) => l.status === `Status: Downloaded newer image for ${reg.host}/oci:1`),
      r.body,
    );
    assert.equal((await inspectImage(d, `${reg.host}/oci:1`))?.Id, seeded['oci:1']!.id);
  });

  it('docker push, then docker run 127.0.0.1:PORT/bb:1 pulls it (create → 404 → pull → create)', async () => {
    const ref = `${reg.host}/bb:1`;
    ok(await docker(d, ['tag', 'busybox:latest', ref]), d, 'docker tag');
    const p = ok(await docker(d, ['push', ref]), d, 'docker push');
    assert.ok(p.stdout.includes(`The push refers to repository [${reg.host}/bb]`), p.stdout);
    const m = /1: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(p.stdout);
    assert.ok(m, p.stdout);
    assert.equal(await manifestDigest(reg, 'bb:1'), m[1], 'skopeo sees the digest docker push printed');
    ok(await docker(d, ['rmi', ref]), d, 'docker rmi');
    const r = ok(await docker(d, ['run', '--rm', ref, 'echo', 'hello from the registry']), d, 'docker run');
    assert.match(r.stderr, new RegExp(`Unable to find image '${ref.replace(/\./g, '\\.')}' locally`));
    assert.equal(r.stdout.trim().split('\n').at(-1), 'hello from the registry');
    // berth run pulls too.
    ok(await docker(d, ['tag', 'busybox:latest', `${reg.host}/bb:2`]), d, 'docker tag');
    ok(await docker(d, ['push', `${reg.host}/bb:2`]), d, 'docker push bb:2');
    ok(await docker(d, ['rmi', `${reg.host}/bb:2`]), d, 'docker rmi');
    const b = ok(await berthAs(d, home, ['run', '--rm', `${reg.host}/bb:2`, 'echo', 'berth ran it']), d, 'berth run');
    assert.match(b.stdout, /berth ran it/);
  });

  it('berth pull -q prints only the reference; -a pulls every tag', async () => {
    const q = ok(await berthAs(d, home, ['pull', '-q', `${reg.host}/x:1`]), d, 'berth pull -q');
    assert.equal(q.stdout.trim(), `${reg.host}/x:1`);
    const a = ok(await berthAs(d, home, ['pull', '-a', `${reg.host}/multi`]), d, 'berth pull -a');
    assert.match(a.stdout, /multi/);
    assert.equal((await inspectImage(d, `${reg.host}/multi:a`))?.Id, seeded['multi:a']!.id);
    assert.equal((await inspectImage(d, `${reg.host}/multi:b`))?.Id, seeded['multi:b']!.id);
  });

  it('berth push -a pushes every tag of a repository; skopeo lists them', async () => {
    ok(await berthAs(d, home, ['tag', `${reg.host}/multi:a`, `${reg.host}/pa:one`]), d, 'tag');
    ok(await berthAs(d, home, ['tag', `${reg.host}/multi:b`, `${reg.host}/pa:two`]), d, 'tag');
    ok(await berthAs(d, home, ['push', '-a', `${reg.host}/pa`]), d, 'berth push -a');
    const r = await skopeo(['list-tags', '--tls-verify=false', `docker://${reg.host}/pa`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { Tags: string[] }).Tags.sort(), ['one', 'two']);
  });

  it('skopeo → Berth: an image skopeo pushed is pulled with identical digests (schema2 and OCI)', async () => {
    for (const ref of ['x:1', 'oci:1']) {
      ok(await berthAs(d, home, ['pull', `${reg.host}/${ref}`]), d, `berth pull ${ref}`);
      const img = await inspectImage(d, `${reg.host}/${ref}`);
      const repo = ref.split(':')[0];
      assert.ok(img?.RepoDigests.includes(`${reg.host}/${repo}@${seeded[ref]!.digest}`), JSON.stringify(img));
      assert.equal(
        img?.Id,
        sha256(await skopeoRaw(reg, ref, true)),
        'the image ID is the digest of the config skopeo reads',
      );
    }
  });

  it('Berth → skopeo: an image Berth pushed reads back identically (--raw manifest, --config)', async () => {
    const { archive, image: img } = await layeredArchive('berth-push', 3, 'bp:1');
    const load = await api(d.socket, 'POST', '/images/load?quiet=1', archive);
    assert.equal(load.status, 200, load.body);
    ok(await berthAs(d, home, ['tag', 'bp:1', `${reg.host}/bp:1`]), d, 'tag');
    const p = ok(await berthAs(d, home, ['push', `${reg.host}/bp:1`]), d, 'berth push');
    const m = /digest: (sha256:[0-9a-f]{64})/.exec(p.stdout);
    assert.ok(m, `berth push prints the digest: ${p.stdout}`);
    const raw = await skopeoRaw(reg, 'bp:1');
    assert.equal(sha256(raw), m[1], 'the manifest skopeo reads has the digest berth printed');
    const manifest = JSON.parse(raw) as { mediaType: string; config: { digest: string }; layers: { digest: string }[] };
    assert.equal(manifest.config.digest, img.configDigest);
    assert.equal(manifest.layers.length, 3);
    const config = await skopeoRaw(reg, 'bp:1', true);
    assert.equal(sha256(config), img.configDigest, 'the config blob is byte-identical');
    assert.deepEqual(JSON.parse(config), JSON.parse(img.config.toString()));
    const inspected = (await inspectImage(d, `${reg.host}/bp:1`))!;
    assert.ok(inspected.RepoDigests.includes(`${reg.host}/bp@${m[1]}`), JSON.stringify(inspected.RepoDigests));
    // skopeo copies every blob out (and so verifies every digest).
    const out = join(scratch, 'bp-layout');
    const c = await skopeo(['copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/bp:1`, `oci:${out}:bp`]);
    assert.equal(c.code, 0, c.stderr);
  });

  it('a manifest list / OCI index: the platform of this host, or --platform', async () => {
    const amd = await layeredArchive('plat-amd64', 1, 'p:1', { architecture: 'amd64' });
    const arm = await layeredArchive('plat-arm64', 1, 'p:1', { architecture: 'arm64' });
    const mAmd = ociManifest(amd.image);
    const mArm = ociManifest(arm.image);
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(mAmd),
          size: mAmd.length,
          platform: { architecture: 'amd64', os: 'linux' },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(mArm),
          size: mArm.length,
          platform: { architecture: 'arm64', os: 'linux' },
        },
      ],
    };
    // An oci-archive whose top index names one image index (ref "plat") listing two platforms; pushed as one index.
    const inner = Buffer.from(JSON.stringify(index));
    const entries = ociArchive(
      [{ manifest: inner, name: 'plat:plat', mediaType: 'application/vnd.oci.image.index.v1+json' }],
      [amd.image, arm.image],
      { [sha256(mAmd)]: mAmd, [sha256(mArm)]: mArm },
    );
    const path = join(scratch, 'plat.oci.tar');
    await writeFile(path, await tarOf(entries));
    const r = await skopeo([
      'copy',
      '-q',
      '--all',
      '--dest-tls-verify=false',
      `oci-archive:${path}:plat`,
      `docker://${reg.host}/plat:1`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    ok(await berthAs(d, home, ['pull', `${reg.host}/plat:1`]), d, 'berth pull (index)');
    const host = await inspectImage(d, `${reg.host}/plat:1`);
    assert.equal(host?.Id, amd.image.configDigest, 'amd64 chosen on this amd64 host');
    const served = await skopeoRaw(reg, 'plat:1');
    assert.equal(
      (JSON.parse(served) as { manifests?: unknown[] }).manifests?.length,
      2,
      'the registry holds an index of two',
    );
    assert.ok(
      host.RepoDigests.includes(`${reg.host}/plat@${sha256(served)}`),
      `the repo digest is the index's (${sha256(served)}), as Docker's: ${JSON.stringify(host.RepoDigests)} (index ${served})`,
    );
    ok(
      await berthAs(d, home, ['pull', '--platform', 'linux/arm64', `${reg.host}/plat:1`]),
      d,
      'berth pull --platform linux/arm64',
    );
    const other = await inspectImage(d, `${reg.host}/plat:1`);
    assert.equal(other?.Id, arm.image.configDigest);
    assert.equal(other.Architecture, 'arm64');
  });

  it('unknown tag or repository → "manifest unknown", exit 1; bad reference → "invalid reference format"', async () => {
    const before = await imageIds(d);
    for (const ref of [`${reg.host}/x:nope`, `${reg.host}/no-such-repo:1`]) {
      const r = await berthAs(d, home, ['pull', ref]);
      assert.equal(r.code, 1, `${ref}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /manifest unknown/);
      const dr = await docker(d, ['pull', ref]);
      assert.equal(dr.code, 1, `${dr.stdout}${dr.stderr}`);
      assert.match(dr.stderr, /manifest unknown|not found/);
    }
    const bad = await berthAs(d, home, ['pull', `${reg.host}/x:1:2`]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /invalid reference format/);
    const badApi = await api(d.socket, 'POST', `/images/create?fromImage=${encodeURIComponent('UPPER:x:y')}&tag=1`);
    assert.equal(badApi.status, 400, badApi.body);
    assert.match(badApi.body, /invalid reference format/);
    assert.deepEqual(await imageIds(d), before);
  });

  it('registry down (connection refused, or accepting and silent): an error within a bounded time, no hang', async () => {
    await down.kill();
    let t = Date.now();
    const r = await berthAs(d, home, ['pull', `${down.host}/x:1`]);
    assert.notEqual(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, /killed after/);
    assert.match(r.stderr, /connection refused|ECONNREFUSED|connect/i);
    assert.ok(Date.now() - t < 30_000, `refused took ${Date.now() - t} ms`);
    t = Date.now();
    const s = await berthAs(d, home, ['pull', `${silent.host}/x:1`]);
    const took = Date.now() - t;
    assert.notEqual(s.code, 0, s.stdout);
    assert.doesNotMatch(s.stderr, /killed after/, 'berth pull hung on a silent registry');
    assert.ok(took < 100_000, `a silent registry took ${took} ms`);
    const p = await berthAs(d, home, ['push', `${down.host}/x:1`]);
    assert.notEqual(p.code, 0, `${p.stdout}${p.stderr}`);
    assert.doesNotMatch(p.stderr, /killed after/);
  });
});

// ---- TLS + htpasswd ------------------------------------------------------------------------------------------

describe('TLS registry with a test CA (certs.d) and htpasswd Basic auth', () => {
  let reg: DistributionRegistry;
  let d: Daemon;
  let scratch: string;
  let digest: string;
  let seededId: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-registry-test-'));
    reg = await startRegistry('tls', { users: { [LOGIN.user]: LOGIN.password, bob: 's3cret-b0b' } });
    const img = await layeredArchive('tls', 2, 'seed:1');
    digest = await skopeoPush(reg, img.archive, 'x:1', scratch);
    seededId = await configDigestOf(reg, 'x:1');
    const certs = join(scratch, 'certs.d');
    await reg.writeCertsD(certs);
    d = await daemonWith({ 'certs-dir': certs }, { seed: true });
  });
  after(async () => {
    await d?.cleanup();
    await reg?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('docker login, pull, push and run through berthd; a wrong password is "unauthorized", exit 1, nothing stored', async () => {
    const wrong = await docker(d, ...loginArgs(reg.host, 'not-the-password'));
    assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
    assert.match(wrong.stderr, /unauthorized/i);
    const dockerConfig = join(d.dir, 'docker-config', 'config.json');
    const stored = await readJson(dockerConfig);
    assert.equal(stored && authFor(stored as never, reg.host), undefined, 'nothing stored for a failed login');
    // dockerd answers a registry's "unauthorized" during a pull with 500 (errdefs.Unknown), never 401: on a 401
    // the docker CLI prompts "Login prior to pull" and waits for a user.
    const raw = await api(d.socket, 'POST', `/images/create?fromImage=${encodeURIComponent(`${reg.host}/x`)}&tag=1`);
    assert.notEqual(raw.status, 401, `a pull without credentials must not answer 401: ${raw.body}`);
    assert.match(raw.body, /unauthorized|no basic auth credentials/i);
    const noAuth = await docker(d, ['pull', `${reg.host}/x:1`]);
    assert.equal(noAuth.code, 1, `${noAuth.stdout}${noAuth.stderr}`);
    assert.match(noAuth.stderr, /unauthorized|no basic auth credentials/i);

    const login = ok(await docker(d, ...loginArgs(reg.host)), d, 'docker login');
    assert.match(login.stdout, /Login Succeeded/);
    const pull = ok(await docker(d, ['pull', `${reg.host}/x:1`]), d, 'docker pull');
    assert.ok(pull.stdout.includes(`Digest: ${digest}`), pull.stdout);
    assert.equal((await inspectImage(d, `${reg.host}/x:1`))?.Id, seededId);
    ok(await docker(d, ['tag', 'busybox:latest', `${reg.host}/bb:1`]), d, 'tag');
    ok(await docker(d, ['push', `${reg.host}/bb:1`]), d, 'docker push');
    ok(await docker(d, ['rmi', `${reg.host}/bb:1`]), d, 'rmi');
    const r = ok(await docker(d, ['run', '--rm', `${reg.host}/bb:1`, 'echo', 'over tls']), d, 'docker run');
    assert.match(r.stdout, /over tls/);
    assert.ok(!d.log().includes(LOGIN.password), 'the password is never logged');
  });

  it('berth login --password-stdin stores docker-format credentials in ~/.berth/config.json (0600); pull; logout', async () => {
    const home = await tempHome(scratch);
    const path = join(home, '.berth', 'config.json');
    const wrong = await berthAs(d, home, ...loginArgs(reg.host, 'nope'));
    assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
    assert.match(wrong.stderr, /unauthorized/i);
    const afterWrong = await readJson(path);
    assert.equal(afterWrong && authFor(afterWrong as never, reg.host), undefined, 'a failed login stores nothing');

    const login = ok(await berthAs(d, home, ...loginArgs(reg.host)), d, 'berth login');
    assert.match(login.stdout, /Login Succeeded/);
    assert.ok(!(login.stdout + login.stderr).includes(LOGIN.password), 'the password is never printed');
    const st = await stat(path);
    assert.equal(st.mode & 0o777, 0o600);
    const cfg = (await readJson(path)) as { auths?: Record<string, { auth?: string }> };
    assert.equal(authFor(cfg, reg.host)?.auth, b64(LOGIN.creds));
    ok(await berthAs(d, home, ['pull', `${reg.host}/x:1`]), d, 'berth pull after login');
    const out = ok(await berthAs(d, home, ['logout', reg.host]), d, 'berth logout');
    assert.match(out.stdout, new RegExp(`Removing login credentials for ${reg.host.replace(/\./g, '\\.')}`));
    assert.equal(authFor(((await readJson(path)) ?? {}) as never, reg.host), undefined);
    const denied = await berthAs(d, home, ['pull', `${reg.host}/x:1`]);
    assert.equal(denied.code, 1, `${denied.stdout}${denied.stderr}`);
    assert.match(denied.stderr, /unauthorized|no basic auth credentials/i);
    assert.ok(!d.log().includes(LOGIN.password), 'the password is never logged');
  });

  it('berth login -u -p with $BERTH_CONFIG; a second user; push with those credentials', async () => {
    const home = await tempHome(scratch);
    const cfgDir = join(home, 'elsewhere');
    const env = { BERTH_CONFIG: cfgDir };
    const login = ok(
      await berthAs(d, home, ['login', '-u', 'bob', '-p', 's3cret-b0b', reg.host], undefined, env),
      d,
      'berth login -p',
    );
    assert.match(login.stdout, /Login Succeeded/);
    assert.ok(!login.stdout.includes('s3cret-b0b'));
    const cfg = (await readJson(join(cfgDir, 'config.json'))) as { auths?: Record<string, { auth?: string }> };
    assert.equal(authFor(cfg, reg.host)?.auth, b64('bob:s3cret-b0b'));
    assert.equal(await readJson(join(home, '.berth', 'config.json')), undefined, '$BERTH_CONFIG replaces ~/.berth');
    ok(await berthAs(d, home, ['tag', 'busybox:latest', `${reg.host}/bob:1`], undefined, env), d, 'tag');
    ok(await berthAs(d, home, ['push', `${reg.host}/bob:1`], undefined, env), d, 'berth push');
    assert.equal(typeof (await manifestDigest(reg, 'bob:1')), 'string');
  });

  it('credentials are read from ~/.docker/config.json and from a docker-credential-* helper', async () => {
    const home = await tempHome(scratch);
    await mkdir(join(home, '.docker'));
    await writeFile(
      join(home, '.docker', 'config.json'),
      JSON.stringify({ auths: { [reg.host]: { auth: b64(LOGIN.creds) } } }),
    );
    ok(await berthAs(d, home, ['pull', `${reg.host}/x:1`]), d, 'pull with docker config credentials');

    const home2 = await tempHome(scratch);
    const bin = join(home2, 'bin');
    await mkdir(bin);
    const helper = join(bin, 'docker-credential-berthtest');
    await writeFile(
      helper,
      `#!/bin/sh\nread server\nif [ "$1" = get ] && [ "$server" = "${reg.host}" ]; then printf '{"ServerURL":"%s","Username":"bob","Secret":"s3cret-b0b"}' "$server"; exit 0; fi\necho "credentials not found in native keychain"; exit 1\n`,
    );
    await chmod(helper, 0o755);
    await mkdir(join(home2, '.berth'));
    await writeFile(join(home2, '.berth', 'config.json'), JSON.stringify({ credHelpers: { [reg.host]: 'berthtest' } }));
    ok(
      await berthAs(d, home2, ['pull', `${reg.host}/x:1`], undefined, { PATH: `${bin}:${process.env.PATH ?? ''}` }),
      d,
      'pull with a credential helper',
    );
  });
});

// ---- token auth ----------------------------------------------------------------------------------------------

describe('token auth registry (distribution auth: token, a token service in the test)', () => {
  let reg: DistributionRegistry;
  let d: Daemon;
  let scratch: string;
  let seeded: { digest: string; id: string };

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-registry-test-'));
    reg = await startRegistry('token', { anonymousPull: true });
    const img = await layeredArchive('token', 3, 'seed:1');
    seeded = { digest: await skopeoPush(reg, img.archive, 'lib/x:1', scratch), id: '' };
    seeded.id = await configDigestOf(reg, 'lib/x:1');
    d = await daemonWith({ 'insecure-registries': [reg.host] }, { seed: true });
  });
  after(async () => {
    await d?.cleanup();
    await reg?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('anonymous pull gets an anonymous pull token; one token serves every blob of the pull', async () => {
    const home = await tempHome(scratch);
    const n = reg.tokens!.requests.length;
    ok(await berthAs(d, home, ['pull', `${reg.host}/lib/x:1`]), d, 'anonymous berth pull');
    const mine = reg.tokens!.requests.slice(n);
    assert.ok(mine.length >= 1, 'a token was asked for');
    assert.ok(
      mine.every((r) => r.account === '' && r.status === 200),
      JSON.stringify(mine),
    );
    assert.ok(
      mine.some((r) => r.scopes.includes('repository:lib/x:pull')),
      JSON.stringify(mine),
    );
    assert.ok(
      mine.length <= 2,
      `tokens are cached: ${mine.length} token requests for one pull of 5 blobs: ${JSON.stringify(mine)}`,
    );
    const img = await inspectImage(d, `${reg.host}/lib/x:1`);
    assert.equal(img?.Id, seeded.id);
    assert.ok(img.RepoDigests.includes(`${reg.host}/lib/x@${seeded.digest}`));
    // Anonymous push is refused.
    ok(await berthAs(d, home, ['tag', 'busybox:latest', `${reg.host}/lib/anon:1`]), d, 'tag');
    const p = await berthAs(d, home, ['push', `${reg.host}/lib/anon:1`]);
    assert.equal(p.code, 1, p.stdout);
    assert.match(p.stderr, /unauthorized|denied|authentication required/i);
  });

  it('berth login, push; a push to another repository mounts the blobs it shares (scope of both repositories)', async () => {
    const home = await tempHome(scratch);
    const wrong = await berthAs(d, home, ...loginArgs(reg.host, 'bad'));
    assert.equal(wrong.code, 1, `${wrong.stdout}${wrong.stderr}`);
    assert.match(wrong.stderr, /unauthorized/i);
    assert.equal(
      await readJson(join(home, '.berth', 'config.json')).then((c) => c && authFor(c as never, reg.host)),
      undefined,
    );
    ok(await berthAs(d, home, ...loginArgs(reg.host)), d, 'berth login');

    ok(await berthAs(d, home, ['pull', `${reg.host}/lib/x:1`]), d, 'pull');
    ok(await berthAs(d, home, ['tag', `${reg.host}/lib/x:1`, `${reg.host}/lib/copy:1`]), d, 'tag');
    const n = reg.tokens!.requests.length;
    const logAt = accessLog(reg).length;
    const p = ok(await berthAs(d, home, ['push', `${reg.host}/lib/copy:1`]), d, 'berth push (mount)');
    assert.ok(p.stdout.includes(`digest: ${seeded.digest}`), `the same manifest, the same digest: ${p.stdout}`);
    const scopes = reg.tokens!.requests.slice(n).flatMap((r) => r.scopes);
    assert.ok(
      scopes.some((s) => /^repository:lib\/copy:(pull,push|push,pull)$/.test(s)),
      JSON.stringify(scopes),
    );
    assert.ok(
      scopes.includes('repository:lib/x:pull'),
      `the source repository's pull scope for the mount: ${JSON.stringify(scopes)}`,
    );
    const requests = accessLog(reg).slice(logAt);
    const mounts = requests.filter((e) => {
      const uri = decodeURIComponent(e.uri);
      return (
        e.method === 'POST' &&
        uri.startsWith('/v2/lib/copy/blobs/uploads/') &&
        uri.includes('mount=sha256:') &&
        uri.includes('from=lib/x')
      );
    });
    assert.ok(
      mounts.length >= 3 && mounts.every((m) => m.status === 201),
      `each layer and the config mounted: ${JSON.stringify(requests)}`,
    );
    assert.ok(
      !requests.some((e) => e.method === 'PATCH' || (e.method === 'PUT' && e.uri.includes('/blobs/uploads/'))),
      `no blob uploaded: ${JSON.stringify(requests)}`,
    );
    assert.equal(await manifestDigest(reg, 'lib/copy:1'), seeded.digest);
  });

  it('docker login and docker pull through berthd with token auth', async () => {
    const wrong = await docker(d, ...loginArgs(reg.host, 'bad'));
    assert.equal(wrong.code, 1, `${wrong.stdout}${wrong.stderr}`);
    assert.match(wrong.stderr, /unauthorized/i);
    ok(await docker(d, ...loginArgs(reg.host)), d, 'docker login');
    ok(await docker(d, ['tag', 'busybox:latest', `${reg.host}/lib/bb:1`]), d, 'tag');
    ok(await docker(d, ['push', `${reg.host}/lib/bb:1`]), d, 'docker push');
    ok(await docker(d, ['rmi', `${reg.host}/lib/bb:1`]), d, 'rmi');
    const r = ok(await docker(d, ['run', '--rm', `${reg.host}/lib/bb:1`, 'echo', 'tokens']), d, 'docker run');
    assert.match(r.stdout, /tokens/);
    const pushers = reg.tokens!.requests.filter(
      (q) => q.account === LOGIN.user && q.scopes.some((s) => s.startsWith('repository:lib/bb:') && s.includes('push')),
    );
    assert.ok(pushers.length >= 1, JSON.stringify(reg.tokens!.requests));
  });

  it('a token that expired is refreshed (a registry with 2 s tokens; pulls spaced past the expiry)', async () => {
    const short = await startRegistry('token', { anonymousPull: true, tokenTtl: 2 });
    const dd = await daemonWith({ 'insecure-registries': [short.host] });
    try {
      const img = await layeredArchive('short', 1, 'seed:1');
      await skopeoPush(short, img.archive, 'a/b:1', scratch);
      const home = await tempHome(scratch);
      ok(await berthAs(dd, home, ['pull', `${short.host}/a/b:1`]), dd, 'first pull');
      await new Promise((r) => setTimeout(r, 3000));
      await skopeoPush(short, (await layeredArchive('short2', 1, 'seed:1')).archive, 'a/b:2', scratch);
      const n = short.tokens!.requests.length;
      ok(await berthAs(dd, home, ['pull', `${short.host}/a/b:2`]), dd, 'pull after the token expired');
      assert.ok(short.tokens!.requests.length > n, 'a fresh token was fetched after the expiry');
    } finally {
      await dd.cleanup();
      await short.stop();
    }
  });
});

// ---- faults ----------------------------------------------------------------------------------------------------

describe('a faulty registry: each fault fails the pull naming the blob, leaves nothing, and the next pull works', () => {
  const faults: Fault[] = ['bad-digest', 'truncated', 'bad-manifest', 'hang', 'cut-once', 'schema1'];
  const regs = new Map<Fault, FaultyRegistry>();
  let d: Daemon;
  let scratch: string;
  let home: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-registry-test-'));
    home = await tempHome(scratch);
    for (const f of faults) regs.set(f, await startFaultyRegistry(f, { layerBytes: 4 << 20 }));
    // A hung blob must fail after the idle timeout (60 s by default; the daemon option shortens it here).
    d = await daemonWith({
      'insecure-registries': [...regs.values()].map((r) => r.host),
      'registry-idle-timeout-ms': 3000,
    });
  });
  after(async () => {
    await d?.cleanup();
    for (const r of regs.values()) await r.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** Nothing of the failed pull is kept: no image, no layer blob, nothing in ingest/, every blob file intact. */
  async function assertNothingKept(reg: FaultyRegistry, before: string[]): Promise<void> {
    assert.deepEqual(await imageIds(d), before, 'no image was created');
    assert.equal(await inspectImage(d, `${reg.host}/${reg.repository}:${reg.tag}`), undefined);
    const blobs = await blobFiles(d.dataRoot);
    assert.ok(!blobs.includes(reg.layer.digest), 'the bad layer is not in blobs/');
    for (const b of blobs)
      assert.equal(sha256(await readFile(join(d.dataRoot, 'blobs', 'sha256', b.slice(7)))), b, `blob ${b} is intact`);
    assert.deepEqual(await listDir(join(d.dataRoot, 'ingest')), [], 'nothing partial in ingest/');
  }

  async function thenHealthy(reg: FaultyRegistry): Promise<void> {
    reg.setFault('healthy');
    ok(
      await berthAs(d, home, ['pull', `${reg.host}/${reg.repository}:${reg.tag}`]),
      d,
      'pull from the healthy registry',
    );
    assert.equal((await inspectImage(d, `${reg.host}/${reg.repository}:${reg.tag}`))?.Id, reg.config.digest);
    assert.deepEqual(await storeProblems(d.dataRoot), []);
  }

  for (const fault of ['bad-digest', 'truncated', 'hang'] as const) {
    it(`${fault}: the pull fails naming the layer blob`, async () => {
      const reg = regs.get(fault)!;
      const before = await imageIds(d);
      const t = Date.now();
      const r = await berthAs(d, home, ['pull', `${reg.host}/${reg.repository}:${reg.tag}`]);
      assert.notEqual(r.code, 0, `the pull should fail: ${r.stdout}`);
      assert.doesNotMatch(r.stderr, /killed after/, `the pull hung (${Date.now() - t} ms): ${reg.log()}`);
      assert.ok(
        r.stderr.includes(reg.layer.digest.slice(7, 19)),
        `the message names the blob ${reg.layer.digest}: ${r.stderr}`,
      );
      await assertNothingKept(reg, before);
      await thenHealthy(reg);
    });
  }

  it('bad-manifest: a manifest whose bytes are not the digest asked for is refused', async () => {
    const reg = regs.get('bad-manifest')!;
    const before = await imageIds(d);
    const r = await berthAs(d, home, ['pull', `${reg.host}/${reg.repository}@${reg.manifestDigest}`]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /digest|manifest/i);
    assert.ok(r.stderr.includes(reg.manifestDigest.slice(7, 19)), `the message names the digest: ${r.stderr}`);
    // By tag: the body does not match the Docker-Content-Digest header.
    const t = await berthAs(d, home, ['pull', `${reg.host}/${reg.repository}:${reg.tag}`]);
    assert.notEqual(t.code, 0, t.stdout);
    await assertNothingKept(reg, before);
    assert.ok(!reg.requests.some((q) => q.path.includes(reg.layer.digest)), 'no layer was fetched for a bad manifest');
    await thenHealthy(reg);
  });

  it('schema1: a Docker schema 1 manifest is refused with a clear message, nothing fetched or kept', async () => {
    const reg = regs.get('schema1')!;
    const before = await imageIds(d);
    const r = await berthAs(d, home, ['pull', `${reg.host}/${reg.repository}:${reg.tag}`]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /schema ?1|manifest version 2, schema 1|v1\+prettyjws/i);
    assert.ok(!reg.requests.some((q) => q.path.includes('/blobs/')), 'no blob was fetched');
    await assertNothingKept(reg, before);
    await thenHealthy(reg);
  });

  it('cut-once: a connection cut mid-blob is resumed with Range from where it stopped', async () => {
    const reg = regs.get('cut-once')!;
    ok(
      await berthAs(d, home, ['pull', `${reg.host}/${reg.repository}:${reg.tag}`]),
      d,
      'pull through a cut connection',
    );
    assert.equal((await inspectImage(d, `${reg.host}/${reg.repository}:${reg.tag}`))?.Id, reg.config.digest);
    const gets = reg.requests.filter((q) => q.method === 'GET' && q.path.endsWith(reg.layer.digest));
    assert.ok(gets.length >= 2, JSON.stringify(gets));
    const resumed = gets.slice(1).find((q) => q.range !== undefined);
    assert.ok(resumed, `a later GET asks for a Range: ${JSON.stringify(gets)}`);
    const from = Number(/^bytes=(\d+)-/.exec(resumed.range!)?.[1]);
    assert.ok(
      from > 0 && from <= reg.layer.body.length >> 1,
      `resumed from ${from}, at most the ${reg.layer.body.length >> 1} bytes sent`,
    );
    assert.deepEqual(await storeProblems(d.dataRoot), []);
  });
});

// ---- mirrors -----------------------------------------------------------------------------------------------------

describe('registry mirrors', () => {
  let origin: DistributionRegistry;
  let mirror: DistributionRegistry;
  let scratch: string;
  const digests: Record<string, string> = {};

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-registry-test-'));
    origin = await startRegistry('plain');
    mirror = await startRegistry('plain');
    const both = await layeredArchive('mirrored', 2, 'seed:1');
    digests['m:1'] = await skopeoPush(origin, both.archive, 'm:1', scratch);
    assert.equal(await skopeoPush(mirror, both.archive, 'm:1', scratch), digests['m:1']);
    // As Docker Hub's docker.io/library/m:1, for a mirror given as a list.
    assert.equal(await skopeoPush(mirror, both.archive, 'library/m:1', scratch), digests['m:1']);
    digests['o:1'] = await skopeoPush(
      origin,
      (await layeredArchive('origin-only', 1, 'seed:1')).archive,
      'o:1',
      scratch,
    );
  });
  after(async () => {
    await origin?.stop();
    await mirror?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('registry-mirrors as an object keyed by registry (a Berth addition): mirror first, origin when the mirror lacks it', async () => {
    const d = await daemonWith({
      'insecure-registries': [origin.host, mirror.host],
      'registry-mirrors': { [origin.host]: [mirror.url] },
    });
    try {
      const home = await tempHome(scratch);
      const o0 = accessLog(origin).length;
      const m0 = accessLog(mirror).length;
      ok(await berthAs(d, home, ['pull', `${origin.host}/m:1`]), d, 'pull (mirrored)');
      const img = await inspectImage(d, `${origin.host}/m:1`);
      assert.ok(
        img?.RepoDigests.includes(`${origin.host}/m@${digests['m:1']}`),
        `named after the origin: ${JSON.stringify(img?.RepoDigests)}`,
      );
      const fromMirror = accessLog(mirror).slice(m0);
      assert.ok(
        fromMirror.some((e) => e.method === 'GET' && e.uri.includes('/blobs/sha256:') && e.status === 200),
        `blobs came from the mirror: ${JSON.stringify(fromMirror)}`,
      );
      assert.ok(
        !accessLog(origin)
          .slice(o0)
          .some((e) => e.uri.includes('/blobs/')),
        'no blob from the origin',
      );

      const m1 = accessLog(mirror).length;
      ok(await berthAs(d, home, ['pull', `${origin.host}/o:1`]), d, 'pull (not on the mirror)');
      assert.ok(
        accessLog(mirror)
          .slice(m1)
          .some((e) => e.uri.includes('/v2/o/manifests/1')),
        'the mirror was asked first',
      );
      assert.ok(
        (await inspectImage(d, `${origin.host}/o:1`))?.RepoDigests.includes(`${origin.host}/o@${digests['o:1']}`),
      );
    } finally {
      await d.cleanup();
    }
  });

  it("registry-mirrors as a list keeps daemon.json's meaning: Docker Hub's mirrors, not other registries'", async () => {
    // The mirror holds docker.io/library/m:1; it answers, so nothing goes to Docker Hub itself.
    const d = await daemonWith({ 'insecure-registries': [origin.host, mirror.host], 'registry-mirrors': [mirror.url] });
    try {
      const home = await tempHome(scratch);
      const m0 = accessLog(mirror).length;
      ok(await berthAs(d, home, ['pull', 'm:1']), d, 'pull of a Docker Hub name (mirrored)');
      assert.ok((await inspectImage(d, 'm:1'))?.RepoDigests.includes(`m@${digests['m:1']}`));
      assert.ok(
        accessLog(mirror)
          .slice(m0)
          .some((e) => e.method === 'GET' && e.uri.includes('/v2/library/m/blobs/sha256:') && e.status === 200),
        'blobs came from the mirror',
      );
      const m1 = accessLog(mirror).length;
      ok(await berthAs(d, home, ['pull', `${origin.host}/m:1`]), d, 'pull from another registry');
      assert.equal(accessLog(mirror).slice(m1).length, 0, 'a list does not mirror other registries');
    } finally {
      await d.cleanup();
    }
  });

  it('with the origin down, the mirror still serves', async () => {
    const d = await daemonWith({
      'insecure-registries': [origin.host, mirror.host],
      'registry-mirrors': { [origin.host]: [mirror.url] },
    });
    try {
      await origin.kill();
      const home = await tempHome(scratch);
      ok(await berthAs(d, home, ['pull', `${origin.host}/m:1`]), d, 'pull with the origin down');
      assert.ok(
        (await inspectImage(d, `${origin.host}/m:1`))?.RepoDigests.includes(`${origin.host}/m@${digests['m:1']}`),
      );
    } finally {
      await d.cleanup();
    }
  });
});

// ---- kill -9 mid-pull ------------------------------------------------------------------------------------------

describe('kill -9 of berthd during a pull', () => {
  it('after restart nothing half-pulled is visible; the repeated pull completes, reusing the verified blobs', async () => {
    const reg = await startFaultyRegistry('hang', { layerBytes: 8 << 20, healthyLayers: 2 });
    const scratch = await mkdtemp(join(tmpdir(), 'berth-registry-test-'));
    let d: Daemon | undefined;
    try {
      d = await daemonWith({ 'insecure-registries': [reg.host] });
      const home = await tempHome(scratch);
      const ref = `${reg.host}/${reg.repository}:${reg.tag}`;
      const pulling = berthAs(d, home, ['pull', ref]);
      const blobGets = (digest: string) =>
        reg.requests.filter((q) => q.method === 'GET' && q.path.endsWith(digest)).length;
      await waitFor(
        'the healthy layers fetched and the big one hanging',
        () => reg.healthy.every((h) => blobGets(h.digest) >= 1) && blobGets(reg.layer.digest) >= 1,
        60_000,
      );
      // The two small layers verified and committed (a blob file is placed only once its digest checked).
      await waitFor(
        'the healthy layers committed to the store',
        async () => {
          const have = await blobFiles(d!.dataRoot);
          return reg.healthy.every((h) => have.includes(h.digest));
        },
        60_000,
      );
      process.kill(d.proc.pid!, 'SIGKILL');
      const r = await pulling;
      assert.notEqual(r.code, 0, 'the pull reports the daemon going away');
      assert.doesNotMatch(r.stderr, /killed after/);
      await d.restart();
      const kept = `blobs/ after the restart: ${JSON.stringify(await blobFiles(d.dataRoot))}; ingest/: ${JSON.stringify(await listDir(join(d.dataRoot, 'ingest')))}`;
      assert.deepEqual(await imageIds(d), [], 'nothing half-pulled is visible');
      assert.equal(await inspectImage(d, ref), undefined);
      reg.setFault('healthy');
      ok(await berthAs(d, home, ['pull', ref]), d, 'the repeated pull');
      assert.equal((await inspectImage(d, ref))?.Id, reg.config.digest);
      for (const h of reg.healthy)
        assert.equal(blobGets(h.digest), 1, `verified layer ${h.digest} reused, not fetched again (${kept})`);
      assert.deepEqual(await storeProblems(d.dataRoot), []);
    } finally {
      await d?.cleanup();
      await reg.stop();
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
