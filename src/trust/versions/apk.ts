/**
 * Alpine's apk version ordering (apk-tools' version.c): `1.2.3[a][_suffix[N]]...[-rN]`. Components compare in
 * turn: numbers as numbers, a letter after the numbers, suffixes in the order
 * `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`, then the `-rN` revision. When one
 * version runs out first, it is the older one, unless the other continues with a pre-release suffix.
 */

/** Token kinds in apk's order: a later kind at the same position means an older version. */
const Tok = { Digit: 1, Letter: 2, Suffix: 3, SuffixNo: 4, Revision: 5, End: 6, Invalid: 7 } as const;
type Tok = (typeof Tok)[keyof typeof Tok];

const SUFFIXES = ['alpha', 'beta', 'pre', 'rc', '', 'cvs', 'svn', 'git', 'hg', 'p'];
const RELEASE = SUFFIXES.indexOf('');

interface Token {
  kind: Tok;
  /** Numeric value (digits, suffix numbers, revision), suffix rank relative to a release, or a letter's code. */
  value: number;
  text: string;
}

function tokenize(v: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let prev: Tok | undefined;
  const s = v;
  const num = () => {
    const m = /^[0-9]+/.exec(s.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };
  while (i < s.length) {
    const c = s[i]!;
    if (prev === undefined || (prev === Tok.Digit && c === '.')) {
      if (prev !== undefined) i++;
      const n = num();
      if (n === undefined) return [...out, { kind: Tok.Invalid, value: 0, text: s.slice(i) }];
      out.push({ kind: Tok.Digit, value: Number(n), text: n });
      prev = Tok.Digit;
    } else if (prev === Tok.Digit && /[a-z]/.test(c)) {
      out.push({ kind: Tok.Letter, value: c.charCodeAt(0), text: c });
      i++;
      prev = Tok.Letter;
    } else if (
      c === '_' &&
      (prev === Tok.Digit || prev === Tok.Letter || prev === Tok.Suffix || prev === Tok.SuffixNo)
    ) {
      const m = /^_([a-z]+)/.exec(s.slice(i));
      const rank = m ? SUFFIXES.indexOf(m[1]!) : -1;
      if (!m || rank < 0 || rank === RELEASE) return [...out, { kind: Tok.Invalid, value: 0, text: s.slice(i) }];
      i += m[0].length;
      out.push({ kind: Tok.Suffix, value: rank - RELEASE, text: m[1]! });
      prev = Tok.Suffix;
      const n = num();
      if (n !== undefined) {
        out.push({ kind: Tok.SuffixNo, value: Number(n), text: n });
        prev = Tok.SuffixNo;
      }
    } else if (s.startsWith('-r', i) && prev !== Tok.Revision) {
      i += 2;
      const n = num();
      if (n === undefined) return [...out, { kind: Tok.Invalid, value: 0, text: s.slice(i) }];
      out.push({ kind: Tok.Revision, value: Number(n), text: n });
      prev = Tok.Revision;
    } else {
      return [...out, { kind: Tok.Invalid, value: 0, text: s.slice(i) }];
    }
  }
  out.push({ kind: Tok.End, value: 0, text: '' });
  return out;
}

/** Whether apk would take `v` as a valid version. */
export function isApkVersion(v: string): boolean {
  return !tokenize(v).some((t) => t.kind === Tok.Invalid);
}

/** Negative, zero or positive as `a` sorts before, equal to or after `b`. */
export function compareApk(a: string, b: string): number {
  const ta = tokenize(a);
  const tb = tokenize(b);
  for (let k = 0; ; k++) {
    const x = ta[k] ?? { kind: Tok.End, value: 0, text: '' };
    const y = tb[k] ?? { kind: Tok.End, value: 0, text: '' };
    if (x.kind === Tok.Invalid || y.kind === Tok.Invalid) {
      // apk falls back to comparing the rest as strings.
      return x.text < y.text ? -1 : x.text > y.text ? 1 : 0;
    }
    if (x.kind !== y.kind) {
      if (x.kind === Tok.Suffix && x.value < 0) return -1;
      if (y.kind === Tok.Suffix && y.value < 0) return 1;
      return x.kind > y.kind ? -1 : 1;
    }
    if (x.kind === Tok.End) return 0;
    // A number with a leading zero after the first component compares as a string (apk's rule for dates and
    // fractional parts such as 1.05 vs 1.5).
    if (x.kind === Tok.Digit && k > 0 && (x.text.startsWith('0') || y.text.startsWith('0'))) {
      if (x.text !== y.text) return x.text < y.text ? -1 : 1;
      continue;
    }
    if (x.value !== y.value) return x.value - y.value;
  }
}
