import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tabwrite } from './tabwriter.ts';

describe('tabwrite', () => {
  it('aligns columns like docker tables (minwidth 10, padding 3); the last cell is not padded', () => {
    const text = 'REPOSITORY\tTAG\tSIZE\nbusybox\tlatest\t1.98MB\nlocalhost:5000/team/bb\tv1\t1.98MB\n';
    assert.equal(
      tabwrite(text),
      'REPOSITORY               TAG       SIZE\n' +
        'busybox                  latest    1.98MB\n' +
        'localhost:5000/team/bb   v1        1.98MB\n',
    );
  });

  it('starts a new column block after a line without that column', () => {
    const text = 'Client:\n Version:\t1\n API version:\t2\n\nServer:\n  Version:\t3\n  GitCommit:\t\n';
    assert.equal(
      tabwrite(text, { minwidth: 20, padding: 1 }),
      'Client:\n Version:           1\n API version:       2\n\nServer:\n  Version:          3\n  GitCommit:        \n',
    );
  });

  it('counts characters, not bytes', () => {
    assert.equal(tabwrite('é\tx\nab\ty\n', { minwidth: 0, padding: 1 }), 'é  x\nab y\n');
  });
});
