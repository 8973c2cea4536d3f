import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { HtpasswdGate } from './basic.ts';
import { TokenKey } from './jwt.ts';
import { HtpasswdFile, checkPassword, hashPassword, newSecret, secretVersion } from './passwords.ts';

test('a token verifies with its key only, and not once expired or changed', () => {
  const key = new TokenKey(TokenKey.generate());
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: 'r', sub: 'bob', aud: 'r', exp: now + 60, nbf: now, iat: now, jti: 'x', access: [] };
  const t = key.sign(claims);
  assert.deepEqual(key.verify(t), claims);
  assert.equal(new TokenKey(TokenKey.generate()).verify(t), undefined, 'another key');
  assert.equal(key.verify(t, now + 61), undefined, 'expired');
  const [h, b, s] = t.split('.') as [string, string, string];
  const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url');
  assert.equal(key.verify(`${h}.${forged}.${s}`), undefined, 'changed claims');
  const none = Buffer.from(JSON.stringify({ alg: 'none', kid: key.kid })).toString('base64url');
  assert.equal(key.verify(`${none}.${b}.`), undefined, 'alg none');
  assert.equal(key.verify('garbage'), undefined);
});

test('passwords: scrypt for users, bcrypt from htpasswd ($2y$ too), robot secrets; versions change with the hash', async () => {
  const h = await hashPassword('s3cret');
  assert.match(h, /^\$scrypt\$16384\$/);
  assert.equal(await checkPassword('s3cret', h), true);
  assert.equal(await checkPassword('wrong', h), false);
  const b = bcrypt.hashSync('pw', 5).replace(/^\$2b\$/, '$2y$');
  assert.equal(await checkPassword('pw', b), true);
  assert.equal(await checkPassword('px', b), false);
  const r = newSecret();
  assert.equal(await checkPassword(r.secret, r.hash), true);
  assert.equal(await checkPassword(`${r.secret}x`, r.hash), false);
  assert.equal(await checkPassword('pw', 'plain-text'), false);
  assert.notEqual(secretVersion(h), secretVersion(await hashPassword('s3cret')));
  await assert.rejects(hashPassword(''), /empty/);
});

test('htpasswd: requests bringing the same credentials at once share one bcrypt check; a refusal is not kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-htpasswd-'));
  try {
    const path = join(dir, 'htpasswd');
    await writeFile(path, `bob:${bcrypt.hashSync('bobpw', 4)}\n`);
    const file = new HtpasswdFile(path);
    let checks = 0;
    const check = file.check.bind(file);
    file.check = (u, p) => {
      checks++;
      return check(u, p);
    };
    const gate = new HtpasswdGate(file, 'r');
    const basic = (pw: string) => `Basic ${Buffer.from(`bob:${pw}`).toString('base64')}`;
    const who = await Promise.all(Array.from({ length: 8 }, () => gate.authenticate(basic('bobpw'))));
    assert.deepEqual(new Set(who.map((p) => p.name)), new Set(['bob']));
    assert.equal(checks, 1, 'eight requests at once, one check');
    await gate.authenticate(basic('bobpw'));
    assert.equal(checks, 1, 'remembered');
    const wrong = await Promise.allSettled([gate.authenticate(basic('nope')), gate.authenticate(basic('nope'))]);
    assert.deepEqual(
      wrong.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal(checks, 2);
    await assert.rejects(gate.authenticate(basic('nope')), /invalid username or password/);
    assert.equal(checks, 3, 'a refusal is checked again');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
