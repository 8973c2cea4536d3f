import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringWidth, TabWriter, type TabWriterOptions } from './tabwriter.ts';

// Cases from Go's text/tabwriter tests: [name, minwidth, tabwidth, padding, padchar, flags, input, output].
type Flags = Pick<TabWriterOptions, 'alignRight' | 'discardEmptyColumns' | 'debug'>;
const GO_CASES: Array<[string, number, number, number, string, Flags, string, string]> = [
  ['1a', 8, 0, 1, '.', {}, '', ''],
  ['1c', 8, 0, 1, '.', {}, '\n', '\n'],
  ['2', 8, 0, 1, '.', {}, '\n\n\n', '\n\n\n'],
  ['3', 8, 0, 1, '.', {}, 'a\nb\nc', 'a\nb\nc'],
  ['4a', 8, 0, 1, '.', {}, '\t', ''],
  ['4b', 8, 0, 1, '.', { alignRight: true }, '\t', ''],
  ['5', 8, 0, 1, '.', {}, '*\t*', '*.......*'],
  ['5b', 8, 0, 1, '.', {}, '*\t*\n', '*.......*\n'],
  ['5c', 8, 0, 1, '.', {}, '*\t*\t', '*.......*'],
  ['5c debug', 8, 0, 1, '.', { debug: true }, '*\t*\t', '*.......|*'],
  ['5d', 8, 0, 1, '.', { alignRight: true }, '*\t*\t', '.......**'],
  ['6', 8, 0, 1, '.', {}, '\t\n', '........\n'],
  ['7a', 8, 0, 1, '.', {}, 'a) foo', 'a) foo'],
  ['7b', 8, 0, 1, ' ', {}, 'b) foo\tbar', 'b) foo  bar'],
  ['7c', 8, 0, 1, '.', {}, 'c) foo\tbar\t', 'c) foo..bar'],
  ['7d', 8, 0, 1, '.', {}, 'd) foo\tbar\n', 'd) foo..bar\n'],
  ['7e', 8, 0, 1, '.', {}, 'e) foo\tbar\t\n', 'e) foo..bar.....\n'],
  ['8', 8, 0, 1, '*', {}, 'Hello, world!\n', 'Hello, world!\n'],
  ['9a', 1, 0, 0, '.', {}, '1\t2\t3\t4\n11\t222\t3333\t44444\n', '1.2..3...4\n11222333344444\n'],
  ['9c', 1, 0, 0, '.', {}, '1\t2\t3\t4\n\f11\t222\t3333\t44444\n', '1234\n\n11222333344444\n'],
  ['10a', 5, 0, 0, '.', {}, '1\t2\t3\t4\n', '1....2....3....4\n'],
  ['10b', 5, 0, 0, '.', {}, '1\t2\t3\t4\t\n', '1....2....3....4....\n'],
  [
    '12a',
    8,
    0,
    1,
    ' ',
    { alignRight: true },
    'a\tè\tc\t\naa\tèèè\tcccc\t\naaa\tèèèè\t\n',
    '       a       è       c\n      aa     èèè    cccc\n     aaa    èèèè\n',
  ],
  ['12b', 2, 0, 0, ' ', {}, 'a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n', 'a  b  c\naa bbbcccc\naaabbbb\n'],
  [
    '12c',
    8,
    0,
    1,
    '_',
    {},
    'a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n',
    'a_______b_______c\naa______bbb_____cccc\naaa_____bbbb\n',
  ],
  [
    '13a',
    4,
    0,
    1,
    '-',
    {},
    '4444\t日本語\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n',
    '4444------日本語-22--1---333\n999999999-22\n7---------22\n------------------88888888\n\n666666-666666-666666----4444\n1------1------999999999-0000000000\n',
  ],
  [
    '13b',
    4,
    0,
    3,
    '.',
    {},
    '4444\t333\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n',
    '4444........333...22...1...333\n999999999...22\n7...........22\n....................88888888\n\n666666...666666...666666......4444\n1........1........999999999...0000000000\n',
  ],
  [
    '14',
    1,
    0,
    2,
    ' ',
    { alignRight: true },
    '.0\t.3\t2.4\t-5.1\t\n23.0\t12345678.9\t2.4\t-989.4\t\n5.1\t12.0\t2.4\t-7.0\t\n.0\t0.0\t332.0\t8908.0\t\n.0\t-.3\t456.4\t22.1\t\n.0\t1.2\t44.4\t-13.3\t\t',
    '    .0          .3    2.4    -5.1\n  23.0  12345678.9    2.4  -989.4\n   5.1        12.0    2.4    -7.0\n    .0         0.0  332.0  8908.0\n    .0         -.3  456.4    22.1\n    .0         1.2   44.4   -13.3',
  ],
  ['15a', 4, 0, 0, '.', {}, 'a\t\tb', 'a.......b'],
  ['15b', 4, 0, 0, '.', { discardEmptyColumns: true }, 'a\t\tb', 'a.......b'],
  ['15c', 4, 0, 0, '.', { discardEmptyColumns: true }, 'a\v\vb', 'a...b'],
  ['15d', 4, 0, 0, '.', { alignRight: true, discardEmptyColumns: true }, 'a\v\vb', '...ab'],
  [
    '16a',
    100,
    100,
    0,
    '\t',
    {},
    'a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
    'a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
  ],
  [
    '16b',
    100,
    100,
    0,
    '\t',
    { discardEmptyColumns: true },
    'a\vb\v\vd\na\vb\v\vd\ve\na\na\vb\vc\vd\na\vb\vc\vd\ve\n',
    'a\tb\td\na\tb\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
  ],
];

test("Go's tabwriter cases", () => {
  for (const [name, minWidth, tabWidth, padding, padChar, flags, input, output] of GO_CASES) {
    const opts = { minWidth, tabWidth, padding, padChar, ...flags };
    assert.equal(TabWriter.format(input, opts), output, name);
    // The same text written a byte at a time formats the same.
    const w = new TabWriter(opts);
    for (const ch of input) w.write(ch);
    w.flush();
    assert.equal(w.output(), output, `${name}, written in pieces`);
  }
});

test("docker's parameters: minwidth 10, padding 3, spaces", () => {
  assert.equal(TabWriter.format('ID\tNAME\nabc\tx\n'), 'ID        NAME\nabc       x\n');
  assert.equal(TabWriter.format('A-LONGER-HEADER\tB\nx\ty\n'), 'A-LONGER-HEADER   B\nx                 y\n');
  // A line without tabs ends the column block: the lines after it align on their own.
  assert.equal(TabWriter.format('a\tb\nsingle\nlonger-cell\tc\n'), 'a         b\nsingle\nlonger-cell   c\n');
});

test('lines are written as soon as a single-cell line ends a block', () => {
  const w = new TabWriter();
  w.write('a\tb\n');
  assert.equal(w.output(), '', 'a line with a column waits for the lines after it');
  w.write('plain\n');
  assert.equal(w.output(), 'a         b\nplain\n');
});

test('string widths count terminal cells', () => {
  assert.equal(stringWidth('abc'), 3);
  assert.equal(stringWidth('日本語'), 6);
  assert.equal(stringWidth('é'), 1);
  assert.equal(stringWidth('e\u0301'), 1, 'a combining mark takes no cell');
  assert.equal(stringWidth('😀'), 2);
  assert.equal(stringWidth('ｱ'), 1, 'halfwidth katakana');
  assert.equal(TabWriter.format('日本\tx\nab\ty\n', { minWidth: 1, padding: 1 }), '日本 x\nab   y\n');
});

test("docker version's layout (minwidth 20, padding 1): a line without the column starts a new block", () => {
  const text = 'Client:\n Version:\t1\n API version:\t2\n\nServer:\n  Version:\t3\n  GitCommit:\t\n';
  assert.equal(
    TabWriter.format(text, { minWidth: 20, padding: 1 }),
    'Client:\n Version:           1\n API version:       2\n\nServer:\n  Version:          3\n  GitCommit:        \n',
  );
});
