import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeLibarchiveName,
  encodePaxRecords,
  formatPaxTime,
  headerChecksums,
  parseNumeric,
  parsePaxNumber,
  parsePaxRecords,
  writeBase256,
  writeNumeric,
} from './format.ts';

const field = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));

test('numeric fields: octal with spaces and NULs around it, empty as zero', () => {
  assert.equal(parseNumeric(field('0000644\0'), 0, 8), 0o644);
  assert.equal(parseNumeric(field(' 644 \0\0\0'), 0, 8), 0o644);
  assert.equal(parseNumeric(field('\0\0\0 644 '), 0, 8), 0o644);
  assert.equal(parseNumeric(field('00000000644 '), 0, 12), 0o644);
  assert.equal(parseNumeric(field('777777777777'), 0, 12), 8 ** 12 - 1); // all 12 digits, no terminator
  assert.equal(parseNumeric(field('\0\0\0\0\0\0\0\0'), 0, 8), 0);
  assert.equal(parseNumeric(field('        '), 0, 8), 0);
  assert.ok(Number.isNaN(parseNumeric(field('0000648\0'), 0, 8)));
  assert.ok(Number.isNaN(parseNumeric(field('12 34\0\0\0'), 0, 8)));
  assert.ok(Number.isNaN(parseNumeric(field('abc\0\0\0\0\0'), 0, 8)));
});

test('numeric fields: GNU base-256, positive and negative, and overflow', () => {
  assert.equal(parseNumeric(field([0x80, 0, 0, 0, 0, 0x2d, 0xc6, 0xc0]), 0, 8), 3000000);
  assert.equal(
    parseNumeric(field([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0, 12),
    -1,
  );
  assert.equal(
    parseNumeric(field([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xae, 0x80]), 0, 12),
    -86400,
  );
  assert.ok(
    Number.isNaN(parseNumeric(field([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0, 12)),
  );
  for (const v of [0, 1, 2097151, 2097152, 3000000, 2 ** 33 + 5, Number.MAX_SAFE_INTEGER, -1, -86400, -(2 ** 40)]) {
    const b = Buffer.alloc(12);
    writeBase256(b, 0, 12, v);
    assert.equal(parseNumeric(b, 0, 12), v, String(v));
    writeNumeric(b, 0, 12, v);
    assert.equal(parseNumeric(b, 0, 12), v, String(v));
  }
});

test('checksums are summed both as unsigned and as signed bytes', () => {
  const b = Buffer.alloc(512);
  b.write('caf\xe9', 0, 'latin1');
  const { unsigned, signed } = headerChecksums(b, 0);
  assert.equal(unsigned, 0x63 + 0x61 + 0x66 + 0xe9 + 8 * 0x20);
  assert.equal(signed, unsigned - 256);
});

test('PAX records: lengths count themselves, values are bytes, trailing NULs are ignored', () => {
  const value = Buffer.from([0, 1, 0x0a, 0x3d, 0xff]);
  const data = encodePaxRecords([
    ['path', 'a'.repeat(91)], // 98 bytes + 2 digits = 100: the length grows a digit, to 101
    ['SCHILY.xattr.user.x', value],
    ['comment', 'ünï'],
  ]);
  assert.equal(data.toString('latin1', 0, 4), '101 ');
  assert.equal(data.indexOf('\n'), 100);
  const records = parsePaxRecords(Buffer.concat([data, Buffer.alloc(300)]));
  assert.ok(records instanceof Map);
  assert.deepEqual([...records.keys()], ['path', 'SCHILY.xattr.user.x', 'comment']);
  assert.equal(records.get('path')!.toString(), 'a'.repeat(91));
  assert.deepEqual(records.get('SCHILY.xattr.user.x'), value);
  assert.equal(records.get('comment')!.toString(), 'ünï');
  assert.equal(typeof parsePaxRecords(Buffer.from('11 path=x\n')), 'string'); // length says 11, record is 10
  assert.ok(parsePaxRecords(Buffer.from('10 path=x\n')) instanceof Map);
  assert.equal(typeof parsePaxRecords(Buffer.from('9 path x\n')), 'string');
  assert.equal(typeof parsePaxRecords(Buffer.from('x path=x\n')), 'string');
  assert.equal(typeof parsePaxRecords(Buffer.from('99 path=x\n')), 'string');
  assert.equal(typeof parsePaxRecords(Buffer.from('9 path=x\n\0\0x')), 'string');
});

test('PAX numbers and times', () => {
  assert.equal(parsePaxNumber('1700000000.123456789', true), Number('1700000000.123456789'));
  assert.equal(parsePaxNumber('-1.5', true), -1.5);
  assert.ok(Number.isNaN(parsePaxNumber('1e9', true)));
  assert.ok(Number.isNaN(parsePaxNumber('-1', false)));
  assert.ok(Number.isNaN(parsePaxNumber('99999999999999999999', false)));
  assert.equal(formatPaxTime(1700000000.5), '1700000000.5');
  assert.equal(formatPaxTime(5e-7), '0.0000005');
  assert.equal(formatPaxTime(-86400.25), '-86400.25');
  for (const t of [1700000000.1, 1614834367.123456, 0.3]) assert.equal(parsePaxNumber(formatPaxTime(t), true), t);
});

test('LIBARCHIVE.xattr names are percent-decoded', () => {
  assert.equal(decodeLibarchiveName('user.plain'), 'user.plain');
  assert.equal(decodeLibarchiveName('user.a%3Db%25c'), 'user.a=b%c');
  assert.equal(decodeLibarchiveName('user.%E5%90%8D'), 'user.名');
  assert.equal(decodeLibarchiveName('user.100%'), 'user.100%');
});
