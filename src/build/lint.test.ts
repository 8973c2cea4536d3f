import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '../dockerfile/index.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import { lintDockerfile, lintText } from './lint.ts';

const EMPTY = 'FROM busybox\nRUN echo a \\\n\n  b\n';

describe('build checks (# check=)', () => {
  it('reports an empty continuation line as NoEmptyContinuation, as BuildKit names it', () => {
    const w = lintDockerfile(parse(EMPTY, { file: 'Dockerfile' }));
    assert.deepEqual(w.map(lintText), [
      'NoEmptyContinuation: Empty continuation line found in: RUN echo a   b (line 4)',
    ]);
  });

  it('skip= leaves a rule out, skip=all every rule; a clean file has none', () => {
    assert.deepEqual(lintDockerfile(parse(`# check=skip=NoEmptyContinuation\n${EMPTY}`, { file: 'Dockerfile' })), []);
    assert.deepEqual(lintDockerfile(parse(`# check=skip=all\n${EMPTY}`, { file: 'Dockerfile' })), []);
    assert.equal(lintDockerfile(parse(`# check=skip=StageNameCasing\n${EMPTY}`, { file: 'Dockerfile' })).length, 1);
    assert.deepEqual(lintDockerfile(parse('# check=error=true\nFROM busybox\n', { file: 'Dockerfile' })), []);
  });

  it('error=true fails the build on a warning left, with BuildKit message; a bad directive is an error too', () => {
    assert.throws(
      () => lintDockerfile(parse(`# check=error=true\n${EMPTY}`, { file: 'Dockerfile' })),
      (e: unknown) =>
        e instanceof InvalidArgumentError && e.message === 'lint violation found for rules: NoEmptyContinuation',
    );
    assert.deepEqual(
      lintDockerfile(parse(`# check=skip=NoEmptyContinuation;error=true\n${EMPTY}`, { file: 'Dockerfile' })),
      [],
    );
    assert.throws(
      () => lintDockerfile(parse(`# check=error=maybe\n${EMPTY}`, { file: 'Dockerfile' })),
      /failed to parse check directive: failed to parse check option "error=maybe": invalid syntax/,
    );
  });
});
