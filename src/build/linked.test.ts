import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PackEntry } from '../util/tar/index.ts';
import { walkOrder } from './linked.ts';

const entry = (name: string): PackEntry => ({
  header: { name, type: name.endsWith('/') ? 'directory' : 'file', mode: 0o644, size: 0 },
});
const names = (list: PackEntry[] | undefined): string[] | undefined => list?.map((e) => e.header.name);

describe('walkOrder', () => {
  it('keeps a list already in the walk order, and sorts one that is not by path components', () => {
    const walked = ['ctx/', 'ctx/a/', 'ctx/a/x', 'ctx/a.b', 'ctx/b', 'ctx/c/', 'ctx/c/y'];
    assert.deepEqual(names(walkOrder(walked.map(entry))), walked);
    // a string sort puts `a.b` before `a/` ('.' < '/'); a walk lists the directory `a` and what is below it first
    const strings = ['ctx/', 'ctx/a.b', 'ctx/a/', 'ctx/a/x', 'ctx/b'];
    assert.deepEqual(names(walkOrder(strings.map(entry))), ['ctx/', 'ctx/a/', 'ctx/a/x', 'ctx/a.b', 'ctx/b']);
    assert.deepEqual(names(walkOrder([...strings].reverse().map(entry))), [
      'ctx/',
      'ctx/a/',
      'ctx/a/x',
      'ctx/a.b',
      'ctx/b',
    ]);
  });

  it('gives no order when two entries name one path', () => {
    assert.equal(walkOrder(['ctx/', 'ctx/a', 'ctx/a/'].map(entry)), undefined);
  });
});
