/**
 * Each instruction's line parser: the text after the keyword (and its flags) → the node's arguments. They follow
 * Docker's parser exactly, quirks included (the legacy `ENV key value` form, JSON arrays that fall back to the
 * shell form when they are not valid JSON), because the AST dump corpus checks them byte for byte. Quotes and
 * escapes stay in the arguments here; expansion removes them later.
 */
import { goQuote, isGoSpace } from '../util/shellwords.ts';

export interface LineParse {
  args: string[];
  json: boolean;
}

/** Go's `[\t\v\f\r ]+`, the separator of whitespace-delimited arguments. */
const WHITESPACE = /[\t\v\f\r ]+/;

export class LineParseError extends Error {}

export const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

const isSpaceChar = (ch: string) => isGoSpace(ch.codePointAt(0)!);

/** Go's strings.TrimSpace (Unicode white space). */
export function trimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpaceChar(s[a]!)) a++;
  while (b > a && isSpaceChar(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/** Go's bytes.TrimLeftFunc(s, unicode.IsSpace). */
export function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isSpaceChar(s[i]!)) i++;
  return s.slice(i);
}

/**
 * Splits on whitespace outside quotes, keeping quotes and escapes in the words (`a "b c" d\ e` → `a`, `"b c"`,
 * `d\ e`). An escape at the very end of the text is dropped.
 */
export function parseWords(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let buf = '';
  for (let pos = 0; pos <= chars.length; pos++) {
    const atEnd = pos === chars.length;
    let ch = atEnd ? '' : chars[pos]!;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isSpaceChar(ch)) continue;
      phase = 'word';
    }
    if (atEnd) {
      if (blankOK || buf.length > 0) words.push(buf);
      break;
    }
    if (phase === 'word') {
      if (isSpaceChar(ch)) {
        phase = 'spaces';
        if (blankOK || buf.length > 0) words.push(buf);
        buf = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escapeToken) {
        if (pos + 1 === chars.length) continue; // an escape at the end of the line is dropped
        buf += ch;
        ch = chars[++pos]!;
      }
      buf += ch;
      continue;
    }
    // in quotes
    if (ch === quote) phase = 'word';
    if (ch === escapeToken && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      buf += ch;
      ch = chars[++pos]!;
    }
    buf += ch;
  }
  return words;
}

/**
 * ENV and LABEL: `key=value ...` (each word split at its first `=`), or the legacy `key value with spaces` when
 * the first word has no `=`. Gives key, value, separator triples.
 */
export function parseNameVal(rest: string, keyword: string, escapeToken: string): LineParse {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) return { args: [], json: false };
  if (!words[0]!.includes('=')) {
    const m = WHITESPACE.exec(rest);
    if (!m) throw new LineParseError(`${keyword} must have two arguments`);
    return { args: [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''], json: false };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) {
      throw new LineParseError(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`);
    }
    args.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return { args, json: false };
}

/** ARG: the words, each `name` or `name=value`. */
export function parseNameOrNameVal(rest: string, escapeToken: string): LineParse {
  return { args: parseWords(rest, escapeToken), json: false };
}

export function parseStringsWhitespaceDelimited(rest: string): LineParse {
  if (rest === '') return { args: [], json: false };
  return { args: rest.split(new RegExp(WHITESPACE.source, 'g')), json: false };
}

export function parseString(rest: string): LineParse {
  return { args: rest === '' ? [] : [rest], json: false };
}

/** The JSON (exec) form: an array of strings, or undefined when the text is not a JSON array at all. */
export function parseJSON(rest: string): LineParse | undefined {
  const text = trimLeftSpace(rest);
  if (!text.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  if (!parsed.every((x) => typeof x === 'string')) throw new LineParseError(NOT_STRING_ARRAY);
  return { args: parsed as string[], json: true };
}

/** RUN, CMD, ENTRYPOINT, SHELL: the JSON form, or the whole text as one argument. */
export function parseMaybeJSON(rest: string): LineParse {
  if (rest === '') return { args: [], json: false };
  return parseJSON(rest) ?? { args: [rest], json: false };
}

/** ADD, COPY, VOLUME: the JSON form, or whitespace-separated words. */
export function parseMaybeJSONToList(rest: string): LineParse {
  return parseJSON(rest) ?? parseStringsWhitespaceDelimited(rest);
}

/** HEALTHCHECK: a type word (`CMD`, `NONE`), then the command as for CMD. */
export function parseHealthConfig(rest: string): LineParse {
  let sep = 0;
  while (sep < rest.length && !isSpaceChar(rest[sep]!)) sep++;
  let next = sep;
  while (next < rest.length && isSpaceChar(rest[next]!)) next++;
  if (sep === 0) return { args: [], json: false };
  const cmd = parseMaybeJSON(rest.slice(next));
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json };
}

/**
 * Splits a logical line into keyword, flags (`--x=y` words up to the first other word or `--`) and the rest.
 * Flags have their quotes and escapes removed.
 */
export function splitCommand(line: string, escapeToken: string): { keyword: string; flags: string[]; rest: string } {
  const trimmed = trimSpace(line);
  const m = WHITESPACE.exec(trimmed);
  if (!m) return { keyword: trimmed, flags: [], rest: '' };
  const keyword = trimmed.slice(0, m.index);
  const { rest, flags } = extractBuilderFlags(trimmed.slice(m.index + m[0].length), escapeToken);
  return { keyword, flags, rest: trimSpace(rest) };
}

export function extractBuilderFlags(line: string, escapeToken: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let buf = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const atEnd = pos === line.length;
    let ch = atEnd ? '' : line[pos]!;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isSpaceChar(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { rest: line.slice(pos), flags };
      phase = 'word';
    }
    if (atEnd) {
      if (buf !== '--' && (blankOK || buf.length > 0)) flags.push(buf);
      break;
    }
    if (phase === 'word') {
      if (isSpaceChar(ch)) {
        phase = 'spaces';
        if (buf === '--') return { rest: line.slice(pos), flags };
        if (blankOK || buf.length > 0) flags.push(buf);
        buf = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === escapeToken) {
        if (pos + 1 === line.length) continue;
        ch = line[++pos]!;
      }
      buf += ch;
      continue;
    }
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === escapeToken) {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      ch = line[++pos]!;
    }
    buf += ch;
  }
  return { rest: '', flags };
}
