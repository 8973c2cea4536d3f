import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { UnauthorizedError, UnavailableError } from '../../util/errors.ts';
import { loadArchive } from '../load.ts';
import { archive, chunks, legacyArchive, makeImage, makeLayer, testEngine, type TestImage } from '../testkit.ts';
import { parseChallenges } from './auth.ts';
import { checkLogin, registryOfAddress } from './login.ts';
import { pullImage } from './pull.ts';
import { pushImage } from './push.ts';
import { makeClientCert, registryFor } from './testkit.ts';
import { Transport } from './transport.ts';
import { DEFAULT_REGISTRY_CONFIG, type JSONMessage, type RegistryConfig } from './types.ts';

async function tmp(t: TestContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'berth-authtest-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function image(seed: string): Promise<TestImage> {
  return makeImage([
    await makeLayer({ 'etc/': '', 'etc/seed': seed }, 'gzip'),
    await makeLayer({ 'srv/': '', 'srv/x': `${seed}!` }, 'gzip'),
  ]);
}

test('WWW-Authenticate parsing: several challenges, quoted commas and escapes', () => {
  assert.deepEqual(parseChallenges('Bearer realm="http://a/token",service="reg",scope="repository:x/y:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'http://a/token', service: 'reg', scope: 'repository:x/y:pull,push' } },
  ]);
  assert.deepEqual(parseChallenges(['Basic realm="a, \\"b\\""', 'Bearer realm=x']), [
    { scheme: 'basic', params: { realm: 'a, "b"' } },
    { scheme: 'bearer', params: { realm: 'x' } },
  ]);
  assert.deepEqual(parseChallenges(undefined), []);
});

test('server addresses as docker login sends them', () => {
  assert.equal(registryOfAddress('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(registryOfAddress('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
  assert.equal(registryOfAddress('127.0.0.1:5000'), '127.0.0.1:5000');
  assert.equal(registryOfAddress(undefined), 'docker.io');
});

test('Bearer tokens: anonymous pull, credentials for private repositories, refresh after 401, mount scopes, login', async (t) => {
  // Anonymous clients may pull repositories under public/ only.
  const reg = await registryFor(t, 'token', {
    users: { carol: 'pa55' },
    anonymousPull: (repository) => repository.startsWith('public/'),
  });
  const tokens = reg.tokens!;
  const cfg: RegistryConfig = {
    ...DEFAULT_REGISTRY_CONFIG,
    certsDir: '/nonexistent',
  };
  const auth = { username: 'carol', password: 'pa55' };
  const img = await image('bearer');
  const e = await testEngine(t);
  await loadArchive(
    e,
    chunks(await archive(legacyArchive([{ image: img, tags: [`${reg.host}/public/app:1`, `${reg.host}/team/b:1`] }]))),
  );

  await assert.rejects(
    pushImage(e, cfg, `${reg.host}/public/app:1`),
    UnauthorizedError,
    'anonymous tokens grant no push',
  );
  await pushImage(e, cfg, `${reg.host}/public/app:1`, { auth });
  assert.ok(tokens.requests.some((r) => r.account === 'carol' && r.scopes.includes('repository:public/app:pull,push')));

  // Anonymous pull of a public repository; a private one needs credentials.
  tokens.requests.length = 0;
  const e2 = await testEngine(t);
  await pullImage(e2, cfg, `${reg.host}/public/app:1`);
  assert.deepEqual(
    tokens.requests.map((r) => ({ scopes: r.scopes, account: r.account })),
    [{ scopes: ['repository:public/app:pull'], account: '' }],
    'one anonymous token, cached for every request of the pull',
  );
  await assert.rejects(pullImage(e2, cfg, `${reg.host}/team/b:1`), UnauthorizedError);

  // Push to another repository: the token asks for pull on the source too, and the blobs are mounted.
  tokens.requests.length = 0;
  const msgs: JSONMessage[] = [];
  await pushImage(e, cfg, `${reg.host}/team/b:1`, { auth, onProgress: (m) => msgs.push(m) });
  assert.equal(msgs.filter((m) => m.status === 'Mounted from public/app').length, 2);
  assert.ok(
    tokens.requests.some(
      (r) => r.scopes.includes('repository:public/app:pull') && r.scopes.includes('repository:team/b:pull,push'),
    ),
    JSON.stringify(tokens.requests),
  );

  // A token the registry refuses is dropped and fetched again.
  tokens.breakNext = 1;
  tokens.requests.length = 0;
  const e3 = await testEngine(t);
  await pullImage(e3, cfg, `${reg.host}/team/b:1`, { auth });
  assert.equal(e3.images.resolve(`${reg.host}/team/b:1`).configDigest, img.configDigest);
  assert.ok(tokens.requests.length >= 2);

  const login = await checkLogin(cfg, { ...auth, serveraddress: `http://${reg.host}` });
  assert.equal(login.Status, 'Login Succeeded');
  assert.equal(tokens.refreshTokens.get(login.IdentityToken ?? ''), 'carol', 'the identity token is a refresh token');
  // The identity token alone (as docker stores it after login) gets tokens by the refresh-token grant.
  const e4 = await testEngine(t);
  await pullImage(e4, cfg, `${reg.host}/team/b:1`, { auth: { identitytoken: login.IdentityToken! } });
  assert.equal(e4.images.resolve(`${reg.host}/team/b:1`).configDigest, img.configDigest);
  await assert.rejects(
    pullImage(e4, cfg, `${reg.host}/team/b:1`, { auth: { identitytoken: 'rt-mallory' } }),
    UnauthorizedError,
  );
  await assert.rejects(
    checkLogin(cfg, { username: 'carol', password: 'nope', serveraddress: reg.host }),
    (err: Error) =>
      err instanceof UnauthorizedError && /^unauthorized: /.test(err.message) && !err.message.includes('nope'),
  );
});

test('TLS: client certificate and CA from certs.d/HOST:PORT', async (t) => {
  const dir = await tmp(t);
  const client = await makeClientCert(dir, 'client');
  const reg = await registryFor(t, 'tls', { basicAuth: false, clientCA: client.caCert });
  const certsDir = join(dir, 'certs.d');
  await reg.writeCertsD(certsDir);
  await copyFile(client.cert, join(certsDir, reg.host, 'client.cert'));
  await copyFile(client.key, join(certsDir, reg.host, 'client.key'));
  const cfg: RegistryConfig = { ...DEFAULT_REGISTRY_CONFIG, certsDir };
  const img = await image('tls');
  const e = await testEngine(t);
  await loadArchive(e, chunks(await archive(legacyArchive([{ image: img, tags: [`${reg.host}/secure/app:1`] }]))));
  await pushImage(e, cfg, `${reg.host}/secure/app:1`);
  const e2 = await testEngine(t);
  await pullImage(e2, cfg, `${reg.host}/secure/app:1`);
  assert.equal(e2.images.resolve(`${reg.host}/secure/app:1`).configDigest, img.configDigest);
  // Verified TLS (as for a registry that is not insecure) trusts the CA from certs.d, and only it.
  const ep = { base: `https://${reg.host}`, registry: reg.host, skipVerify: false, mirror: false };
  const verified = new Transport(cfg);
  const res = await verified.request(ep, '/v2/');
  res.discard();
  assert.equal(res.status, 200);
  verified.close();
  const noCa = join(dir, 'no-ca');
  await mkdir(join(noCa, reg.host), { recursive: true });
  await copyFile(client.cert, join(noCa, reg.host, 'client.cert'));
  await copyFile(client.key, join(noCa, reg.host, 'client.key'));
  const unverified = new Transport({ ...cfg, certsDir: noCa });
  await assert.rejects(
    unverified.request(ep, '/v2/'),
    (err: Error) => err instanceof UnavailableError && /certificate/i.test(err.message),
  );
  unverified.close();
  // Without the client certificate the registry refuses the connection.
  const empty = join(dir, 'empty');
  await mkdir(empty);
  await assert.rejects(pullImage(await testEngine(t), { ...cfg, certsDir: empty }, `${reg.host}/secure/app:1`));
  // A key missing for a client certificate is a configuration error, named, for a verified endpoint; for this
  // loopback registry (insecure, whose certs.d Docker never reads) the certificate is left out, as with none.
  await writeFile(join(empty, 'x'), '');
  await mkdir(join(empty, reg.host));
  await copyFile(client.cert, join(empty, reg.host, 'client.cert'));
  const broken = new Transport({ ...cfg, certsDir: empty });
  assert.throws(() => broken.tlsSettings(ep), /missing key client\.key/);
  broken.close();
  await assert.rejects(
    pullImage(await testEngine(t), { ...cfg, certsDir: empty }, `${reg.host}/secure/app:1`),
    (err: Error) => !/missing key/.test(err.message),
  );
});
