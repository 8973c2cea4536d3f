import assert from 'node:assert/strict';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { TokenKey } from './jwt.ts';
import { checkPassword, hashPassword, newSecret, secretVersion } from './passwords.ts';

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
