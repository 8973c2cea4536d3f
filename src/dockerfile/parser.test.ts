import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dump } from './ast.ts';
import { detectSyntax, parseCheckDirective } from './directives.ts';
import { DockerfileError } from './errors.ts';
import { parseWords, splitCommand } from './line-parsers.ts';
import { chompHeredocContent, heredocsFromLine, parse, parseHeredoc } from './parser.ts';

const heredocFile = `
FROM alpine:3.6

ENV NAME=me

RUN ls

USER <<INVALID
INVALID

RUN <<EMPTY
EMPTY

RUN 3<<EMPTY2
EMPTY2

RUN "<<NOHEREDOC"

RUN <<INDENT
\tfoo
\tbar
INDENT

RUN <<-UNINDENT
\tbaz
\tquux
UNINDENT

RUN <<-UNINDENT2
\tbaz
\tquux
\tUNINDENT2

RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND

RUN <<COMMENT
# internal comment
echo hello world # trailing comment
COMMENT

RUN --mount=type=cache,target=/foo <<MOUNT
echo hello
MOUNT

COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2

COPY <<X <<Y /dest
Y
X
X
Y

RUN <<COMPLEX python3
print('hello world')
COMPLEX

RUN <<eo'f'
echo foo
eof

RUN <<eo\\'f
echo foo
eo'f

RUN <<'e'o\\'f
echo foo
eo'f

RUN <<'one two'
echo bar
one two

RUN <<$EOF
$EOF

RUN <<  EOF  > foo
EOF

ONBUILD RUN <<EOF
echo later
EOF
`;

test('heredocs: names, descriptors, quoting turns expansion off, <<- strips tabs, several per instruction', () => {
  const { nodes } = parse(heredocFile);
  const docs = nodes.map((n) => n.heredocs.map((h) => [h.name, h.content, h.expand, h.chomp, h.fileDescriptor]));
  const want = [
    [], // FROM
    [], // ENV
    [], // RUN ls
    [], // USER <<INVALID: USER takes no heredoc
    [], // INVALID
    [['EMPTY', '', true, false, 0]],
    [['EMPTY2', '', true, false, 3]],
    [], // RUN "<<NOHEREDOC"
    [['INDENT', '\tfoo\n\tbar\n', true, false, 0]],
    [['UNINDENT', '\tbaz\n\tquux\n', true, true, 0]],
    [['UNINDENT2', '\tbaz\n\tquux\n', true, true, 0]],
    [['NOEXPAND', "\tdon't expand $NAME\n", false, true, 0]],
    [['COMMENT', '# internal comment\necho hello world # trailing comment\n', true, false, 0]],
    [['MOUNT', 'echo hello\n', true, false, 0]],
    [
      ['FILE1', 'content 1\n', true, false, 0],
      ['FILE2', 'content 2\n', true, false, 0],
    ],
    [
      ['X', 'Y\n', true, false, 0],
      ['Y', 'X\n', true, false, 0],
    ],
    [['COMPLEX', "print('hello world')\n", true, false, 0]],
    [['eof', 'echo foo\n', false, false, 0]],
    [["eo'f", 'echo foo\n', true, false, 0]],
    [["eo'f", 'echo foo\n', false, false, 0]],
    [['one two', 'echo bar\n', false, false, 0]],
    [['$EOF', '', true, false, 0]],
    [['EOF', '', true, false, 0]],
    [['EOF', 'echo later\n', true, false, 0]],
  ];
  assert.deepEqual(docs, want);
  assert.equal(nodes[13]!.flags[0], '--mount=type=cache,target=/foo');
  assert.deepEqual(nodes[16]!.args, ['<<COMPLEX python3']);
  assert.equal(chompHeredocContent('\thello\n\t\tworld\n'), 'hello\nworld\n');
});

test('heredoc markers: valid, invalid, and words that are not markers', () => {
  for (const w of ['<<EOF', "<<'EOF'", '<<"EOF"', '<<-EOF', "<<-'EOF'", '<<-"EOF"', '<<EO"F"', '<< EOF', '<<- EOF']) {
    assert.equal(parseHeredoc(w)?.name, 'EOF', w);
  }
  for (const w of ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"']) assert.throws(() => parseHeredoc(w), w);
  for (const w of ['', 'EOF', '<<', '<<-', '<EOF', '<<<EOF', '<<EOF sh']) assert.equal(parseHeredoc(w), undefined, w);
  const names = (line: string) => heredocsFromLine(line).map((h) => h.name);
  assert.deepEqual(names('RUN <<- EOF'), [], 'as in Docker: the space after <<- splits the marker');
  assert.deepEqual(names('RUN << -EOF'), ['-EOF']);
  assert.deepEqual(names('RUN 4<<EOF'), ['EOF']);
  assert.deepEqual(names('RUN <<EOF <<EOF2'), ['EOF', 'EOF2']);
  assert.deepEqual(names("RUN '<<EOF'"), []);
  assert.deepEqual(names('RUN "<<EOF"'), []);
});

test('the JSON form takes no heredoc; an unterminated heredoc is an error naming its line', () => {
  const { nodes } = parse('FROM a\nRUN ["<<EOF"]\nRUN ["<<\'EOF\'"]\n');
  assert.deepEqual(
    nodes.map((n) => n.heredocs.length),
    [0, 0, 0],
  );
  assert.throws(() => parse('FROM a\nRUN <<EOF\necho\nEOFX\n'), {
    message: 'dockerfile parse error on line 2 (Dockerfile, RUN): unterminated heredoc',
  });
});

test('line numbers span continuations, comments inside them and heredoc bodies', () => {
  const text = [
    '# comment', // 1
    '', // 2
    'FROM a', // 3
    'RUN one \\', // 4
    '  # inside', // 5
    '', // 6
    '  two', // 7
    'COPY <<EOF /x', // 8
    'body', // 9
    'EOF', // 10
    'CMD x', // 11
  ].join('\n');
  const r = parse(text);
  assert.deepEqual(
    r.nodes.map((n) => [n.startLine, n.endLine]),
    [
      [3, 3],
      [4, 7],
      [8, 10],
      [11, 11],
    ],
  );
  assert.equal(r.nodes[1]!.args[0], 'one   two');
  assert.equal(r.warnings.length, 1, 'the blank line in the continuation is warned about');
  assert.match(r.warnings[0]!.message, /Empty continuation line found in: RUN one {3}two/);
  assert.equal(r.warnings[0]!.rule, 'NoEmptyContinuation', 'named by its kind');
  assert.deepEqual(r.nodes[0]!.comments, ['comment'], 'as in Docker, a blank line keeps the comment');
  assert.deepEqual(parse('# about a\n#\nFROM a').nodes[0]!.comments, [], 'an empty comment line resets them');
});

test('directives: escape, syntax, check; only at the top, once each, any case', () => {
  const r = parse('# syntax = docker/dockerfile:1\n#ESCAPE=`\n# check=skip=all\nFROM a\nRUN x `\n  y\n');
  assert.equal(r.escapeToken, '`');
  assert.deepEqual(Object.fromEntries(r.directives), {
    syntax: 'docker/dockerfile:1',
    escape: '`',
    check: 'skip=all',
  });
  assert.equal(r.nodes[1]!.args[0], 'x   y');
  assert.equal(parse('# comment\n# escape=`\nFROM a').escapeToken, '\\', 'a directive after a comment is a comment');
  assert.equal(parse('\n# escape=`\nFROM a').escapeToken, '\\', 'a directive after a blank line is a comment');
  assert.equal(parse('# unknown=x\n# escape=`\nFROM a').escapeToken, '\\', 'an unknown directive ends them');
  assert.throws(() => parse('# escape=`\n# escape=\\\nFROM a'), /only one escape parser directive can be used/);
  assert.throws(() => parse('# escape=x\nFROM a'), {
    message: "dockerfile parse error on line 1 (Dockerfile): invalid escape token 'x' does not match ` or \\",
  });
  assert.equal(parse('\ufeff# escape=`\r\nFROM a `\r\n b\r\n').nodes[0]!.args.join(','), 'a,b', 'BOM and CRLF');
});

test('detectSyntax: # syntax, // syntax, JSON, after a shebang', () => {
  assert.equal(detectSyntax('# syntax=docker/dockerfile:1.7 --extra\nFROM a'), 'docker/dockerfile:1.7');
  assert.equal(detectSyntax('#!/usr/bin/env buildctl\n# syntax=x/y\nFROM a'), 'x/y');
  assert.equal(detectSyntax('// syntax=x/z\n'), 'x/z');
  assert.equal(detectSyntax('{"syntax": "x/j"}'), 'x/j');
  assert.equal(detectSyntax('FROM a\n# syntax=late'), undefined);
});

test('check directive: skip lists, all, error; bad options refused', () => {
  assert.deepEqual(parseCheckDirective('skip=JSONArgsRecommended, StageNameCasing;error=true'), {
    skip: ['JSONArgsRecommended', 'StageNameCasing'],
    skipAll: false,
    experimental: [],
    experimentalAll: false,
    error: true,
  });
  assert.equal(parseCheckDirective('skip=all').skipAll, true);
  assert.throws(() => parseCheckDirective('skip'), /invalid check option "skip"/);
  assert.throws(() => parseCheckDirective('error=maybe'), /failed to parse check option/);
  assert.throws(() => parseCheckDirective('nope=1'), /invalid check option "nope"/);
});

test('flags: quotes and escapes removed, -- ends them, a single dash is an argument', () => {
  assert.deepEqual(splitCommand('COPY --from="a b" --chown=1\\:2 -- --x y', '\\'), {
    keyword: 'COPY',
    flags: ['--from=a b', '--chown=1:2'],
    rest: '--x y',
  });
  assert.deepEqual(splitCommand('COPY -x a b', '\\').flags, []);
  assert.equal(
    dump(parse('FROM a\nRUN --network=none --mount=type=tmpfs,target=/t true').nodes),
    '(from "a")\n(run ["--network=none" "--mount=type=tmpfs,target=/t"] "true")\n',
  );
});

test('parseWords keeps quotes and escapes; unicode words', () => {
  assert.deepEqual(parseWords('foo\\ bar', '\\'), ['foo\\ bar']);
  assert.deepEqual(parseWords(`foo bar 'abc xyz'`, '\\'), ['foo', 'bar', "'abc xyz'"]);
  assert.deepEqual(parseWords(`föo bàr "âbc xÿz"`, '\\'), ['föo', 'bàr', '"âbc xÿz"']);
  assert.deepEqual(parseWords(`a="" b`, '\\'), ['a=""', 'b']);
});

test('errors name the file, the line and the instruction', () => {
  const err = (text: string) => {
    try {
      parse(text, { file: 'sub/Dockerfile.dev' });
    } catch (e) {
      assert.ok(e instanceof DockerfileError);
      return [e.message, e.line, e.instruction];
    }
    assert.fail('no error');
  };
  assert.deepEqual(err('FROM a\n\nENV PATH\n'), [
    'dockerfile parse error on line 3 (sub/Dockerfile.dev, ENV): ENV must have two arguments',
    3,
    'ENV',
  ]);
  assert.deepEqual(err('FROM a\nLABEL a=1 b'), [
    'dockerfile parse error on line 2 (sub/Dockerfile.dev, LABEL): Syntax error - can\'t find = in "b". Must be of the form: name=value',
    2,
    'LABEL',
  ]);
  assert.deepEqual(err('CMD [ "echo", [ "nested json" ] ]'), [
    'dockerfile parse error on line 1 (sub/Dockerfile.dev, CMD): when using JSON array syntax, arrays must be comprised of strings only',
    1,
    'CMD',
  ]);
  assert.deepEqual(err(''), ['the Dockerfile (sub/Dockerfile.dev) cannot be empty', 0, '']);
  assert.deepEqual(err('\n\n  \n'), ['failed to parse sub/Dockerfile.dev: file with no instructions', 0, '']);
  assert.deepEqual(err('# only\n# comments\n'), [
    'failed to parse sub/Dockerfile.dev: file with no instructions',
    0,
    '',
  ]);
});
