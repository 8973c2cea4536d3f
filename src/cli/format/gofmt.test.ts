import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFloat, formatValue, quote, sprint, sprintf, sprintln } from './gofmt.ts';
import { GO_TYPE, GoFloat } from './values.ts';

test('Sprintf verbs, flags, width and precision', () => {
  assert.equal(sprintf('%s|%5s|%-5s|%.2s|%q', ['a', 'b', 'c', 'def', 'x"y']), 'a|    b|c    |de|"x\\"y"');
  assert.equal(
    sprintf('%d|%5d|%-5d|%05d|%+d|%x|%X|%o|%b|%c|%U', [1, 2, 3, -4, 5, 255, 255, 8, 5, 65, 0x41]),
    '1|    2|3    |-0004|+5|ff|FF|10|101|A|U+0041',
  );
  assert.equal(
    sprintf('%v|%.2f|%8.3f|%e|%g|%G', [new GoFloat(2), 3.14158, -1.5, 1234.5678, 1e-7, 1e21]),
    '2|3.14|  -1.500|1.234568e+03|1e-07|1E+21',
  );
  assert.equal(sprintf('%t|%v|%5t', [true, false, true]), 'true|false| true');
  assert.equal(sprintf('%%|%d%%', [50]), '%|50%');
});

test('Sprintf error strings', () => {
  assert.equal(sprintf('%d', []), '%!d(MISSING)');
  assert.equal(sprintf('%d', ['x']), '%!d(string=x)');
  assert.equal(sprintf('', [1, 'a', null]), '%!(EXTRA int=1, string=a, <nil>)');
  assert.equal(sprintf('%', []), '%!(NOVERB)');
  assert.equal(sprintf('%[5]d', [1]), '%!d(BADINDEX)');
  assert.equal(sprintf('%d', [null]), '%!d(<nil>)');
  assert.equal(sprintf('%s', [[1, 'a']]), '[%!s(int=1) a]');
});

test('composite values print as Go prints them', () => {
  assert.equal(formatValue([1, [2, 3], 'x']), '[1 [2 3] x]');
  assert.equal(formatValue({ b: 'x', a: 1, c: { d: null } }), 'map[a:1 b:x c:map[d:<nil>]]');
  assert.equal(
    formatValue(
      new Map<unknown, unknown>([
        [10, 'b'],
        [2, 'a'],
      ]),
    ),
    'map[2:a 10:b]',
    'numeric keys sort numerically',
  );
  assert.equal(formatValue({ [GO_TYPE]: 'T', A: 1, B: 'x' }), '{1 x}');
  assert.equal(sprintf('%+v', [{ [GO_TYPE]: 'T', A: 1, B: 'x' }]), '{A:1 B:x}');
  assert.equal(formatValue(null), '<nil>');
  assert.equal(formatValue(2n ** 63n), '9223372036854775808');
  assert.equal(sprintf('%5v|%-4v|', [[1, 22], ['a']]), '[    1    22]|[a   ]|');
  assert.equal(
    formatValue(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 600))),
    '2024-01-02 03:04:05.6 +0000 UTC',
    'as time.Time',
  );
});

test('Sprint puts spaces between operands only when neither is a string; Sprintln always', () => {
  assert.equal(sprint([1, 2, 'a', 'b', 3, true]), '1 2ab3 true');
  assert.equal(sprint(['a', 1, 'b']), 'a1b');
  assert.equal(sprintln(['a', 1, 'b']), 'a 1 b\n');
  assert.equal(sprint([]), '');
});

test('strconv.Quote escapes as Go does', () => {
  assert.equal(quote('a\tb\n\x00\x7f"\\'), '"a\\tb\\n\\x00\\x7f\\"\\\\"');
  assert.equal(quote('é日😀'), '"é日😀"');
  assert.equal(quote('\u00a0\u200b\u2028'), '"\\u00a0\\u200b\\u2028"');
  assert.equal(quote('é😀', true), '"\\u00e9\\U0001f600"');
});

test('FormatFloat rounds exact values half to even', () => {
  assert.equal(formatFloat(0.5, 'f', 0), '0');
  assert.equal(formatFloat(1.5, 'f', 0), '2');
  assert.equal(formatFloat(2.5, 'f', 0), '2');
  assert.equal(formatFloat(1.005, 'f', 2), '1.00', '1.005 is really 1.00499999999999989…');
  assert.equal(formatFloat(0.125, 'f', 2), '0.12');
  assert.equal(formatFloat(0.375, 'f', 2), '0.38');
  assert.equal(formatFloat(9.999, 'e', 2), '1.00e+01');
  assert.equal(formatFloat(123456789, 'g', -1), '1.23456789e+08');
  assert.equal(formatFloat(100000, 'g', -1), '100000');
  assert.equal(formatFloat(1e-5, 'g', -1), '1e-05');
  assert.equal(formatFloat(1e22, 'f', -1), '10000000000000000000000');
  assert.equal(formatFloat(5e-324, 'e', -1), '5e-324');
  assert.equal(formatFloat(-0, 'g', -1), '-0');
  assert.equal(formatFloat(1.5, 'x', -1), '0x1.8p+00');
  assert.equal(formatFloat(1, 'b', -1), '4503599627370496p-52');
});
