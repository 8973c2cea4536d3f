import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../util/errors.ts';
import { TemplateExecError } from './exec.ts';
import { FuncError } from './funcs.ts';
import { Template } from './template.ts';
import { DOCKER_GOLDEN } from './template.golden.ts';
import { GO_TYPE, GoFloat } from './values.ts';

function run(source: string, data?: unknown): string {
  return Template.parse(source).execute(data);
}

function parseError(source: string): string {
  try {
    Template.parse(source);
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(source)} not to parse`);
}

function execError(source: string, data?: unknown): TemplateExecError {
  const t = Template.parse(source);
  try {
    t.execute(data);
  } catch (err) {
    assert.ok(err instanceof TemplateExecError, `expected TemplateExecError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(source)} to fail`);
}

/** Stands in for the struct `docker version` formats. */
const versionData = { [GO_TYPE]: 'system.versionInfo', Client: { [GO_TYPE]: 'system.clientVersion', Os: 'linux' } };

test('matches the docker CLI on recorded templates', () => {
  assert.ok(DOCKER_GOLDEN.length > 90);
  for (const c of DOCKER_GOLDEN) {
    let t: Template;
    try {
      t = Template.parse(c.t, { name: 'version' });
    } catch (err) {
      assert.equal((err as Error).message, c.parseError, c.t);
      continue;
    }
    assert.equal(c.parseError, undefined, `expected a parse error for ${c.t}`);
    try {
      assert.equal(t.execute(versionData), c.out, c.t);
    } catch (err) {
      if (!(err instanceof TemplateExecError)) throw err;
      assert.equal(err.message, c.execError, c.t);
      assert.equal(err.partial, c.partial, c.t);
    }
  }
});

test('fields, nested fields, dot and $', () => {
  const data = { A: 1, B: { C: 'x', D: [1, 2] }, E: null };
  assert.equal(run('{{.A}} {{.B.C}} {{.B.D}} {{.E}}', data), '1 x [1 2] <nil>');
  assert.equal(run('{{.}}', data), 'map[A:1 B:map[C:x D:[1 2]] E:<nil>]');
  assert.equal(run('{{with .B}}{{.C}}{{$.A}}{{end}}', data), 'x1');
  assert.equal(run('{{$}}', 'top'), 'top');
  assert.equal(run('{{.}}'), '<no value>', 'undefined data is a missing value');
  assert.equal(run('{{.}}', null), '<nil>');
});

test('field names are case-sensitive and a missing map key prints <no value>', () => {
  const data = { ID: 'abc', Labels: { a: '1' } };
  assert.equal(
    run('{{.ID}}|{{.Id}}|{{.Labels.zz}}|{{.Labels.zz.deeper}}', data),
    'abc|<no value>|<no value>|<no value>',
  );
  assert.equal(
    run('{{index .Labels "zz"}}|{{index .Labels "a"}}', data),
    '|1',
    "a map[string]string's zero value is ''",
  );
  assert.equal(run('{{index .M "zz"}}', { M: { a: 1 } }), '<no value>');
});

test('Map instances act as Go maps, sorted', () => {
  const m = new Map<string, unknown>([
    ['b', 2],
    ['a', 1],
  ]);
  assert.equal(run('{{.}} {{.a}} {{len .}} {{range $k, $v := .}}{{$k}}{{$v}}{{end}}', m), 'map[a:1 b:2] 1 2 a1b2');
});

class ImageRow {
  readonly ID = 'sha256:0123';
  #size = 1024;
  get Size(): number {
    return this.#size;
  }
  Short(n: number): string {
    return this.ID.slice(7, 7 + n);
  }
  Describe(): string {
    return `image ${this.ID}`;
  }
}

test('class instances are structs: getters and methods, missing fields are errors', () => {
  const row = new ImageRow();
  assert.equal(
    run('{{.ID}} {{.Size}} {{.Describe}} {{.Short 2}} {{3 | .Short}}', row),
    'sha256:0123 1024 image sha256:0123 01 012',
  );
  assert.equal(run('{{.}}', row), '{sha256:0123 1024}');
  assert.equal(run('{{printf "%+v" .}}', row), '{ID:sha256:0123 Size:1024}');
  assert.equal(
    execError('{{.Nope}}', row).message,
    'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type ImageRow',
  );
  assert.equal(
    execError('{{.ID 1}}', row).message,
    'template: :1:2: executing "" at <.ID>: ID has arguments but cannot be invoked as function',
  );
  const typed = { [GO_TYPE]: '*formatter.imageContext', ID: 'x' };
  assert.equal(
    execError('{{.Foo}}', typed).message,
    'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext',
  );
  assert.equal(
    execError('{{.M.a 1}}', { M: { a: 1 } }).message,
    'template: :1:4: executing "" at <.M.a>: a is not a method but has arguments',
  );
});

test('a String method is used for printing, as Go uses Stringer', () => {
  class Duration {
    String(): string {
      return '5m0s';
    }
  }
  assert.equal(run('{{.}} {{printf "%s|%q|%v" . . .}}', new Duration()), '5m0s 5m0s|"5m0s"|5m0s');
});

test('variables: declare, assign, scope', () => {
  assert.equal(run('{{$x := 1}}{{$x}}{{$x = "two"}}{{$x}}'), '1two');
  assert.equal(run('{{$x := 1}}{{if true}}{{$x = 2}}{{$y := 3}}{{$y}}{{end}}{{$x}}'), '32');
  assert.equal(parseError('{{if true}}{{$y := 3}}{{end}}{{$y}}'), 'template: :1: undefined variable "$y"');
  assert.equal(run('{{$x := .A}}{{$x.B}}', { A: { B: 'deep' } }), 'deep');
});

test('pipelines and parentheses', () => {
  assert.equal(run('{{.A | printf "%s-%s" "x"}}', { A: 'a' }), 'x-a');
  assert.equal(run('{{"abc" | len | printf "%03d"}}'), '003');
  assert.equal(run('{{(index .L 1).N}}', { L: [{ N: 1 }, { N: 2 }] }), '2');
  assert.equal(run('{{printf "%d" (len (split "a,b" ","))}}'), '2');
});

test('if / else if / else and with / else with', () => {
  const t = Template.parse('{{if .A}}a{{else if .B}}b{{else}}c{{end}}');
  assert.equal(t.execute({ A: 1 }), 'a');
  assert.equal(t.execute({ B: [1] }), 'b');
  assert.equal(t.execute({ A: 0, B: [] }), 'c');
  assert.equal(t.execute({ A: '', B: {} }), 'c');
  assert.equal(run('{{with .X}}{{.}}{{else with .Y}}y={{.}}{{else}}none{{end}}', { Y: 'v' }), 'y=v');
  assert.equal(run('{{with .X}}{{.}}{{else}}none{{end}}', { X: new GoFloat(0) }), 'none');
});

test('range over arrays, maps (sorted keys) and ints, with else, break and continue', () => {
  assert.equal(run('{{range .}}[{{.}}]{{end}}', ['a', 'b']), '[a][b]');
  assert.equal(run('{{range $i, $v := .}}{{$i}}={{$v}};{{end}}', ['a', 'b']), '0=a;1=b;');
  assert.equal(run('{{range $k, $v := .}}{{$k}}={{$v}};{{end}}', { b: 2, a: 1, c: 3 }), 'a=1;b=2;c=3;');
  assert.equal(run('{{range $v := .}}{{$v}}{{end}}', { b: 2, a: 1 }), '12');
  assert.equal(run('{{range .}}x{{else}}empty{{end}}', []), 'empty');
  assert.equal(run('{{range .}}x{{else}}empty{{end}}', {}), 'empty');
  assert.equal(run('{{range .X}}x{{else}}empty{{end}}', {}), 'empty');
  assert.equal(
    run('{{range .}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}', [1, 2, 3, 4, 5]),
    '13',
  );
  assert.equal(run('{{range 3}}{{.}}{{end}}'), '012');
  assert.equal(
    run('{{$i := 0}}{{range .}}{{$i = .}}{{end}}{{$i}}', [1, 2, 3]),
    '3',
    'assignment reaches outer variables',
  );
  assert.equal(run('{{range $i, $v := .}}{{range $v}}{{$i}}{{.}}{{end}}{{end}}', [[1, 2], [3]]), '010213');
  assert.equal(
    execError('{{range .}}{{end}}', 'str').message,
    'template: :1:8: executing "" at <.>: range can\'t iterate over str',
  );
});

test('comments and trim markers', () => {
  assert.equal(run('a {{/* comment */}} b'), 'a  b');
  assert.equal(run('a  {{- /* comment */ -}}  b'), 'ab');
  assert.equal(run('x\n  {{- 1 -}}\n  y'), 'x1y');
  assert.equal(run('{{- 3}} {{-3}}'), '3 -3', '{{-3}} is a negative number, not a trim marker');
  assert.equal(run('{{ 1 }}\n{{- 2 }}'), '12');
});

test('literals', () => {
  assert.equal(
    run('{{"a\\tb"}}|{{`raw\\t`}}|{{true}}|{{false}}|{{1}}|{{-2}}|{{1.5}}|{{1e6}}|{{0x10}}|{{\'a\'}}'),
    'a\tb|raw\\t|true|false|1|-2|1.5|1e+06|16|97',
  );
  assert.equal(run('{{print nil}}'), '<nil>');
  assert.equal(run('{{9007199254740993}}'), '9007199254740993', 'ints beyond 2^53 stay exact');
});

test('value printing follows Go', () => {
  assert.equal(run('{{.}}', [1, 'a', null, [true]]), '[1 a <nil> [true]]');
  assert.equal(run('{{.}}', { z: 1, a: { y: [] } }), 'map[a:map[y:[]] z:1]');
  assert.equal(run('{{.}}', 1e6), '1000000', 'an integral number is an int');
  assert.equal(run('{{.}}', new GoFloat(1e6)), '1e+06');
  assert.equal(run('{{.}}', 0.1), '0.1');
  assert.equal(run('{{.}}', 12345678.5), '1.23456785e+07');
  assert.equal(run('{{.}}', 2n ** 64n), '18446744073709551616');
  assert.equal(run('{{.}}', NaN), 'NaN');
  assert.equal(run('{{.}}', -Infinity), '-Inf');
});

test('define, template and block', () => {
  assert.equal(run('{{define "T"}}<{{.}}>{{end}}{{template "T" .A}}{{template "T"}}', { A: 'a' }), '<a><<no value>>');
  assert.equal(run('{{block "B" .}}[{{.}}]{{end}}', 'x'), '[x]');
  assert.equal(
    parseError('{{define "T"}}a{{end}}{{define "T"}}b{{end}}'),
    'template: :1: template: multiple definition of template "T"',
  );
});

test('builtin functions', () => {
  assert.equal(
    run('{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} {{or 0 ""}} {{not 0}} {{not .}}', [1]),
    '0 2 x  true false',
  );
  assert.equal(run('{{and .A .A.B}}', {}), '<no value>', 'and short-circuits before .A.B');
  assert.equal(
    run('{{len .}} {{len "héllo"}} {{index . 1}} {{slice . 1}} {{slice "héllo" 1 3}}', ['a', 'b', 'c']),
    '3 6 b [b c] é',
  );
  assert.equal(run('{{index . "k" 1}}', { k: ['x', 'y'] }), 'y');
  assert.equal(
    run('{{eq .A "x" "y"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2.5}}', { A: 'y' }),
    'true true true true true false',
  );
  assert.equal(run('{{eq .A 3}} {{eq .Missing nil}} {{eq .Missing "x"}}', { A: 3 }), 'true true false');
  assert.equal(run('{{html "<a href=\'x\'>&\\"</a>"}}'), '&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;');
  assert.equal(run('{{js "it\'s <b> & \\"q\\" = \\\\"}}'), 'it\\\'s \\u003Cb\\u003E \\u0026 \\"q\\" \\u003D \\\\');
  assert.equal(run('{{urlquery "a b&c=d/é"}}'), 'a+b%26c%3Dd%2F%C3%A9');
  assert.equal(run('{{print 1 2 "a" "b" 3}}|{{println 1 "a"}}'), '1 2ab3|1 a\n');
  assert.equal(run('{{call .F 2 3}}', { F: (a: number, b: number) => a * b }), '6');
  assert.equal(run('{{printf "%s" .F}}', { F: 'x' }), 'x');
});

test('functions errors are wrapped as Go does', () => {
  assert.equal(
    execError('{{call .F}}', {
      F: () => {
        throw new FuncError('boom');
      },
    }).message,
    'template: :1:2: executing "" at <call .F>: error calling call: boom',
  );
  assert.equal(
    execError('{{.Fail}}', {
      [GO_TYPE]: 'T',
      Fail() {
        throw new Error('bad');
      },
    }).message,
    'template: :1:2: executing "" at <.Fail>: error calling Fail: bad',
  );
  assert.equal(
    execError('{{join .A ","}}', { A: [1, 2] }).message,
    'template: :1:7: executing "" at <.A>: wrong type for value; expected []string; got []interface {}',
  );
  assert.equal(
    execError('{{upper .A}}', { A: 5 }).message,
    'template: :1:8: executing "" at <.A>: wrong type for value; expected string; got int',
  );
  assert.equal(
    execError('{{upper .A}}', {}).message,
    'template: :1:8: executing "" at <.A>: invalid value; expected string',
  );
  assert.equal(
    execError('{{.A.B}}', { A: null }).message,
    'template: :1:4: executing "" at <.A.B>: nil pointer evaluating interface {}.B',
  );
  assert.equal(
    execError('{{.F}}', { F: () => 1 }).message,
    'template: :1:2: executing "" at <{{.F}}>: can\'t print {{.F}} of type func(...interface {}) interface {}',
  );
});

test('execution errors keep the output written before them', () => {
  const err = execError('before {{.A}} {{.A.Length}} after', { A: 'a' });
  assert.equal(err.partial, 'before a ');
  assert.equal(
    err.message,
    'template: :1:18: executing "" at <.A.Length>: can\'t evaluate field Length in type string',
  );
  assert.equal(run('{{.B.C.D 1}}', { B: {} }), '<no value>', 'a missing value has no fields and takes no arguments');
  assert.ok(err instanceof InvalidArgumentError);
});

test('error positions count lines and UTF-8 bytes', () => {
  assert.equal(
    execError('ü{{.X.Y}}', { X: 1 }).message,
    'template: :1:6: executing "" at <.X.Y>: can\'t evaluate field Y in type int',
  );
  assert.equal(
    execError('a\nbc {{.X.Y}}', { X: 1 }).message,
    'template: :2:7: executing "" at <.X.Y>: can\'t evaluate field Y in type int',
  );
  assert.equal(parseError('a\n{{if}}'), 'template: :2: missing value for if');
  assert.equal(parseError('{{if 1}}\n\n{{.X'), 'template: :3: unclosed action');
  assert.equal(parseError('{{(1\n'), 'template: :2: unclosed action started at :1');
});

test('docker functions: json, split, join, title, lower, upper, pad, truncate', () => {
  assert.equal(run('{{json .}}', { b: [1, 2.5, '<x&y>'], a: null }), '{"b":[1,2.5,"<x&y>"],"a":null}');
  assert.equal(run('{{json .}}', NaN), '', 'json of an unsupported value is empty, as docker ignores the error');
  assert.equal(run('{{split "a/b/c" "/"}} {{len (split "" ",")}} {{split "ab" ""}}'), '[a b c] 1 [a b]');
  assert.equal(run('{{join . ", "}}', ['x', 'y']), 'x, y');
  assert.equal(run('{{title "hello wORLD foo_bar x-y 1a"}}'), 'Hello WORLD Foo_bar X-Y 1a');
  assert.equal(run('{{lower "ÀB"}}{{upper "àb"}}'), 'àbÀB');
  assert.equal(
    run('[{{pad "x" 1 2}}][{{pad "" 1 2}}][{{truncate "abcdef" 3}}][{{truncate "ab" 3}}]'),
    '[ x  ][][abc][ab]',
  );
});

test('parse errors read as Go prints them', () => {
  const cases: Array<[string, string]> = [
    ['{{foo}}', 'template: :1: function "foo" not defined'],
    ['{{.X', 'template: :1: unclosed action'],
    ['{{if}}', 'template: :1: missing value for if'],
    ['{{end}}', 'template: :1: unexpected {{end}}'],
    ['{{if 1}}', 'template: :1: unexpected EOF'],
    ['{{break}}', 'template: :1: {{break}} outside {{range}}'],
    ['{{continue}}', 'template: :1: {{continue}} outside {{range}}'],
    ['{{range .}}{{break 1}}{{end}}', 'template: :1: unexpected "1" in {{break}}'],
    ['{{"x" | 1}}', 'template: :1: non executable command in pipeline stage 2'],
    ['{{ @ }}', 'template: :1: unexpected "@" in command'],
    ['{{.a-b}}', "template: :1: bad character U+002D '-'"],
    ['{{printf "%d" "abcdefghijklmnop" }', 'template: :1: unexpected "}" in operand'],
    ['{{range $a, $b, $c := .}}{{end}}', 'template: :1: too many declarations in range'],
    ['{{range $a, 1}}{{end}}', 'template: :1: range can only initialize variables'],
    ['{{with 1}}{{else}}{{else}}{{end}}', 'template: :1: expected end; found {{else}}'],
    ['{{"x".Y}}', 'template: :1: unexpected . after term "\\"x\\""'],
    ['{{..Y}}', 'template: :1: unexpected . after term "."'],
    ['{{"\\q"}}', 'template: :1: invalid syntax'],
    ['{{template .X}}', 'template: :1: unexpected ".X" in template clause'],
    ['{{1 | printf "%s" "abcdefghijk" | 2}}', 'template: :1: non executable command in pipeline stage 3'],
  ];
  for (const [src, message] of cases) assert.equal(parseError(src), message, src);
});

test('templates are reusable and funcs can be replaced per execution', () => {
  const t = Template.parse('{{upper .A}}');
  assert.equal(t.execute({ A: 'x' }), 'X');
  assert.equal(t.execute({ A: 'x' }, { funcs: { upper: (s: never) => `<${String(s)}>` } }), '<x>');
  assert.equal(t.execute({ A: 'y' }), 'Y');
  const custom = Template.parse('{{double 2}}', { funcs: { double: { params: ['int'], fn: (n: number) => n * 2 } } });
  assert.equal(custom.execute(undefined), '4');
  assert.equal(parseError('{{json .}}'.replace('json', 'nosuch')), 'template: :1: function "nosuch" not defined');
});

test('missingkey=error: a missing map key, or a field of missing data, stops execution as in Go', () => {
  const data = { Config: { Labels: { a: '1' }, Env: null }, Id: 'x' };
  const strict = Template.parse('{{.Config.Foo}}').option('missingkey=error');
  assert.throws(
    () => strict.execute(data),
    (err: unknown) =>
      err instanceof TemplateExecError &&
      err.message === 'template: :1:9: executing "" at <.Config.Foo>: map has no entry for key "Foo"',
  );
  assert.equal(Template.parse('{{.Config.Foo}}').execute(data), '<no value>', 'option() leaves the original as it was');
  assert.equal(
    Template.parse('{{.Id}}|{{.Config.Labels.a}}|{{.Config.Env}}', { missingKey: 'error' }).execute(data),
    'x|1|<nil>',
  );
  assert.throws(
    () => Template.parse('{{$x := .Nope}}', { missingKey: 'error' }).execute(data),
    /at <\.Nope>: map has no entry for key "Nope"$/,
  );
  assert.throws(
    () => Template.parse('{{with $x := 1}}{{$.Config.Labels.b}}{{end}}', { missingKey: 'error' }).execute(data),
    /map has no entry for key "b"$/,
  );
  assert.throws(
    () => Template.parse('{{.A.B}}', { missingKey: 'error' }).execute(undefined),
    /nil data; no entry for key "A"$/,
  );
  assert.equal(
    Template.parse('{{index .Config.Labels "zz"}}', { missingKey: 'error' }).execute(data),
    '',
    'index ignores missingkey',
  );
});

test("missingkey=zero gives the elements' zero value; unknown options are refused", () => {
  const data = { Labels: { a: '1' }, Any: { n: 1 } };
  assert.equal(Template.parse('[{{.Labels.zz}}]|{{.Any.zz}}').option('missingkey=zero').execute(data), '[]|<no value>');
  assert.equal(
    Template.parse('{{.Labels.zz}}').option('missingkey=error', 'missingkey=default').execute(data),
    '<no value>',
  );
  assert.throws(
    () => Template.parse('x').option('missingkey=bogus'),
    /^RangeError: unrecognized option: missingkey=bogus$/,
  );
  assert.throws(() => Template.parse('x').option('nokey=1'), /^RangeError: unrecognized option: nokey=1$/);
});
