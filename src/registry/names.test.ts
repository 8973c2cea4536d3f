import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError } from './errors.ts';
import { checkDigest, checkName, isRepositoryName, parseReference } from './names.ts';

test('repository names follow the spec', () => {
  for (const ok of ['a', 'library/busybox', 'a.b_c__d-e--f/x0', 'a/b/c/d'])
    assert.equal(isRepositoryName(ok), true, ok);
  for (const bad of ['', 'A', 'a/', '/a', 'a//b', 'a/../b', '..', 'a_', '-a', 'a..b', 'a___b', 'a'.repeat(256)])
    assert.equal(isRepositoryName(bad), false, bad);
  assert.equal(isRepositoryName('a'.repeat(255)), true);
  assert.throws(
    () => checkName('Upper'),
    (e: unknown) => e instanceof RegistryError && e.oci === 'NAME_INVALID' && /"Upper"/.test(e.message),
  );
  assert.throws(() => checkName('a'.repeat(256)), /longer than 255/);
});

test('references are tags or digests', () => {
  assert.deepEqual(parseReference('v1.0_rc-1'), { tag: 'v1.0_rc-1' });
  const d = `sha256:${'a'.repeat(64)}`;
  assert.deepEqual(parseReference(d), { digest: d });
  assert.throws(
    () => parseReference('sha256:zz'),
    (e: unknown) => e instanceof RegistryError && e.oci === 'DIGEST_INVALID',
  );
  assert.throws(
    () => parseReference('-tag'),
    (e: unknown) => e instanceof RegistryError && e.oci === 'MANIFEST_INVALID',
  );
  assert.throws(() => parseReference('t'.repeat(129)), RegistryError);
  assert.equal(checkDigest(`sha512:${'0'.repeat(128)}`), `sha512:${'0'.repeat(128)}`);
  assert.throws(
    () => checkDigest(null),
    (e: unknown) => e instanceof RegistryError && e.status === 400,
  );
});
