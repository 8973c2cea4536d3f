/**
 * The API endpoint's security, as dockerd's: a TCP listener needs mutual TLS (the docker CLI and berth connect with
 * DOCKER_TLS_VERIFY/DOCKER_CERT_PATH; a client without a certificate signed by the CA is refused in the
 * handshake), plain TCP only with an explicit --tls=false and a loud warning; the unix socket is 0660 with a group.
 * The test makes its own CA and certificates with openssl.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { BERTH, BERTHD, berthdRoots, rootArgs, run, startDaemon, waitFor, type Daemon } from './harness.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const r = await run('openssl', args, {}, undefined, { cwd: dir, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate (docker's file names), and a rogue client. */
async function makeCerts(dir: string): Promise<void> {
  const days = ['-days', '2'];
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=berth-test-ca',
    ...days,
  ]);
  await openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server-key.pem',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca-key.pem',
    '-CAcreateserial',
    '-out',
    'server-cert.pem',
    '-extfile',
    'server.ext',
    ...days,
  ]);
  await openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'key.pem',
    '-out',
    'client.csr',
    '-subj',
    '/CN=client',
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca-key.pem',
    '-CAcreateserial',
    '-out',
    'cert.pem',
    '-extfile',
    'client.ext',
    ...days,
  ]);
  // A client certificate from a CA the daemon does not trust.
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'rogue-key.pem',
    '-out',
    'rogue-cert.pem',
    '-subj',
    '/CN=rogue',
    ...days,
  ]);
}

describe('API endpoint security', () => {
  let dir: string;
  let d: Daemon;
  let port: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-tls-'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
    await makeCerts(dir);
    port = await freePort();
    d = await startDaemon({
      args: [
        '-H',
        `tcp://127.0.0.1:${port}`,
        '--tlsverify',
        '--tlscacert',
        join(dir, 'ca.pem'),
        '--tlscert',
        join(dir, 'server-cert.pem'),
        '--tlskey',
        join(dir, 'server-key.pem'),
        '--group',
        'daemon',
      ],
    });
  });
  after(async () => {
    await d?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const tlsEnv = () => ({
    DOCKER_HOST: `tcp://127.0.0.1:${port}`,
    DOCKER_TLS_VERIFY: '1',
    DOCKER_CERT_PATH: dir,
    DOCKER_CONFIG: join(dir, 'docker-config'),
  });

  it('the docker CLI with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH works over mutual TLS', async () => {
    const r = await run('docker', ['version', '--format', '{{.Server.Os}}'], tlsEnv(), undefined, {
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'linux');
    const info = await run('docker', ['info', '--format', '{{json .Warnings}}'], tlsEnv(), undefined, {
      timeoutMs: 60_000,
    });
    assert.equal(info.code, 0, info.stderr);
    assert.doesNotMatch(info.stdout, /API is accessible/);
  });

  it('berth with the same variables works over mutual TLS', async () => {
    const r = await run(
      BERTH,
      ['-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.Os}}'],
      tlsEnv(),
      undefined,
      {
        timeoutMs: 60_000,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'linux');
  });

  it('a client without a certificate, or with one the CA did not sign, is refused in the handshake', async () => {
    const handshake = (opts: { cert?: Buffer; key?: Buffer }) =>
      new Promise<string>((resolve) => {
        const s = connect({
          host: '127.0.0.1',
          port,
          ca: readFileSync(join(dir, 'ca.pem')),
          servername: '127.0.0.1',
          ...opts,
        });
        s.on('secureConnect', () => {
          // TLS 1.3 reports the server's refusal after the handshake: ask, and see whether an answer comes.
          s.write('GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        });
        let got = '';
        s.on('data', (c) => (got += c));
        s.on('error', (e) => resolve(`error: ${e.message}`));
        s.on('close', () => resolve(got ? `answered: ${got.split('\r\n')[0]}` : 'closed without an answer'));
      });
    const none = await handshake({});
    assert.doesNotMatch(none, /^answered/, none);
    const rogue = await handshake({
      cert: readFileSync(join(dir, 'rogue-cert.pem')),
      key: readFileSync(join(dir, 'rogue-key.pem')),
    });
    assert.doesNotMatch(rogue, /^answered/, rogue);
    const good = await handshake({
      cert: readFileSync(join(dir, 'cert.pem')),
      key: readFileSync(join(dir, 'key.pem')),
    });
    assert.match(good, /^answered: HTTP\/1\.1 200/);
    const plain = await run(
      'docker',
      ['version'],
      { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_CONFIG: join(dir, 'docker-config') },
      undefined,
      {
        timeoutMs: 60_000,
      },
    );
    assert.notEqual(plain.code, 0);
  });

  it('the unix socket is 0660 and owned by the --group', async () => {
    const st = await stat(d.socket);
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, 1); // Debian's "daemon" group
    assert.match(d.log(), /\(group daemon\)/);
  });

  it('plain TCP is refused unless --tls=false is given, and then warned about loudly', async () => {
    const tdir = await mkdtemp(join(tmpdir(), 'berth-tcp-'));
    try {
      const roots = berthdRoots(tdir);
      await mkdir(roots.dataRoot);
      const p = await freePort();
      const base = [...rootArgs(roots), '--no-seed'];
      const refused = await run(BERTHD, [...base, '-H', `tcp://127.0.0.1:${p}`], {}, undefined, { timeoutMs: 60_000 });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /refusing to serve the API on tcp:\/\/127\.0\.0\.1:\d+ without TLS/);
      assert.match(refused.stderr, /--tls=false/);
      const missingGroup = await run(BERTHD, [...base, '--group', 'no-such-group-here'], {}, undefined, {
        timeoutMs: 60_000,
      });
      assert.notEqual(missingGroup.code, 0);
      assert.match(missingGroup.stderr, /group \\?"no-such-group-here\\?" does not exist/);

      const plain = await startDaemon({ dir: tdir, args: ['-H', `tcp://127.0.0.1:${p}`, '--tls=false'] });
      try {
        assert.match(
          plain.log(),
          /level=warn msg="WARNING: API is accessible on http:\/\/127\.0\.0\.1:\d+ without encryption/,
        );
        const env = { DOCKER_HOST: `tcp://127.0.0.1:${p}`, DOCKER_CONFIG: join(tdir, 'docker-config') };
        const info = await run('docker', ['info', '--format', '{{json .Warnings}}'], env, undefined, {
          timeoutMs: 60_000,
        });
        assert.equal(info.code, 0, info.stderr);
        assert.match(info.stdout, /API is accessible on http:\/\/127\.0\.0\.1:\d+ without encryption/);
        await waitFor('the socket', async () => (await stat(plain.socket)).isSocket());
      } finally {
        await plain.stop();
      }
    } finally {
      await rm(tdir, { recursive: true, force: true });
    }
  });
});
