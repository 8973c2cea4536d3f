import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csvRecord } from './csv.ts';

test('one CSV record as Go reads it: quotes, doubled quotes, commas inside quotes, empty fields', () => {
  assert.deepEqual(csvRecord('a,"b,c",d'), ['a', 'b,c', 'd']);
  assert.deepEqual(csvRecord('"x""y"'), ['x"y']);
  assert.deepEqual(csvRecord(''), ['']);
  assert.deepEqual(csvRecord('a,,b,'), ['a', '', 'b', '']);
  assert.deepEqual(csvRecord('type=bind,"target=/a,b","x="""'), ['type=bind', 'target=/a,b', 'x="']);
});

test("malformed records fail with Go's messages and columns", () => {
  assert.throws(() => csvRecord('a="b'), { message: 'parse error on line 1, column 3: bare " in non-quoted-field' });
  assert.throws(
    () => csvRecord('"ab'),
    /^RangeError: parse error on line 1, column \d+: extraneous or missing " in quoted-field$/,
  );
  assert.throws(
    () => csvRecord('"a"b'),
    /^RangeError: parse error on line 1, column \d+: extraneous or missing " in quoted-field$/,
  );
});
