/**
 * Go's fmt.Sprint, Sprintln and Sprintf over the value model of values.ts, and strconv's quoting and float
 * formatting. Follows fmt/print.go and fmt/format.go: flags `#0+- `, width, precision, `*`, `[n]` argument
 * indexes, verbs v s d q x X o O b c U e E f F g G t T %, and the `%!v(MISSING)` family of error strings.
 * Not done: %p, %w, complex numbers, Go-syntax %#v (prints as %v).
 */
import {
  findMember,
  goTypeName,
  isPlainObject,
  kindOf,
  sortedEntries,
  structFields,
  toBigInt,
  toNumber,
} from './values.ts';

interface Flags {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  plusV: boolean;
  sharpV: boolean;
  wid: number;
  widPresent: boolean;
  prec: number;
  precPresent: boolean;
}

function clearFlags(): Flags {
  return {
    plus: false,
    minus: false,
    sharp: false,
    space: false,
    zero: false,
    plusV: false,
    sharpV: false,
    wid: 0,
    widPresent: false,
    prec: 0,
    precPresent: false,
  };
}

const runeCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

class Printer {
  buf = '';
  f: Flags = clearFlags();

  /** Pads s to the width with spaces (or zeros when the zero flag is set and padding is on the left). */
  pad(s: string): void {
    if (!this.f.widPresent || this.f.wid === 0) {
      this.buf += s;
      return;
    }
    const width = this.f.wid - runeCount(s);
    if (width <= 0) {
      this.buf += s;
    } else if (this.f.minus) {
      this.buf += s + ' '.repeat(width);
    } else {
      this.buf += (this.f.zero ? '0' : ' ').repeat(width) + s;
    }
  }

  printArg(arg: unknown, verb: string): void {
    if (arg === undefined || arg === null) {
      if (verb === 'T' || verb === 'v') this.pad('<nil>');
      else this.badVerb(verb, arg);
      return;
    }
    if (verb === 'T') {
      this.fmtS(goTypeName(arg));
      return;
    }
    this.printValue(arg, verb, 0);
  }

  printValue(v: unknown, verb: string, depth: number): void {
    if (depth > 0 && (v === undefined || v === null)) {
      this.buf += '<nil>';
      return;
    }
    if (this.handleMethods(v, verb)) return;
    switch (kindOf(v)) {
      case 'invalid':
      case 'nil':
        this.buf += '<nil>';
        return;
      case 'bool':
        this.fmtBool(v as boolean, verb);
        return;
      case 'int':
      case 'uint':
        this.fmtInteger(toBigInt(v), verb, v);
        return;
      case 'float':
        this.fmtFloat(toNumber(v), verb, v);
        return;
      case 'string':
        this.fmtString(String(v), verb, v);
        return;
      case 'slice': {
        this.buf += '[';
        (v as unknown[]).forEach((e, i) => {
          if (i > 0) this.buf += ' ';
          this.printValue(e, verb, depth + 1);
        });
        this.buf += ']';
        return;
      }
      case 'map': {
        this.buf += 'map[';
        sortedEntries(v as object).forEach(([k, e], i) => {
          if (i > 0) this.buf += ' ';
          this.printValue(k, verb, depth + 1);
          this.buf += ':';
          this.printValue(e, verb, depth + 1);
        });
        this.buf += ']';
        return;
      }
      case 'struct': {
        this.buf += '{';
        structFields(v as object).forEach(([name, e], i) => {
          if (i > 0) this.buf += ' ';
          if (this.f.plusV || this.f.sharpV) this.buf += `${name}:`;
          this.printValue(e, verb, depth + 1);
        });
        this.buf += '}';
        return;
      }
      case 'func':
        if (verb === 'v' || verb === 'p') this.pad('0x0');
        else this.badVerb(verb, v);
        return;
    }
  }

  /** Go's Error() and String() methods, for the verbs that print strings. */
  handleMethods(v: unknown, verb: string): boolean {
    if (this.f.sharpV || typeof v !== 'object' || v === null || isPlainObject(v) || Array.isArray(v)) return false;
    if (!'vsxXq'.includes(verb)) return false;
    if (v instanceof Date) {
      this.fmtString(goTimeString(v), verb, v);
      return true;
    }
    for (const name of ['Error', 'String']) {
      const m = findMember(v, name);
      if (m?.kind === 'method') {
        this.fmtString(String(m.fn()), verb, v);
        return true;
      }
    }
    return false;
  }

  badVerb(verb: string, arg: unknown): void {
    this.buf += `%!${verb}(`;
    if (arg === undefined || arg === null) {
      this.buf += '<nil>';
    } else {
      this.buf += `${goTypeName(arg)}=`;
      this.printArg(arg, 'v');
    }
    this.buf += ')';
  }

  fmtBool(v: boolean, verb: string): void {
    if (verb === 't' || verb === 'v') this.pad(v ? 'true' : 'false');
    else this.badVerb(verb, v);
  }

  fmtInteger(v: bigint, verb: string, arg: unknown): void {
    switch (verb) {
      case 'v':
      case 'd':
        return this.fmtIntegerBase(v, 10, verb, false);
      case 'b':
        return this.fmtIntegerBase(v, 2, verb, false);
      case 'o':
      case 'O':
        return this.fmtIntegerBase(v, 8, verb, false);
      case 'x':
        return this.fmtIntegerBase(v, 16, verb, false);
      case 'X':
        return this.fmtIntegerBase(v, 16, verb, true);
      case 'c':
        return this.pad(runeString(v));
      case 'q':
        return this.pad(quoteRune(v, this.f.plus));
      case 'U':
        return this.fmtUnicode(v);
      default:
        return this.badVerb(verb, arg);
    }
  }

  fmtIntegerBase(v: bigint, base: number, verb: string, upper: boolean): void {
    const negative = v < 0n;
    const u = negative ? -v : v;
    const f = this.f;
    let prec = 0;
    if (f.precPresent) {
      prec = f.prec;
      if (prec === 0 && u === 0n) {
        const oldZero = f.zero;
        f.zero = false;
        this.buf += ' '.repeat(f.widPresent ? f.wid : 0);
        f.zero = oldZero;
        return;
      }
    } else if (f.zero && !f.minus && f.widPresent) {
      prec = f.wid;
      if (negative || f.plus || f.space) prec--;
    }
    let digits = u.toString(base);
    if (upper) digits = digits.toUpperCase();
    if (digits.length < prec) digits = '0'.repeat(prec - digits.length) + digits;
    if (f.sharp) {
      if (base === 2) digits = `0b${digits}`;
      else if (base === 8 && !digits.startsWith('0')) digits = `0${digits}`;
      else if (base === 16) digits = (upper ? '0X' : '0x') + digits;
    }
    if (verb === 'O') digits = `0o${digits}`;
    if (negative) digits = `-${digits}`;
    else if (f.plus) digits = `+${digits}`;
    else if (f.space) digits = ` ${digits}`;
    const oldZero = f.zero;
    f.zero = false;
    this.pad(digits);
    f.zero = oldZero;
  }

  fmtUnicode(v: bigint): void {
    let s = `U+${v.toString(16).toUpperCase().padStart(4, '0')}`;
    if (this.f.sharp && v >= 0n && v <= 0x10ffffn && isPrint(Number(v))) s += ` '${String.fromCodePoint(Number(v))}'`;
    const oldZero = this.f.zero;
    this.f.zero = false;
    this.pad(s);
    this.f.zero = oldZero;
  }

  fmtFloat(v: number, verb: string, arg: unknown): void {
    switch (verb) {
      case 'v':
        return this.fmtFloatVerb(v, 'g', -1);
      case 'b':
      case 'g':
      case 'G':
      case 'x':
      case 'X':
        return this.fmtFloatVerb(v, verb, -1);
      case 'f':
      case 'F':
      case 'e':
      case 'E':
        return this.fmtFloatVerb(v, verb, 6);
      default:
        return this.badVerb(verb, arg);
    }
  }

  fmtFloatVerb(v: number, verb: string, defaultPrec: number): void {
    const f = this.f;
    const prec = f.precPresent ? f.prec : defaultPrec;
    let num = formatFloat(v, verb, prec);
    if (num[0] !== '-' && num[0] !== '+') num = `+${num}`;
    if (f.space && num[0] === '+' && !f.plus) num = ` ${num.slice(1)}`;
    if (num[1] === 'I' || num[1] === 'N') {
      const oldZero = f.zero;
      f.zero = false;
      if (num[1] === 'N' && !f.space && !f.plus) num = num.slice(1);
      this.pad(num);
      f.zero = oldZero;
      return;
    }
    if (f.sharp && verb !== 'b') num = sharpFloat(num, verb, prec);
    if (f.plus || num[0] !== '+') {
      if (f.zero && !f.minus && f.widPresent && f.wid > num.length) {
        this.buf += num[0] + '0'.repeat(f.wid - num.length) + num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  fmtString(s: string, verb: string, arg: unknown): void {
    switch (verb) {
      case 'v':
        if (this.f.sharpV) return this.fmtQ(s);
        return this.fmtS(s);
      case 's':
        return this.fmtS(s);
      case 'x':
        return this.fmtSx(s, false);
      case 'X':
        return this.fmtSx(s, true);
      case 'q':
        return this.fmtQ(s);
      default:
        return this.badVerb(verb, arg);
    }
  }

  truncate(s: string): string {
    if (!this.f.precPresent) return s;
    let n = 0;
    let out = '';
    for (const ch of s) {
      if (n++ >= this.f.prec) break;
      out += ch;
    }
    return out;
  }

  fmtS(s: string): void {
    this.pad(this.truncate(s));
  }

  fmtSx(s: string, upper: boolean): void {
    let bytes = Buffer.from(s, 'utf8');
    if (this.f.precPresent && this.f.prec < bytes.length) bytes = bytes.subarray(0, this.f.prec);
    const prefix = upper ? '0X' : '0x';
    let out = '';
    bytes.forEach((b, i) => {
      if (this.f.space) {
        if (i > 0) out += ' ';
        if (this.f.sharp) out += prefix;
      } else if (i === 0 && this.f.sharp) {
        out += prefix;
      }
      const h = b.toString(16).padStart(2, '0');
      out += upper ? h.toUpperCase() : h;
    });
    this.pad(out);
  }

  fmtQ(s: string): void {
    const t = this.truncate(s);
    if (this.f.sharp && canBackquote(t)) this.pad(`\`${t}\``);
    else this.pad(quote(t, this.f.plus));
  }

  doPrintf(format: string, a: unknown[]): void {
    const end = format.length;
    let argNum = 0;
    let afterIndex = false;
    let reordered = false;
    let goodArgNum = true;

    const argNumber = (i: number): number => {
      if (i >= end || format[i] !== '[') return i;
      reordered = true;
      for (let j = 1; i + j < end; j++) {
        if (format[i + j] === ']') {
          const text = format.slice(i + 1, i + j);
          if (/^[0-9]+$/.test(text)) {
            const index = Number(text) - 1;
            if (index >= 0 && index < a.length) {
              argNum = index;
              afterIndex = true;
              return i + j + 1;
            }
          }
          goodArgNum = false;
          afterIndex = /^[0-9]+$/.test(text);
          return i + j + 1;
        }
      }
      goodArgNum = false;
      afterIndex = false;
      return i + 1;
    };
    const parsenum = (i: number): [number, boolean, number] => {
      let num = 0;
      let isnum = false;
      let j = i;
      for (; j < end && format[j]! >= '0' && format[j]! <= '9'; j++) {
        if (num > 1e6) return [0, false, end];
        num = num * 10 + Number(format[j]);
        isnum = true;
      }
      return [num, isnum, j];
    };
    const intFromArg = (): [number, boolean] => {
      let num = 0;
      let isInt = false;
      if (argNum < a.length) {
        const v = a[argNum];
        if (kindOf(v) === 'int' || kindOf(v) === 'uint') {
          num = Number(v);
          isInt = true;
        }
        argNum++;
        if (num > 1e6 || num < -1e6) {
          num = 0;
          isInt = false;
        }
      }
      return [num, isInt];
    };

    let i = 0;
    while (i < end) {
      goodArgNum = true;
      const lasti = i;
      while (i < end && format[i] !== '%') i++;
      if (i > lasti) this.buf += format.slice(lasti, i);
      if (i >= end) break;
      i++;
      this.f = clearFlags();
      const f = this.f;
      flags: for (; i < end; i++) {
        switch (format[i]) {
          case '#':
            f.sharp = true;
            break;
          case '0':
            f.zero = !f.minus;
            break;
          case '+':
            f.plus = true;
            break;
          case '-':
            f.minus = true;
            f.zero = false;
            break;
          case ' ':
            f.space = true;
            break;
          default:
            break flags;
        }
      }
      afterIndex = false;
      i = argNumber(i);
      if (i < end && format[i] === '*') {
        i++;
        [f.wid, f.widPresent] = intFromArg();
        if (!f.widPresent) this.buf += '%!(BADWIDTH)';
        if (f.wid < 0) {
          f.wid = -f.wid;
          f.minus = true;
          f.zero = false;
        }
        afterIndex = false;
      } else {
        [f.wid, f.widPresent, i] = parsenum(i);
        if (afterIndex && f.widPresent) goodArgNum = false;
      }
      if (i + 1 < end && format[i] === '.') {
        i++;
        if (afterIndex) goodArgNum = false;
        afterIndex = false;
        i = argNumber(i);
        if (i < end && format[i] === '*') {
          i++;
          [f.prec, f.precPresent] = intFromArg();
          if (f.prec < 0) {
            f.prec = 0;
            f.precPresent = false;
          }
          if (!f.precPresent) this.buf += '%!(BADPREC)';
          afterIndex = false;
        } else {
          [f.prec, f.precPresent, i] = parsenum(i);
          if (!f.precPresent) {
            f.prec = 0;
            f.precPresent = true;
          }
        }
      }
      if (!afterIndex) i = argNumber(i);
      if (i >= end) {
        this.buf += '%!(NOVERB)';
        break;
      }
      const verb = String.fromCodePoint(format.codePointAt(i)!);
      i += verb.length;
      if (verb === '%') {
        this.buf += '%';
      } else if (!goodArgNum) {
        this.buf += `%!${verb}(BADINDEX)`;
      } else if (argNum >= a.length) {
        this.buf += `%!${verb}(MISSING)`;
      } else {
        if (verb === 'v') {
          f.sharpV = f.sharp;
          f.sharp = false;
          f.plusV = f.plus;
          f.plus = false;
        }
        this.printArg(a[argNum], verb);
        argNum++;
      }
    }
    if (!reordered && argNum < a.length) {
      this.f = clearFlags();
      this.buf += '%!(EXTRA ';
      a.slice(argNum).forEach((arg, k) => {
        if (k > 0) this.buf += ', ';
        if (arg === undefined || arg === null) {
          this.buf += '<nil>';
        } else {
          this.buf += `${goTypeName(arg)}=`;
          this.printArg(arg, 'v');
        }
      });
      this.buf += ')';
    }
  }
}

/** time.Time's String() for a UTC time: 2006-01-02 15:04:05.999999999 +0000 UTC. */
function goTimeString(d: Date): string {
  if (Number.isNaN(d.getTime())) return 'Invalid Date';
  const iso = d.toISOString(); // 2024-01-02T03:04:05.678Z
  const ms = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms === '' ? '' : `.${ms}`} +0000 UTC`;
}

/** fmt.Sprintf */
export function sprintf(format: string, args: unknown[]): string {
  const p = new Printer();
  p.doPrintf(format, args);
  return p.buf;
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  const p = new Printer();
  let prevString = false;
  args.forEach((arg, i) => {
    const isString = typeof arg === 'string';
    if (i > 0 && !isString && !prevString) p.buf += ' ';
    p.printArg(arg, 'v');
    prevString = isString;
  });
  return p.buf;
}

/** fmt.Sprintln: spaces between all operands, and a newline. */
export function sprintln(args: unknown[]): string {
  const p = new Printer();
  args.forEach((arg, i) => {
    if (i > 0) p.buf += ' ';
    p.printArg(arg, 'v');
  });
  return `${p.buf}\n`;
}

/** The %v text of one value, as template actions print it. */
export function formatValue(v: unknown): string {
  const p = new Printer();
  p.printArg(v, 'v');
  return p.buf;
}

/** The '#' flag on floats: always a decimal point, and %g keeps its trailing zeros. `num` starts with a sign. */
function sharpFloat(num: string, verb: string, prec: number): string {
  let digits = 0;
  if (verb === 'v' || verb === 'g' || verb === 'G' || verb === 'x') digits = prec === -1 ? 6 : prec;
  let tail = '';
  let hasDecimalPoint = false;
  let sawNonzeroDigit = false;
  for (let i = 1; i < num.length; i++) {
    const c = num[i]!;
    if (c === '.') {
      hasDecimalPoint = true;
    } else if (c === 'e' || c === 'E' || c === 'p' || c === 'P') {
      tail = num.slice(i);
      num = num.slice(0, i);
      break;
    } else {
      if (c !== '0') sawNonzeroDigit = true;
      if (sawNonzeroDigit) digits--;
    }
  }
  if (!hasDecimalPoint) {
    if (num.length === 2 && num[1] === '0') digits--;
    num += '.';
  }
  if (digits > 0) num += '0'.repeat(digits);
  return num + tail;
}

// ---------------------------------------------------------------------------------------------------------------
// strconv: quoting

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isPrint(r: number): boolean {
  if (r < 0x80) return r >= 0x20 && r < 0x7f;
  if (r >= 0xd800 && r <= 0xdfff) return false;
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(String.fromCodePoint(r));
}

function escapeRune(r: number, quoteChar: string, asciiOnly: boolean): string {
  const ch = String.fromCodePoint(r);
  if (ch === quoteChar || ch === '\\') return `\\${ch}`;
  if (asciiOnly ? r < 0x80 && isPrint(r) : isPrint(r)) return ch;
  switch (ch) {
    case '\x07':
      return '\\a';
    case '\b':
      return '\\b';
    case '\f':
      return '\\f';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    case '\v':
      return '\\v';
  }
  if (r < 0x20 || r === 0x7f) return `\\x${r.toString(16).padStart(2, '0')}`;
  if (r >= 0xd800 && r <= 0xdfff) return asciiOnly ? '\\ufffd' : '\ufffd';
  if (r < 0x10000) return `\\u${r.toString(16).padStart(4, '0')}`;
  return `\\U${r.toString(16).padStart(8, '0')}`;
}

/** strconv.Quote (or QuoteToASCII): a double-quoted Go string literal. */
export function quote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0)!, '"', asciiOnly);
  return `${out}"`;
}

function runeString(v: bigint): string {
  const r = Number(v);
  if (v < 0n || v > 0x10ffffn || (r >= 0xd800 && r <= 0xdfff)) return '\ufffd';
  return String.fromCodePoint(r);
}

/** strconv.QuoteRune: a single-quoted Go character literal. */
function quoteRune(v: bigint, asciiOnly: boolean): string {
  let r = Number(v);
  if (v < 0n || v > 0x10ffffn || (r >= 0xd800 && r <= 0xdfff)) r = 0xfffd;
  return `'${escapeRune(r, "'", asciiOnly)}'`;
}

function canBackquote(s: string): boolean {
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (ch === '`' || r === 0xfeff || (r >= 0xd800 && r <= 0xdfff)) return false;
    if ((r < 0x20 && ch !== '\t') || r === 0x7f) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// strconv: FormatFloat, on exact decimal expansions rounded half-to-even as Go's decimal type does.

interface Digits {
  /** significant digits without trailing zeros; '' for zero */
  d: string;
  /** decimal point position: value = 0.d × 10^dp */
  dp: number;
}

/** The exact decimal expansion of a finite, non-negative double. */
function exactDigits(a: number): Digits {
  if (a === 0) return { d: '', dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const bits = view.getBigUint64(0);
  const biasedExp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp: number;
  if (biasedExp === 0) {
    exp = -1074;
  } else {
    mant |= 1n << 52n;
    exp = biasedExp - 1075;
  }
  let digits: string;
  let dp: number;
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString();
    dp = digits.length;
  } else {
    const k = -exp;
    digits = (mant * 5n ** BigInt(k)).toString();
    dp = digits.length - k;
  }
  return trimDigits({ d: digits, dp });
}

function trimDigits(x: Digits): Digits {
  let d = x.d.replace(/0+$/, '');
  const lead = d.length - d.replace(/^0+/, '').length;
  d = d.slice(lead);
  return d === '' ? { d: '', dp: 0 } : { d, dp: x.dp - lead };
}

/** The shortest digits that read back as the same double (JavaScript and Go agree on these). */
function shortestDigits(a: number): Digits {
  if (a === 0) return { d: '', dp: 0 };
  const [mant = '', e = '0'] = a.toExponential().split('e');
  return trimDigits({ d: mant.replace('.', ''), dp: Number(e) + 1 });
}

/** Rounds to nd digits, half to even (Go's decimal.Round on an exact value). */
function roundDigits(x: Digits, nd: number): Digits {
  if (nd < 0 || nd >= x.d.length) return x;
  const d = x.d;
  let up: boolean;
  if (d[nd] === '5' && nd + 1 === d.length) up = nd > 0 && Number(d[nd - 1]) % 2 === 1;
  else up = d[nd]! >= '5';
  if (!up) return trimDigits({ d: d.slice(0, nd), dp: x.dp });
  let i = nd - 1;
  while (i >= 0 && d[i] === '9') i--;
  if (i < 0) return { d: '1', dp: x.dp + 1 };
  return { d: d.slice(0, i) + String(Number(d[i]) + 1), dp: x.dp };
}

function fmtE(neg: boolean, x: Digits, prec: number, fmt: string): string {
  let s = neg ? '-' : '';
  s += x.d.length > 0 ? x.d[0] : '0';
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) s += i < x.d.length ? x.d[i] : '0';
  }
  let exp = x.d.length === 0 ? 0 : x.dp - 1;
  s += fmt;
  if (exp < 0) {
    s += '-';
    exp = -exp;
  } else {
    s += '+';
  }
  return s + String(exp).padStart(2, '0');
}

function fmtF(neg: boolean, x: Digits, prec: number): string {
  let s = neg ? '-' : '';
  if (x.dp > 0) {
    for (let i = 0; i < x.dp; i++) s += i < x.d.length ? x.d[i] : '0';
  } else {
    s += '0';
  }
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) {
      const j = x.dp + i - 1;
      s += j >= 0 && j < x.d.length ? x.d[j] : '0';
    }
  }
  return s;
}

/** A finite double's bits: value = mant × 2^(exp-52), as strconv's FormatFloat sees them before formatting. */
function floatBits(a: number): { mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const bits = view.getBigUint64(0);
  let exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  if (exp === 0) exp++;
  else mant |= 1n << 52n;
  return { mant, exp: exp - 1023 };
}

/** strconv's %b: decimal mantissa and binary exponent, 4503599627370496p-52. */
function fmtB(neg: boolean, a: number): string {
  const { mant, exp } = floatBits(a);
  const e = exp - 52;
  return `${neg ? '-' : ''}${mant}p${e >= 0 ? '+' : '-'}${Math.abs(e)}`;
}

/** strconv's %x: hexadecimal mantissa and binary exponent, 0x1.8p+01. */
function fmtX(neg: boolean, a: number, prec: number, fmt: string): string {
  let { mant, exp } = floatBits(a);
  if (mant === 0n) exp = 0;
  const one60 = 1n << 60n;
  const mask64 = (1n << 64n) - 1n;
  mant <<= 60n - 52n;
  while (mant !== 0n && (mant & one60) === 0n) {
    mant = (mant << 1n) & mask64;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & (one60 - 1n);
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant <<= 60n - shift;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const digits = fmt === 'X' ? '0123456789ABCDEF' : '0123456789abcdef';
  let s = `${neg ? '-' : ''}0${fmt}${(mant >> 60n) & 1n}`;
  mant = (mant << 4n) & mask64;
  if (prec < 0 && mant !== 0n) {
    s += '.';
    while (mant !== 0n) {
      s += digits[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & mask64;
    }
  } else if (prec > 0) {
    s += '.';
    for (let i = 0; i < prec; i++) {
      s += digits[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & mask64;
    }
  }
  s += fmt === 'X' ? 'P' : 'p';
  s += exp < 0 ? '-' : '+';
  return s + String(Math.abs(exp)).padStart(2, '0');
}

/** strconv.FormatFloat(v, fmt, prec, 64) for fmt in b e E f F g G x X; prec < 0 means the shortest exact form. */
export function formatFloat(v: number, fmt: string, prec: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const neg = v < 0 || Object.is(v, -0);
  const a = Math.abs(v);
  if (fmt === 'b') return fmtB(neg, a);
  if (fmt === 'x' || fmt === 'X') return fmtX(neg, a, prec, fmt);
  const shortest = prec < 0;
  let x: Digits;
  if (shortest) {
    x = shortestDigits(a);
    if (fmt === 'e' || fmt === 'E') prec = Math.max(x.d.length - 1, 0);
    else if (fmt === 'f' || fmt === 'F') prec = Math.max(x.d.length - x.dp, 0);
    else prec = x.d.length;
  } else {
    x = exactDigits(a);
    if (fmt === 'e' || fmt === 'E') x = roundDigits(x, prec + 1);
    else if (fmt === 'f' || fmt === 'F') x = roundDigits(x, x.dp + prec);
    else {
      if (prec === 0) prec = 1;
      x = roundDigits(x, prec);
    }
  }
  switch (fmt) {
    case 'e':
    case 'E':
      return fmtE(neg, x, prec, fmt);
    case 'f':
    case 'F':
      return fmtF(neg, x, prec);
    default: {
      let eprec = prec;
      if (eprec > x.d.length && x.d.length >= x.dp) eprec = x.d.length;
      if (shortest) eprec = 6;
      const exp = x.dp - 1;
      if (exp < -4 || exp >= eprec) {
        if (prec > x.d.length) prec = x.d.length;
        return fmtE(neg, x, prec - 1, fmt === 'G' ? 'E' : 'e');
      }
      if (prec > x.dp) prec = x.d.length;
      return fmtF(neg, x, Math.max(prec - x.dp, 0));
    }
  }
}
