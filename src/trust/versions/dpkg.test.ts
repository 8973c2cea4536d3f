import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { compareDpkg } from './dpkg.ts';

/** Pairs from deb-version(7) and Debian Policy §5.6.12, and the tricky cases: epochs, tildes, zeros, letters. */
const PAIRS: [string, string][] = [
  ['1.0~rc1', '1.0'],
  ['1.0~rc1~', '1.0~rc1'],
  ['~~', '~~a'],
  ['~~a', '~'],
  ['~', ''.concat('0')],
  ['1:1.0', '2.0'],
  ['1.0', '1:0.1'],
  ['2:1.0', '10:0.1'],
  ['1.0-1', '1.0-2'],
  ['1.0-2', '1.0-10'],
  ['1.0-1', '1.0.1-1'],
  ['1.0a', '1.0b'],
  ['1.0', '1.0a'],
  ['1.0+dfsg', '1.0-1'],
  ['1.0.0', '1.0'],
  ['1.00', '1.0'],
  ['1.001', '1.1'],
  ['1.0+b1', '1.0.1'],
  ['1.0-1+deb12u1', '1.0-1+deb12u2'],
  ['1.0-1~bpo12+1', '1.0-1'],
  ['2.36-9+deb12u4', '2.36-9+deb12u10'],
  ['3.0.11-1~deb12u2', '3.0.11-1'],
  ['7.88.1-10+deb12u5', '7.88.1-10+deb12u12'],
  ['1.2.3.a', '1.2.3.+'],
  ['1.2.3-a', '1.2.3-A'],
  ['0.9.8zh', '0.9.8zi'],
  ['1.0-0ubuntu1', '1.0-0ubuntu2'],
  ['9', '10'],
  ['1.0-1.1', '1.0-1.1~'],
];

function oracle(a: string, op: string, b: string): boolean {
  return spawnSync('dpkg', ['--compare-versions', a, op, b]).status === 0;
}

test('every pair orders as dpkg --compare-versions says', () => {
  for (const [a, b] of PAIRS) {
    const mine = Math.sign(compareDpkg(a, b));
    const theirs = oracle(a, 'lt', b) ? -1 : oracle(a, 'eq', b) ? 0 : 1;
    assert.equal(mine, theirs, `${a} vs ${b}`);
    assert.equal(Math.sign(compareDpkg(b, a)), theirs === 0 ? 0 : -theirs, `${b} vs ${a}`);
  }
});

test('the host’s own installed versions sort as dpkg sorts them', () => {
  const out = spawnSync('dpkg-query', ['-W', '-f', '${Version}\n'], { encoding: 'utf8' }).stdout;
  const versions = [...new Set(out.split('\n').filter(Boolean))].slice(0, 60);
  for (let i = 1; i < versions.length; i++) {
    const [a, b] = [versions[i - 1]!, versions[i]!];
    const theirs = oracle(a, 'lt', b) ? -1 : oracle(a, 'eq', b) ? 0 : 1;
    assert.equal(Math.sign(compareDpkg(a, b)), theirs, `${a} vs ${b}`);
  }
});

test('equal versions and malformed ones', () => {
  assert.equal(compareDpkg('0:1.0', '1.0'), 0);
  assert.equal(compareDpkg('1.0-0', '1.0'), 0);
  assert.throws(() => compareDpkg('1:', '1'), /empty upstream version/);
  assert.throws(() => compareDpkg('x:1.0', '1'), /epoch is not a number/);
  assert.throws(() => compareDpkg('', '1'), /invalid Debian version ""/);
});
