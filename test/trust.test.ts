/**
 * Trust through a real berthd and Debian's docker-registry (no referrers API: the tag-schema fallback):
 * cosign-format keys, signing and verification, the signature policy on pull and create, SBOMs and scans of images
 * with real package databases, and GPG simple signing with Debian's skopeo both ways.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { ADVISORY, writeOsvDir } from '../src/trust/osv/testkit.ts';
import { writeAlpineRoot, writeDebianRoot, writeNodeProject } from '../src/trust/sbom/testkit.ts';
import { makeKeyring } from '../src/trust/testkit.ts';
import { api, BERTH, BERTHD, berthdRoots, type Daemon, docker, rootArgs, run, startDaemon } from './harness.ts';
import { type DistributionRegistry, skopeo, startRegistry } from '../src/distribution/remote/testkit.ts';
import { type ServedRegistry, serveRegistry } from '../src/registry/testkit.ts';

const PASSWORD = 'correct horse';

describe('trust', { timeout: 600_000 }, () => {
  let scratch = '';
  let reg: DistributionRegistry;
  /** Berth's own registry server, which has the OCI 1.1 referrers API. */
  let own: ServedRegistry;
  let plain: Daemon;
  let enforcing: Daemon | undefined;
  let gnupg = '';
  let gpgKeys: { fingerprints: string[]; publicKeys: Buffer[] };
  /** skopeo's own policy (skopeo-policy.json in scratch) trusts only the GPG keys in `keyFile`, a file in scratch. */
  const trustOnly = (keyFile: string) =>
    writeFile(
      join(scratch, 'skopeo-policy.json'),
      JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(scratch, keyFile) }] }),
    );
  /** skopeo copies `src` into the folder `dst` under that policy, finding signatures as `registriesD` says. */
  const policyCopy = (registriesD: string, src: string, dst: string) =>
    run(
      'skopeo',
      [
        ...['--policy', join(scratch, 'skopeo-policy.json'), '--registries.d', registriesD],
        ...['copy', '--src-tls-verify=false', src, `dir:${dst}`],
      ],
      {},
      undefined,
      { timeoutMs: 120_000 },
    );
  /** skopeo signs with the first GPG key while it copies `src` to the registry reference `dst`. */
  const gpgSignedCopy = (src: string, dst: string) =>
    run(
      'skopeo',
      [
        ...['--insecure-policy', '--registries.d', join(scratch, 'registries.d')],
        ...['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--sign-by', gpgKeys.fingerprints[0]!],
        ...[`docker://${src}`, `docker://${dst}`],
      ],
      { GNUPGHOME: gnupg },
      undefined,
      { timeoutMs: 120_000 },
    );
  const b = (d: Daemon, args: string[], env: Record<string, string> = {}) =>
    run(
      BERTH,
      ['-H', d.host, ...args],
      { BERTH_TRUST_PASSWORD: PASSWORD, BERTH_CONFIG: join(scratch, 'cfg'), ...env },
      undefined,
      {
        cwd: scratch,
        timeoutMs: 180_000,
      },
    );
  const ok = async (d: Daemon, args: string[], env: Record<string, string> = {}) => {
    const r = await b(d, args, env);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r;
  };
  const img = (tag: string) => `${reg.host}/app:${tag}`;

  /** A rootfs tar: the host's dpkg status (Debian 12), a node project, busybox to run. */
  async function rootfsTar(name: string, extra?: (root: string) => void): Promise<string> {
    const root = join(scratch, `root-${name}`);
    writeDebianRoot(root, 100);
    writeNodeProject(root);
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    symlinkSync('busybox', join(root, 'bin/sh'));
    symlinkSync('busybox', join(root, 'bin/true'));
    extra?.(root);
    const tar = join(scratch, `${name}.tar`);
    execFileSync('tar', ['-C', root, '-cf', tar, '.']);
    return tar;
  }

  async function pushImage(d: Daemon, tar: string, ref: string): Promise<void> {
    await ok(d, ['import', tar, ref]);
    await ok(d, ['push', ref]);
  }

  async function digestOf(ref: string): Promise<string> {
    const r = await skopeo(['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${ref}`]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  }

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-trust-test-'));
    reg = await startRegistry('plain');
    own = await serveRegistry(undefined);
    mkdirSync(join(scratch, 'registries.d'));
    mkdirSync(join(scratch, 'sigs'));
    await writeFile(
      join(scratch, 'registries.d', 'berth-test.yaml'),
      `default-docker:\n  lookaside: file://${join(scratch, 'sigs')}\n`,
    );
    plain = await startDaemon({ args: ['--registries-d', join(scratch, 'registries.d')] });
    gnupg = join(scratch, 'gnupg');
    mkdirSync(gnupg, { mode: 0o700 });
    gpgKeys = makeKeyring(gnupg, ['releases', 'stranger']);
    await writeFile(join(scratch, 'releases.gpg'), gpgKeys.publicKeys[0]!);
    await writeFile(join(scratch, 'stranger.gpg'), gpgKeys.publicKeys[1]!);
    await pushImage(plain, await rootfsTar('debian'), img('1'));
    await pushImage(plain, await rootfsTar('unsigned', (r) => writeFile(join(r, 'marker'), 'x')), img('unsigned'));
  });

  after(async () => {
    await enforcing?.cleanup();
    await plain?.cleanup();
    await reg?.stop();
    await own?.stop();
    if (own) await rm(own.root, { recursive: true, force: true });
    try {
      execFileSync('gpgconf', ['--homedir', gnupg, '--kill', 'all'], { stdio: 'ignore' });
    } catch {}
    await rm(scratch, { recursive: true, force: true });
  });

  it('generates and imports cosign-format keys; a wrong password is refused', async () => {
    const r = await ok(plain, ['trust', 'key', 'generate', '--output-key-prefix', 'release']);
    assert.match(r.stderr, /Private key written to release.key/);
    const key = await readFile(join(scratch, 'release.key'), 'utf8');
    assert.match(key, /^-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n/);
    assert.match(await readFile(join(scratch, 'release.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/);
    assert.equal(
      (await b(plain, ['trust', 'key', 'generate', '--output-key-prefix', 'release'])).code,
      1,
      'no overwrite',
    );
    execFileSync('openssl', [
      'ecparam',
      '-name',
      'prime256v1',
      '-genkey',
      '-noout',
      '-out',
      join(scratch, 'other-ec.pem'),
    ]);
    await ok(plain, ['trust', 'key', 'import', '--output-key-prefix', 'other', 'other-ec.pem']);
    const bad = await b(plain, ['trust', 'sign', '--key', 'release.key', img('1')], { BERTH_TRUST_PASSWORD: 'wrong' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /wrong password/);
  });

  it('signs in the sha256-<hex>.sig layout cosign reads, and verifies who signed what', async () => {
    const digest = await digestOf(img('1'));
    const r = await ok(plain, ['trust', 'sign', '--key', 'release.key', '-a', 'env=test', img('1')]);
    assert.match(r.stdout, new RegExp(`Signed ${reg.host}/app@${digest}`));
    const sigTag = `${digest.replace(':', '-')}.sig`;
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/app:${sigTag}`]);
    assert.equal(raw.code, 0, raw.stderr);
    const m = JSON.parse(raw.stdout);
    assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(m.layers[0].mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    assert.ok(m.layers[0].annotations['dev.cosignproject.cosign/signature']);
    // containers/image (Debian's skopeo) reads the attachment: copied with use-sigstore-attachments, the signature
    // arrives in the destination with its payload and annotation intact.
    const rd = join(scratch, 'registries-attach.d');
    mkdirSync(rd, { recursive: true });
    await writeFile(join(rd, 'a.yaml'), `docker:\n  ${reg.host}:\n    use-sigstore-attachments: true\n`);
    const out = join(scratch, 'attach-copy');
    const sc = await skopeo([
      '--registries.d',
      rd,
      'copy',
      '--src-tls-verify=false',
      `docker://${img('1')}`,
      `dir:${out}`,
    ]);
    assert.equal(sc.code, 0, sc.stderr);
    const copied = (await readFile(join(out, 'signature-1'))).toString();
    assert.ok(copied.startsWith('\0sigstore-json\n'), copied.slice(0, 40));
    const att = JSON.parse(copied.slice('\0sigstore-json\n'.length));
    assert.equal(att.mimeType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    assert.equal(
      JSON.parse(Buffer.from(att.payload, 'base64').toString()).critical.image['docker-manifest-digest'],
      digest,
    );
    assert.ok(att.annotations['dev.cosignproject.cosign/signature']);
    // And written back by containers/image to another repository, Berth verifies it there.
    const back = await skopeo([
      '--registries.d',
      rd,
      'copy',
      '--dest-tls-verify=false',
      `dir:${out}`,
      `docker://${reg.host}/app-copy:1`,
    ]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(
      (await ok(plain, ['trust', 'verify', '--key', 'release.pub', `${reg.host}/app-copy:1`])).stdout,
      /Verified: .*\/app@/,
    );
    // IMAGE@DIGEST: that manifest is signed, and the signature is added beside the one there.
    const byDigest = await ok(plain, ['trust', 'sign', '--key', 'other.key', `${reg.host}/app-copy@${digest}`]);
    assert.match(byDigest.stdout, new RegExp(`Signed ${reg.host}/app-copy@${digest}`));
    const both = await ok(plain, ['trust', 'inspect', `${reg.host}/app-copy:1`]);
    assert.match(both.stdout, /Signatures \(sigstore\): 2/);
    assert.match(
      (await ok(plain, ['trust', 'verify', '--key', 'other.pub', `${reg.host}/app-copy:1`])).stdout,
      /Verified: .*\/app-copy@/,
    );
    const v = await ok(plain, ['trust', 'verify', '--key', 'release.pub', img('1')]);
    assert.match(
      v.stdout,
      new RegExp(`Verified: ${reg.host}/app@${digest} signed by release.pub .* annotations \\{"env":"test"\\}`),
    );
    const wrong = await b(plain, ['trust', 'verify', '--key', 'other.pub', img('1')]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /Not verified: .*not signed by other.pub/);
    assert.match(wrong.stderr, /no valid signature/);
    const unsigned = await b(plain, ['trust', 'verify', '--key', 'release.pub', img('unsigned')]);
    assert.equal(unsigned.code, 1);
    const ins = await ok(plain, ['trust', 'inspect', img('1')]);
    assert.match(ins.stdout, /Signatures \(sigstore\): 1/);
    assert.match(ins.stdout, /Referrers: tag schema fallback/);
  });

  it('berthd enforces the policy on pull and create: refused with the reason, nothing kept', async () => {
    const policy = {
      default: [{ type: 'insecureAcceptAnything' }],
      transports: {
        docker: {
          [`${reg.host}/app`]: [
            {
              type: 'sigstoreSigned',
              keyPath: join(scratch, 'release.pub'),
              signedIdentity: { type: 'matchRepository' },
            },
          ],
          [`${reg.host}/gpg`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(scratch, 'releases.gpg') }],
          [`${own.host}/app`]: [
            {
              type: 'sigstoreSigned',
              keyPath: join(scratch, 'release.pub'),
              signedIdentity: { type: 'matchRepository' },
            },
          ],
          [`${own.host}/gpg`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(scratch, 'releases.gpg') }],
        },
      },
    };
    await writeFile(join(scratch, 'policy.json'), JSON.stringify(policy));
    enforcing = await startDaemon({
      args: ['--signature-policy', join(scratch, 'policy.json'), '--registries-d', join(scratch, 'registries.d')],
    });
    await ok(enforcing, ['pull', img('1')]);
    const blobsBefore = (await readdir(join(enforcing.dataRoot, 'blobs', 'sha256'))).length;
    const refused = await b(enforcing, ['pull', img('unsigned')]);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /pulling .*app:unsigned is refused by the signature policy \(transports.docker\[".*\/app"\]\): sigstoreSigned: a signature was required, but no sigstore signature exists/,
    );
    assert.equal(
      (await readdir(join(enforcing.dataRoot, 'blobs', 'sha256'))).length,
      blobsBefore,
      'nothing of the refused image is stored',
    );
    // The docker CLI shows the same reason.
    const viaDocker = await docker(enforcing, ['pull', img('unsigned')]);
    assert.notEqual(viaDocker.code, 0);
    assert.match(
      viaDocker.stderr,
      /Error response from daemon: pulling .*app:unsigned is refused by the signature policy/,
    );
    assert.doesNotMatch((await ok(enforcing, ['images'])).stdout, /unsigned/);
    // A signature moved onto another manifest: it signs the old digest.
    const d1 = await digestOf(img('1'));
    const d2 = await digestOf(img('unsigned'));
    const copied = await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${reg.host}/app:${d1.replace(':', '-')}.sig`,
      `docker://${reg.host}/app:${d2.replace(':', '-')}.sig`,
    ]);
    assert.equal(copied.code, 0, copied.stderr);
    const moved = await b(enforcing, ['pull', img('unsigned')]);
    assert.match(moved.stderr, new RegExp(`signs manifest ${d1}, not ${d2}`));
    // create: an unsigned image made locally under the policy's scope is refused; the signed one is not.
    await ok(enforcing, ['import', join(scratch, 'unsigned.tar'), img('local')]);
    const c = await b(enforcing, ['create', img('local'), 'true']);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /running .*app:local is refused by the signature policy/);
    const created = await ok(enforcing, ['create', img('1'), 'true']);
    await ok(enforcing, ['rm', created.stdout.trim()]);
    // By image ID: the image's own tag names it for the policy.
    const localId = (await ok(enforcing, ['images', '-q', '--no-trunc', img('local')])).stdout.trim();
    assert.match((await b(enforcing, ['create', localId, 'true'])).stderr, /running .*app:local is refused/);
    const signedId = (await ok(enforcing, ['images', '-q', '--no-trunc', img('1')])).stdout.trim();
    await ok(enforcing, ['rm', (await ok(enforcing, ['create', signedId, 'true'])).stdout.trim()]);
    // Signed, but by a key the policy does not trust.
    await ok(plain, ['tag', img('unsigned'), img('other-key')]);
    await ok(plain, ['push', img('other-key')]);
    await ok(plain, ['trust', 'sign', '--key', 'other.key', img('other-key')]);
    const otherKey = await b(enforcing, ['pull', img('other-key')]);
    assert.notEqual(otherKey.code, 0);
    assert.match(otherKey.stderr, /not signed by a key the policy trusts \(.*release.pub\)/);
  });

  it('a malformed policy stops berthd at start, naming the key', async () => {
    // trust/ loads on first use, except when a policy is configured: then at start, so these still stop berthd.
    await writeFile(join(scratch, 'not-a-key.gpg'), 'not a key\n');
    for (const [name, requirement, reason] of [
      [
        'bad-policy.json',
        { type: 'sigstoreSigned', keyPath: join(scratch, 'missing.pub') },
        /bad-policy.json: default\[0\]\.keyPath: cannot read key file \\?".*missing.pub/,
      ],
      [
        'bad-gpg-policy.json',
        { type: 'signedBy', keyType: 'GPGKeys', keyPath: join(scratch, 'not-a-key.gpg') },
        /bad-gpg-policy.json: default\[0\]: .*not-a-key.gpg: not OpenPGP public keys/,
      ],
    ] as const) {
      await writeFile(join(scratch, name), JSON.stringify({ default: [requirement] }));
      const dir = await mkdtemp(join(tmpdir(), 'berth-badpolicy-'));
      try {
        const r = await run(
          BERTHD,
          [...rootArgs(berthdRoots(dir)), '--no-seed', '--signature-policy', join(scratch, name)],
          {},
          undefined,
          { timeoutMs: 60_000 },
        );
        assert.notEqual(r.code, 0, name);
        assert.match(r.stderr + r.stdout, reason);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it('GPG simple signing interoperates with skopeo both ways, through the lookaside store', async () => {
    const env = { GNUPGHOME: gnupg };
    // skopeo signs, berthd verifies under its policy.
    const s = await gpgSignedCopy(img('1'), `${reg.host}/gpg:1`);
    assert.equal(s.code, 0, s.stderr);
    await ok(enforcing!, ['pull', `${reg.host}/gpg:1`]);
    const v = await ok(plain, ['trust', 'verify', '--gpg-key-file', 'releases.gpg', `${reg.host}/gpg:1`]);
    assert.match(
      v.stdout,
      new RegExp(`Verified: ${reg.host}/gpg:1@sha256:[0-9a-f]{64} signed by ${gpgKeys.fingerprints[0]}`),
    );
    // Berth signs, skopeo verifies under a signedBy policy (and refuses another key).
    const c = await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${img('1')}`,
      `docker://${reg.host}/gpg:2`,
    ]);
    assert.equal(c.code, 0, c.stderr);
    const signed = await ok(plain, ['trust', 'sign', '--gpg-key', gpgKeys.fingerprints[0]!, `${reg.host}/gpg:2`], env);
    assert.match(signed.stdout, /stored at file:\/\//);
    for (const [key, expect] of [
      ['releases.gpg', 0],
      ['stranger.gpg', 1],
    ] as const) {
      await trustOnly(key);
      const dst = join(scratch, `out-${key}`);
      const r = await policyCopy(join(scratch, 'registries.d'), `docker://${reg.host}/gpg:2`, dst);
      assert.equal(r.code === 0 ? 0 : 1, expect, `${key}: ${r.stderr}`);
    }
    // The same store served over http, as a lookaside is usually published: skopeo reads Berth's signature there.
    const served: string[] = [];
    const server = createServer((req, res) => {
      served.push(req.url ?? '');
      readFile(join(scratch, 'sigs', decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))).then(
        (body) => res.end(body),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const rdHttp = join(scratch, 'registries-http.d');
      mkdirSync(rdHttp, { recursive: true });
      await writeFile(
        join(rdHttp, 'h.yaml'),
        `default-docker:\n  lookaside: http://127.0.0.1:${(server.address() as AddressInfo).port}\n`,
      );
      const r = await policyCopy(rdHttp, `docker://${reg.host}/gpg:2`, join(scratch, 'out-http'));
      assert.equal(r.code, 1, 'the policy file now trusts stranger.gpg only');
      await trustOnly('releases.gpg');
      const ok2 = await policyCopy(rdHttp, `docker://${reg.host}/gpg:2`, join(scratch, 'out-http-2'));
      assert.equal(ok2.code, 0, ok2.stderr);
      assert.ok(
        served.some((u) => /\/gpg@sha256=[0-9a-f]{64}\/signature-1$/.test(u)),
        served.join(', '),
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    // The enforcing daemon refuses a GPG-required image signed by nobody it trusts.
    const u = await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${img('unsigned')}`,
      `docker://${reg.host}/gpg:3`,
    ]);
    assert.equal(u.code, 0, u.stderr);
    const refused = await b(enforcing!, ['pull', `${reg.host}/gpg:3`]);
    assert.match(refused.stderr, /signedBy: a signature was required, but no GPG signature exists/);
  });

  it('against Berth’s registry: signatures also as OCI 1.1 referrers, read back through the referrers API', async () => {
    const ref = `${own.host}/app:1`;
    await ok(plain, ['tag', img('1'), ref]);
    await ok(plain, ['push', ref]);
    const signed = await ok(plain, ['trust', 'sign', '--key', 'release.key', ref]);
    assert.match(signed.stdout, /stored as sha256-[0-9a-f]{64}\.sig, referrer sha256:[0-9a-f]{64}/);
    const ins = JSON.parse((await ok(plain, ['trust', 'inspect', '--format', 'json', ref])).stdout);
    assert.equal(ins.referrersApi, true);
    assert.ok(
      ins.referrers.some(
        (r: { artifactType: string }) => r.artifactType === 'application/vnd.dev.cosign.artifact.sig.v1+json',
      ),
    );
    // The same signature from the tag and the referrer counts once.
    assert.equal(ins.sigstore.length, 1);
    assert.match((await ok(plain, ['trust', 'verify', '--key', 'release.pub', ref])).stdout, /Verified: /);
    await ok(enforcing!, ['pull', ref]);
    // GPG both ways here too: skopeo signs, berthd's policy accepts; Berth signs, skopeo's policy accepts.
    const env = { GNUPGHOME: gnupg };
    const s = await gpgSignedCopy(ref, `${own.host}/gpg:1`);
    assert.equal(s.code, 0, s.stderr);
    await ok(enforcing!, ['pull', `${own.host}/gpg:1`]);
    await ok(plain, ['tag', img('1'), `${own.host}/gpg:2`]);
    await ok(plain, ['push', `${own.host}/gpg:2`]);
    await ok(plain, ['trust', 'sign', '--gpg-key', gpgKeys.fingerprints[0]!, `${own.host}/gpg:2`], env);
    await trustOnly('releases.gpg');
    const v = await policyCopy(join(scratch, 'registries.d'), `docker://${own.host}/gpg:2`, join(scratch, 'out-own'));
    assert.equal(v.code, 0, v.stderr);
  });

  it('SBOMs and scans of images with real package databases; reports attached as referrers', async () => {
    const osv = join(scratch, 'osv');
    writeOsvDir(osv, [
      ADVISORY.debianOpenssl,
      ADVISORY.npmLodash,
      {
        id: 'ALPINE-9002',
        ecosystem: 'Alpine:v3.19',
        name: 'busybox',
        events: [{ introduced: '0' }, { fixed: '1.36.1-r16' }],
      },
    ]);
    await writeFile(join(osv, 'broken.json'), '{');
    const empty = await b(plain, ['scan', img('1')]);
    assert.notEqual(empty.code, 0);
    assert.match(empty.stderr, /vulnerability database is empty/);
    const imp = await ok(plain, ['scan', 'db', 'import', 'osv']);
    assert.match(imp.stdout, /Imported 3 advisories \(3 in the database\), skipped 1 with errors/);
    assert.match((await ok(plain, ['scan', 'db', 'info'])).stdout, /Advisories: 3/);
    // A ZIP as OSV publishes them (all.zip), with a record that is not valid OSV: skipped and counted.
    const osvZip = join(scratch, 'osv-zip');
    writeOsvDir(osvZip, [
      { id: 'PYSEC-9003', ecosystem: 'PyPI', name: 'jinja2', events: [{ introduced: '0' }, { fixed: '3.1.3' }] },
    ]);
    await writeFile(join(osvZip, 'no-id.json'), JSON.stringify({ modified: '2024-01-01T00:00:00Z' }));
    execFileSync('zip', ['-q', '-r', join(scratch, 'all.zip'), '.'], { cwd: osvZip });
    const zipped = await ok(plain, ['scan', 'db', 'import', 'all.zip']);
    assert.match(zipped.stdout, /Imported 1 advisories \(4 in the database\), skipped 1 with errors/);
    assert.match(zipped.stderr, /skipped no-id.json: "id" is missing/);
    const notZip = await b(plain, ['scan', 'db', 'import', 'osv/DSA-9001-1.json']);
    assert.notEqual(notZip.code, 0);
    assert.match(notZip.stderr, /not a readable ZIP file/);
    const json = JSON.parse((await ok(plain, ['scan', '--format', 'json', img('1')])).stdout);
    const ids = json.vulnerabilities.map((v: { id: string; package: { name: string } }) => `${v.id} ${v.package.name}`);
    assert.ok(ids.includes('GHSA-lodash-test lodash'), ids.join(', '));
    assert.ok(ids.includes('DSA-9001-1 libssl3'), ids.join(', '));
    assert.equal(json.vulnerabilities[0].severity, 'CRITICAL');
    const crit = JSON.parse((await ok(plain, ['scan', '--format', 'json', '--severity', 'CRITICAL', img('1')])).stdout);
    assert.deepEqual(
      crit.vulnerabilities.map((v: { id: string }) => v.id),
      ['GHSA-lodash-test'],
    );
    const exit = await b(plain, ['scan', '--exit-code', '3', img('1')]);
    assert.equal(exit.code, 3);
    assert.match(exit.stdout, /lodash\s+4\.17\.20\s+GHSA-lodash-test\s+CRITICAL\s+4\.17\.21/);
    const sarif = JSON.parse((await ok(plain, ['scan', '--format', 'sarif', img('1')])).stdout);
    assert.equal(sarif.version, '2.1.0');
    assert.ok(sarif.runs[0].results.length >= 2);
    const viaApi = await api(plain.socket, 'GET', `/images/${img('1')}/scan?severity=HIGH`);
    assert.equal(viaApi.status, 200);
    assert.ok(JSON.parse(viaApi.body).vulnerabilities.every((v: { severity: string }) => v.severity === 'HIGH'));
    // An Alpine-like image.
    const alpine = join(scratch, 'root-alpine');
    writeAlpineRoot(alpine);
    execFileSync('tar', ['-C', alpine, '-cf', join(scratch, 'alpine.tar'), '.']);
    await ok(plain, ['import', join(scratch, 'alpine.tar'), 'alpine-like:1']);
    const a = JSON.parse((await ok(plain, ['scan', '--format', 'json', 'alpine-like:1'])).stdout);
    assert.deepEqual(
      a.vulnerabilities.map((v: { id: string; fixedVersion: string }) => `${v.id} ${v.fixedVersion}`),
      ['ALPINE-9002 1.36.1-r16'],
    );
    // SBOMs, and --attach.
    const cdx = JSON.parse((await ok(plain, ['sbom', '--format', 'cyclonedx-json', '--attach', img('1')])).stdout);
    const purls = cdx.components.map((c: { purl?: string }) => c.purl);
    assert.ok(purls.includes('pkg:npm/lodash@4.17.20'));
    assert.ok(purls.some((p: string) => p?.startsWith('pkg:deb/debian/libssl3@')));
    const spdx = JSON.parse((await ok(plain, ['sbom', img('1')])).stdout);
    assert.equal(spdx.spdxVersion, 'SPDX-2.3');
    assert.equal(
      spdx.packages.length,
      cdx.components.length,
      'the image, then every package (the OS is a package in SPDX)',
    );
    await ok(plain, ['scan', '--attach', img('1')]);
    const ins = await ok(plain, ['trust', 'inspect', '--format', 'json', img('1')]);
    const types = JSON.parse(ins.stdout).referrers.map((r: { artifactType: string }) => r.artifactType);
    assert.ok(types.includes('application/vnd.cyclonedx+json'), types.join(', '));
    assert.ok(types.includes('application/vnd.berth.scan.report.v1+json'), types.join(', '));
    // The database's age: shown with the results, and a warning once it is older than scan-db-max-age-days (7).
    const fresh = await ok(plain, ['scan', img('1')]);
    assert.match(fresh.stdout, /database: 4 advisories, imported 0 days ago/);
    assert.doesNotMatch(fresh.stderr, /WARNING/);
    const osvDb = new DatabaseSync(join(plain.dataRoot, 'trust', 'osv.db'));
    try {
      osvDb
        .prepare("UPDATE meta SET value = ? WHERE key = 'imported_at'")
        .run(String(Date.now() - 10 * 86_400_000 - 60_000));
    } finally {
      osvDb.close();
    }
    const stale = await ok(plain, ['scan', img('1')]);
    assert.match(stale.stdout, /imported 10 days ago/);
    assert.match(stale.stderr, /WARNING: the vulnerability database is 10 days old; import a newer one/);
  });
});
