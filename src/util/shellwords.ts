/**
 * Dockerfile word expansion: quote removal, escapes and `$VAR` substitution with the rules of Docker's builder
 * (BuildKit's `frontend/dockerfile/shell`), which are a subset of POSIX sh: `$v`, `${v}`, `${v:-w}`, `${v-w}`,
 * `${v:+w}`, `${v+w}`, `${v:?msg}`, `${v?msg}`, `${v#p}`, `${v##p}`, `${v%p}`, `${v%%p}`, `${v/p/r}`, `${v//p/r}`;
 * single quotes keep everything literal, double quotes keep all but `$` and the escape character (which escapes
 * only `"`, `$` and itself there). No command substitution, no arithmetic, no `${#v}`.
 *
 * Pure: the environment is passed in. Used by the Dockerfile frontend (src/dockerfile/), the builder and
 * `import`/`commit --change` (src/images/changes.ts), which may not import build/.
 */
import { InvalidArgumentError } from './errors.ts';

/** Where variables come from: a Map works, or anything with the same `get`. */
export interface WordEnv {
  get(name: string): string | undefined;
}

export interface ShellWordOptions {
  /** `\` (the default) or `` ` `` (a Dockerfile's `# escape=` directive). */
  escapeToken?: string;
  /** Keep the quote characters in the output (quotes still group). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output (they still escape). */
  rawEscapes?: boolean;
  /** Quotes are ordinary characters. */
  skipProcessQuotes?: boolean;
  /** A variable that is not set stays as written (`$v`, `${v:-w}`) instead of expanding to "". */
  skipUnsetEnv?: boolean;
}

export interface ShellWordResult {
  /** The word after expansion, spaces kept. */
  result: string;
  /** The same split into words on unquoted whitespace (spaces coming out of a variable split too). */
  words: string[];
  /** Variables the word referred to that were set. */
  matched: Set<string>;
  /** Variables the word referred to that were not set. */
  unmatched: Set<string>;
}

const EOF = -1;

/** One word, expanded: quotes removed, escapes applied, variables substituted. Throws InvalidArgumentError. */
export function processWord(word: string, env: WordEnv, options: ShellWordOptions = {}): string {
  return processShellWord(word, env, options).result;
}

/** Expansion followed by splitting into words, as for `EXPOSE` and heredoc markers. Throws InvalidArgumentError. */
export function processWords(word: string, env: WordEnv, options: ShellWordOptions = {}): string[] {
  return processShellWord(word, env, options).words;
}

export function processShellWord(word: string, env: WordEnv, options: ShellWordOptions = {}): ShellWordResult {
  const lexer = new Lexer(word, env, options);
  try {
    const [result, words] = lexer.processStopOn(EOF, options.rawEscapes === true);
    return { result, words, matched: lexer.matched, unmatched: lexer.unmatched };
  } catch (err) {
    if (err instanceof ExpansionError) {
      throw new InvalidArgumentError(`failed to process ${goQuote(word)}: ${err.message}`);
    }
    throw err;
  }
}

class ExpansionError extends Error {}

/** Whitespace as Go's unicode.IsSpace sees it. */
export function isGoSpace(cp: number): boolean {
  if (cp <= 0xff) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) || cp === 0x85 || cp === 0xa0;
  return (
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;
/** Go's unicode.IsLetter and unicode.IsDigit: variable names may hold any letter or decimal digit. */
const isLetter = (cp: number) => cp >= 0 && LETTER.test(String.fromCodePoint(cp));
const isDigit = (cp: number) => cp >= 0 && DIGIT.test(String.fromCodePoint(cp));
/** POSIX special parameters; never set in a Dockerfile, but `$@` must consume its character. */
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0'].map((c) => c.codePointAt(0)!));

/** Collects the words of a word: spaces out of a variable split, spaces out of quotes do not. */
class Words {
  buf = '';
  words: string[] = [];
  inWord = false;
  addChar(cp: number): void {
    if (isGoSpace(cp)) {
      if (this.inWord && this.buf.length > 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(cp);
    }
  }
  addRawChar(cp: number): void {
    this.buf += String.fromCodePoint(cp);
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch.codePointAt(0)!);
  }
  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  get(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class Lexer {
  readonly cps: number[];
  pos = 0;
  readonly escape: number;
  rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();
  readonly env: WordEnv;
  readonly opts: ShellWordOptions;

  constructor(word: string, env: WordEnv, opts: ShellWordOptions) {
    this.cps = Array.from(word, (c) => c.codePointAt(0)!);
    this.env = env;
    this.opts = opts;
    this.escape = (opts.escapeToken ?? '\\').codePointAt(0)!;
    this.rawEscapes = opts.rawEscapes === true;
  }

  peek(): number {
    return this.pos < this.cps.length ? this.cps[this.pos]! : EOF;
  }
  next(): number {
    return this.pos < this.cps.length ? this.cps[this.pos++]! : EOF;
  }

  /** Reads up to `stop` (consumed) or the end; returns the text and its words. */
  processStopOn(stop: number, rawEscapes: boolean): [string, string[]] {
    let result = '';
    const words = new Words();
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      while (this.peek() !== EOF) {
        const ch = this.peek();
        if (stop !== EOF && ch === stop) {
          this.next();
          return [result, words.get()];
        }
        if (ch === 0x24 /* $ */) {
          const tmp = this.processDollar();
          result += tmp;
          words.addString(tmp);
        } else if (ch === 0x3c /* < */) {
          const tmp = this.processPossibleHeredoc();
          result += tmp;
          words.addRawString(tmp);
        } else if (!this.opts.skipProcessQuotes && (ch === 0x27 || ch === 0x22)) {
          const tmp = ch === 0x27 ? this.processSingleQuote() : this.processDoubleQuote();
          result += tmp;
          words.addRawString(tmp);
        } else {
          let c = this.next();
          if (c === this.escape) {
            if (this.rawEscapes) {
              words.addRawChar(c);
              result += String.fromCodePoint(c);
            }
            c = this.next();
            if (c === EOF) break;
            words.addRawChar(c);
          } else {
            words.addChar(c);
          }
          result += String.fromCodePoint(c);
        }
      }
      if (stop !== EOF) {
        throw new ExpansionError(
          `unexpected end of statement while looking for matching ${String.fromCodePoint(stop)}`,
        );
      }
      return [result, words.get()];
    } finally {
      this.rawEscapes = saved;
    }
  }

  processSingleQuote(): string {
    let result = '';
    const open = this.next();
    if (this.opts.rawQuotes) result += String.fromCodePoint(open);
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new ExpansionError('unexpected end of statement while looking for matching single-quote');
      if (ch === 0x27) {
        if (this.opts.rawQuotes) result += "'";
        return result;
      }
      result += String.fromCodePoint(ch);
    }
  }

  processDoubleQuote(): string {
    let result = '';
    const open = this.next();
    if (this.opts.rawQuotes) result += String.fromCodePoint(open);
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new ExpansionError('unexpected end of statement while looking for matching double-quote');
      if (p === 0x22) {
        this.next();
        if (this.opts.rawQuotes) result += '"';
        return result;
      }
      if (p === 0x24) {
        result += this.processDollar();
        continue;
      }
      let ch = this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) result += String.fromCodePoint(ch);
        const after = this.peek();
        if (after === EOF) continue; // an escape at the end of the word is dropped
        if (after === 0x22 || after === 0x24 || after === this.escape) ch = this.next();
      }
      result += String.fromCodePoint(ch);
    }
  }

  getEnv(name: string): [string, boolean] {
    const v = this.env.get(name);
    if (v !== undefined) {
      this.matched.add(name);
      return [v, true];
    }
    this.unmatched.add(name);
    return ['', false];
  }

  processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += String.fromCodePoint(this.next());
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return String.fromCodePoint(this.next());
      if (!isLetter(ch) && !isDigit(ch) && ch !== 0x5f) break;
      name += String.fromCodePoint(this.next());
    }
    return name;
  }

  processDollar(): string {
    this.next(); // $
    if (this.peek() !== 0x7b /* { */) {
      const name = this.processName();
      if (name === '') return '$';
      const [value, found] = this.getEnv(name);
      if (!found && this.opts.skipUnsetEnv) return `$${name}`;
      return value;
    }
    this.next(); // {
    const first = this.peek();
    if (first === EOF) throw new ExpansionError("syntax error: missing '}'");
    if (first === 0x7b || first === 0x7d || first === 0x3a) throw new ExpansionError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    if (ch === EOF) throw new ExpansionError("syntax error: missing '}'");
    let chs = ch === EOF ? '' : String.fromCodePoint(ch);
    let nullIsUnset = false;
    switch (ch) {
      case 0x7d: {
        // ${v}
        const [value, set] = this.getEnv(name);
        if (!set && this.opts.skipUnsetEnv) return `\${${name}}`;
        return value;
      }
      case 0x3a: // :
        nullIsUnset = true;
        ch = this.next();
        chs += ch === EOF ? '' : String.fromCodePoint(ch);
        return this.modifier(name, ch, chs, nullIsUnset);
      case 0x2b: // +
      case 0x2d: // -
      case 0x3f: // ?
      case 0x23: // #
      case 0x25: // %
        return this.modifier(name, ch, chs, nullIsUnset);
      case 0x2f: {
        // ${v/pattern/replacement}, ${v//pattern/replacement}
        const all = this.peek() === 0x2f;
        if (all) this.next();
        const pattern = this.stopOnOrMissing(0x2f, true, "syntax error: missing '/' in ${}");
        const replacement = this.stopOnOrMissing(0x7d, true, "syntax error: missing '}'");
        const [value, set] = this.getEnv(name);
        if (this.opts.skipUnsetEnv && !set) return `\${${name}/${pattern}/${replacement}}`;
        const re = shellPatternToRegExp(pattern, true, false, all);
        return all ? value.replace(re, () => replacement) : value.replace(re, () => replacement);
      }
      default:
        throw new ExpansionError(`unsupported modifier (${chs}) in substitution`);
    }
  }

  stopOnOrMissing(stop: number, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes)[0];
    } catch (err) {
      if (err instanceof ExpansionError && this.peek() === EOF) throw new ExpansionError(missing);
      throw err;
    }
  }

  modifier(name: string, ch: number, chs: string, nullIsUnset: boolean): string {
    if (![0x2b, 0x2d, 0x3f, 0x23, 0x25].includes(ch)) {
      throw new ExpansionError(`unsupported modifier (${chs}) in substitution`);
    }
    const trims = ch === 0x23 || ch === 0x25;
    if (nullIsUnset && trims) throw new ExpansionError(`unsupported modifier (${chs}) in substitution`);
    let word = this.stopOnOrMissing(0x7d, trims, "syntax error: missing '}'");
    const [value, set] = this.getEnv(name);
    if (this.opts.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;
    switch (ch) {
      case 0x2d: // -
        return !set || (nullIsUnset && value === '') ? word : value;
      case 0x2b: // +
        return !set || (nullIsUnset && value === '') ? '' : word;
      case 0x3f: // ?
        if (!set) throw new ExpansionError(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') {
          throw new ExpansionError(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
        }
        return value;
      default: {
        // # and % take the shortest match, ## and %% the longest
        const greedy = word.length > 0 && word.codePointAt(0) === ch;
        if (greedy) word = word.slice(1);
        return ch === 0x25 ? trimSuffix(word, value, greedy) : trimPrefix(word, value, greedy);
      }
    }
  }

  processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== 0x3c) return '<';
    this.next();
    let space = '';
    while (this.peek() === 0x09 || this.peek() === 0x0d || this.peek() === 0x20) {
      space += String.fromCodePoint(this.next());
    }
    return `<<${space}`;
  }
}

/**
 * A shell pattern (`*` any string, `?` one character, `\` escapes `*`, `?` and `\`; no bracket expressions) as a
 * regular expression. `\}` and `\/` stand for `}` and `/` (they were escaped to get through `${…}`).
 */
export function shellPatternToRegExp(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const cps = Array.from(pattern);
  let out = anchored ? '^' : '';
  // Go's `.` matches any character but a newline
  const star = greedy ? '[^\\n]*' : '[^\\n]*?';
  for (let i = 0; i < cps.length; i++) {
    const tok = cps[i]!;
    if (tok === '*') {
      out += star;
    } else if (tok === '?') {
      out += '[^\\n]';
    } else if (tok === '\\') {
      const nextTok = cps[i + 1];
      if (nextTok === '}' || nextTok === '/') continue;
      i++;
      if (nextTok !== '*' && nextTok !== '?' && nextTok !== '\\') {
        throw new ExpansionError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${nextTok ?? ''}'`);
      }
      out += `\\${nextTok}`;
    } else {
      out += tok.replace(/[[\]{}.+()|^$]/g, '\\$&');
    }
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Reverses a pattern keeping each escape before the character it escapes (`a\*c` → `c\*a`). */
export function reversePattern(pattern: string): string {
  const cps = Array.from(pattern);
  const out: string[] = new Array(cps.length);
  const last = cps.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = cps[i]!;
    const o = last - i;
    if (tok === '\\' && i !== last) {
      out[o - 1] = tok;
      out[o] = cps[i + 1]!;
      i += 2;
    } else {
      out[o] = tok;
      i++;
    }
  }
  return out.join('');
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // the shortest rightmost match is the shortest leftmost match of the reversed pattern in the reversed value
  const reversed = Array.from(value).reverse().join('');
  return Array.from(trimPrefix(reversePattern(pattern), reversed, greedy))
    .reverse()
    .join('');
}

/** Go's strconv.Quote: the form Docker's messages and AST dumps quote strings in. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (isGoPrintable(cp)) out += ch;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

const NOT_PRINTABLE = /^[\p{C}\p{Z}]$/u;
/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
function isGoPrintable(cp: number): boolean {
  if (cp === 0x20) return true;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  return !NOT_PRINTABLE.test(String.fromCodePoint(cp));
}
