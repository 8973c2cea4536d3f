import { interpolate, InterpolationError, type Lookup } from './interpolate.ts';

/**
 * `.env` and `env_file` files as Docker Compose reads them: `KEY=VALUE` (or `KEY: VALUE`), an optional
 * `export ` prefix, `#` comments, single-quoted values taken literally, double-quoted values with `\n`, `\t`,
 * `\\`, `\"` escapes and interpolation, unquoted values trimmed, with a ` #` comment cut off, and interpolated.
 * Quoted values may span lines. A bare `KEY` takes the value from `lookup`, and is left out when unset.
 * Interpolation sees the keys set earlier in the same file first, then `lookup`.
 */

export class DotenvError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(message);
    this.line = line;
  }
}

const KEY = /^[A-Za-z0-9_.\-[\]]+/;

export function parseDotenv(text: string, lookup: Lookup = () => undefined): Map<string, string> {
  const out = new Map<string, string>();
  const resolve: Lookup = (name) => out.get(name) ?? lookup(name);
  let i = 0;
  let line = 1;
  const src = text.replace(/\r\n?/g, '\n');
  while (i < src.length) {
    // Start of a line: skip blank space.
    while (i < src.length && (src[i] === ' ' || src[i] === '\t')) i++;
    if (src[i] === '\n') {
      i++;
      line++;
      continue;
    }
    if (i >= src.length) break;
    if (src[i] === '#') {
      i = skipLine(src, i);
      line++;
      continue;
    }
    if (src.startsWith('export ', i) || src.startsWith('export\t', i)) {
      i += 7;
      while (src[i] === ' ' || src[i] === '\t') i++;
    }
    const m = KEY.exec(src.slice(i, i + 1024));
    if (m === null) throw new DotenvError(line, `unexpected character "${src[i]}" in variable name`);
    const key = m[0];
    i += key.length;
    while (src[i] === ' ' || src[i] === '\t') i++;
    const sep = src[i];
    if (sep === '\n' || sep === undefined || sep === '#') {
      const v = lookup(key);
      if (v !== undefined) out.set(key, v);
      i = sep === '#' ? skipLine(src, i) : i;
      continue;
    }
    if (sep !== '=' && sep !== ':') throw new DotenvError(line, `unexpected character "${sep}" after "${key}"`);
    i++;
    while (src[i] === ' ' || src[i] === '\t') i++;
    const q = src[i];
    let value: string;
    if (q === "'" || q === '"') {
      const start = i + 1;
      let j = start;
      let raw = '';
      for (;;) {
        if (j >= src.length) throw new DotenvError(line, `unterminated quoted value for "${key}"`);
        const c = src[j]!;
        if (c === '\\' && q === '"' && j + 1 < src.length) {
          raw += c + src[j + 1];
          j += 2;
          continue;
        }
        if (c === q) break;
        raw += c;
        j++;
      }
      const startLine = line;
      line += countNewlines(src, i, j);
      i = skipLine(src, j + 1);
      if (src[i - 1] === '\n') line++;
      value = q === "'" ? raw : unescapeDouble(raw);
      if (q === '"') value = expandIn(value, resolve, startLine);
    } else {
      const end = src.indexOf('\n', i);
      let raw = end < 0 ? src.slice(i) : src.slice(i, end);
      const comment = raw.search(/[ \t]#/);
      if (comment >= 0) raw = raw.slice(0, comment);
      value = expandIn(raw.trim(), resolve, line);
      i = end < 0 ? src.length : end + 1;
      line++;
    }
    out.set(key, value);
  }
  return out;
}

function expandIn(value: string, lookup: Lookup, line: number): string {
  try {
    return interpolate(value, lookup);
  } catch (err) {
    if (err instanceof InterpolationError) throw new DotenvError(line, err.message);
    throw err;
  }
}

function skipLine(src: string, i: number): number {
  const end = src.indexOf('\n', i);
  return end < 0 ? src.length : end + 1;
}

function countNewlines(src: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (src[i] === '\n') n++;
  return n;
}

function unescapeDouble(raw: string): string {
  return raw.replace(/\\(.)/gs, (_, c: string) => {
    switch (c) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case '"':
      case '\\':
        return c;
      case '$':
        return '$$';
      default:
        return `\\${c}`;
    }
  });
}
