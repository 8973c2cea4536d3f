import { test } from 'node:test';
import assert from 'node:assert/strict';
import { marshalJSON, quoteJSON, UnsupportedValueError } from './gojson.ts';
import { GO_TYPE, GoFloat, MARSHAL_JSON } from './values.ts';

const plain = { escapeHTML: false };

test('scalars', () => {
  assert.equal(marshalJSON(null, plain), 'null');
  assert.equal(marshalJSON(undefined, plain), 'null');
  assert.equal(marshalJSON(true, plain), 'true');
  assert.equal(marshalJSON(42, plain), '42');
  assert.equal(marshalJSON(2n ** 64n - 1n, plain), '18446744073709551615');
  assert.equal(marshalJSON(1.5, plain), '1.5');
  assert.equal(marshalJSON(new GoFloat(1e21), plain), '1e+21');
  assert.equal(marshalJSON(1e-7, plain), '1e-7');
  assert.equal(marshalJSON(new GoFloat(3), plain), '3');
  assert.throws(() => marshalJSON(NaN, plain), UnsupportedValueError);
  assert.throws(() => marshalJSON(() => 1, plain), UnsupportedValueError);
});

test('strings are escaped as encoding/json escapes them', () => {
  assert.equal(quoteJSON('a"b\\c\n\r\t\b\f\x01\x1f', false), '"a\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f"');
  assert.equal(quoteJSON('<a&b>', false), '"<a&b>"');
  assert.equal(quoteJSON('<a&b>', true), '"\\u003ca\\u0026b\\u003e"');
  assert.equal(quoteJSON('\u2028\u2029é😀', false), '"\\u2028\\u2029é😀"');
  assert.equal(quoteJSON('\ud800x', false), '"\\ufffdx"', 'a lone surrogate is invalid UTF-8 to Go');
});

test('objects: plain objects keep their order, maps and sortMapKeys sort, structs keep field order', () => {
  assert.equal(marshalJSON({ b: 1, a: [1, 'x'], c: undefined }, plain), '{"b":1,"a":[1,"x"]}');
  assert.equal(
    marshalJSON({ b: 1, a: { d: 1, c: 2 } }, { escapeHTML: false, sortMapKeys: true }),
    '{"a":{"c":2,"d":1},"b":1}',
  );
  assert.equal(
    marshalJSON(
      new Map([
        ['b', 1],
        ['a', 2],
      ]),
      plain,
    ),
    '{"a":2,"b":1}',
  );
  class S {
    readonly Z = 1;
    readonly A = 'x';
    get G(): number {
      return 2;
    }
  }
  assert.equal(marshalJSON(new S(), plain), '{"Z":1,"A":"x","G":2}');
  assert.equal(marshalJSON({ [GO_TYPE]: 'T', y: 1, x: 2 }, plain), '{"y":1,"x":2}');
  assert.equal(marshalJSON([], plain), '[]');
  assert.equal(marshalJSON({}, plain), '{}');
});

test('a MARSHAL_JSON method supplies the text, as json.Marshaler', () => {
  const v = { [MARSHAL_JSON]: () => '{"custom":true}' };
  assert.equal(marshalJSON([v], plain), '[{"custom":true}]');
  assert.equal(marshalJSON(new Date(Date.UTC(2024, 0, 2)), plain), '"2024-01-02T00:00:00.000Z"');
});
