import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interpolate, InterpolationError, interpolateTree } from './interpolate.ts';

const env: Record<string, string> = { SET: 'value', EMPTY: '', PORT: '8080' };
const lookup = (n: string) => env[n];

test('plain and braced variables', () => {
  assert.equal(interpolate('$SET', lookup), 'value');
  assert.equal(interpolate('${SET}', lookup), 'value');
  assert.equal(interpolate('a-$SET-b', lookup), 'a-value-b');
  assert.equal(interpolate('${SET}x', lookup), 'valuex');
  assert.equal(interpolate('no variables', lookup), 'no variables');
});

test('an unset variable is empty and reported once per use', () => {
  const unset: string[] = [];
  assert.equal(interpolate('[$NOPE][${NOPE}]', lookup, { onUnset: (n) => unset.push(n) }), '[][]');
  assert.deepEqual(unset, ['NOPE', 'NOPE']);
});

test('defaults: :- for unset or empty, - for unset only', () => {
  assert.equal(interpolate('${NOPE:-d}', lookup), 'd');
  assert.equal(interpolate('${EMPTY:-d}', lookup), 'd');
  assert.equal(interpolate('${SET:-d}', lookup), 'value');
  assert.equal(interpolate('${NOPE-d}', lookup), 'd');
  assert.equal(interpolate('${EMPTY-d}', lookup), '');
  assert.equal(interpolate('${NOPE:-}', lookup), '');
});

test('alternatives: :+ when set and non-empty, + when set', () => {
  assert.equal(interpolate('${SET:+alt}', lookup), 'alt');
  assert.equal(interpolate('${EMPTY:+alt}', lookup), '');
  assert.equal(interpolate('${EMPTY+alt}', lookup), 'alt');
  assert.equal(interpolate('${NOPE+alt}', lookup), '');
});

test('required: :? and ? fail with the message', () => {
  assert.throws(() => interpolate('${NOPE:?give it}', lookup), {
    message: 'required variable NOPE is missing a value: give it',
  });
  assert.throws(() => interpolate('${EMPTY:?}', lookup), { message: 'required variable EMPTY is missing a value' });
  assert.equal(interpolate('${EMPTY?err}', lookup), '');
  assert.throws(() => interpolate('${NOPE?err}', lookup), InterpolationError);
});

test('nested substitutions in defaults', () => {
  assert.equal(interpolate('${NOPE:-${SET}}', lookup), 'value');
  assert.equal(interpolate('${NOPE:-${ALSO:-${PORT}}}/x', lookup), '8080/x');
  assert.equal(interpolate('${SET:+port ${PORT}}', lookup), 'port 8080');
});

test('$$ is a literal $, a lone $ stays', () => {
  assert.equal(interpolate('$$SET', lookup), '$SET');
  assert.equal(interpolate('cost: 5$', lookup), 'cost: 5$');
  assert.equal(interpolate('$ 1', lookup), '$ 1');
  assert.equal(interpolate('${NOPE:-$$}', lookup), '$');
});

test('malformed templates are errors', () => {
  assert.throws(() => interpolate('${', lookup), InterpolationError);
  assert.throws(() => interpolate('${}', lookup), InterpolationError);
  assert.throws(() => interpolate('${SET!x}', lookup), InterpolationError);
  assert.throws(() => interpolate('${1A}', lookup), InterpolationError);
});

test('a tree: values interpolated, keys not; the failing path is reported', () => {
  const out = interpolateTree({ $SET: ['$SET', 1, true, null], n: { m: '${PORT}' } }, lookup, {
    onError: (_p, e) => {
      throw e;
    },
  });
  assert.deepEqual(out, { $SET: ['value', 1, true, null], n: { m: '8080' } });
  let where: (string | number)[] = [];
  assert.throws(() =>
    interpolateTree({ a: [{ b: '${X:?missing}' }] }, lookup, {
      onError: (p, e) => {
        where = p;
        throw e;
      },
    }),
  );
  assert.deepEqual(where, ['a', 0, 'b']);
});
