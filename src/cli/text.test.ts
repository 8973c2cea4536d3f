import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ellipsis, truncateID } from './text.ts';

describe('table text', () => {
  it('truncates IDs as stringid.TruncateID does', () => {
    assert.equal(truncateID(`sha256:${'0123456789ab'.repeat(5)}`), '0123456789ab');
    assert.equal(truncateID('abc'), 'abc');
  });

  it('cuts text with an ellipsis, counting characters', () => {
    assert.equal(ellipsis('abcdef', 4), 'abc…');
    assert.equal(ellipsis('abc', 4), 'abc');
    assert.equal(ellipsis('日本語です', 3), '日本…');
    assert.equal(ellipsis('abc', 1), 'a');
    assert.equal(ellipsis('abc', 0), '');
  });
});
