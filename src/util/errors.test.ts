import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { goErrnoText } from './errors.ts';

describe('goErrnoText', () => {
  it('words an errno from node:fs as Go prints an *os.PathError, and keeps the message of anything else', async () => {
    const err = await import('node:fs/promises').then((fs) => fs.open('/nonexistent/x').catch((e: unknown) => e));
    assert.equal(goErrnoText(err, '/nonexistent/x'), 'open /nonexistent/x: no such file or directory');
    assert.equal(
      goErrnoText(Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' }), '/x', 'stat'),
      'stat /x: operation not permitted',
    );
    assert.equal(goErrnoText(new Error('disk on fire'), '/x', 'lstat'), 'lstat /x: disk on fire');
    assert.equal(goErrnoText('odd', '/x'), 'open /x: odd');
  });
});
