import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registryAuthHeader } from './images.ts';

test('X-Registry-Auth: base64url and standard base64 JSON decode to the auth config', () => {
  const body = { username: 'u', password: 'p?>~', serveraddress: '127.0.0.1:5000' };
  assert.deepEqual(registryAuthHeader(Buffer.from(JSON.stringify(body)).toString('base64url')), body);
  assert.deepEqual(registryAuthHeader(Buffer.from(JSON.stringify(body)).toString('base64')), body);
  assert.deepEqual(registryAuthHeader([Buffer.from('{"identitytoken":"t"}').toString('base64')]), {
    identitytoken: 't',
  });
});

test('X-Registry-Auth: absent, empty, {} or garbage is anonymous (dockerd ignores what it cannot decode)', () => {
  assert.equal(registryAuthHeader(undefined), undefined);
  assert.equal(registryAuthHeader(''), undefined);
  assert.equal(registryAuthHeader(Buffer.from('{}').toString('base64url')), undefined);
  assert.equal(registryAuthHeader('!!!not base64'), undefined);
  assert.equal(registryAuthHeader(Buffer.from('[1,2]').toString('base64')), undefined);
  assert.deepEqual(registryAuthHeader(Buffer.from('{"username":"a","password":7}').toString('base64')), {
    username: 'a',
  });
});
