/**
 * Template functions: Go's builtins (text/template/funcs.go) and docker's (docker/cli templates/templates.go),
 * each with the Go parameter types that decide how its arguments are checked and converted.
 */
import { marshalJSON, UnsupportedValueError } from './gojson.ts';
import { formatValue, isPrint, sprint, sprintf, sprintln } from './gofmt.ts';
import { goTypeName, isTrue, kindOf, mapGet, mapSize, toBigInt, toNumber } from './values.ts';

/**
 * A Go parameter type. 'value' is Go's reflect.Value parameter (the builtins that take any value, including a
 * missing one); 'any' is interface{}.
 */
export type ParamType = 'any' | 'value' | 'string' | 'int' | 'bool' | 'float64' | '[]string';

/** A function with a Go signature. `fn` throws FuncError (or any Error) for Go's non-nil error result. */
export interface GoFunction {
  params: ParamType[];
  /** the element type of a final variadic parameter */
  variadic?: ParamType;
  fn: (...args: never[]) => unknown;
}

/** Functions by name: a GoFunction, or a plain function taking any number of interface{} arguments. */
export type FuncMap = Record<string, GoFunction | ((...args: never[]) => unknown)>;

/** The error result of a template function. */
export class FuncError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuncError';
  }
}

export function asGoFunction(f: GoFunction | ((...args: never[]) => unknown)): GoFunction {
  return typeof f === 'function' ? { params: [], variadic: 'any', fn: f } : f;
}

const fn = <A extends unknown[]>(params: ParamType[], f: (...args: A) => unknown, variadic?: ParamType): GoFunction =>
  variadic === undefined
    ? { params, fn: f as (...args: never[]) => unknown }
    : { params, variadic, fn: f as (...args: never[]) => unknown };

// --- comparison (basicKind, eq, lt)

type BasicKind = 'bool' | 'int' | 'uint' | 'float' | 'string';

function basicKind(v: unknown): BasicKind | undefined {
  const k = kindOf(v);
  return k === 'bool' || k === 'int' || k === 'uint' || k === 'float' || k === 'string' ? k : undefined;
}

const isNilish = (v: unknown): boolean => v === undefined || v === null;

function eq(arg1: unknown, ...arg2: unknown[]): boolean {
  if (arg2.length === 0) throw new FuncError('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (const arg of arg2) {
    const k2 = basicKind(arg);
    let truth: boolean;
    if (k1 !== k2) {
      if ((k1 === 'int' && k2 === 'uint') || (k1 === 'uint' && k2 === 'int')) {
        truth = toBigInt(arg1) === toBigInt(arg);
      } else if (!isNilish(arg1) && !isNilish(arg)) {
        throw new FuncError('incompatible types for comparison');
      } else {
        truth = isNilish(arg1) && isNilish(arg);
      }
    } else if (k1 === 'int' || k1 === 'uint') {
      truth = toBigInt(arg1) === toBigInt(arg);
    } else if (k1 === 'float') {
      truth = toNumber(arg1) === toNumber(arg);
    } else if (k1 !== undefined) {
      truth = arg1 === arg;
    } else if (isNilish(arg1) || isNilish(arg)) {
      truth = isNilish(arg1) && isNilish(arg);
    } else if (kindOf(arg1) === 'slice' || kindOf(arg1) === 'map' || kindOf(arg1) === 'func') {
      throw new FuncError(`non-comparable type ${formatValue(arg1)}: ${goTypeName(arg1)}`);
    } else {
      truth = arg1 === arg;
    }
    if (truth) return true;
  }
  return false;
}

function lt(arg1: unknown, arg2: unknown): boolean {
  const k1 = basicKind(arg1);
  const k2 = basicKind(arg2);
  if (k1 === undefined || k2 === undefined) throw new FuncError('invalid type for comparison');
  if (k1 !== k2) {
    if (k1 === 'int' && k2 === 'uint') return toBigInt(arg1) < toBigInt(arg2);
    if (k1 === 'uint' && k2 === 'int') return toBigInt(arg1) < toBigInt(arg2);
    throw new FuncError('incompatible types for comparison');
  }
  switch (k1) {
    case 'bool':
      throw new FuncError('invalid type for comparison');
    case 'int':
    case 'uint':
      return toBigInt(arg1) < toBigInt(arg2);
    case 'float':
      return toNumber(arg1) < toNumber(arg2);
    case 'string':
      return (arg1 as string) < (arg2 as string);
  }
}

const le = (a: unknown, b: unknown): boolean => lt(a, b) || eq(a, b);

// --- indexing

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

function indexArg(index: unknown, cap: number): number {
  const k = kindOf(index);
  if (isNilish(index)) throw new FuncError('cannot index slice/array with nil');
  if (k !== 'int' && k !== 'uint') throw new FuncError(`cannot index slice/array with type ${goTypeName(index)}`);
  const x = toBigInt(index);
  if (x < 0n || x > BigInt(cap)) throw new FuncError(`index out of range: ${x}`);
  return Number(x);
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  if (isNilish(item)) throw new FuncError('index of untyped nil');
  let v = item;
  for (const i of indexes) {
    if (v === null) throw new FuncError('index of nil pointer');
    switch (kindOf(v)) {
      case 'slice': {
        const a = v as unknown[];
        const x = indexArg(i, a.length);
        if (x === a.length) throw new FuncError('reflect: slice index out of range');
        v = a[x];
        break;
      }
      case 'string': {
        const b = utf8(v as string);
        const x = indexArg(i, b.length);
        if (x === b.length) throw new FuncError('reflect: string index out of range');
        v = b[x];
        break;
      }
      case 'map': {
        if (i !== undefined && i !== null && typeof i !== 'string') {
          throw new FuncError(`value has type ${goTypeName(i)}; should be string`);
        }
        const m = v as object;
        v = mapGet(m, (i ?? '') as string);
        // A missing key gives the map's zero value: '' for a map[string]string, nil otherwise.
        if (v === undefined && goTypeName(m) === 'map[string]string') v = '';
        break;
      }
      default:
        throw new FuncError(`can't index item of type ${goTypeName(v)}`);
    }
  }
  return v;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  if (isNilish(item)) throw new FuncError('slice of untyped nil');
  if (indexes.length > 3) throw new FuncError(`too many slice indexes: ${indexes.length}`);
  const k = kindOf(item);
  let len: number;
  if (k === 'string') {
    if (indexes.length === 3) throw new FuncError('cannot 3-index slice a string');
    len = utf8(item as string).length;
  } else if (k === 'slice') {
    len = (item as unknown[]).length;
  } else {
    throw new FuncError(`can't slice item of type ${goTypeName(item)}`);
  }
  const idx = [0, len, len];
  indexes.forEach((i, n) => {
    idx[n] = indexArg(i, len);
  });
  if (idx[0]! > idx[1]!) throw new FuncError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1]! > idx[2]!) throw new FuncError(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (k === 'string')
    return utf8(item as string)
      .subarray(idx[0], idx[1])
      .toString('utf8');
  return (item as unknown[]).slice(idx[0], idx[1]);
}

function length(item: unknown): number {
  if (item === null) throw new FuncError('len of nil pointer');
  if (item === undefined) throw new FuncError('reflect: call of reflect.Value.Type on zero Value');
  switch (kindOf(item)) {
    case 'string':
      return utf8(item as string).length;
    case 'slice':
      return (item as unknown[]).length;
    case 'map':
      return mapSize(item as object);
    default:
      throw new FuncError(`len of type ${goTypeName(item)}`);
  }
}

// --- escaping

/** Go's evalArgs: the text of the arguments, with missing values as <no value>. */
function evalArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((a) => (a === undefined ? '<no value>' : a)));
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '\0': '\ufffd',
  '"': '&#34;',
  "'": '&#39;',
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
};

export function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => HTML_ESCAPES[c]!);
}

const JS_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  "'": "\\'",
  '"': '\\"',
  '<': '\\u003C',
  '>': '\\u003E',
  '&': '\\u0026',
  '=': '\\u003D',
};

export function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    const named = JS_ESCAPES[ch];
    if (named !== undefined) out += named;
    else if (r < 0x20) out += `\\u00${r.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (r < 0x80 || isPrint(r)) out += ch;
    else out += `\\u${r.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}

/** url.QueryEscape */
export function urlQueryEscape(s: string): string {
  let out = '';
  for (const b of utf8(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** strings.Title: upper-cases the first letter of each word. */
export function title(s: string): string {
  const isSeparator = (r: string): boolean => {
    if (r.codePointAt(0)! <= 0x7f) return !/[0-9a-zA-Z_]/.test(r);
    if (/[\p{L}\p{Nd}]/u.test(r)) return false;
    return /\s/u.test(r);
  };
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

function repeat(s: string, n: number): string {
  if (n < 0) throw new FuncError('strings: negative Repeat count');
  return s.repeat(n);
}

/** text/template's builtins. `and`, `or` and `call` are evaluated specially by the executor. */
export const BUILTINS: FuncMap = {
  and: fn(['value'], () => undefined, 'value'),
  or: fn(['value'], () => undefined, 'value'),
  not: fn(['value'], (v: unknown) => !isTrue(v)),
  // The executor passes the callee's source text first, for the error message (the user-visible
  // signature is call(fn, args...)).
  call: fn(
    ['value'],
    (name: string, f: unknown, ...args: unknown[]) => {
      if (isNilish(f)) throw new FuncError('call of nil');
      if (typeof f !== 'function') throw new FuncError(`non-function ${name} of type ${goTypeName(f)}`);
      return (f as (...a: unknown[]) => unknown)(...args);
    },
    'value',
  ),
  html: fn([], (...args: unknown[]) => htmlEscape(evalArgs(args)), 'any'),
  js: fn([], (...args: unknown[]) => jsEscape(evalArgs(args)), 'any'),
  urlquery: fn([], (...args: unknown[]) => urlQueryEscape(evalArgs(args)), 'any'),
  index: fn(['value'], index, 'value'),
  slice: fn(['value'], slice, 'value'),
  len: fn(['value'], length),
  print: fn([], (...args: unknown[]) => sprint(args), 'any'),
  printf: fn(['string'], (format: string, ...args: unknown[]) => sprintf(format, args), 'any'),
  println: fn([], (...args: unknown[]) => sprintln(args), 'any'),
  eq: fn(['value'], eq, 'value'),
  ne: fn(['value', 'value'], (a: unknown, b: unknown) => !eq(a, b)),
  lt: fn(['value', 'value'], lt),
  le: fn(['value', 'value'], le),
  gt: fn(['value', 'value'], (a: unknown, b: unknown) => !le(a, b)),
  ge: fn(['value', 'value'], (a: unknown, b: unknown) => !lt(a, b)),
};

/** docker/cli's basicFunctions. */
export const DOCKER_FUNCS: FuncMap = {
  json: fn(['any'], (v: unknown) => {
    try {
      return marshalJSON(v, { escapeHTML: false });
    } catch (err) {
      if (err instanceof UnsupportedValueError) return '';
      throw err;
    }
  }),
  split: fn(['string', 'string'], (s: string, sep: string) => (sep === '' ? [...s] : s.split(sep))),
  join: fn(['[]string', 'string'], (elems: string[] | null, sep: string) => (elems ?? []).join(sep)),
  title: fn(['string'], title),
  lower: fn(['string'], (s: string) => s.toLowerCase()),
  upper: fn(['string'], (s: string) => s.toUpperCase()),
  pad: fn(['string', 'int', 'int'], (s: string, prefix: number, suffix: number) =>
    s === '' ? s : repeat(' ', prefix) + s + repeat(' ', suffix),
  ),
  truncate: fn(['string', 'int'], (s: string, n: number) => {
    const b = utf8(s);
    if (b.length < n) return s;
    if (n < 0) throw new FuncError(`runtime error: slice bounds out of range [:${n}]`);
    return b.subarray(0, n).toString('utf8');
  }),
};

/** docker/cli's HeaderFunctions: over the header row, functions leave the column title as it is. */
export const DOCKER_HEADER_FUNCS: FuncMap = {
  json: fn(['string'], (v: string) => v),
  split: fn(['string', 'string'], (v: string) => v),
  join: fn(['string', 'string'], (v: string) => v),
  title: fn(['string'], (v: string) => v),
  lower: fn(['string'], (v: string) => v),
  upper: fn(['string'], (v: string) => v),
  truncate: fn(['string', 'int'], (v: string) => v),
};
