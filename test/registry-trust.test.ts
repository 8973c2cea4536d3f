/**
 * The registry server's "signatures required" project policy, against a real `berth registry serve`: images
 * pushed through berthd and skopeo, signed with `berth trust sign` (cosign's format), the keys each project trusts,
 * unsigned tags not pullable (or refused at push) until signed, the admin API and CLI, and bad input.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skopeo } from '../src/distribution/remote/testkit.ts';
import { call, errorCode, registryCli, type ServedRegistry, serveRegistry } from '../src/registry/testkit.ts';
import { BERTH, type Daemon, run, startDaemon } from './harness.ts';

const PASSWORD = 'correct horse';

describe('registry trust: signatures required', { timeout: 600_000 }, () => {
  let scratch = '';
  let reg: ServedRegistry;
  let d: Daemon;
  const b = (args: string[]) =>
    run(
      BERTH,
      ['-H', d.host, ...args],
      { BERTH_TRUST_PASSWORD: PASSWORD, BERTH_CONFIG: join(scratch, 'cfg') },
      undefined,
      {
        cwd: scratch,
        timeoutMs: 180_000,
      },
    );
  const ok = async (args: string[]) => {
    const r = await b(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r;
  };
  /** `berth registry ARGS --url` (the admin API) or `--root` (in this process). */
  const admin = async (args: string[], via: 'url' | 'root' = 'url') =>
    registryCli([...args, ...(via === 'url' ? ['--url', reg.url] : ['--root', reg.root])]);
  const adminOk = async (args: string[], via: 'url' | 'root' = 'url') => {
    const r = await admin(args, via);
    assert.equal(r.code, 0, `berth registry ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const ref = (repo: string) => `${reg.host}/${repo}`;

  async function rootfsTar(name: string): Promise<string> {
    const root = join(scratch, `root-${name}`);
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    symlinkSync('busybox', join(root, 'bin/sh'));
    await writeFile(join(root, 'marker'), name);
    const tar = join(scratch, `${name}.tar`);
    execFileSync('tar', ['-C', root, '-cf', tar, '.']);
    return tar;
  }

  async function digestOf(image: string): Promise<string> {
    const r = await call(reg, 'HEAD', `/v2/${image.slice(reg.host.length + 1).replace(':', '/manifests/')}`, {
      headers: {
        Accept: 'application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    assert.equal(r.status, 200, `HEAD ${image}`);
    return r.headers.get('docker-content-digest')!;
  }

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-regtrust-'));
    reg = await serveRegistry(undefined, { args: ['--auth', 'none'] });
    d = await startDaemon();
    await ok(['trust', 'key', 'generate', '--output-key-prefix', 'release']);
    await ok(['trust', 'key', 'generate', '--output-key-prefix', 'stranger']);
    for (const p of ['team', 'open']) await adminOk(['project', 'create', p]);
    for (const [name, image] of [
      ['one', 'team/app:1'],
      ['two', 'team/app:2'],
      ['open', 'open/app:1'],
    ] as const) {
      await ok(['import', await rootfsTar(name), ref(image)]);
      await ok(['push', ref(image)]);
    }
  });

  after(async () => {
    await d?.cleanup();
    await reg?.stop();
    if (reg) await rm(reg.root, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('refuses bad input: a key file that does not parse, an unknown severity, signatures without a key', async () => {
    await writeFile(join(scratch, 'garbage.pub'), 'not a key\n');
    let r = await admin(['project', 'key', 'add', 'team', join(scratch, 'garbage.pub')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /key "garbage": neither a cosign public key .* nor an OpenPGP public key/);
    r = await admin(['project', 'key', 'add', 'team', join(scratch, 'release.key')]);
    assert.equal(r.code, 1, 'a private key is not a public key');
    assert.match(r.stderr, /unsupported PEM type "ENCRYPTED COSIGN PRIVATE KEY"/);
    r = await admin(['project', 'policy', 'team', '--prevent-severity', 'SEVERE']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown severity "SEVERE": CRITICAL, HIGH, MEDIUM, LOW or none/);
    r = await admin(['project', 'policy', 'team', '--require-signatures', 'always']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid signature rule "always": off, pull or push/);
    r = await admin(['project', 'policy', 'team', '--require-signatures', 'pull']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /project "team" trusts no key yet/);
    r = await admin(['project', 'policy', 'nosuch']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no project "nosuch"/);
    const put = await call(reg, 'PUT', '/admin/v1/projects/team/policy', {
      body: JSON.stringify({ preventSeverity: 'BAD' }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(put.status, 400);
    assert.match(((await put.json()) as { message: string }).message, /unknown severity "BAD"/);
  });

  it('a project requiring signatures at pull keeps unsigned tags but does not serve them', async () => {
    const out = await adminOk(['project', 'key', 'add', 'team', join(scratch, 'release.pub')]);
    assert.match(out, /Added cosign key "release" \(sha256:[0-9a-f]{64}\) to project team/);
    const policy = await adminOk(['project', 'policy', 'team', '--require-signatures', 'pull']);
    assert.match(policy, /Signatures required: at pull/);
    assert.match(policy, /release\s+cosign\s+sha256:/);

    const pulled = await b(['pull', ref('team/app:1')]);
    assert.notEqual(pulled.code, 0);
    assert.match(
      pulled.stderr,
      /not signed by a key project "team" trusts, and the project requires signatures to pull/,
    );
    const sk = await skopeo(['inspect', '--tls-verify=false', `docker://${ref('team/app:1')}`]);
    assert.notEqual(sk.code, 0);
    assert.match(sk.stderr, /denied/i);
    const raw = await call(reg, 'GET', '/v2/team/app/manifests/1');
    assert.equal(raw.status, 403);
    assert.equal(await errorCode(raw), 'DENIED');
    // HEAD says what the tag is (what signing needs) without sending it.
    const digest = await digestOf(ref('team/app:1'));
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    // Another project without the policy serves unsigned images.
    await ok(['pull', ref('open/app:1')]);
  });

  it('a signature by a key the project trusts makes the tag pullable; one by another key does not', async () => {
    await ok(['trust', 'sign', '--key', 'release.key', ref('team/app:1')]);
    await b(['rmi', ref('team/app:1')]);
    await ok(['pull', ref('team/app:1')]);
    const sk = await skopeo(['inspect', '--tls-verify=false', `docker://${ref('team/app:1')}`]);
    assert.equal(sk.code, 0, sk.stderr);

    await ok(['trust', 'sign', '--key', 'stranger.key', ref('team/app:2')]);
    const r = await b(['pull', ref('team/app:2')]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /no valid signature \(sha256-[0-9a-f]{64}\.sig layer 1: not signed by a key the project trusts/,
    );
    // The signatures themselves stay readable: clients verify them.
    const inspect = await ok(['trust', 'inspect', ref('team/app:2')]);
    assert.match(inspect.stdout, /Signatures \(sigstore\): 1/);
  });

  it('the admin API and the CLI show which images are signed, by which key, and why one is not pullable', async () => {
    const text = await adminOk(['project', 'artifacts', 'team']);
    assert.match(text, /team\/app\s+1\s+sha256:\S+\s+yes \(release\)\s+-\s+yes/);
    assert.match(text, /team\/app\s+2\s+sha256:\S+\s+no\s+-\s+no/);
    assert.match(text, /team\/app@sha256:[0-9a-f]{64}: .*not signed by a key project "team" trusts/);
    const res = await call(reg, 'GET', '/admin/v1/projects/team/artifacts');
    assert.equal(res.status, 200);
    const rows = (await res.json()) as {
      tags: string[];
      signed: boolean;
      signedBy: string | null;
      pullable: boolean;
    }[];
    assert.deepEqual(
      rows.map((a) => [a.tags.join(','), a.signed, a.signedBy, a.pullable]),
      [
        ['1', true, 'release', true],
        ['2', false, null, false],
      ],
    );
    const policy = (await (await call(reg, 'GET', '/admin/v1/projects/team/policy')).json()) as {
      requireSignatures: string;
      keys: { name: string; kind: string }[];
    };
    assert.equal(policy.requireSignatures, 'pull');
    assert.deepEqual(
      policy.keys.map((k) => [k.name, k.kind]),
      [['release', 'cosign']],
    );
    // --root reads the same settings from the registry's own database.
    assert.match(await adminOk(['project', 'key', 'ls', 'team'], 'root'), /release\s+cosign\s+sha256:/);
  });

  it('adding the key that signed makes its images pullable; removing a key takes that back', async () => {
    await adminOk(['project', 'key', 'add', 'team', join(scratch, 'stranger.pub'), '--name', 'second']);
    await ok(['pull', ref('team/app:2')]);
    await adminOk(['project', 'key', 'rm', 'team', 'second']);
    const r = await b(['pull', ref('team/app:2')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not signed by a key project "team" trusts/);
  });

  it('a project requiring signatures at push refuses an unsigned tag, and takes it once the digest is signed', async () => {
    await adminOk(['project', 'policy', 'team', '--require-signatures', 'push']);
    await ok(['import', await rootfsTar('three'), ref('team/app:3')]);
    const r = await b(['push', ref('team/app:3')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /requires images to be signed before they are tagged/);
    // skopeo is refused the same way.
    const sk = await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${ref('open/app:1')}`,
      `docker://${ref('team/copy:1')}`,
    ]);
    assert.notEqual(sk.code, 0);
    assert.match(sk.stderr, /requires images to be signed before they are tagged/);
    // Pushed by digest (no tag), signed, then tagged: accepted.
    const src = await call(reg, 'GET', '/v2/open/app/manifests/1', {
      headers: {
        Accept: 'application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json',
      },
    });
    const manifest = Buffer.from(await src.arrayBuffer());
    const type = src.headers.get('content-type')!;
    const digest = src.headers.get('docker-content-digest')!;
    const copied = await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${ref('open/app:1')}`,
      `docker://${ref('team/copy')}@${digest}`,
    ]);
    if (copied.code !== 0) {
      // skopeo may not push to a digest reference: the blobs are there from the refused copy, PUT by digest.
      const put = await call(reg, 'PUT', `/v2/team/copy/manifests/${digest}`, {
        body: manifest,
        headers: { 'Content-Type': type },
      });
      assert.equal(put.status, 201, await put.text());
    }
    await ok(['trust', 'sign', '--key', 'release.key', `${ref('team/copy')}@${digest}`]);
    const tag = await call(reg, 'PUT', '/v2/team/copy/manifests/1', {
      body: manifest,
      headers: { 'Content-Type': type },
    });
    assert.equal(tag.status, 201, await tag.text());
    await ok(['pull', ref('team/copy:1')]);
  });
});
