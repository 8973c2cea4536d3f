import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goInt64, goParseBool, parseGoFloat } from './strconv.ts';

test('numbers as strconv.ParseFloat reads them', () => {
  assert.equal(parseGoFloat('1e3'), 1000);
  assert.equal(parseGoFloat('.5'), 0.5);
  assert.equal(parseGoFloat('5.'), 5);
  assert.equal(parseGoFloat('1_000'), 1000);
  assert.equal(parseGoFloat('-Inf'), Number.NEGATIVE_INFINITY);
  assert.ok(Number.isNaN(parseGoFloat('nan')));
  for (const bad of ['1x', '', '.', ' 1', '1e', '0x']) {
    assert.throws(() => parseGoFloat(bad), {
      message: `strconv.ParseFloat: parsing ${JSON.stringify(bad)}: invalid syntax`,
    });
  }
});

test('strconv.ParseInt(s, 10, 64): signs, the int64 range, nothing else', () => {
  assert.equal(goInt64('-1'), -1);
  assert.equal(goInt64('+42'), 42);
  assert.equal(goInt64('9223372036854775807'), 2 ** 63 - 1);
  assert.throws(() => goInt64('9223372036854775808'), {
    message: 'strconv.ParseInt: parsing "9223372036854775808": value out of range',
  });
  for (const bad of ['', '1.0', '1_000', ' 1', '0x10']) {
    assert.throws(() => goInt64(bad), { message: `strconv.ParseInt: parsing ${JSON.stringify(bad)}: invalid syntax` });
  }
});

test('strconv.ParseBool: the twelve spellings', () => {
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(goParseBool(t), true);
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(goParseBool(f), false);
  for (const bad of ['yes', 'tRUE', '', ' true']) {
    assert.throws(() => goParseBool(bad), {
      message: `strconv.ParseBool: parsing ${JSON.stringify(bad)}: invalid syntax`,
    });
  }
});
