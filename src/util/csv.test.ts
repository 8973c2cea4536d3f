import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csvRecord } from './csv.ts';

test('one CSV record as Go reads it: quotes, doubled quotes, commas inside quotes, empty fields', () => {
  assert.deepEqual(csvRecord('a,"b,c",d'), ['a', 'b,c', 'd']);
  assert.deepEqual(csvRecord('"x""y"'), ['x"y']);
  assert.deepEqual(csvRecord('""'), ['']);
  assert.deepEqual(csvRecord(','), ['', '']);
  assert.deepEqual(csvRecord('a,,b,'), ['a', '', 'b', '']);
  assert.deepEqual(csvRecord('type=bind,"target=/a,b","x="""'), ['type=bind', 'target=/a,b', 'x="']);
  assert.deepEqual(csvRecord(' a , b '), [' a ', ' b '], 'spaces are kept');
});

test('lines: the first record only, empty lines before it skipped, CRLF read as LF, quoted fields span lines', () => {
  assert.deepEqual(csvRecord('a,b\nc,d'), ['a', 'b'], 'what follows the first line is not read');
  assert.deepEqual(csvRecord('\n\r\na,b\n'), ['a', 'b']);
  assert.deepEqual(csvRecord('a,b\r\n'), ['a', 'b']);
  assert.deepEqual(csvRecord('a,b\r'), ['a', 'b'], 'a CR at the very end is dropped');
  assert.deepEqual(csvRecord('"x\r\ny",z\nw'), ['x\ny', 'z']);
  assert.deepEqual(csvRecord('"x\n\ny"'), ['x\n\ny'], 'an empty line inside quotes is data');
});

test('no record at all is io.EOF', () => {
  for (const text of ['', '\n', '\r\n\n', '\r']) assert.throws(() => csvRecord(text), { message: 'EOF' }, text);
});

test("malformed records fail with Go's messages, lines and 1-based byte columns", () => {
  const bad = (text: string, message: string) => assert.throws(() => csvRecord(text), { name: 'RangeError', message });
  bad('a="b', 'parse error on line 1, column 3: bare " in non-quoted-field');
  bad('xy,a"b', 'parse error on line 1, column 5: bare " in non-quoted-field');
  bad('é,a"b', 'parse error on line 1, column 5: bare " in non-quoted-field');
  bad(' "a"', 'parse error on line 1, column 2: bare " in non-quoted-field');
  bad('"a"b', 'parse error on line 1, column 3: extraneous or missing " in quoted-field');
  bad('x,"a" ,y', 'parse error on line 1, column 5: extraneous or missing " in quoted-field');
  bad('"ab', 'parse error on line 1, column 4: extraneous or missing " in quoted-field');
  bad('"a\nbc', 'record on line 1; parse error on line 2, column 3: extraneous or missing " in quoted-field');
  bad('\n"a\nb"c', 'record on line 2; parse error on line 3, column 2: extraneous or missing " in quoted-field');
});
