import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameMatches, psCommand } from './containers.ts';

describe('psCommand', () => {
  it('quotes arguments holding a space in single quotes, as dockerd', () => {
    assert.equal(psCommand('sh', ['-c', 'echo hi; sleep 1']), "sh -c 'echo hi; sleep 1'");
    assert.equal(psCommand('echo', ['"x"', "it's"]), `echo "x" it's`);
    assert.equal(psCommand('true', []), 'true');
  });
});

describe('nameMatches', () => {
  it('matches the name with and without its leading slash', () => {
    assert.equal(nameMatches('^w1$', 'w1'), true);
    assert.equal(nameMatches('^/w1$', 'w1'), true);
    assert.equal(nameMatches('w', 'web'), true);
    assert.equal(nameMatches('^w1$', 'w12'), false);
  });

  it('treats an invalid expression as matching nothing', () => {
    assert.equal(nameMatches('(', 'x('), false);
  });
});
