import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DotenvError, parseDotenv } from './dotenv.ts';

test('keys, values, comments, export, blank lines', () => {
  const env = parseDotenv('# comment\nA=1\n\nexport B=two\nC = spaced  \nD=x # trailing\nE=a#b\nF:colon\n');
  assert.deepEqual(Object.fromEntries(env), { A: '1', B: 'two', C: 'spaced', D: 'x', E: 'a#b', F: 'colon' });
});

test('quotes: single literal, double with escapes and interpolation, several lines', () => {
  const env = parseDotenv(`S='a $A \\n'\nD="x\\ty\\n\${A}"\nM="line1\nline2"\nAFTER=ok\nA=late\n`, (n) =>
    n === 'A' ? 'outer' : undefined,
  );
  assert.equal(env.get('S'), 'a $A \\n');
  assert.equal(env.get('D'), 'x\ty\nouter');
  assert.equal(env.get('M'), 'line1\nline2');
  assert.equal(env.get('AFTER'), 'ok');
});

test('interpolation sees earlier keys of the file first, then the lookup', () => {
  const env = parseDotenv('HOST=db\nURL=http://${HOST}:${PORT:-5432}\n', () => 'from-env');
  assert.equal(env.get('URL'), 'http://db:from-env');
  const env2 = parseDotenv('URL=${NOPE:-dflt}\n');
  assert.equal(env2.get('URL'), 'dflt');
});

test('a bare key takes the lookup value, or is left out', () => {
  const env = parseDotenv('HOME\nNOPE\n', (n) => (n === 'HOME' ? '/root' : undefined));
  assert.deepEqual(Object.fromEntries(env), { HOME: '/root' });
});

test('errors name the line', () => {
  assert.throws(
    () => parseDotenv('A=1\nB="open\n'),
    (e: unknown) => e instanceof DotenvError && e.line === 2,
  );
  assert.throws(
    () => parseDotenv('A=1\n!x=2\n'),
    (e: unknown) => e instanceof DotenvError && e.line === 2,
  );
  assert.throws(() => parseDotenv('A=${B:?needed}\n'), /required variable B is missing a value: needed/);
});

test('CRLF line ends', () => {
  assert.deepEqual(Object.fromEntries(parseDotenv('A=1\r\nB=2\r\n')), { A: '1', B: '2' });
});
