import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_THREADS } from '../snapshots/index.ts';
import { DEFAULTS, parseArgs, parseHost } from './config.ts';

/** Runs `fn` with the path of a daemon.json (not yet written) in a folder of its own, removed afterwards. */
async function inConfigDir(fn: (file: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-config-'));
  try {
    await fn(join(dir, 'daemon.json'), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('defaults, then the config file, then flags', async () => {
  await inConfigDir(async (file, dir) => {
    await writeFile(
      file,
      JSON.stringify({ 'data-root': '/srv/berth', 'log-level': 'debug', hosts: ['unix:///tmp/a.sock'] }),
    );
    const r = parseArgs(['--config-file', file, '--log-level=warn'], dir);
    assert.equal(r.kind, 'run');
    if (r.kind !== 'run') return;
    assert.equal(r.config.dataRoot, '/srv/berth');
    assert.equal(r.config.logLevel, 'warn');
    assert.deepEqual(r.config.hosts, ['unix:///tmp/a.sock']);
    assert.equal(r.config.execRoot, DEFAULTS.execRoot);
    const relative = parseArgs(['--data-root', 'rel', '-H', 'tcp://127.0.0.1:2375', '--tls=false'], dir);
    assert.ok(relative.kind === 'run' && relative.config.dataRoot === join(dir, 'rel'));
    assert.ok(relative.kind === 'run' && relative.config.hosts[0] === 'tcp://127.0.0.1:2375');
    await writeFile(file, JSON.stringify({ 'data-rot': '/x' }));
    assert.throws(() => parseArgs(['--config-file', file]), /unknown option "data-rot"/);
    await writeFile(file, '{ not json');
    assert.throws(() => parseArgs(['--config-file', file]), /not valid JSON/);
  });
});

test('bad flags and values are refused with the value named', () => {
  assert.throws(() => parseArgs(['--log-level', 'loud']), /invalid log level "loud"/);
  assert.throws(() => parseArgs(['--bogus']), /unknown flag: --bogus/);
  assert.throws(() => parseArgs(['--data-root']), /flag needs an argument: --data-root/);
  assert.throws(() => parseArgs(['-H', 'http://x']), /invalid host "http:\/\/x"/);
  assert.throws(() => parseArgs(['--snapshotter', 'zfs']), /invalid snapshotter "zfs"/);
  assert.equal(parseArgs(['--help']).kind, 'help');
  assert.equal(parseArgs(['-v']).kind, 'version');
});

test('parseHost', () => {
  assert.deepEqual(parseHost('unix:///run/berth/berth.sock'), { kind: 'unix', path: '/run/berth/berth.sock' });
  assert.deepEqual(parseHost('tcp://0.0.0.0:2375'), { kind: 'tcp', host: '0.0.0.0', port: 2375 });
  assert.deepEqual(parseHost('tcp://[::1]:2375'), { kind: 'tcp', host: '::1', port: 2375 });
  assert.throws(() => parseHost('unix://relative.sock'), /must be absolute/);
});

test('network and registry options: defaults, flags, file keys and bad values', async () => {
  const run = (argv: string[]) => {
    const r = parseArgs(argv);
    assert.equal(r.kind, 'run');
    return (r as { config: typeof DEFAULTS }).config;
  };
  assert.equal(run([]).networkBackend, 'berth');
  assert.equal(run(['--network-backend', 'netavark']).networkBackend, 'netavark');
  assert.throws(() => parseArgs(['--network-backend', 'cni']), /invalid network backend "cni"/);
  assert.deepEqual(run(['--insecure-registry', '10.0.0.0/8', '--insecure-registry', 'reg:5000']).insecureRegistries, [
    '10.0.0.0/8',
    'reg:5000',
  ]);
  assert.throws(() => parseArgs(['--insecure-registry', 'http://reg:5000']), /insecure-registries/);
  await inConfigDir(async (file) => {
    await writeFile(
      file,
      JSON.stringify({
        'registry-mirrors': { 'reg:5000': ['http://127.0.0.1:5001'] },
        'max-concurrent-downloads': 6,
        'registry-idle-timeout-ms': 2000,
      }),
    );
    const c = run(['--config-file', file]);
    assert.deepEqual(c.registryMirrors, { 'reg:5000': ['http://127.0.0.1:5001'] });
    assert.equal(c.maxConcurrentDownloads, 6);
    assert.equal(c.registryIdleTimeoutMs, 2000);
    await writeFile(file, JSON.stringify({ 'registry-mirrors': ['ftp://m'] }));
    assert.throws(() => parseArgs(['--config-file', file]), /invalid mirror "ftp:\/\/m"/);
    await writeFile(file, JSON.stringify({ 'max-concurrent-downloads': 0 }));
    assert.throws(() => parseArgs(['--config-file', file]), /max-concurrent-downloads must be a positive integer/);
  });
});

test('a TCP listener needs mutual TLS, or plain TCP said explicitly', () => {
  assert.throws(
    () => parseArgs(['-H', 'tcp://127.0.0.1:2375']),
    /refusing to serve the API on tcp:\/\/127\.0\.0\.1:2375 without TLS/,
  );
  const plain = parseArgs(['-H', 'tcp://127.0.0.1:2375', '--tls=false']);
  assert.ok(plain.kind === 'run' && plain.config.tls === false && !plain.config.tlsVerify);
  const server = parseArgs(['-H', 'tcp://127.0.0.1:2375', '--tls']);
  assert.ok(server.kind === 'run' && server.config.tls === true);
  const mtls = parseArgs([
    '-H',
    'tcp://127.0.0.1:2376',
    '--tlsverify',
    '--tlscacert',
    '/c/ca.pem',
    '--tlscert=/c/cert.pem',
  ]);
  assert.ok(mtls.kind === 'run' && mtls.config.tlsVerify && mtls.config.tlsCaCert === '/c/ca.pem');
  assert.ok(mtls.kind === 'run' && mtls.config.tlsCert === '/c/cert.pem' && mtls.config.tlsKey === DEFAULTS.tlsKey);
  assert.throws(() => parseArgs(['--tlsverify', '--tls=false']), /cannot go with --tls=false/);
  assert.throws(() => parseArgs(['--tls=maybe']), /invalid boolean value "maybe" for --tls/);
  assert.throws(() => parseArgs(['--group', 'a b']), /invalid group "a b"/);
  const g = parseArgs(['-G', 'docker']);
  assert.ok(g.kind === 'run' && g.config.group === 'docker');
});

test('the TLS keys and the group from the config file, as dockerd names them; flags win', async () => {
  await inConfigDir(async (file, dir) => {
    await writeFile(
      file,
      JSON.stringify({
        hosts: ['tcp://127.0.0.1:2376'],
        tlsverify: true,
        tlscacert: '/k/ca.pem',
        tlscert: '/k/cert.pem',
        tlskey: '/k/key.pem',
        group: 'daemon',
      }),
    );
    const r = parseArgs(['--config-file', file], dir);
    assert.ok(r.kind === 'run');
    if (r.kind !== 'run') return;
    assert.equal(r.config.tlsVerify, true);
    assert.equal(r.config.tlsCaCert, '/k/ca.pem');
    assert.equal(r.config.tlsCert, '/k/cert.pem');
    assert.equal(r.config.tlsKey, '/k/key.pem');
    assert.equal(r.config.group, 'daemon');
    const flag = parseArgs(['--config-file', file, '--group', 'staff'], dir);
    assert.ok(flag.kind === 'run' && flag.config.group === 'staff');
    // Plain TCP from the file needs "tls": false, said explicitly, as the flag does.
    await writeFile(file, JSON.stringify({ hosts: ['tcp://127.0.0.1:2375'] }));
    assert.throws(
      () => parseArgs(['--config-file', file], dir),
      /refusing to serve the API on tcp:\/\/127\.0\.0\.1:2375 without TLS/,
    );
    await writeFile(file, JSON.stringify({ hosts: ['tcp://127.0.0.1:2375'], tls: false }));
    const plain = parseArgs(['--config-file', file], dir);
    assert.ok(plain.kind === 'run' && plain.config.tls === false && !plain.config.tlsVerify);
  });
});

test("unpack-threads defaults to the snapshotter's own applier count, set in one place", () => {
  const r = parseArgs([]);
  assert.ok(r.kind === 'run');
  assert.equal(r.config.unpackThreads, DEFAULT_THREADS.appliers);
  assert.ok(DEFAULT_THREADS.appliers >= 1 && DEFAULT_THREADS.appliers <= 4);
});
