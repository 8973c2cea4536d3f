import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../util/errors.ts';
import {
  createdSeconds,
  matchLabels,
  parseDangling,
  parseLabelFilters,
  parseUntil,
  referenceMatcher,
} from './filters.ts';

test('label filters: set, equal, not equal', () => {
  const f = parseLabelFilters(['team', 'env=prod', 'tier!=db']);
  assert.deepEqual(f, [
    { key: 'team', negate: false },
    { key: 'env', value: 'prod', negate: false },
    { key: 'tier', value: 'db', negate: true },
  ]);
  assert.equal(matchLabels({ team: 'a', env: 'prod', tier: 'web' }, f), true);
  assert.equal(matchLabels({ team: 'a', env: 'prod', tier: 'db' }, f), false);
  assert.equal(matchLabels({ env: 'prod' }, f), false, 'team missing');
  assert.equal(matchLabels({ team: 'a', env: 'dev' }, f), false);
  assert.equal(matchLabels({}, []), true);
});

test('dangling takes true, false, 1, 0 only; until takes timestamps', () => {
  assert.equal(parseDangling(undefined), undefined);
  assert.equal(parseDangling(['true']), true);
  assert.equal(parseDangling(['1']), true);
  assert.equal(parseDangling(['0']), false);
  assert.throws(
    () => parseDangling(['yes']),
    (err: Error) => err instanceof InvalidArgumentError && /dangling=yes/.test(err.message),
  );
  assert.deepEqual(parseUntil(['1700000000']), [1700000000]);
  assert.equal(parseUntil(undefined), undefined);
});

test('reference filters match as Docker: familiar name, name:tag, globs that do not cross "/"', () => {
  const tag = 'docker.io/library/busybox:1.36';
  assert.equal(referenceMatcher('busybox')(tag), true);
  assert.equal(referenceMatcher('busybox:1.36')(tag), true);
  assert.equal(referenceMatcher('busybox:1.*')(tag), true);
  assert.equal(referenceMatcher('busy*')(tag), true);
  assert.equal(referenceMatcher('busybox:2*')(tag), false);
  assert.equal(referenceMatcher('*')('docker.io/team/app:1'), false, '* does not cross /');
  assert.equal(referenceMatcher('*/*')('docker.io/team/app:1'), true);
  assert.equal(referenceMatcher('team/ap?')('docker.io/team/app:1'), true);
  assert.equal(referenceMatcher('[a-c]usybox')(tag), true);
  assert.equal(referenceMatcher('127.0.0.1:5000/x')('127.0.0.1:5000/x:latest'), true);
  assert.throws(() => referenceMatcher('[abc'), InvalidArgumentError);
});

test('created times in seconds, 0 when absent or unparsable', () => {
  assert.equal(createdSeconds('2024-01-01T00:00:01.9Z'), 1704067201);
  assert.equal(createdSeconds(undefined), 0);
  assert.equal(createdSeconds('yesterday'), 0);
});
