import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareApk, comparePep440, compareRpm, compareSemver, comparatorFor } from './index.ts';
import { isApkVersion } from './apk.ts';

/** Asserts `list` is strictly increasing under `cmp`, checking every pair both ways. */
function increasing(cmp: (a: string, b: string) => number, list: string[]): void {
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      assert.ok(cmp(list[i]!, list[j]!) < 0, `${list[i]} < ${list[j]}`);
      assert.ok(cmp(list[j]!, list[i]!) > 0, `${list[j]} > ${list[i]}`);
    }
    assert.equal(cmp(list[i]!, list[i]!), 0);
  }
}

test('semver: the precedence example of semver.org §11, and build metadata ignored', () => {
  increasing(compareSemver, [
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
  ]);
  increasing(compareSemver, ['1.0.0', '2.0.0', '2.1.0', '2.1.1']);
  assert.equal(compareSemver('1.0.0+build.1', '1.0.0+build.2'), 0);
  // Go: the v prefix and pseudo-versions (a pre-release of the next patch).
  increasing(compareSemver, [
    'v0.0.0-20210101000000-abcdefabcdef',
    'v0.0.1',
    'v1.2.3',
    'v1.2.4-0.20220101000000-abcdefabcdef',
    'v1.2.4',
  ]);
  assert.equal(compareSemver('1.2', '1.2.0'), 0);
  assert.throws(() => compareSemver('1.2.3.4', '1'), /invalid semantic version "1.2.3.4"/);
  assert.throws(() => compareSemver('01.2.3', '1'), /invalid semantic version/);
});

test('PEP 440: the ordering example of the specification, and normalisation', () => {
  increasing(comparePep440, [
    '1.dev0',
    '1.0.dev456',
    '1.0a1',
    '1.0a2.dev456',
    '1.0a12.dev456',
    '1.0a12',
    '1.0b1.dev456',
    '1.0b2',
    '1.0b2.post345.dev456',
    '1.0b2.post345',
    '1.0rc1.dev456',
    '1.0rc1',
    '1.0',
    '1.0+abc.5',
    '1.0+abc.7',
    '1.0+5',
    '1.0.post456.dev34',
    '1.0.post456',
    '1.0.15',
    '1.1.dev1',
  ]);
  for (const [a, b] of [
    ['1.0', '1.0.0'],
    ['1.0a1', '1.0alpha1'],
    ['1.0b1', '1.0-beta.1'],
    ['1.0rc1', '1.0c1'],
    ['1.0rc1', '1.0pre1'],
    ['1.0.post1', '1.0-1'],
    ['1.0.post1', '1.0rev1'],
    ['1.0.post0', '1.0.post'],
    ['1.0.dev0', '1.0-dev'],
    ['v1.0', '1.0'],
    ['1.0A1', '1.0a1'],
  ] as const) {
    assert.equal(comparePep440(a, b), 0, `${a} == ${b}`);
  }
  increasing(comparePep440, ['1.0', '1!0.1', '2!0.0']);
  assert.throws(() => comparePep440('1.0-foo', '1'), /invalid PEP 440 version "1.0-foo"/);
});

test('apk: the orderings apk-tools documents (a post-release suffix outranks the -r revision)', () => {
  increasing(compareApk, [
    '1.0_alpha',
    '1.0_alpha2',
    '1.0_beta',
    '1.0_pre1',
    '1.0_rc1',
    '1.0',
    '1.0-r1',
    '1.0_cvs',
    '1.0_svn',
    '1.0_git20200101',
    '1.0_hg',
    '1.0_p1',
    '1.0_p2',
    '1.0a',
    '1.0b',
    '1.0.1',
    '1.1',
  ]);
  increasing(compareApk, ['1.2.3-r0', '1.2.3-r1', '1.2.3-r10', '1.2.4-r0']);
  increasing(compareApk, ['3.0.8-r0', '3.0.10-r0', '3.1.4-r5']);
  // Leading zeros after the first component compare as strings (apk's rule).
  increasing(compareApk, ['1.05', '1.5']);
  assert.equal(compareApk('1.0-r0', '1.0-r0'), 0);
  assert.equal(isApkVersion('1.2.3_rc1-r2'), true);
  assert.equal(isApkVersion('1.2.3_bogus'), false);
  assert.equal(isApkVersion('abc'), false);
});

test('rpm: rpmvercmp with tildes, carets, epochs and releases', () => {
  increasing(compareRpm, ['1.0~rc1', '1.0', '1.0^git1', '1.0a', '1.0.1', '1.1', '1:0.1']);
  increasing(compareRpm, ['2.28-151.el9', '2.28-225.el9', '2.28-225.el9_4.1']);
  assert.equal(compareRpm('1.0', '1.0-5'), 0, 'a missing release matches any release');
  assert.equal(compareRpm('1.01', '1.1'), 0);
  increasing(compareRpm, ['a', '1']);
});

test('ecosystems map to their ordering', () => {
  assert.equal(comparatorFor('Debian:12'), comparatorFor('Debian'));
  assert.equal(comparatorFor('Alpine:v3.19'), compareApk);
  assert.equal(comparatorFor('npm'), compareSemver);
  assert.equal(comparatorFor('Go'), compareSemver);
  assert.equal(comparatorFor('crates.io'), compareSemver);
  assert.equal(comparatorFor('PyPI'), comparePep440);
  assert.equal(comparatorFor('Red Hat:enterprise_linux:9::baseos'), compareRpm);
  assert.equal(comparatorFor('Maven'), undefined);
});
