import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from './router.ts';
import { compareVersions } from './version.ts';
import { httpStatus } from './errors.ts';
import { ConflictError, NotFoundError, InvalidArgumentError, NotModifiedError } from '../util/errors.ts';

test('routes match method and path; {name*} takes slashes; HEAD falls back to GET', () => {
  const r = new Router();
  const seen: string[] = [];
  r.add('GET', '/images/json', () => void seen.push('list'));
  r.add('GET', '/images/{name*}/json', () => void seen.push('inspect'));
  r.add('DELETE', '/images/{name*}', () => void seen.push('delete'));
  const a = r.match('GET', '/images/json');
  assert.ok(a && a !== 'method');
  const b = r.match('GET', '/images/myreg:5000/a/b:1/json');
  assert.ok(b && b !== 'method');
  assert.equal(b.params['name'], 'myreg:5000/a/b:1');
  const c = r.match('DELETE', '/images/sha256%3Aabc');
  assert.ok(c && c !== 'method');
  assert.equal(c.params['name'], 'sha256:abc');
  assert.equal(r.match('POST', '/images/json'), 'method');
  assert.equal(r.match('GET', '/nothing'), undefined);
  assert.ok(r.match('HEAD', '/images/json'));
});

test('versions compare numerically; errors map to Docker status codes', () => {
  assert.equal(compareVersions('1.9', '1.10'), -1);
  assert.equal(compareVersions('1.47', '1.47'), 0);
  assert.equal(compareVersions('1.50', '1.47'), 1);
  assert.equal(httpStatus(new NotFoundError('x')), 404);
  assert.equal(httpStatus(new ConflictError('x')), 409);
  assert.equal(httpStatus(new InvalidArgumentError('x')), 400);
  assert.equal(httpStatus(new NotModifiedError('x')), 304);
  assert.equal(httpStatus(new Error('x')), 500);
});
