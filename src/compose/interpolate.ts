/**
 * Variable interpolation in compose files, as the Compose Specification defines it: `$VAR`, `${VAR}`,
 * `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
 * `${VAR+alt}`, `$$` for a literal `$`; defaults and alternatives may hold further substitutions. Values are
 * interpolated, keys are not.
 */

/** Looks a variable up; undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

/** A template that cannot be expanded: a missing required variable or a malformed `${…}`. */
export class InterpolationError extends Error {}

export interface InterpolateOptions {
  /** Called once per unset variable that a plain `$VAR` or `${VAR}` expanded to the empty string. */
  onUnset?: (name: string) => void;
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Expands one string. */
export function interpolate(text: string, lookup: Lookup, opts: InterpolateOptions = {}): string {
  if (!text.includes('$')) return text;
  return expand(text, 0, text.length, lookup, opts);
}

function expand(text: string, start: number, end: number, lookup: Lookup, opts: InterpolateOptions): string {
  let out = '';
  let i = start;
  while (i < end) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0 || dollar >= end) {
      out += text.slice(i, end);
      break;
    }
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
    } else if (next === '{') {
      const close = matchingBrace(text, dollar + 2, end);
      if (close < 0) throw new InterpolationError(`Invalid template: "${text.slice(start, end)}"`);
      out += braced(text, dollar + 2, close, lookup, opts);
      i = close + 1;
    } else if (next !== undefined && NAME_START.test(next) && dollar + 1 < end) {
      let j = dollar + 1;
      while (j < end && NAME_CHAR.test(text[j]!)) j++;
      const name = text.slice(dollar + 1, j);
      out += plain(name, lookup, opts);
      i = j;
    } else {
      out += '$';
      i = dollar + 1;
    }
  }
  return out;
}

/** The index of the `}` that closes a `${` whose body starts at `from`, counting nested `${…}`. */
function matchingBrace(text: string, from: number, end: number): number {
  let depth = 0;
  for (let i = from; i < end; i++) {
    const c = text[i];
    if (c === '$' && text[i + 1] === '$') {
      i++;
    } else if (c === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (c === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

function plain(name: string, lookup: Lookup, opts: InterpolateOptions): string {
  const value = lookup(name);
  if (value === undefined) {
    opts.onUnset?.(name);
    return '';
  }
  return value;
}

/** The body of `${…}` between `from` and `close`. */
function braced(text: string, from: number, close: number, lookup: Lookup, opts: InterpolateOptions): string {
  let j = from;
  if (j < close && NAME_START.test(text[j]!)) {
    while (j < close && NAME_CHAR.test(text[j]!)) j++;
  }
  const name = text.slice(from, j);
  if (name === '') throw new InterpolationError(`Invalid template: "${text.slice(from - 2, close + 1)}"`);
  if (j === close) return plain(name, lookup, opts);
  let op = text[j]!;
  let colon = false;
  if (op === ':') {
    colon = true;
    op = text[j + 1] ?? '';
    j++;
  }
  if (op !== '-' && op !== '?' && op !== '+') {
    throw new InterpolationError(`Invalid template: "${text.slice(from - 2, close + 1)}"`);
  }
  const argStart = j + 1;
  const value = lookup(name);
  const missing = colon ? value === undefined || value === '' : value === undefined;
  const arg = (): string => expand(text, argStart, close, lookup, opts);
  switch (op) {
    case '-':
      return missing ? arg() : value!;
    case '+':
      return missing ? '' : arg();
    default: {
      if (!missing) return value!;
      const reason = arg();
      throw new InterpolationError(
        reason === ''
          ? `required variable ${name} is missing a value`
          : `required variable ${name} is missing a value: ${reason}`,
      );
    }
  }
}

/**
 * Interpolates every string value of a parsed document (keys stay as written). `onError` receives the path
 * of the value that failed, so that the caller can name the file and line.
 */
export function interpolateTree(
  value: unknown,
  lookup: Lookup,
  opts: InterpolateOptions & { path?: (string | number)[]; onError: (path: (string | number)[], err: Error) => never },
): unknown {
  const path = opts.path ?? [];
  if (typeof value === 'string') {
    try {
      return interpolate(value, lookup, opts);
    } catch (err) {
      if (err instanceof InterpolationError) opts.onError(path, err);
      throw err;
    }
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => interpolateTree(v, lookup, { ...opts, path: [...path, i] }));
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateTree(v, lookup, { ...opts, path: [...path, k] });
    return out;
  }
  return value;
}
