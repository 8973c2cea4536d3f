import assert from 'node:assert/strict';
import { test } from 'node:test';
import { credentialsGo } from './credentials.ts';

test("a registry's credentials go to its own scheme, host and port only", () => {
  const go = (from: string, to: string) => credentialsGo(new URL(from), new URL(to));
  assert.ok(go('https://r.example:5000/v2/', 'https://r.example:5000/v2/a/blobs/x'));
  assert.ok(go('https://r.example/v2/', 'https://R.EXAMPLE:443/other'));
  assert.ok(go('http://127.0.0.1:5000/', 'http://127.0.0.1:5000/v2/'));
  // a downgrade to plain http on the same host, with or without the same port number
  assert.ok(!go('https://r.example/v2/', 'http://r.example/v2/'));
  assert.ok(!go('https://r.example:5000/v2/', 'http://r.example:5000/v2/'));
  // an upgrade, another port, another host, a subdomain
  assert.ok(!go('http://r.example:5000/', 'https://r.example:5000/'));
  assert.ok(!go('https://r.example/', 'https://r.example:8443/'));
  assert.ok(!go('https://r.example/', 'https://storage.example/'));
  assert.ok(!go('https://r.example/', 'https://s3.r.example/'));
});
