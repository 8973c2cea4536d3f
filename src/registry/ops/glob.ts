import { InvalidArgumentError } from '../../util/errors.ts';

/**
 * Glob patterns for repository names and tags, as Harbor's rules take them: `*` is any run of characters but
 * `/`, `**` any run including `/`, `?` one character but `/`, `{a,b}` either alternative, `[a-z]` a class
 * (`[!a]` its complement). Everything else stands for itself. A pattern matches the whole name.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // `**/` also matches nothing at all: `a/**/b` matches `a/b`.
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      depth++;
      re += '(?:';
    } else if (c === '}' && depth > 0) {
      depth--;
      re += ')';
    } else if (c === ',' && depth > 0) re += '|';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new SyntaxError(`invalid pattern "${pattern}": "[" without "]"`);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      i++;
      re += literal(pattern[i]!);
    } else re += literal(c);
  }
  if (depth !== 0) throw new SyntaxError(`invalid pattern "${pattern}": "{" without "}"`);
  return new RegExp(`^${re}$`);
}

function literal(c: string): string {
  return /[.+^$()|\\/\]]/.test(c) ? `\\${c}` : c;
}

/** Whether `name` matches `pattern` (see globToRegExp); patterns are compiled once and kept. */
export class Glob {
  readonly pattern: string;
  readonly #re: RegExp;
  constructor(pattern: string) {
    this.pattern = pattern;
    this.#re = globToRegExp(pattern);
  }
  matches(name: string): boolean {
    return this.#re.test(name);
  }
}

/** A pattern given by a user, checked: InvalidArgumentError names it when it does not parse. */
export function checkGlob(pattern: string, what = 'pattern'): string {
  if (pattern === '') throw new InvalidArgumentError(`empty ${what}`);
  try {
    globToRegExp(pattern);
  } catch (err) {
    const why = (err as Error).message.replace(/^invalid pattern "[^"]*": /, '');
    throw new InvalidArgumentError(`invalid ${what} "${pattern}": ${why}`);
  }
  return pattern;
}
