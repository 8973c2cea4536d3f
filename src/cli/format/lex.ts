/**
 * The lexer of Go's text/template (text/template/parse/lex.go): text, actions between `{{` and `}}`, trim
 * markers `{{- ` and ` -}}`, comments (`/*` … `*\/` just inside the delimiters), and the tokens inside
 * actions. Positions are UTF-16 offsets into the source; error messages convert them to Go's byte columns.
 */
import { quote } from './gofmt.ts';

export type ItemType =
  | 'error'
  | 'bool'
  | 'char'
  | 'charConstant'
  | 'complex'
  | 'assign'
  | 'declare'
  | 'eof'
  | 'field'
  | 'identifier'
  | 'leftDelim'
  | 'leftParen'
  | 'number'
  | 'pipe'
  | 'rawString'
  | 'rightDelim'
  | 'rightParen'
  | 'space'
  | 'string'
  | 'text'
  | 'variable'
  // keywords
  | 'block'
  | 'break'
  | 'continue'
  | 'dot'
  | 'define'
  | 'else'
  | 'end'
  | 'if'
  | 'nil'
  | 'range'
  | 'template'
  | 'with';

const KEYWORDS: ReadonlySet<string> = new Set([
  'block',
  'break',
  'continue',
  'dot',
  'define',
  'else',
  'end',
  'if',
  'nil',
  'range',
  'template',
  'with',
]);
const KEY: Readonly<Record<string, ItemType>> = {
  '.': 'dot',
  block: 'block',
  break: 'break',
  continue: 'continue',
  define: 'define',
  else: 'else',
  end: 'end',
  if: 'if',
  range: 'range',
  nil: 'nil',
  template: 'template',
  with: 'with',
};

export interface Item {
  type: ItemType;
  pos: number;
  val: string;
  line: number;
}

/** Go's item.String(), used in "unexpected X in Y" messages. */
export function itemString(i: Item): string {
  if (i.type === 'eof') return 'EOF';
  if (i.type === 'error') return i.val;
  if (KEYWORDS.has(i.type)) return `<${i.val}>`;
  if ([...i.val].length > 10) return `${quote([...i.val].slice(0, 10).join(''))}...`;
  return quote(i.val);
}

const LEFT_DELIM = '{{';
const RIGHT_DELIM = '}}';
const LEFT_COMMENT = '/*';
const RIGHT_COMMENT = '*/';
const TRIM_MARKER_LEN = 2; // the '-' and the space next to it
const EOF = -1;

export const isSpace = (r: number): boolean => r === 0x20 || r === 0x09 || r === 0x0d || r === 0x0a;
const isAlphaNumeric = (r: number): boolean =>
  r === 0x5f || (r >= 0 && /^[\p{L}\p{Nd}]$/u.test(String.fromCodePoint(r)));
const hasLeftTrimMarker = (s: string): boolean => s.length >= 2 && s[0] === '-' && isSpace(s.charCodeAt(1));
const hasRightTrimMarker = (s: string): boolean => s.length >= 2 && isSpace(s.charCodeAt(0)) && s[1] === '-';
const trimLeftLength = (s: string): number => s.length - s.replace(/^[ \t\r\n]+/, '').length;
const trimRightLength = (s: string): number => s.length - s.replace(/[ \t\r\n]+$/, '').length;

/** Go's %#U: U+0023 '#'. */
export function goUnicode(r: number): string {
  return `U+${r.toString(16).toUpperCase().padStart(4, '0')} '${String.fromCodePoint(r)}'`;
}

type StateFn = ((l: Lexer) => StateFn) | null;

export interface LexOptions {
  /** false when a function named "break" shadows the keyword */
  breakOK: boolean;
  continueOK: boolean;
}

export class Lexer {
  private input: string;
  /** the whole text, kept for line numbers after an error empties `input` */
  private readonly source: string;
  private lineCache = { pos: 0, line: 1 };
  private pos = 0;
  private start = 0;
  private width = 0;
  private parenDepth = 0;
  private insideAction = false;
  private item: Item | undefined;
  private readonly options: LexOptions;

  constructor(input: string, options: LexOptions) {
    this.input = input;
    this.source = input;
    this.options = options;
  }

  /** The next token; after an error or the end, EOF forever. */
  nextItem(): Item {
    this.item = { type: 'eof', pos: this.pos, val: 'EOF', line: this.lineAt(this.start) };
    let state: StateFn = this.insideAction ? lexInsideAction : lexText;
    while (state !== null) state = state(this);
    return this.item;
  }

  /** The 1-based line of a position; positions mostly grow, so counting resumes from the last answer. */
  private lineAt(pos: number): number {
    let { pos: from, line } = this.lineCache;
    if (pos < from) [from, line] = [0, 1];
    for (let i = from; i < pos && i < this.source.length; i++) if (this.source.charCodeAt(i) === 0x0a) line++;
    this.lineCache = { pos, line };
    return line;
  }

  next(): number {
    if (this.pos >= this.input.length) {
      this.width = 0;
      return EOF;
    }
    const r = this.input.codePointAt(this.pos)!;
    this.width = r > 0xffff ? 2 : 1;
    this.pos += this.width;
    return r;
  }

  peek(): number {
    const r = this.next();
    this.backup();
    return r;
  }

  backup(): void {
    this.pos -= this.width;
  }

  emit(type: ItemType): StateFn {
    return this.emitItem(this.thisItem(type));
  }

  thisItem(type: ItemType): Item {
    const i: Item = {
      type,
      pos: this.start,
      val: this.input.slice(this.start, this.pos),
      line: this.lineAt(this.start),
    };
    this.start = this.pos;
    return i;
  }

  emitItem(i: Item): StateFn {
    this.item = i;
    return null;
  }

  ignore(): void {
    this.start = this.pos;
  }

  accept(valid: string): boolean {
    const r = this.next();
    if (r !== EOF && valid.includes(String.fromCodePoint(r))) return true;
    this.backup();
    return false;
  }

  acceptRun(valid: string): void {
    for (;;) {
      const r = this.next();
      if (r === EOF || !valid.includes(String.fromCodePoint(r))) break;
    }
    this.backup();
  }

  errorf(message: string): StateFn {
    this.item = { type: 'error', pos: this.start, val: message, line: this.lineAt(this.start) };
    this.start = 0;
    this.pos = 0;
    this.input = '';
    return null;
  }

  rest(from = this.pos): string {
    return this.input.slice(from);
  }

  atRightDelim(): { delim: boolean; trimSpaces: boolean } {
    if (hasRightTrimMarker(this.rest()) && this.rest(this.pos + TRIM_MARKER_LEN).startsWith(RIGHT_DELIM)) {
      return { delim: true, trimSpaces: true };
    }
    if (this.rest().startsWith(RIGHT_DELIM)) return { delim: true, trimSpaces: false };
    return { delim: false, trimSpaces: false };
  }

  atTerminator(): boolean {
    const r = this.peek();
    if (isSpace(r)) return true;
    if (r === EOF || '.,|:)('.includes(String.fromCodePoint(r))) return true;
    return this.rest().startsWith(RIGHT_DELIM);
  }

  scanNumber(): boolean {
    this.accept('+-');
    let digits = '0123456789_';
    if (this.accept('0')) {
      if (this.accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (this.accept('oO')) digits = '01234567_';
      else if (this.accept('bB')) digits = '01_';
    }
    this.acceptRun(digits);
    if (this.accept('.')) this.acceptRun(digits);
    if (digits.length === 11 && this.accept('eE')) {
      this.accept('+-');
      this.acceptRun('0123456789_');
    }
    if (digits.length === 23 && this.accept('pP')) {
      this.accept('+-');
      this.acceptRun('0123456789_');
    }
    this.accept('i');
    if (isAlphaNumeric(this.peek())) {
      this.next();
      return false;
    }
    return true;
  }

  // State functions need the lexer's internals; they are methods so they can reach them.
  static lexText(l: Lexer): StateFn {
    const x = l.rest().indexOf(LEFT_DELIM);
    if (x >= 0) {
      if (x > 0) {
        l.pos += x;
        let trimLength = 0;
        const delimEnd = l.pos + LEFT_DELIM.length;
        if (hasLeftTrimMarker(l.rest(delimEnd))) trimLength = trimRightLength(l.input.slice(l.start, l.pos));
        l.pos -= trimLength;
        const i = l.thisItem('text');
        l.pos += trimLength;
        l.ignore();
        if (i.val.length > 0) return l.emitItem(i);
      }
      return lexLeftDelim;
    }
    l.pos = l.input.length;
    if (l.pos > l.start) return l.emit('text');
    return l.emit('eof');
  }

  static lexLeftDelim(l: Lexer): StateFn {
    l.pos += LEFT_DELIM.length;
    const trimSpace = hasLeftTrimMarker(l.rest());
    const afterMarker = trimSpace ? TRIM_MARKER_LEN : 0;
    if (l.rest(l.pos + afterMarker).startsWith(LEFT_COMMENT)) {
      l.pos += afterMarker;
      l.ignore();
      return lexComment;
    }
    const i = l.thisItem('leftDelim');
    l.insideAction = true;
    l.pos += afterMarker;
    l.ignore();
    l.parenDepth = 0;
    return l.emitItem(i);
  }

  static lexComment(l: Lexer): StateFn {
    l.pos += LEFT_COMMENT.length;
    const x = l.rest().indexOf(RIGHT_COMMENT);
    if (x < 0) return l.errorf('unclosed comment');
    l.pos += x + RIGHT_COMMENT.length;
    const { delim, trimSpaces } = l.atRightDelim();
    if (!delim) return l.errorf('comment ends before closing delimiter');
    if (trimSpaces) l.pos += TRIM_MARKER_LEN;
    l.pos += RIGHT_DELIM.length;
    if (trimSpaces) l.pos += trimLeftLength(l.rest());
    l.ignore();
    return lexText;
  }

  static lexRightDelim(l: Lexer): StateFn {
    const { trimSpaces } = l.atRightDelim();
    if (trimSpaces) {
      l.pos += TRIM_MARKER_LEN;
      l.ignore();
    }
    l.pos += RIGHT_DELIM.length;
    const i = l.thisItem('rightDelim');
    if (trimSpaces) {
      l.pos += trimLeftLength(l.rest());
      l.ignore();
    }
    l.insideAction = false;
    return l.emitItem(i);
  }

  static lexInsideAction(l: Lexer): StateFn {
    const { delim } = l.atRightDelim();
    if (delim) {
      if (l.parenDepth === 0) return lexRightDelim;
      return l.errorf('unclosed left paren');
    }
    const r = l.next();
    if (r === EOF) return l.errorf('unclosed action');
    if (isSpace(r)) {
      l.backup();
      return lexSpace;
    }
    const ch = String.fromCodePoint(r);
    switch (ch) {
      case '=':
        return l.emit('assign');
      case ':':
        if (l.next() !== 0x3d) return l.errorf('expected :=');
        return l.emit('declare');
      case '|':
        return l.emit('pipe');
      case '"':
        return lexQuote;
      case '`':
        return lexRawQuote;
      case '$':
        return lexVariable;
      case "'":
        return lexChar;
      case '(':
        l.parenDepth++;
        return l.emit('leftParen');
      case ')':
        l.parenDepth--;
        if (l.parenDepth < 0) return l.errorf('unexpected right paren');
        return l.emit('rightParen');
    }
    if (ch === '.') {
      const next = l.input.charCodeAt(l.pos);
      if (l.pos < l.input.length && (next < 0x30 || next > 0x39)) return lexField;
    }
    if (ch === '.' || ch === '+' || ch === '-' || (r >= 0x30 && r <= 0x39)) {
      l.backup();
      return lexNumber;
    }
    if (isAlphaNumeric(r)) {
      l.backup();
      return lexIdentifier;
    }
    if (r < 0x80 && r >= 0x20 && r !== 0x7f) return l.emit('char');
    return l.errorf(`unrecognized character in action: ${goUnicode(r)}`);
  }

  static lexSpace(l: Lexer): StateFn {
    let numSpaces = 0;
    while (isSpace(l.peek())) {
      l.next();
      numSpaces++;
    }
    if (hasRightTrimMarker(l.rest(l.pos - 1)) && l.rest(l.pos - 1 + TRIM_MARKER_LEN).startsWith(RIGHT_DELIM)) {
      l.backup();
      if (numSpaces === 1) return lexRightDelim;
    }
    return l.emit('space');
  }

  static lexIdentifier(l: Lexer): StateFn {
    for (;;) {
      const r = l.next();
      if (isAlphaNumeric(r)) continue;
      l.backup();
      const word = l.input.slice(l.start, l.pos);
      if (!l.atTerminator()) return l.errorf(`bad character ${goUnicode(r)}`);
      const key = KEY[word];
      if (key !== undefined && key !== 'dot') {
        if ((key === 'break' && !l.options.breakOK) || (key === 'continue' && !l.options.continueOK)) {
          return l.emit('identifier');
        }
        return l.emit(key);
      }
      if (word[0] === '.') return l.emit('field');
      if (word === 'true' || word === 'false') return l.emit('bool');
      return l.emit('identifier');
    }
  }

  static lexField(l: Lexer): StateFn {
    return l.lexFieldOrVariable('field');
  }

  static lexVariable(l: Lexer): StateFn {
    if (l.atTerminator()) return l.emit('variable');
    return l.lexFieldOrVariable('variable');
  }

  lexFieldOrVariable(type: 'field' | 'variable'): StateFn {
    if (this.atTerminator()) return this.emit(type === 'variable' ? 'variable' : 'dot');
    let r: number;
    for (;;) {
      r = this.next();
      if (!isAlphaNumeric(r)) {
        this.backup();
        break;
      }
    }
    if (!this.atTerminator()) return this.errorf(`bad character ${goUnicode(r)}`);
    return this.emit(type);
  }

  static lexChar(l: Lexer): StateFn {
    for (;;) {
      let r = l.next();
      if (r === 0x5c) {
        r = l.next();
        if (r !== EOF && r !== 0x0a) continue;
      }
      if (r === EOF || r === 0x0a) return l.errorf('unterminated character constant');
      if (r === 0x27) break;
    }
    return l.emit('charConstant');
  }

  static lexNumber(l: Lexer): StateFn {
    if (!l.scanNumber()) return l.errorf(`bad number syntax: ${quote(l.input.slice(l.start, l.pos))}`);
    const sign = l.peek();
    if (sign === 0x2b || sign === 0x2d) {
      if (!l.scanNumber() || l.input[l.pos - 1] !== 'i') {
        return l.errorf(`bad number syntax: ${quote(l.input.slice(l.start, l.pos))}`);
      }
      return l.emit('complex');
    }
    return l.emit('number');
  }

  static lexQuote(l: Lexer): StateFn {
    for (;;) {
      let r = l.next();
      if (r === 0x5c) {
        r = l.next();
        if (r !== EOF && r !== 0x0a) continue;
      }
      if (r === EOF || r === 0x0a) return l.errorf('unterminated quoted string');
      if (r === 0x22) break;
    }
    return l.emit('string');
  }

  static lexRawQuote(l: Lexer): StateFn {
    for (;;) {
      const r = l.next();
      if (r === EOF) return l.errorf('unterminated raw quoted string');
      if (r === 0x60) break;
    }
    return l.emit('rawString');
  }
}

const {
  lexText,
  lexLeftDelim,
  lexComment,
  lexRightDelim,
  lexInsideAction,
  lexSpace,
  lexIdentifier,
  lexField,
  lexVariable,
  lexChar,
  lexNumber,
  lexQuote,
  lexRawQuote,
} = Lexer;
