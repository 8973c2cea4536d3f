/**
 * Golden outputs recorded from the docker CLI 28.2.2 (Go 1.24): each template was run with
 * `docker version --format TEMPLATE` (template name "version"; its data is a struct whose .Client.Os is
 * "linux"). Parse errors are what docker prints after "template parsing error: "; execution errors come with
 * the output written before the failure.
 */
export interface GoldenCase {
  t: string;
  out?: string;
  parseError?: string;
  execError?: string;
  partial?: string;
}

export const DOCKER_GOLDEN: GoldenCase[] = [
  {
    t: '{{printf "%05s|%-05d|%+.2e|%x|%X|% x|%#x|%q|%c|%U|%08.3f|%o|%#o|%b|%t" "ab" 42 12345.678 "hi" 255 "abc" 255 "a\\tb" 65 0x1F600 -3.14159 8 8 5 false}}',
    out: '000ab|42   |+1.23e+04|6869|FF|61 62 63|0xff|"a\\tb"|A|U+1F600|-003.142|10|010|101|false',
  },
  {
    t: '{{printf "%#q|%#q|%#+q" "ab" "a`b" "é"}}|{{printf "%x|%X|%#x|% #x" -1 3.5 "" "ab"}}|{{printf "%v" (slice (split "a,b,c" ",") 1)}}|{{printf "%6.2v|%-4v|" "abcdef" true}}|{{printf "%s" 1.5}}|{{printf "%d" 1.5}}|{{printf "%t" 1}}|{{printf "%.2f" 3}}|{{printf "%x" "é日"}}',
    out: '`ab`|"a`b"|`é`|-1|0X1.CP+01||0x61 0x62|[b c]|    ab|true||%!s(float64=1.5)|%!d(float64=1.5)|%!t(int=1)|%!f(int=03)|c3a9e697a5',
  },
  {
    t: '{{printf "%x %X %.2x %b %x %x %.0x %x %#x" 1.0 -0.1 3.14159 1.0 0.0 5e-324 1.5 1e300 2.0}}',
    out: '0x1p+00 -0X1.999999999999AP-04 0x1.92p+01 4503599627370496p-52 0x0p+00 0x1p-1074 0x1p+01 0x1.7e43c8800759cp+996 0x1.0000p+01',
  },
  {
    t: '{{printf "%T %T %T %T %T %T" 1 1.5 "s" true (split "a,b" ",") nil}}',
    out: 'int float64 string bool []string <nil>',
  },
  {
    t: '{{printf "%d %s" "x" 5}}|{{printf "%d"}}|{{printf "%d" 1 2 "x"}}|{{printf "%!"}}|{{printf "%z" 3}}|{{printf "%5z" 3}}',
    out: '%!d(string=x) %!s(int=5)|%!d(MISSING)|1%!(EXTRA int=2, string=x)|%!!(MISSING)|%!z(int=3)|%!z(int=    3)',
  },
  {
    t: '{{printf "%v %v %v %v %v %v %v %v" 1e6 123456.0 1234567.0 0.0001 0.00001 1e21 1e20 -0.0}}',
    out: '1e+06 123456 1.234567e+06 0.0001 1e-05 1e+21 1e+20 -0',
  },
  {
    t: '{{printf "%g %G %e %E %f %.3g %.10g %g" 1e-7 1e-7 0.0 1e100 1e22 3.14159 2.0 100000.0}}',
    out: '1e-07 1E-07 0.000000e+00 1.000000E+100 10000000000000000000000.000000 3.14 2 100000',
  },
  {
    t: '{{printf "%.0f %.0f %.0f %.1f %.2f %5.1f|%-8.2f|%08.2f|%+08.2f|% .3f" 0.5 1.5 2.5 0.25 1.005 3.14159 2.5 -2.5 2.5 2.5}}',
    out: '0 2 2 0.2 1.00   3.1|2.50    |-0002.50|+0002.50| 2.500',
  },
  {
    t: '{{printf "%6.2s|%-6s|%6s|%.1q|%x|% X|%#X" "héllo" "日本" "ab" "héllo" "é" "ab" "ab"}}',
    out: '    hé|日本    |    ab|"h"|c3a9|61 62|0X6162',
  },
  {
    t: '{{printf "%[2]d %[1]d %d" 1 2}}|{{printf "%[3]d" 1}}|{{printf "%*d|%-*d|%.*f" 5 1 4 2 2 3.14159}}|{{printf "%*d" "x" 1}}',
    out: '2 1 2|%!d(BADINDEX)|    1|2   |3.14|%!(BADWIDTH)1',
  },
  {
    t: '{{printf "%v|%d|%s|%x" (split "a,b" ",") (split "a,b" ",") (split "a,b" ",") (split "ab,c" ",")}}',
    out: '[a b]|[%!d(string=a) %!d(string=b)]|[a b]|[6162 63]',
  },
  {
    t: '{{printf "%q %q %q %q" "\\x00\\a\\b\\f\\n\\r\\t\\v\\\\\\"" "é\\u00a0\\u200b" "\\U0001F600" "\'"}}|{{printf "%+q" "héllo😀"}}',
    out: '"\\x00\\a\\b\\f\\n\\r\\t\\v\\\\\\"" "é\\u00a0\\u200b" "😀" "\'"|"h\\u00e9llo\\U0001f600"',
  },
  { t: "{{printf \"%c|%q|%U|%#U|%c\" 'a' 'x' 'é' 0x1F600 -1}}", out: "a|'x'|U+00E9|U+1F600 '😀'|�" },
  {
    t: '{{printf "%d %d %d %d %x %o %O %b" 0x10 0o17 0b101 1_000 -255 -8 8 -5}}',
    out: '16 15 5 1000 -ff -10 0o10 -101',
  },
  {
    t: '{{printf "%8.3d|%-8.3d|%08d|%+d|% d|%.0d|%5.0d|" 7 7 -42 5 5 0 0}}',
    out: '     007|007     |-0000042|+5| 5||     |',
  },
  {
    t: '{{print 1 2 "a" "b" 3 true nil}}|{{println 1 "a" 2}}|{{print}}|{{print nil nil}}',
    out: '1 2ab3 true <nil>|1 a 2\n||<nil> <nil>',
  },
  {
    t: '{{1}} {{1.0}} {{1.5}} {{1e3}} {{0x1F}} {{\'a\'}} {{-7}} {{+7}} {{"s"}} {{`raw\\n`}} {{true}} {{.5}} {{1_000_000}}',
    out: '1 1 1.5 1000 31 97 -7 7 s raw\\n true 0.5 1000000',
  },
  {
    t: '{{html "<a href=\'x\'>&\\"</a>"}}|{{js "<a href=\'x\'>&\\"=\\\\</a>\\t\\u00e9\\u2028"}}|{{urlquery "a b&c=d/é~_.-"}}|{{html 1 2 "x"}}',
    out: "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;|\\u003Ca href\\u003D\\'x\\'\\u003E\\u0026\\\"\\u003D\\\\\\u003C/a\\u003E\\u0009é\\u2028|a+b%26c%3Dd%2F%C3%A9~_.-|1 2x",
  },
  {
    t: '{{eq 1 1}} {{eq 1 2 3 1}} {{eq "a" "a"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 1.5}} {{eq true true}} {{eq nil nil}} {{eq "a" nil}}',
    out: 'true true true true true true true true true true false',
  },
  {
    t: '{{eq 1 "a"}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <eq 1 "a">: error calling eq: incompatible types for comparison',
  },
  {
    t: '{{lt true false}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <lt true false>: error calling lt: invalid type for comparison',
  },
  {
    t: '{{lt 1 1.5}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <lt 1 1.5>: error calling lt: incompatible types for comparison',
  },
  {
    t: '{{eq}}',
    partial: '',
    execError: 'template: version:1:2: executing "version" at <eq>: wrong number of args for eq: want at least 1 got 0',
  },
  {
    t: '{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} {{or 0 ""}} {{not 0}} {{not "x"}} {{and}}',
    partial: '0 2 x  true false ',
    execError:
      'template: version:1:78: executing "version" at <and>: wrong number of args for and: want at least 1 got 0',
  },
  {
    t: '{{len "héllo"}} {{len (split "a,b,c" ",")}} {{index (split "a,b,c" ",") 1}} {{index "abc" 1}} {{slice "héllo" 1 3}} {{slice (split "a,b,c,d" ",") 1 3}} {{slice "abc" 1}}',
    out: '6 3 b 98 é [b c] bc',
  },
  {
    t: '{{index (split "a,b" ",") 5}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <index (split "a,b" ",") 5>: error calling index: index out of range: 5',
  },
  {
    t: '{{index (split "a,b" ",") 2}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <index (split "a,b" ",") 2>: error calling index: reflect: slice index out of range',
  },
  {
    t: '{{index (split "a,b" ",") "x"}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <index (split "a,b" ",") "x">: error calling index: cannot index slice/array with type string',
  },
  {
    t: '{{slice "abc" 2 1}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <slice "abc" 2 1>: error calling slice: invalid slice index: 2 > 1',
  },
  {
    t: '{{len 3}}',
    partial: '',
    execError: 'template: version:1:2: executing "version" at <len 3>: error calling len: len of type int',
  },
  {
    t: '{{index 3 1}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <index 3 1>: error calling index: can\'t index item of type int',
  },
  {
    t: '{{json "<a&b>\\u2028\\b\\f\\x01é"}} {{json 1.5}} {{json 1e21}} {{json 1e-7}} {{json (split "a,b" ",")}} {{json nil}} {{json true}} {{json 100}}',
    out: '"<a&b>\\u2028\\b\\f\\u0001é" 1.5 1e+21 1e-7 ["a","b"] null true 100',
  },
  {
    t: '{{split "a,b,c" ","}} {{split "abc" ""}} {{split "" ","}} {{join (split "a,b" ",") "-"}} {{title "hello wORLD foo_bar x-y 1a"}} {{lower "ÀB"}} {{upper "àb"}}',
    out: '[a b c] [a b c] [] a-b Hello WORLD Foo_bar X-Y 1a àb ÀB',
  },
  {
    t: '[{{pad "x" 2 3}}][{{pad "" 2 3}}][{{truncate "abcdef" 3}}][{{truncate "ab" 3}}][{{truncate "abc" 3}}]',
    out: '[  x   ][][abc][ab][abc]',
  },
  {
    t: '{{pad "x" -1 0}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <pad "x" -1 0>: error calling pad: strings: negative Repeat count',
  },
  {
    t: '{{truncate "abc" -1}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <truncate "abc" -1>: error calling truncate: runtime error: slice bounds out of range [:-1]',
  },
  {
    t: '{{if 0}}a{{else if ""}}b{{else if 3}}c{{else}}d{{end}}{{with ""}}x{{else with "y"}}{{.}}{{end}}{{with 0}}no{{else}}else{{end}}',
    out: 'cyelse',
  },
  {
    t: '{{range split "a,b,c" ","}}[{{.}}]{{end}}{{range $i, $e := split "a,b" ","}}{{$i}}{{$e}}{{end}}{{range split "" "x"}}{{.}}{{else}}E{{end}}',
    out: '[a][b][c]0a1b',
  },
  { t: '{{range 3}}{{.}}{{end}}|{{range $v := 2}}{{$v}}{{end}}|{{range 0}}x{{else}}zero{{end}}', out: '012|01|zero' },
  {
    t: '{{range $i, $v := 3}}{{end}}',
    partial: '',
    execError:
      'template: version:1:18: executing "version" at <3>: can\'t use 3 to iterate over more than one variable',
  },
  {
    t: '{{range "abc"}}{{.}}{{end}}',
    partial: '',
    execError: 'template: version:1:8: executing "version" at <"abc">: range can\'t iterate over abc',
  },
  {
    t: '{{range split "a,b,c,d" ","}}{{if eq . "b"}}{{continue}}{{end}}{{if eq . "d"}}{{break}}{{end}}{{.}}{{end}}',
    out: 'ac',
  },
  {
    t: 'a  {{- "b" -}}  c {{- /* comment */ -}} d {{/* plain */}} e {{- 1}} f {{2 -}}\n  g\n{{- 3}}\n{{.X\n}}',
    partial: 'abcd  e1 f 2g3\n',
    execError: 'template: version:4:2: executing "version" at <.X>: can\'t evaluate field X in type system.versionInfo',
  },
  {
    t: '{{(print 1 2)}} {{print (print 1) (len "ab")}} {{"x" | printf "%s-%s" "y"}} {{3 | printf "%d"}} {{split "a,b" "," | len}}',
    out: '1 2 12 y-x 3 2',
  },
  {
    t: '{{define "T"}}<{{.}}>{{end}}{{template "T" "arg"}}{{template "T"}}{{block "B" 5}}[{{.}}]{{end}}',
    out: '<arg><<no value>>[5]',
  },
  {
    t: '{{template "nope"}}',
    partial: '',
    execError: 'template: version:1:11: executing "version" at <{{template "nope"}}>: template "nope" not defined',
  },
  { t: '{{nil}}', partial: '', execError: 'template: version:1:2: executing "version" at <nil>: nil is not a command' },
  {
    t: '{{1 2}}',
    partial: '',
    execError: 'template: version:1:2: executing "version" at <1>: can\'t give argument to non-function 1',
  },
  { t: '{{"x" | 1}}', parseError: 'template: version:1: non executable command in pipeline stage 2' },
  { t: '{{foo}}', parseError: 'template: version:1: function "foo" not defined' },
  { t: '{{.X', parseError: 'template: version:1: unclosed action' },
  { t: '{{if}}', parseError: 'template: version:1: missing value for if' },
  { t: '{{end}}', parseError: 'template: version:1: unexpected {{end}}' },
  { t: '{{else}}', parseError: 'template: version:1: unexpected {{else}}' },
  { t: '{{if 1}}', parseError: 'template: version:1: unexpected EOF' },
  { t: '{{range .}}{{else}}{{else}}{{end}}', parseError: 'template: version:1: expected end; found {{else}}' },
  { t: '{{break}}', parseError: 'template: version:1: {{break}} outside {{range}}' },
  { t: '{{$u}}', parseError: 'template: version:1: undefined variable "$u"' },
  { t: '{{3 | printf "%d" | printf "%s"}}', out: '3' },
  { t: '{{"unterminated}}', parseError: 'template: version:1: unterminated quoted string' },
  { t: "{{'ab'}}", parseError: "template: version:1: malformed character constant: 'ab'" },
  { t: '{{08}}', parseError: 'template: version:1: integer overflow: "08"' },
  { t: '{{99999999999999999999}}', parseError: 'template: version:1: integer overflow: "99999999999999999999"' },
  {
    t: '{{printf "%d" 99999999999999999999}}',
    parseError: 'template: version:1: integer overflow: "99999999999999999999"',
  },
  {
    t: '{{.X.Y 1}}',
    partial: '',
    execError:
      'template: version:1:4: executing "version" at <.X.Y>: can\'t evaluate field X in type system.versionInfo',
  },
  {
    t: '{{(1).X}}',
    partial: '',
    execError: 'template: version:1:3: executing "version" at <1>: can\'t evaluate field X in type int',
  },
  { t: '{{/* unclosed }}', parseError: 'template: version:1: unclosed comment' },
  { t: '{{/* x */ }}', parseError: 'template: version:1: comment ends before closing delimiter' },
  { t: '{{ )}}', parseError: 'template: version:1: unexpected right paren' },
  { t: '{{ (}}', parseError: 'template: version:1: unclosed left paren' },
  { t: '{{ @ }}', parseError: 'template: version:1: unexpected "@" in command' },
  { t: '{{.a-b}}', parseError: "template: version:1: bad character U+002D '-'" },
  {
    t: '{{printf 1}}',
    partial: '',
    execError: 'template: version:1:9: executing "version" at <1>: expected string; found 1',
  },
  { t: '{{html}}', out: '' },
  {
    t: '{{len}}',
    partial: '',
    execError: 'template: version:1:2: executing "version" at <len>: wrong number of args for len: want 1 got 0',
  },
  {
    t: '{{printf "%s" (printf)}}',
    partial: '',
    execError:
      'template: version:1:15: executing "version" at <printf>: wrong number of args for printf: want at least 1 got 0',
  },
  { t: '{{$x := 1}}{{$x := 2}}{{$x}}', out: '2' },
  { t: '{{$x, $y := 1}}', parseError: 'template: version:1: too many declarations in command' },
  { t: '{{range $a, $b, $c := .}}{{end}}', parseError: 'template: version:1: too many declarations in range' },
  { t: '{{with $x := 1}}{{end}}{{$x}}', parseError: 'template: version:1: undefined variable "$x"' },
  {
    t: '{{ .Client.Os }} {{.Client.NoSuch}}',
    partial: 'linux ',
    execError:
      'template: version:1:26: executing "version" at <.Client.NoSuch>: can\'t evaluate field NoSuch in type system.clientVersion',
  },
  {
    t: '{{index .Client 1}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <index .Client 1>: error calling index: can\'t index item of type system.clientVersion',
  },
  {
    t: '{{.Client.Os.Foo}}',
    partial: '',
    execError:
      'template: version:1:9: executing "version" at <.Client.Os.Foo>: can\'t evaluate field Foo in type string',
  },
  {
    t: '{{join "a" ","}}',
    partial: '',
    execError: 'template: version:1:7: executing "version" at <"a">: can\'t handle "a" for arg of type []string',
  },
  {
    t: '{{lower 1}}',
    partial: '',
    execError: 'template: version:1:8: executing "version" at <1>: expected string; found 1',
  },
  {
    t: '{{pad "x" "1" 2}}',
    partial: '',
    execError: 'template: version:1:10: executing "version" at <"1">: expected integer; found "1"',
  },
  {
    t: '{{pad "x" 1.5 2}}',
    partial: '',
    execError: 'template: version:1:10: executing "version" at <1.5>: expected integer; found 1.5',
  },
  {
    t: '{{call 1}}',
    partial: '',
    execError: 'template: version:1:2: executing "version" at <call 1>: error calling call: non-function 1 of type int',
  },
  {
    t: '{{call}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <call>: wrong number of args for call: want at least 1 got 0',
  },
  { t: '{{true | not}} {{not true | not}} {{"" | len}}', out: 'false true 0' },
  { t: '{{- " trim both " -}}', out: ' trim both ' },
  {
    t: '{{printf "%v" 3}}{{printf "%v" -3}}{{printf "%08.3e" 1234.5}}{{printf "%#v" "x"}}{{printf "%+v" 1}}',
    out: '3-31.234e+03"x"1',
  },
  { t: '{{printf "%.3s|%.10s|%.0s|" "日本語テキスト" "ab" "abc"}}', out: '日本語|ab||' },
  { t: '{{printf "%5t|%-7t|%q" true false 3}}', out: " true|false  |'\\x03'" },
  {
    t: '{{printf "%e %g %g %g %g" 123456789.0 123456789.0 0.000012345 1e-4 12345678.0}}',
    out: '1.234568e+08 1.23456789e+08 1.2345e-05 0.0001 1.2345678e+07',
  },
  {
    t: '{{printf "%.2e %.0e %#.0e %.3g %g %g" 9.999 5.5 5.5 0.0001234 1e300 5e-324}}',
    out: '1.00e+01 6e+00 6.e+00 0.000123 1e+300 5e-324',
  },
  {
    t: '{{printf "%6.2f|%-6.2f|%06.2f|%6.0f|%.15f" 1.0 1.0 -1.0 2.5 0.1}}',
    out: '  1.00|1.00  |-01.00|     2|0.100000000000000',
  },
  {
    t: '{{if 1}}\n{{.X}}\n{{end}}',
    partial: '\n',
    execError: 'template: version:2:2: executing "version" at <.X>: can\'t evaluate field X in type system.versionInfo',
  },
  { t: '{{"a"\n| printf "%s"}}', out: 'a' },
  { t: '{{printf "%d"\n "x"}}', out: '%!d(string=x)' },
  {
    t: '{{.X\n.Y}}',
    partial: '',
    execError: 'template: version:1:2: executing "version" at <.X>: can\'t evaluate field X in type system.versionInfo',
  },
  { t: '{{ "a', parseError: 'template: version:1: unterminated quoted string' },
  { t: '}}', out: '}}' },
  {
    t: '{{html "a\\x00b"}}|{{js "\\u00a0x\\u0001é"}}|{{urlquery "~!*()\'"}}|{{js 1 "a"}}|{{urlquery nil}}|{{html nil}}|{{print nil}}',
    out: 'a�b|\\u00A0x\\u0001é|~%21%2A%28%29%27|1a|%3Cno+value%3E|&lt;no value&gt;|<nil>',
  },
  { t: 'x \n {{- 1 -}} \n y|{{- "a" }}  \n {{- "b" -}}\n\nz', out: 'x1y|abz' },
  { t: '{{range $i, $e := split "a,b,c" ","}}{{if $i}}, {{end}}{{$e}}{{end}}', out: 'a, b, c' },
  { t: '{{with $x := split "a,b" ","}}{{len $x}}{{index $x 0}}{{end}}', out: '2a' },
  { t: '{{$a := 1}}{{range split "x,y" ","}}{{$a = .}}{{end}}{{$a}}', out: 'y' },
  { t: '{{range $x := split "x,y" ","}}{{$x}}{{end}}', out: 'xy' },
  { t: '{{define "a"}}A{{template "b" .}}{{end}}{{define "b"}}B{{.}}{{end}}{{template "a" 7}}', out: 'AB7' },
  {
    t: '{{printf "%v %v" (eq 1 1) (not (eq 1 2))}} {{if and (eq 1 1) (ne 2 3)}}y{{end}} {{or .Client.Os "x"}}',
    out: 'true true y linux',
  },
  {
    t: '{{.Client.Os | printf "%s" | len}} {{(split "a-b" "-") | len}} {{index (split "a b" " ") 1 | upper}}',
    out: '5 2 B',
  },
  { t: '{{printf "%s %d" .Client.Os}}', out: 'linux %!d(MISSING)' },
  { t: '{{ 1 }}{{- 2 -}} {{3}}', out: '123' },
  { t: '{{- /* */ -}}', out: '' },
  { t: '{{/*a*/}}x{{/* b', parseError: 'template: version:1: unclosed comment' },
  { t: 'c */}}y', out: 'c */}}y' },
  {
    t: '{{range split "a" ","}}{{.}}{{else}}no{{end}}{{range (slice (split "a" ",") 1)}}x{{else}}empty{{end}}',
    out: 'aempty',
  },
  {
    t: '{{printf "%6.2f%%" 99.5}} {{printf "%-8q|" "a"}} {{printf "%x" -255}} {{printf "%#o %#b %#X" 8 5 255}}',
    out: ' 99.50% "a"     | -ff 010 0b101 0XFF',
  },
  { t: '{{printf "%.3v|%10.4v|%-10.2e|" 3.14159 2.0 12345.678}}', out: '3.14|         2|1.23e+04  |' },
  { t: '{{printf "%v %v %v" 1e-320 1.7976931348623157e308 0.000001}}', out: '1e-320 1.7976931348623157e+308 1e-06' },
  { t: '{{print 1.0 2.5 -0.0 3e10}}', out: '1 2.5 -0 3e+10' },
  {
    t: '{{printf "%d" 9223372036854775807}} {{printf "%d" -9223372036854775808}}',
    out: '9223372036854775807 -9223372036854775808',
  },
  {
    t: '{{9223372036854775808}}',
    partial: '',
    execError: 'template: version:1:2: executing "version" at <9223372036854775808>: 9223372036854775808 overflows int',
  },
  { t: '{{len .Client.Os}} {{slice .Client.Os 1 3}} {{index .Client.Os 0}}', out: '5 in 108' },
  { t: '{{eq .Client.Os "linux" "x"}} {{lt .Client.Os "m"}}', out: 'true true' },
  {
    t: '{{range $i, $c := .Client.Os}}{{end}}',
    partial: '',
    execError: 'template: version:1:25: executing "version" at <.Client.Os>: range can\'t iterate over linux',
  },
  {
    t: '{{.Client.Os.X.Y}}',
    partial: '',
    execError: 'template: version:1:9: executing "version" at <.Client.Os.X.Y>: can\'t evaluate field X in type string',
  },
  {
    t: '{{$x := 5}}{{$x.Y}}',
    partial: '',
    execError: 'template: version:1:15: executing "version" at <$x.Y>: can\'t evaluate field Y in type int',
  },
  { t: '{{else if 1}}', parseError: 'template: version:1: unexpected {{else}}' },
  { t: '{{range 1}}{{else if 1}}{{end}}{{end}}', parseError: 'template: version:1: unexpected <if> in input' },
  { t: '{{with 1}}{{else with 2}}{{.}}{{else}}{{end}}', out: '' },
  { t: '{{if 1}}{{else with 2}}{{end}}{{end}}', parseError: 'template: version:1: unexpected <with> in input' },
  {
    t: '{{"a" "b"}}',
    partial: '',
    execError: 'template: version:1:2: executing "version" at <"a">: can\'t give argument to non-function "a"',
  },
  {
    t: '{{.Client "x"}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <.Client>: Client has arguments but cannot be invoked as function',
  },
  {
    t: '{{printf}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <printf>: wrong number of args for printf: want at least 1 got 0',
  },
  {
    t: '{{(.Client.Os) "x"}}',
    partial: '',
    execError:
      'template: version:1:2: executing "version" at <(.Client.Os) "x">: can\'t give argument to non-function .Client.Os',
  },
  {
    t: '{{$ "x"}}',
    partial: '',
    execError: 'template: version:1:2: executing "version" at <$>: can\'t give argument to non-function $',
  },
];
