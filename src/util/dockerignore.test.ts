/** The cases of moby's patternmatcher and ignorefile tests, and the examples of Docker's .dockerignore docs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from './errors.ts';
import {
  dockerignoreCandidates,
  keepBuildFiles,
  type MatchInfo,
  PatternMatcher,
  readDockerignore,
} from './dockerignore.ts';

const cases: [string, string, boolean][] = [
  ['**', 'file', true],
  ['**', 'file/', true],
  ['**/', 'file', true],
  ['**/', 'file/', true],
  ['**', '/', true],
  ['**/', '/', true],
  ['**', 'dir/file', true],
  ['**/', 'dir/file', true],
  ['**', 'dir/file/', true],
  ['**/', 'dir/file/', true],
  ['**/**', 'dir/file', true],
  ['**/**', 'dir/file/', true],
  ['dir/**', 'dir/file', true],
  ['dir/**', 'dir/file/', true],
  ['dir/**', 'dir/dir2/file', true],
  ['dir/**', 'dir/dir2/file/', true],
  ['**/dir', 'dir', true],
  ['**/dir', 'dir/file', true],
  ['**/dir2/*', 'dir/dir2/file', true],
  ['**/dir2/*', 'dir/dir2/file/', true],
  ['**/dir2/**', 'dir/dir2/dir3/file', true],
  ['**/dir2/**', 'dir/dir2/dir3/file/', true],
  ['**file', 'file', true],
  ['**file', 'dir/file', true],
  ['**/file', 'dir/file', true],
  ['**file', 'dir/dir/file', true],
  ['**/file', 'dir/dir/file', true],
  ['**/file*', 'dir/dir/file', true],
  ['**/file*', 'dir/dir/file.txt', true],
  ['**/file*txt', 'dir/dir/file.txt', true],
  ['**/file*.txt', 'dir/dir/file.txt', true],
  ['**/file*.txt*', 'dir/dir/file.txt', true],
  ['**/**/*.txt', 'dir/dir/file.txt', true],
  ['**/**/*.txt2', 'dir/dir/file.txt', false],
  ['**/*.txt', 'file.txt', true],
  ['**/**/*.txt', 'file.txt', true],
  ['a**/*.txt', 'a/file.txt', true],
  ['a**/*.txt', 'a/dir/file.txt', true],
  ['a**/*.txt', 'a/dir/dir/file.txt', true],
  ['a/*.txt', 'a/dir/file.txt', false],
  ['a/*.txt', 'a/file.txt', true],
  ['a/*.txt**', 'a/file.txt', true],
  ['a[b-d]e', 'ae', false],
  ['a[b-d]e', 'ace', true],
  ['a[b-d]e', 'aae', false],
  ['a[^b-d]e', 'aze', true],
  ['.*', '.foo', true],
  ['.*', 'foo', false],
  ['abc.def', 'abcdef', false],
  ['abc.def', 'abc.def', true],
  ['abc.def', 'abcZdef', false],
  ['abc?def', 'abcZdef', true],
  ['abc?def', 'abcdef', false],
  ['a\\\\', 'a\\', true],
  ['**/foo/bar', 'foo/bar', true],
  ['**/foo/bar', 'dir/foo/bar', true],
  ['**/foo/bar', 'dir/dir2/foo/bar', true],
  ['abc/**', 'abc', false],
  ['abc/**', 'abc/def', true],
  ['abc/**', 'abc/def/ghi', true],
  ['**/.foo', '.foo', true],
  ['**/.foo', 'bar.foo', false],
  ['a(b)c/def', 'a(b)c/def', true],
  ['a(b)c/def', 'a(b)c/xyz', false],
  ['a.|)$(}+{bc', 'a.|)$(}+{bc', true],
  [
    'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
    'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
    true,
  ],
  ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
  ['a\\*b', 'a*b', true],
];

const multi: [string[], string, boolean][] = [
  [['**', '!util/docker/web'], 'util/docker/web/foo', false],
  [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
  [
    ['**', '!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl'],
    'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
    false,
  ],
  [['**', '!dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
];

/** Walks the parents of `file` top-down, as a context walk does, and asks with their results. */
function viaWalk(pm: PatternMatcher, file: string): boolean {
  const parts = file.split('/');
  let info: MatchInfo | undefined;
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    if (dir === '') continue;
    info = pm.matchesUsingParentResults(dir, info).info;
  }
  return pm.matchesUsingParentResults(file, info).matched;
}

test('patternmatcher cases: a path or one of its parents matches', () => {
  const failures: string[] = [];
  for (const [pattern, path, want] of cases) {
    const pm = new PatternMatcher([pattern]);
    if (pm.matches(path) !== want) failures.push(`matches ${pattern} ${path}`);
    if (viaWalk(pm, path) !== want) failures.push(`walk ${pattern} ${path}`);
    if (pm.matchesUsingParentResults(path, undefined).matched !== want) failures.push(`no context ${pattern} ${path}`);
  }
  for (const [patterns, path, want] of multi) {
    const pm = new PatternMatcher(patterns);
    if (pm.matches(path) !== want) failures.push(`matches ${patterns} ${path}`);
    if (viaWalk(pm, path) !== want) failures.push(`walk ${patterns} ${path}`);
  }
  assert.deepEqual(failures, []);
});

test('exceptions: the last matching pattern wins', () => {
  const m = (path: string, patterns: string[]) => new PatternMatcher(patterns).matches(path);
  assert.equal(m('fileutils.go', ['*']), true);
  assert.equal(m('fileutils.go', ['*.go']), true);
  assert.equal(m('fileutils.go', ['!fileutils.go', '*.go']), true);
  assert.equal(m('docs/README.md', ['docs', '!docs/README.md']), false);
  assert.equal(m('docs/README.md', ['docs/', '!docs/README.md']), false);
  assert.equal(m('docs/README.md', ['docs/*', '!docs/README.md']), false);
  assert.equal(m('fileutils.go', ['*.go', '!fileutils.go']), false);
  assert.equal(m('any/path/there', []), false);
  assert.throws(() => new PatternMatcher(['!']), /illegal exclusion pattern: "!"/);
  assert.throws(() => new PatternMatcher(['[']), InvalidArgumentError);
  assert.equal(new PatternMatcher(['docs', '  !docs/README.md  ']).hasExclusions, true);
  assert.deepEqual(new PatternMatcher(['docs', 'config', '']).list(), ['docs', 'config']);
});

test('filepath.Match cases through the older one-parent matcher, syntax errors included', () => {
  const matchTests: [string, string, boolean | 'bad'][] = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', true],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['a[^a][^a][^a]b', 'a☺b', false],
    ['[a-ζ]*', 'α', true],
    ['*[a-ζ]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'x', true],
    ['[x\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[\\-x]', 'x', true],
    ['[\\-x]', '-', true],
    ['[\\-x]', 'a', false],
    ['[]a]', ']', 'bad'],
    ['[-]', '-', 'bad'],
    ['[x-]', 'x', 'bad'],
    ['[-x]', 'x', 'bad'],
    ['\\', 'a', 'bad'],
    ['[a-b-c]', 'a', 'bad'],
    ['[', 'a', 'bad'],
    ['[^', 'a', 'bad'],
    ['[^bc', 'a', 'bad'],
    ['a[', 'a', 'bad'],
    ['a[', 'ab', 'bad'],
    ['*x', 'xxx', true],
  ];
  const failures: string[] = [];
  for (const [pattern, s, want] of matchTests) {
    let got: boolean | 'bad';
    try {
      got = new PatternMatcher([pattern]).matchesOneParent(s);
    } catch {
      got = 'bad';
    }
    if (got !== want) failures.push(`${pattern} ${s}: got ${got}, want ${want}`);
  }
  assert.deepEqual(failures, []);
  assert.equal(new PatternMatcher(['*.go']).matchesOneParent('.'), false, '"." is never excluded');
});

test('reading an ignore file: comments, blanks, spaces, leading slash, cleaning, BOM', () => {
  const content = 'test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ';
  assert.deepEqual(readDockerignore(content), [
    'test1',
    'test2',
    'a/file/here',
    'lastfile',
    '!inverted/abs/path',
    '!',
    '!',
  ]);
  assert.deepEqual(readDockerignore('\ufeffa//b/../c/\r\n  # not a comment\r\n'), ['a/c', '# not a comment']);
});

test("the documentation's examples", () => {
  const pm = new PatternMatcher(readDockerignore('# comment\n*/temp*\n*/*/temp*\ntemp?\n'));
  assert.equal(pm.matches('somedir/temporary.txt'), true);
  assert.equal(pm.matches('somedir/temp'), true);
  assert.equal(pm.matches('somedir/subdir/temporary.txt'), true);
  assert.equal(pm.matches('tempa'), true);
  assert.equal(pm.matches('tempab'), false);
  assert.equal(pm.matches('temporary.txt'), false);
  assert.equal(new PatternMatcher(['**/*.go']).matches('a/b/c.go'), true);
  const md = new PatternMatcher(['*.md', '!README*.md', 'README-secret.md']);
  assert.deepEqual(
    ['README.md', 'README-secret.md', 'CHANGES.md'].map((f) => md.matches(f)),
    [false, true, true],
  );
  const md2 = new PatternMatcher(['*.md', 'README-secret.md', '!README*.md']);
  assert.deepEqual(
    ['README.md', 'README-secret.md', 'CHANGES.md'].map((f) => md2.matches(f)),
    [false, false, true],
  );
});

test('walks enter an excluded directory only when an exception may bring something back', () => {
  assert.equal(new PatternMatcher(['vendor']).mustEnterExcluded('vendor'), false);
  const pm = new PatternMatcher(['vendor', '!vendor/keep/me.txt']);
  assert.equal(pm.mustEnterExcluded('vendor'), true);
  assert.equal(pm.mustEnterExcluded('vendor/keep'), true);
  assert.equal(pm.mustEnterExcluded('vendor/other'), false);
  assert.equal(pm.matches('vendor/keep/me.txt'), false);
  assert.equal(pm.matches('vendor/other/x'), true);
});

test('the Dockerfile and .dockerignore stay in the context; NAME.dockerignore comes first', () => {
  assert.deepEqual(keepBuildFiles(['*', '!src'], 'Dockerfile'), ['*', '!src', '!.dockerignore', '!Dockerfile']);
  assert.deepEqual(keepBuildFiles(['build'], 'sub/Dockerfile'), ['build']);
  assert.deepEqual(keepBuildFiles(['sub'], 'sub/app.Dockerfile'), ['sub', '!sub/app.Dockerfile']);
  assert.deepEqual(dockerignoreCandidates('sub/app.Dockerfile'), ['sub/app.Dockerfile.dockerignore', '.dockerignore']);
  assert.deepEqual(dockerignoreCandidates('./Dockerfile'), ['Dockerfile.dockerignore', '.dockerignore']);
});
