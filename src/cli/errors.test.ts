import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CanceledError, NotFoundError, UnavailableError } from '../util/index.ts';
import { errorForStatus } from '../client/index.ts';
import { ExitStatusError, MultiError, TemplateError, UsageError, exitReport } from './errors.ts';

describe('exitReport', () => {
  it('prefixes engine answers and exits 1, as docker rmi/images/tag do', () => {
    assert.deepEqual(exitReport(errorForStatus(404, 'No such image: nosuch:latest')), {
      status: 1,
      message: 'Error response from daemon: No such image: nosuch:latest',
    });
    assert.deepEqual(exitReport(errorForStatus(409, 'conflict')).status, 1);
  });

  it('does not prefix client-side failures', () => {
    const down = new UnavailableError('Cannot connect to the Berth daemon at unix:///x. Is berthd running?');
    assert.deepEqual(exitReport(down), { status: 1, message: down.message });
    assert.deepEqual(
      exitReport(new NotFoundError('open /x: no such file or directory')).message,
      'open /x: no such file or directory',
    );
  });

  it('uses 125 for flag errors, 1 for argument counts, 64 for templates', () => {
    assert.equal(exitReport(new UsageError('unknown flag: --x', 'flag')).status, 125);
    assert.equal(exitReport(new UsageError("berth: 'berth tag' requires 2 arguments", 'args')).status, 1);
    assert.equal(exitReport(new TemplateError('template parsing error: x')).status, 64);
    assert.equal(exitReport(new ExitStatusError('x', 3)).status, 3);
  });

  it('is silent and successful for a canceled prompt', () => {
    assert.deepEqual(exitReport(new CanceledError('image prune has been cancelled')), {
      status: 0,
      message: undefined,
    });
  });

  it('lists several failures one per line', () => {
    const r = exitReport(new MultiError([errorForStatus(404, 'a'), new Error('b')]));
    assert.deepEqual(r, { status: 1, message: 'Error response from daemon: a\nb' });
  });
});
