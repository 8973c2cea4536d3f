import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS } from './config.ts';
import { exposureWarnings, socketGroup } from './listen.ts';

test('the socket group: the configured one, else "berth" when it exists (as dockerd\'s "docker"), else root', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-group-'));
  try {
    const withBerth = join(dir, 'group-berth');
    await writeFile(withBerth, 'root:x:0:\ndaemon:x:1:\nberth:x:998:alice\n');
    const without = join(dir, 'group-plain');
    await writeFile(without, 'root:x:0:\ndaemon:x:1:\n');
    assert.deepEqual(socketGroup({ ...DEFAULTS }, withBerth), { name: 'berth', gid: 998 });
    assert.deepEqual(socketGroup({ ...DEFAULTS }, without), { name: 'root', gid: 0 });
    assert.deepEqual(socketGroup({ ...DEFAULTS, group: 'daemon' }, withBerth), { name: 'daemon', gid: 1 });
    assert.deepEqual(socketGroup({ ...DEFAULTS, group: '4242' }, without), { name: '4242', gid: 4242 });
    assert.throws(() => socketGroup({ ...DEFAULTS, group: 'nosuch' }, without), /group "nosuch" does not exist/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('info warns about a TCP listener without TLS, or without client verification; mutual TLS and sockets not', () => {
  const tcp = [{ kind: 'tcp' as const, host: '127.0.0.1', port: 2375 }];
  const plain = exposureWarnings({ ...DEFAULTS, tls: false }, tcp);
  assert.equal(plain.length, 1);
  assert.match(plain[0] ?? '', /^WARNING: API is accessible on http:\/\/127\.0\.0\.1:2375 without encryption/);
  assert.deepEqual(exposureWarnings({ ...DEFAULTS, tls: true }, tcp), [
    'WARNING: API is accessible on https://127.0.0.1:2375 without TLS client verification.',
  ]);
  assert.deepEqual(exposureWarnings({ ...DEFAULTS, tlsVerify: true }, tcp), []);
  assert.deepEqual(exposureWarnings({ ...DEFAULTS, tls: false }, [{ kind: 'unix' as const, path: '/x.sock' }]), []);
});
