import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { psCommand } from './containers.ts';

describe('psCommand', () => {
  it('quotes arguments holding a space in single quotes, as dockerd', () => {
    assert.equal(psCommand('sh', ['-c', 'echo hi; sleep 1']), "sh -c 'echo hi; sleep 1'");
    assert.equal(psCommand('echo', ['"x"', "it's"]), `echo "x" it's`);
    assert.equal(psCommand('true', []), 'true');
  });
});
