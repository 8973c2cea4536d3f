import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../util/errors.ts';
import {
  familiarName,
  familiarString,
  fullName,
  isIdPrefix,
  parseReference,
  referenceString,
  withDefaultTag,
} from './reference.ts';

const HEX64 = 'f'.repeat(64);
const ID64 = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';

function rejects(input: string, message: string): void {
  assert.throws(
    () => parseReference(input),
    (err: unknown) => err instanceof InvalidArgumentError && err.message === message,
    `expected ${JSON.stringify(input)} to fail with ${JSON.stringify(message)}`,
  );
}

// Valid names from distribution/reference normalize_test.go (TestValidateReferenceName, TestValidateRemoteName).
const VALID = [
  'docker/docker',
  'library/debian',
  'debian',
  'localhost/library/debian',
  'localhost/debian',
  'docker.io/docker/docker',
  'docker.io/library/debian',
  'docker.io/debian',
  'index.docker.io/docker/docker',
  'index.docker.io/library/debian',
  'index.docker.io/debian',
  '127.0.0.1:5000/docker/docker',
  '127.0.0.1:5000/library/debian',
  '127.0.0.1:5000/debian',
  '192.168.0.1',
  '192.168.0.1:80',
  '192.168.0.1:8/debian',
  '192.168.0.2:25000/debian',
  'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
  '[fc00::1]:5000/docker',
  '[fc00::1]:5000/docker/docker',
  '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
  `docker.io/${ID64}`,
  'docker-rules/docker',
  'docker---rules/docker',
  'doc/docker',
  'd/docker',
  'jess/t',
  'dock__er/docker',
];

const INVALID = [
  'https://github.com/docker/docker',
  'docker/Docker',
  '-docker',
  '-docker/docker',
  '-docker.io/docker/docker',
  'docker///docker',
  'docker.io/docker/Docker',
  'docker.io/docker///docker',
  '[fc00::1]',
  '[fc00::1]:5000',
  'fc00::1:5000/debian',
  '[fe80::1%eth0]:5000/debian',
  '[2001:db8:3:4::192.0.2.33]:5000/debian',
  ID64,
  'docker-/docker',
  '-docker-/docker',
  '____/____',
  '_docker/_docker',
  'dock..er/docker',
  'dock_.er/docker',
  'dock-.er/docker',
  'docker/',
  `${'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_'.repeat(4)}/docker`,
  'a:b:c',
  '',
  'foo/../bar',
  ':justtag',
  `@sha256:${HEX64}`,
  'aa/asdf$$^/aa',
];

test('accepts the valid names of distribution/reference', () => {
  for (const name of VALID) assert.doesNotThrow(() => parseReference(name), name);
});

test('rejects the invalid names of distribution/reference', () => {
  for (const name of INVALID) assert.throws(() => parseReference(name), InvalidArgumentError, name);
});

test('error messages match docker', () => {
  rejects('a:b:c', 'invalid reference format');
  rejects('', 'invalid reference format');
  rejects('foo/../bar', 'invalid reference format');
  rejects('[2001:db8::1]:tag', 'invalid reference format');
  rejects('UPPER', 'invalid reference format: repository name (library/UPPER) must be lowercase');
  // Berth is stricter than docker: a capitalised first component without '.' or ':' is not taken for a host.
  rejects('UPPER/case', 'invalid reference format: repository name (UPPER/case) must be lowercase');
  rejects(
    'LOCALDOMAIN/library/debian',
    'invalid reference format: repository name (LOCALDOMAIN/library/debian) must be lowercase',
  );
  rejects('Docker/docker:1', 'invalid reference format: repository name (Docker/docker) must be lowercase');
  rejects('test:5000/Upper/lower:tag', 'invalid reference format: repository name (Upper/lower) must be lowercase');
  rejects('Uppercase:tag', 'invalid reference format: repository name (library/Uppercase) must be lowercase');
  rejects(`domain/${'a'.repeat(256)}`, 'repository name must not be more than 255 characters');
  rejects(`example.com/${'a'.repeat(256)}:tag`, 'repository name must not be more than 255 characters');
  rejects(ID64, `invalid repository name (${ID64}), cannot specify 64-byte hexadecimal strings`);
  rejects(`busybox@sha256:${'f'.repeat(34)}`, 'invalid checksum digest length');
  rejects(`busybox@md5:${HEX64}`, 'unsupported digest algorithm');
  rejects(`busybox@sha512:${HEX64}`, 'invalid checksum digest length');
  rejects(`busybox@sha256:${'F'.repeat(64)}`, 'invalid checksum digest format');
});

test('a path of exactly 255 characters is allowed', () => {
  const r = parseReference(`example.com/${'a'.repeat(255)}:tag`);
  assert.equal(r.path.length, 255);
  assert.equal(r.tag, 'tag');
});

// TestParseRepositoryInfo: each of these spellings normalises to the same full and familiar names.
const REPOSITORY_INFO: Array<{ spellings: string[]; familiar: string; full: string; domain: string; path: string }> = [
  {
    spellings: ['localhost/fooo'],
    familiar: 'localhost/fooo',
    full: 'localhost/fooo',
    domain: 'localhost',
    path: 'fooo',
  },
  {
    spellings: ['localhost/fooo/bar'],
    familiar: 'localhost/fooo/bar',
    full: 'localhost/fooo/bar',
    domain: 'localhost',
    path: 'fooo/bar',
  },
  {
    spellings: ['fooo/bar', 'docker.io/fooo/bar', 'index.docker.io/fooo/bar'],
    familiar: 'fooo/bar',
    full: 'docker.io/fooo/bar',
    domain: 'docker.io',
    path: 'fooo/bar',
  },
  {
    spellings: ['ubuntu', 'docker.io/library/ubuntu', 'library/ubuntu'],
    familiar: 'ubuntu',
    full: 'docker.io/library/ubuntu',
    domain: 'docker.io',
    path: 'library/ubuntu',
  },
  {
    spellings: ['other/library'],
    familiar: 'other/library',
    full: 'docker.io/other/library',
    domain: 'docker.io',
    path: 'other/library',
  },
  {
    spellings: ['127.0.0.1:8000/private/moonbase'],
    familiar: '127.0.0.1:8000/private/moonbase',
    full: '127.0.0.1:8000/private/moonbase',
    domain: '127.0.0.1:8000',
    path: 'private/moonbase',
  },
  {
    spellings: ['example.com:8000/privatebasee'],
    familiar: 'example.com:8000/privatebasee',
    full: 'example.com:8000/privatebasee',
    domain: 'example.com:8000',
    path: 'privatebasee',
  },
  {
    spellings: ['ubuntu-12.04-base', 'index.docker.io/library/ubuntu-12.04-base'],
    familiar: 'ubuntu-12.04-base',
    full: 'docker.io/library/ubuntu-12.04-base',
    domain: 'docker.io',
    path: 'library/ubuntu-12.04-base',
  },
  {
    spellings: ['foo', 'docker.io/foo'],
    familiar: 'foo',
    full: 'docker.io/library/foo',
    domain: 'docker.io',
    path: 'library/foo',
  },
  {
    spellings: ['library/foo/bar', 'docker.io/library/foo/bar'],
    familiar: 'library/foo/bar',
    full: 'docker.io/library/foo/bar',
    domain: 'docker.io',
    path: 'library/foo/bar',
  },
];

test('normalises names and gives their familiar forms', () => {
  for (const c of REPOSITORY_INFO) {
    for (const s of c.spellings) {
      const r = parseReference(s);
      assert.equal(r.domain, c.domain, s);
      assert.equal(r.path, c.path, s);
      assert.equal(fullName(r), c.full, s);
      assert.equal(familiarName(r), c.familiar, s);
      assert.equal(r.tag, undefined, s);
      assert.equal(r.digest, undefined, s);
    }
  }
});

// TestReferenceParse cases (ParseNormalizedNamed adds docker.io where there is no domain).
const PARSE: Array<{ input: string; domain: string; path: string; tag?: string; digest?: string }> = [
  { input: 'test_com', domain: 'docker.io', path: 'library/test_com' },
  { input: 'test.com:tag', domain: 'docker.io', path: 'library/test.com', tag: 'tag' },
  { input: 'test.com:5000', domain: 'docker.io', path: 'library/test.com', tag: '5000' },
  { input: 'test.com/repo:tag', domain: 'test.com', path: 'repo', tag: 'tag' },
  { input: 'test:5000/repo', domain: 'test:5000', path: 'repo' },
  { input: 'test:5000/repo:tag', domain: 'test:5000', path: 'repo', tag: 'tag' },
  { input: `test:5000/repo@sha256:${HEX64}`, domain: 'test:5000', path: 'repo', digest: `sha256:${HEX64}` },
  {
    input: `test:5000/repo:tag@sha256:${HEX64}`,
    domain: 'test:5000',
    path: 'repo',
    tag: 'tag',
    digest: `sha256:${HEX64}`,
  },
  { input: 'lowercase:Uppercase', domain: 'docker.io', path: 'library/lowercase', tag: 'Uppercase' },
  {
    input: 'sub-dom1.foo.com/bar/baz/quux:some-long-tag',
    domain: 'sub-dom1.foo.com',
    path: 'bar/baz/quux',
    tag: 'some-long-tag',
  },
  {
    input: 'b.gcr.io/test.example.com/my-app:test.example.com',
    domain: 'b.gcr.io',
    path: 'test.example.com/my-app',
    tag: 'test.example.com',
  },
  { input: 'xn--n3h.com/myimage:xn--n3h.com', domain: 'xn--n3h.com', path: 'myimage', tag: 'xn--n3h.com' },
  { input: 'foo_bar.com:8080', domain: 'docker.io', path: 'library/foo_bar.com', tag: '8080' },
  { input: 'foo/foo_bar.com:8080', domain: 'docker.io', path: 'foo/foo_bar.com', tag: '8080' },
  { input: '192.168.1.1', domain: 'docker.io', path: 'library/192.168.1.1' },
  { input: '192.168.1.1:5000', domain: 'docker.io', path: 'library/192.168.1.1', tag: '5000' },
  { input: '192.168.1.1/repo', domain: '192.168.1.1', path: 'repo' },
  { input: '192.168.1.1:5000/repo:5050', domain: '192.168.1.1:5000', path: 'repo', tag: '5050' },
  { input: '[2001:db8::1]/repo', domain: '[2001:db8::1]', path: 'repo' },
  { input: '[2001:db8:1:2:3:4:5:6]/repo:tag', domain: '[2001:db8:1:2:3:4:5:6]', path: 'repo', tag: 'tag' },
  { input: '[2001:db8::1]:5000/repo:tag', domain: '[2001:db8::1]:5000', path: 'repo', tag: 'tag' },
  { input: '[2001:db8::]:5000/repo', domain: '[2001:db8::]:5000', path: 'repo' },
  { input: '[::1]:5000/x', domain: '[::1]:5000', path: 'x' },
  { input: 'localhost/x', domain: 'localhost', path: 'x' },
  { input: 'localhost:5000/x:1', domain: 'localhost:5000', path: 'x', tag: '1' },
  {
    input: `${'a/'.repeat(127)}a:tag-puts-this-over-max`,
    domain: 'docker.io',
    path: `${'a/'.repeat(127)}a`,
    tag: 'tag-puts-this-over-max',
  },
];

test('parses tags, digests, ports and IPv6 domains', () => {
  for (const c of PARSE) {
    const r = parseReference(c.input);
    assert.equal(r.domain, c.domain, c.input);
    assert.equal(r.path, c.path, c.input);
    assert.equal(r.tag, c.tag, c.input);
    assert.equal(r.digest, c.digest, c.input);
  }
});

test('a reference with both tag and digest keeps both (TestParseReferenceWithTagAndDigest)', () => {
  const short = 'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa';
  const r = parseReference(short);
  assert.equal(referenceString(r), `docker.io/library/${short}`);
  assert.equal(familiarString(r), short);
});

test('withDefaultTag adds latest only to a bare name', () => {
  const bare = parseReference('busybox');
  assert.equal(referenceString(withDefaultTag(bare)), 'docker.io/library/busybox:latest');
  assert.equal(bare.tag, undefined, 'the input is not modified');
  assert.equal(withDefaultTag(parseReference('busybox:1.36')).tag, '1.36');
  const digested = withDefaultTag(parseReference(`busybox@sha256:${HEX64}`));
  assert.equal(digested.tag, undefined);
  assert.equal(familiarString(digested), `busybox@sha256:${HEX64}`);
});

test('familiar and full strings', () => {
  const cases: Array<[string, string, string]> = [
    ['busybox', 'busybox', 'docker.io/library/busybox'],
    ['busybox:1', 'busybox:1', 'docker.io/library/busybox:1'],
    ['user/app:v2', 'user/app:v2', 'docker.io/user/app:v2'],
    ['myreg:5000/a/b:c', 'myreg:5000/a/b:c', 'myreg:5000/a/b:c'],
    ['index.docker.io/library/redis', 'redis', 'docker.io/library/redis'],
    ['[::1]:5000/x:y', '[::1]:5000/x:y', '[::1]:5000/x:y'],
  ];
  for (const [input, familiar, full] of cases) {
    const r = parseReference(input);
    assert.equal(familiarString(r), familiar, input);
    assert.equal(referenceString(r), full, input);
  }
});

test('isIdPrefix', () => {
  assert.equal(isIdPrefix(ID64), true);
  assert.equal(isIdPrefix(`sha256:${ID64}`), true);
  assert.equal(isIdPrefix('1a3f5e'), true);
  assert.equal(isIdPrefix('sha256:1a3f'), true);
  assert.equal(isIdPrefix('1a3'), false, 'too short');
  assert.equal(isIdPrefix('busybox'), false);
  assert.equal(isIdPrefix('1A3F5E'), false, 'IDs are lowercase');
  assert.equal(isIdPrefix(`${ID64}0`), false, 'too long');
  assert.equal(isIdPrefix('sha512:1a3f5e'), false);
});
