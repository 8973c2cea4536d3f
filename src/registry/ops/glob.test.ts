import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Glob, checkGlob } from './glob.ts';

describe('glob', () => {
  it('* stays within a component, ** crosses, ? is one character', () => {
    assert.ok(new Glob('library/*').matches('library/busybox'));
    assert.ok(!new Glob('library/*').matches('library/a/b'));
    assert.ok(new Glob('library/**').matches('library/a/b'));
    assert.ok(new Glob('a/**/b').matches('a/b'));
    assert.ok(new Glob('v1.?').matches('v1.2'));
    assert.ok(!new Glob('v1.?').matches('v1.22'));
    assert.ok(!new Glob('v1.*').matches('v1x2'), 'a dot is a dot');
  });
  it('alternatives and classes', () => {
    const g = new Glob('{release,stable}-[0-9]*');
    assert.ok(g.matches('release-1.2'));
    assert.ok(g.matches('stable-9'));
    assert.ok(!g.matches('beta-1'));
    assert.ok(new Glob('[!x]*').matches('abc'));
    assert.ok(!new Glob('[!x]*').matches('xyz'));
  });
  it('refuses unclosed brackets and braces', () => {
    assert.throws(() => checkGlob('v[1', 'tag pattern'), /invalid tag pattern "v\[1"/);
    assert.throws(() => checkGlob('{a,b', 'tag pattern'), /invalid tag pattern/);
    assert.throws(() => checkGlob(''), /empty/);
  });
});
