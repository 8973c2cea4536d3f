import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logDetails, psCommand } from './containers.ts';

describe('psCommand', () => {
  it('quotes arguments holding a space in single quotes, as dockerd', () => {
    assert.equal(psCommand('sh', ['-c', 'echo hi; sleep 1']), "sh -c 'echo hi; sleep 1'");
    assert.equal(psCommand('echo', ['"x"', "it's"]), `echo "x" it's`);
    assert.equal(psCommand('true', []), 'true');
  });
});

describe('logDetails', () => {
  const row = (LogConfig: Record<string, string>, Labels: Record<string, string>, Env: string[]) =>
    ({
      hostConfig: { LogConfig: { Type: 'json-file', Config: LogConfig } },
      config: { Config: { Labels, Env } },
    }) as never;
  it('the labels and env the log options name (or match), key=value by key, comma-joined', () => {
    const r = row({ labels: 'tier,missing', env: 'B', 'env-regex': '^Z' }, { tier: 'web', other: 'x' }, [
      'B=2',
      'Z1=z',
      'A=1',
    ]);
    assert.equal(logDetails(r), 'B=2,Z1=z,tier=web');
  });
  it('nothing named: an empty prefix', () => {
    assert.equal(logDetails(row({}, { a: 'b' }, ['X=1'])), '');
  });
});
