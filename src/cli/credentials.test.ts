import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DOCKER_HUB_KEY, encodeAuthHeader, eraseAuth, lookupAuth, registryKey, storeAuth } from './credentials.ts';

async function home(t: { after(fn: () => Promise<void>): void }): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-cred-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, env: { HOME: dir, PATH: process.env.PATH ?? '' } };
}

test('registry keys: Docker Hub under its legacy URL, others as host[:port]', () => {
  assert.equal(registryKey(''), DOCKER_HUB_KEY);
  assert.equal(registryKey('docker.io'), DOCKER_HUB_KEY);
  assert.equal(registryKey('https://index.docker.io/v1/'), DOCKER_HUB_KEY);
  assert.equal(registryKey('127.0.0.1:5000'), '127.0.0.1:5000');
  assert.equal(registryKey('https://reg.example:443/v2/'), 'reg.example:443');
});

test('store writes Berth config.json with mode 0600 in docker format; lookup reads it back; erase removes it', async (t) => {
  const { dir, env } = await home(t);
  const { path, helper } = await storeAuth('127.0.0.1:5000', { username: 'alice', password: 's3cret' }, env);
  assert.equal(helper, undefined);
  assert.equal(path, join(dir, '.berth', 'config.json'));
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const file = JSON.parse(await readFile(path, 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(file.auths['127.0.0.1:5000']!.auth, 'base64').toString(), 'alice:s3cret');
  assert.deepEqual(await lookupAuth('127.0.0.1:5000', env), {
    serveraddress: '127.0.0.1:5000',
    username: 'alice',
    password: 's3cret',
  });
  assert.equal(await lookupAuth('127.0.0.1:5001', env), undefined);
  assert.equal(await eraseAuth('127.0.0.1:5000', env), true);
  assert.equal(await lookupAuth('127.0.0.1:5000', env), undefined);
  assert.equal(await eraseAuth('127.0.0.1:5000', env), false);
});

test('an identity token is stored instead of the password', async (t) => {
  const { env } = await home(t);
  const { path } = await storeAuth('reg:1', { username: 'bob', password: 'pw', identitytoken: 'tok' }, env);
  const text = await readFile(path, 'utf8');
  assert.ok(!text.includes(Buffer.from('bob:pw').toString('base64')), 'password must not be stored');
  assert.deepEqual(await lookupAuth('reg:1', env), {
    serveraddress: 'reg:1',
    username: 'bob',
    password: '',
    identitytoken: 'tok',
  });
});

test("docker's ~/.docker/config.json is read when Berth's has nothing for the registry", async (t) => {
  const { dir, env } = await home(t);
  await mkdir(join(dir, '.docker'));
  await writeFile(
    join(dir, '.docker', 'config.json'),
    JSON.stringify({ auths: { 'https://reg.example': { auth: Buffer.from('carol:pw2').toString('base64') } } }),
  );
  assert.equal((await lookupAuth('reg.example', env))?.username, 'carol');
  await writeFile(join(dir, '.docker', 'config.json'), '{not json');
  await assert.rejects(lookupAuth('reg.example', env), /loading config file: .*config\.json/);
});

test('credHelpers: the docker-credential-<name> program stores, gets and erases', async (t) => {
  const { dir, env } = await home(t);
  const bin = join(dir, 'bin');
  await mkdir(bin);
  const store = join(dir, 'store');
  // A credential helper speaking docker's protocol, keeping one secret in a file.
  await writeFile(
    join(bin, 'docker-credential-testhelper'),
    `#!/bin/sh\ncase "$1" in\n  store) cat > ${store} ;;\n  get) read url; if [ -f ${store} ]; then cat ${store}; else echo "credentials not found in native keychain"; exit 1; fi ;;\n  erase) rm -f ${store} ;;\nesac\n`,
  );
  await chmod(join(bin, 'docker-credential-testhelper'), 0o755);
  env.PATH = `${bin}:${env.PATH}`;
  await mkdir(join(dir, '.berth'));
  await writeFile(join(dir, '.berth', 'config.json'), JSON.stringify({ credHelpers: { 'reg:2': 'testhelper' } }));
  const { path, helper } = await storeAuth('reg:2', { username: 'dave', password: 'pw3' }, env);
  assert.equal(helper, 'testhelper');
  assert.ok(!(await readFile(path, 'utf8')).includes('pw3'), 'the secret stays in the helper');
  assert.deepEqual(JSON.parse(await readFile(store, 'utf8')), { ServerURL: 'reg:2', Username: 'dave', Secret: 'pw3' });
  assert.deepEqual(await lookupAuth('reg:2', env), { username: 'dave', password: 'pw3', serveraddress: 'reg:2' });
  assert.equal(await eraseAuth('reg:2', env), true);
  assert.equal(await lookupAuth('reg:2', env), undefined);
});

test('X-Registry-Auth is base64url JSON of the auth config', () => {
  assert.equal(encodeAuthHeader(undefined), undefined);
  const h = encodeAuthHeader({ username: 'u', password: 'p?>>', serveraddress: 'r:1' })!;
  assert.ok(!/[+/=]/.test(h));
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), {
    username: 'u',
    password: 'p?>>',
    serveraddress: 'r:1',
  });
});
