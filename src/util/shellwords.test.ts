import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from './errors.ts';
import {
  goQuote,
  processShellWord,
  processWord,
  processWords,
  reversePattern,
  shellPatternToRegExp,
} from './shellwords.ts';

const env = (o: Record<string, string>) => new Map(Object.entries(o));

test('set, empty and unset variables with -, :-, +, :+, ? and :?', () => {
  const e = env({ FOO: 'xxx', BAR: '' });
  assert.equal(processWord('${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}', e), 'xxx  ccc');
  assert.equal(processWord('${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}', e), 'xxx bbb ccc');
  assert.equal(processWord('${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}', e), 'aaa bbb ');
  assert.equal(processWord('${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}', e), 'aaa  ');
  assert.equal(processWord('${FOO?aaa}', e), 'xxx');
  assert.equal(processWord('${BAR?bbb}', e), '');
  assert.throws(() => processWord('${BAZ?ccc}', e), /BAZ: ccc/);
  assert.throws(() => processWord('${BAR:?bbb}', e), /BAR: bbb/);
  assert.throws(() => processWord('${BAZ:?}', e), /BAZ: is not allowed to be unset/);
  assert.throws(() => processWord('${BAR:?}', e), /BAR: is not allowed to be empty/);
  assert.throws(() => processWord('${VAR:?message here$ARG}', env({ ARG: 'x' })), /message herex/);
  for (const bad of ['${FOO=aaa}', '${FOO=:aaa}', '${FOO=}', '${FOO:#}', '${FOO:##}', '${FOO:%}', '${FOO:%%}']) {
    assert.throws(() => processWord(bad, e), InvalidArgumentError, bad);
  }
});

test('the error names the word, quoted as Go quotes it', () => {
  assert.throws(() => processWord('he${PWD', env({})), {
    message: `failed to process "he\${PWD": syntax error: missing '}'`,
  });
  assert.throws(() => processWord("it's", env({})), {
    message: `failed to process "it's": unexpected end of statement while looking for matching single-quote`,
  });
});

test('prefix and suffix removal: shortest and longest, wildcards and escapes', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['${FOO#()[]{\\}^$.\\*\\?|\\\\}', { FOO: '()[]{}^$.*?|\\x' }, 'x'],
    ['${FOO%%\\**}', { FOO: 'xx**' }, 'xx'],
    ['${FOO#*x*y}', { FOO: 'xxyy' }, 'y'],
    ['${FOO#*}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: 'x' }, 'xyy'],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy'],
    ['${FOO#}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO##*x}', { FOO: 'xxyy' }, 'yy'],
    ['${FOO##}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO#?\\?}', { FOO: '???y' }, '?y'],
    ['${ABC:-.}${FOO%x}${ABC:-.}', { FOO: 'xxyy' }, '.xxyy.'],
    ['${FOO%%\\**\\*}', { FOO: 'a***yy*' }, 'a'],
    ['${FOO%}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO%%$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy'],
    ['${FOO%/*}', { FOO: 'linux/arm/v7' }, 'linux/arm'],
    ['${FOO%%/*}', { FOO: 'linux/arm/v7' }, 'linux'],
    ['${FOO##*/}', { FOO: 'linux/arm/v7' }, 'v7'],
    ['${FOO#*/}', { FOO: 'linux/arm/v7' }, 'arm/v7'],
    ['${FOO%.*}', { FOO: '한국어.tar.gz' }, '한국어.tar'],
  ];
  for (const [word, e, want] of cases) assert.equal(processWord(word, env(e)), want, word);
});

test('replacement: first and all, wildcards, / and } escaped in patterns', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}', { FOO: '/foo*/*/*.txt', NEEDLE: '\\*/' }, '/foo.*/*.txt - /foo..*.txt'],
    ['${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}', { FOO: '/tmp/tmp/bar.txt', NEEDLE: '/tmp' }, '/tmp/bar.txt - /bar.txt'],
    [
      '${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}',
      { FOO: '/a/foo/b/c.txt', NEEDLE: '/?/', REPLACEMENT: '/' },
      '/foo/b/c.txt - /foo/c.txt',
    ],
    ['${FOO/$NEEDLE/$R}', { FOO: 'http://google.de', NEEDLE: 'http://', R: 'https://' }, 'https://google.de'],
    ['${FOO//\\//\\/}', { FOO: '/tmp/foo.txt' }, '\\/tmp\\/foo.txt'],
    ['${FOO/$BAR/ww}', { FOO: 'xxyy', BAR: '' }, 'wwxxyy'],
    ['${FOO///}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO///}', {}, ''],
  ];
  for (const [word, e, want] of cases) assert.equal(processWord(word, env(e)), want, word);
  assert.throws(() => processWord('${FOO//ww}', env({ FOO: 'xxyy' })), /missing '\/' in \$\{\}/);
  assert.throws(() => processWord('${FOO//}', env({ FOO: 'xxyy' })), InvalidArgumentError);
});

test('matched and unmatched variables are reported', () => {
  const r = processShellWord('${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}', env({ FOO: 'xxx', BAR: '' }));
  assert.deepEqual([...r.matched].sort(), ['BAR', 'FOO']);
  assert.deepEqual([...r.unmatched], ['BAZ']);
  const p = '${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}';
  assert.equal(
    processWord(p, env({ VERSION: 'v1', TARGETOS: 'linux', TARGETARCH: 'arm', TARGETVARIANT: 'v7' })),
    'v1.linux-arm-v7',
  );
  assert.equal(processWord(p, env({ VERSION: 'v1', TARGETOS: 'linux', TARGETARCH: 'arm64' })), 'v1.linux-arm64');
});

test('the backtick escape token, raw quotes and escapes, unset variables kept', () => {
  assert.equal(processWord('a`$b` c', env({ b: 'x' }), { escapeToken: '`' }), 'a$b c');
  assert.equal(processWord('a\\b', env({}), { escapeToken: '`' }), 'a\\b');
  assert.equal(processWord(`'a b' "c"`, env({}), { rawQuotes: true }), `'a b' "c"`);
  assert.equal(processWord('a\\ b', env({}), { rawEscapes: true }), 'a\\ b');
  assert.equal(processWord('$A ${B} ${C:-x} $D', env({ D: 'd' }), { skipUnsetEnv: true }), '$A ${B} ${C:-x} d');
  assert.equal(processWord(`'$A'`, env({ A: 'a' }), { skipProcessQuotes: true }), "'a'");
});

test('word splitting: variables split, quotes and escapes do not, heredoc markers stay whole', () => {
  const e = env({ space: 'abc  def', empty: '' });
  assert.deepEqual(processWords('hello${space}bye', e), ['helloabc', 'defbye']);
  assert.deepEqual(processWords('a "${space}" b', e), ['a', 'abc  def', 'b']);
  assert.deepEqual(processWords('${empty} x', e), ['x']);
  assert.deepEqual(processWords('RUN <<  EOF  > foo', e), ['RUN', '<<  EOF', '>', 'foo']);
  assert.deepEqual(processWords('pre${XXX:-x y}post', e), ['prex', 'ypost']);
});

test('shell patterns become regular expressions; invalid escapes are refused', () => {
  assert.equal(shellPatternToRegExp('*', true, true).source, '^[^\\n]*');
  assert.equal(shellPatternToRegExp('?', true, true).source, '^[^\\n]');
  assert.equal(shellPatternToRegExp('\\*', true, true).source, '^\\*');
  assert.equal(
    shellPatternToRegExp('(()[]{\\}^$.\\*\\?|\\\\', true, true).source,
    '^\\(\\(\\)\\[\\]\\{\\}\\^\\$\\.\\*\\?\\|\\\\',
  );
  for (const bad of ['\\', '\\x', '\\\\\\']) assert.throws(() => shellPatternToRegExp(bad, true, true), bad);
  assert.equal(reversePattern('a\\*c'), 'c\\*a');
  assert.equal(reversePattern('\\\\\\ab'), 'b\\a\\\\');
  assert.equal(reversePattern('ab\\'), '\\ba');
  assert.equal(reversePattern('👽\\🚀🖖'), '🖖\\🚀👽');
});

test('goQuote quotes as Go strconv.Quote does', () => {
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote('\u0000\t\n\x7f'), '"\\x00\\t\\n\\x7f"');
  assert.equal(goQuote('☃ 한국어'), '"☃ 한국어"');
  assert.equal(goQuote('\u00a0\u200b'), '"\\u00a0\\u200b"');
});
