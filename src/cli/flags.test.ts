import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, flagUsages, parseFlags, type FlagSpec } from './flags.ts';

const SPECS: FlagSpec[] = [
  { name: 'all', short: 'a', kind: 'bool', usage: 'Show all' },
  { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only IDs' },
  { name: 'filter', short: 'f', kind: 'filter', usage: 'Filter output' },
  { name: 'format', kind: 'string', usage: 'Format' },
  { name: 'change', short: 'c', kind: 'list', usage: 'Change' },
  { name: 'human', short: 'H', kind: 'bool', usage: 'Human', defaultValue: true },
];

describe('parseFlags', () => {
  it('combines short bools and takes a value glued to a short flag', () => {
    const { flags, args } = parseFlags(SPECS, ['-aqfdangling=true', 'img']);
    assert.equal(flags.bool('all'), true);
    assert.equal(flags.bool('quiet'), true);
    assert.deepEqual(flags.filters('filter'), { dangling: ['true'] });
    assert.deepEqual(args, ['img']);
  });

  it('accepts --flag=value, --flag value, -f value, -f=value and repeats lists', () => {
    const { flags } = parseFlags(SPECS, [
      '--format={{.ID}}',
      '-c',
      'CMD x',
      '--change',
      'ENV a=b',
      '-f=label=x',
      '--filter',
      ' Label = y ',
    ]);
    assert.equal(flags.string('format'), '{{.ID}}');
    assert.deepEqual(flags.list('change'), ['CMD x', 'ENV a=b']);
    assert.deepEqual(flags.filters('filter'), { label: ['x', 'y'] });
  });

  it('takes the next argument as a value even when it starts with a dash', () => {
    assert.equal(parseFlags(SPECS, ['--format', '-x']).flags.string('format'), '-x');
  });

  it('lets flags follow arguments unless interspersing is off, and stops at --', () => {
    assert.deepEqual(parseFlags(SPECS, ['a', '-q', 'b']).args, ['a', 'b']);
    const strict = parseFlags(SPECS, ['-q', 'a', '-a'], { interspersed: false });
    assert.deepEqual(strict.args, ['a', '-a']);
    assert.equal(strict.flags.bool('all'), false);
    assert.deepEqual(parseFlags(SPECS, ['--', '-q', '-']).args, ['-q', '-']);
  });

  it('parses explicit bool values and keeps defaults', () => {
    const { flags } = parseFlags(SPECS, ['--all=false', '-H=false']);
    assert.equal(flags.bool('all'), false);
    assert.equal(flags.bool('human'), false);
    assert.equal(parseFlags(SPECS, []).flags.bool('human'), true);
    assert.equal(parseFlags(SPECS, []).flags.has('human'), false);
  });

  it('reports mistakes with pflag/docker wording', () => {
    const cases: [string[], string][] = [
      [['--xyz'], 'unknown flag: --xyz'],
      [['-qz'], "unknown shorthand flag: 'z' in -qz"],
      [['--format'], 'flag needs an argument: --format'],
      [['-f'], "flag needs an argument: 'f' in -f"],
      [['-f', 'foo'], 'invalid argument "foo" for "-f, --filter" flag: bad format of filter (expected name=value)'],
      [
        ['--all=maybe'],
        'invalid argument "maybe" for "-a, --all" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
      ],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseFlags(SPECS, argv),
        (err: unknown) => err instanceof FlagError && err.message === message,
      );
    }
  });

  it('recognises -h and --help', () => {
    assert.equal(parseFlags(SPECS, ['-h']).help, true);
    assert.equal(parseFlags(SPECS, ['x', '--help']).help, true);
  });
});

describe('flagUsages', () => {
  it('lays out and wraps like pflag FlagUsagesWrapped', () => {
    const text = flagUsages(
      [
        { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only show image IDs' },
        { name: 'all', short: 'a', kind: 'bool', usage: 'Show all images (default hides intermediate images)' },
        {
          name: 'format',
          kind: 'string',
          usage:
            "Format output using a custom template:\n'table':            Print output in table format with column headers (default)",
        },
        {
          name: 'human',
          short: 'H',
          kind: 'bool',
          usage: 'Print sizes and dates in human readable format',
          defaultValue: true,
        },
      ],
      79,
    );
    assert.equal(
      text,
      '  -a, --all             Show all images (default hides intermediate images)\n' +
        '      --format string   Format output using a custom template:\n' +
        "                        'table':            Print output in table format\n" +
        '                        with column headers (default)\n' +
        '  -H, --human           Print sizes and dates in human readable format\n' +
        '                        (default true)\n' +
        '  -q, --quiet           Only show image IDs\n',
    );
  });
});

describe('typed flag values', () => {
  const specs: FlagSpec[] = [
    { name: 'last', short: 'n', kind: 'int', usage: 'Last n', defaultValue: '-1' },
    {
      name: 'memory',
      short: 'm',
      kind: 'string',
      usage: 'Memory limit',
      valueName: 'bytes',
      validate: (v) =>
        /^\d+[kmg]?$/.test(v)
          ? v
          : (() => {
              throw new Error(`invalid size: '${v}'`);
            })(),
    },
    { name: 'attach', short: 'a', kind: 'list', usage: 'Attach', validate: (v) => v.toLowerCase() },
    { name: 'opt', kind: 'list', usage: 'Options', defaultText: 'map[]' },
  ];

  it('reads ints as Go does and keeps the default when absent', () => {
    assert.equal(parseFlags(specs, []).flags.int('last'), -1);
    assert.equal(parseFlags(specs, ['-n', '5']).flags.int('last'), 5);
    assert.equal(parseFlags(specs, ['-n=0x10']).flags.int('last'), 16);
    assert.throws(
      () => parseFlags(specs, ['-n', 'x']),
      (e: unknown) =>
        e instanceof FlagError &&
        e.message === 'invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax',
    );
  });

  it('checks and normalises values with the flag’s validator', () => {
    assert.deepEqual(parseFlags(specs, ['-a', 'STDIN', '-a', 'Stdout']).flags.list('attach'), ['stdin', 'stdout']);
    assert.throws(() => parseFlags(specs, ['-m', 'abc']), {
      message: `invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'`,
    });
  });

  it('shows value names and docker’s defaults in help', () => {
    const text = flagUsages(specs, 200);
    assert.match(text, /-n, --last int +Last n \(default -1\)\n/);
    assert.match(text, /-m, --memory bytes +Memory limit\n/);
    assert.match(text, /--opt list +Options \(default map\[\]\)\n/);
  });
});
