import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compactJSON, indentJSON } from './jsonindent.ts';

describe('indentJSON (Go json.Indent)', () => {
  it('indents with four spaces and keeps tokens byte for byte', () => {
    const src = '[{"Id":"a","Env":["X=\\u003ca\\u0026b\\u003e"],"Size":1982269,"Labels":{},"L":[]}\n]';
    assert.equal(
      indentJSON(src),
      '[\n    {\n        "Id": "a",\n        "Env": [\n            "X=\\u003ca\\u0026b\\u003e"\n        ],\n' +
        '        "Size": 1982269,\n        "Labels": {},\n        "L": []\n    }\n]',
    );
  });

  it('leaves whitespace inside strings alone and drops it elsewhere', () => {
    assert.equal(indentJSON('  { "a" : "x y ,:{" }'), '{\n    "a": "x y ,:{"\n}');
    assert.equal(compactJSON('[ {"a": "b c"} ,\n 1 ]'), '[{"a":"b c"},1]');
  });
});
