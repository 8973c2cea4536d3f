import { InvalidArgumentError } from '../util/errors.ts';

/**
 * One flag parser for every command, with cobra/pflag semantics: `-abc` combines short bools,
 * `-fvalue`, `-f=value`, `--flag=value` and `--flag value` give values, repeated flags append to
 * lists, `--` ends flags, and flags may follow arguments unless the command turns that off.
 */

/**
 * - `bool`: `--x`, `--x=false`
 * - `string`: last one wins
 * - `list`: repeatable, every value kept (docker's ListOpts / stringArray)
 * - `filter`: repeatable `key=value` (docker's FilterOpt), checked when parsed
 * - `int`: a whole number, checked when parsed like pflag's `strconv.ParseInt(s, 0, 64)`
 */
export type FlagKind = 'bool' | 'string' | 'list' | 'filter' | 'int';

export interface FlagSpec {
  name: string;
  short?: string;
  kind: FlagKind;
  usage: string;
  /** Name of the value in help (`string`, `list`, `filter`); defaults by kind. */
  valueName?: string;
  /** Default shown in help and used when the flag is absent. */
  defaultValue?: boolean | string;
  hidden?: boolean;
  /** The default as help shows it when it is not `defaultValue` (docker's `[]`, `map[]`). */
  defaultText?: string;
  /**
   * Checks (and may normalise) each value as it is parsed, as docker's typed flag values do; a thrown
   * error becomes `invalid argument "V" for "-m, --memory" flag: <its message>` (exit 125).
   */
  validate?: (value: string) => string;
}

/** Flag specs of the command tables in one line each, e.g. `str('format', 'Format output', { short: 'f' })`. */
const specOf =
  (kind: FlagKind) =>
  (name: string, usage: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({ name, kind, usage, ...extra });
export const bool = specOf('bool');
export const int = specOf('int');
export const list = specOf('list');
export const str = specOf('string');

/** A malformed command line: docker reports these with exit status 125. */
export class FlagError extends InvalidArgumentError {}

export class FlagValues {
  readonly #specs: Map<string, FlagSpec>;
  readonly #values = new Map<string, boolean | string | string[]>();
  constructor(specs: Map<string, FlagSpec>) {
    this.#specs = specs;
  }
  /** Whether the flag was given on the command line. */
  has(name: string): boolean {
    return this.#values.has(name);
  }
  bool(name: string): boolean {
    const v = this.#values.get(name) ?? this.#spec(name).defaultValue ?? false;
    return v === true;
  }
  string(name: string): string {
    const v = this.#values.get(name) ?? this.#spec(name).defaultValue ?? '';
    return typeof v === 'string' ? v : '';
  }
  /** An `int` flag's value (its default, else 0, when absent). */
  int(name: string): number {
    const text = this.string(name);
    return text === '' ? 0 : parseGoInt(text);
  }
  list(name: string): string[] {
    this.#spec(name);
    const v = this.#values.get(name);
    return Array.isArray(v) ? [...v] : [];
  }
  /** Filter flags as key → values (keys lower-cased, both sides trimmed, as docker's FilterOpt). */
  filters(name: string): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const item of this.list(name)) {
      const eq = item.indexOf('=');
      const key = item.slice(0, eq).trim().toLowerCase();
      const value = item.slice(eq + 1).trim();
      const values = (out[key] ??= []);
      if (!values.includes(value)) values.push(value);
    }
    return out;
  }
  /** @internal */
  set(name: string, value: boolean | string): void {
    const spec = this.#spec(name);
    if (spec.kind === 'list' || spec.kind === 'filter') {
      const prev = this.#values.get(name);
      const list = Array.isArray(prev) ? prev : [];
      list.push(String(value));
      this.#values.set(name, list);
    } else {
      this.#values.set(name, value);
    }
  }
  #spec(name: string): FlagSpec {
    const spec = this.#specs.get(name);
    if (spec === undefined) throw new RangeError(`no flag named "${name}"`);
    return spec;
  }
}

export interface ParseOptions {
  /** Flags may follow positional arguments (cobra's default). When false, the first argument ends flags. */
  interspersed?: boolean;
}

export interface ParseResult {
  flags: FlagValues;
  args: string[];
  /** `-h` / `--help` was given. */
  help: boolean;
}

export const HELP_FLAG: FlagSpec = { name: 'help', short: 'h', kind: 'bool', usage: 'Print usage', hidden: true };

/** Parses argv (without the command names) against the command's flags. Throws FlagError. */
export function parseFlags(specs: readonly FlagSpec[], argv: readonly string[], opts: ParseOptions = {}): ParseResult {
  const interspersed = opts.interspersed ?? true;
  const all = specs.some((s) => s.name === 'help') ? [...specs] : [...specs, HELP_FLAG];
  const byName = new Map(all.map((s) => [s.name, s]));
  const byShort = new Map(all.filter((s) => s.short !== undefined).map((s) => [s.short as string, s]));
  const values = new FlagValues(byName);
  const args: string[] = [];

  const assign = (spec: FlagSpec, value: string | true): void => {
    if (spec.kind === 'bool') {
      values.set(spec.name, value === true ? true : parseBool(spec, value));
      return;
    }
    if (value === true) throw new RangeError('a non-bool flag needs a value');
    if (spec.kind === 'filter' && !value.includes('=')) {
      throw new FlagError(
        `invalid argument "${value}" for "${flagTitle(spec)}" flag: bad format of filter (expected name=value)`,
      );
    }
    let checked = value;
    try {
      if (spec.kind === 'int') parseGoInt(value);
      if (spec.validate !== undefined) checked = spec.validate(value);
    } catch (err) {
      throw new FlagError(
        `invalid argument "${value}" for "${flagTitle(spec)}" flag: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    values.set(spec.name, checked);
  };

  let i = 0;
  while (i < argv.length) {
    const a = argv[i] as string;
    i++;
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      if (!interspersed) {
        args.push(a, ...argv.slice(i));
        break;
      }
      args.push(a);
      continue;
    }
    if (a.startsWith('--')) {
      const body = a.slice(2);
      if (body.startsWith('-') || body.startsWith('=')) throw new FlagError(`bad flag syntax: ${a}`);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      const spec = byName.get(name);
      if (spec === undefined) throw new FlagError(`unknown flag: --${name}`);
      if (eq >= 0) assign(spec, body.slice(eq + 1));
      else if (spec.kind === 'bool') assign(spec, true);
      else if (i < argv.length) assign(spec, argv[i++] as string);
      else throw new FlagError(`flag needs an argument: --${name}`);
      continue;
    }
    // Short flags, possibly combined: -abc, -fvalue, -f=value, -f value.
    let rest = a.slice(1);
    while (rest.length > 0) {
      const ch = rest[0] as string;
      const spec = byShort.get(ch);
      if (spec === undefined) throw new FlagError(`unknown shorthand flag: '${ch}' in ${a}`);
      if (rest.length > 2 && rest[1] === '=') {
        assign(spec, rest.slice(2));
        rest = '';
      } else if (spec.kind === 'bool') {
        assign(spec, true);
        rest = rest.slice(1);
      } else if (rest.length > 1) {
        assign(spec, rest.slice(1));
        rest = '';
      } else if (i < argv.length) {
        assign(spec, argv[i++] as string);
        rest = '';
      } else {
        throw new FlagError(`flag needs an argument: '${ch}' in -${ch}`);
      }
    }
  }
  return { flags: values, args, help: values.bool('help') };
}

/** `-f, --filter` or `--digests`, as pflag names a flag in errors. */
export function flagTitle(spec: FlagSpec): string {
  return spec.short !== undefined ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

/**
 * Go's `strconv.ParseInt(text, 0, 64)`: decimal, or 0x/0o/0b/0 prefixed, `_` between digits only with a
 * prefix; errors carry Go's message.
 */
export function parseGoInt(text: string): number {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9]*)$/.exec(text);
  if (m === null) throw new RangeError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  const sign = m[1] === '-' ? -1n : 1n;
  let body = m[2] as string;
  if (body.includes('_') && (/__|_$/.test(body) || !/^0[xXoObB]/.test(body))) {
    throw new RangeError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  body = body.replaceAll('_', '');
  let n: bigint;
  if (/^0[0-7]+$/.test(body)) n = BigInt(`0o${body.slice(1)}`);
  else n = BigInt(body);
  n *= sign;
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) {
    throw new RangeError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: value out of range`);
  }
  return Number(n);
}

function parseBool(spec: FlagSpec, text: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  throw new FlagError(
    `invalid argument "${text}" for "${flagTitle(spec)}" flag: strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`,
  );
}

/**
 * The `Options:` block of help text, laid out like pflag's `FlagUsagesWrapped(cols)`: flags sorted by
 * name, usage aligned one column past the longest flag, wrapped to `cols`.
 */
export function flagUsages(specs: readonly FlagSpec[], cols: number): string {
  const visible = specs
    .filter((s) => s.hidden !== true)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines: [string, string][] = [];
  let maxlen = 0;
  for (const s of visible) {
    let left = s.short !== undefined ? `  -${s.short}, --${s.name}` : `      --${s.name}`;
    const valueName = s.valueName ?? defaultValueName(s.kind);
    if (valueName !== '') left += ` ${valueName}`;
    maxlen = Math.max(maxlen, left.length + 1);
    let usage = s.usage;
    if (s.defaultText !== undefined) usage += ` (default ${s.defaultText})`;
    else if (
      s.defaultValue !== undefined &&
      s.defaultValue !== false &&
      s.defaultValue !== '' &&
      !(s.kind === 'int' && s.defaultValue === '0')
    ) {
      usage +=
        typeof s.defaultValue === 'string' && s.kind !== 'int'
          ? ` (default ${JSON.stringify(s.defaultValue)})`
          : ` (default ${s.defaultValue})`;
    }
    lines.push([left, usage]);
  }
  let out = '';
  for (const [left, usage] of lines) {
    out += `${left} ${' '.repeat(maxlen - left.length)} ${wrap(maxlen + 2, cols, usage)}\n`;
  }
  return out;
}

function defaultValueName(kind: FlagKind): string {
  switch (kind) {
    case 'bool':
      return '';
    case 'string':
      return 'string';
    case 'list':
      return 'list';
    case 'filter':
      return 'filter';
    case 'int':
      return 'int';
  }
}

/** pflag's `wrap`: wraps `s` to width `w` with continuation lines indented by `i`. */
export function wrap(i: number, w: number, s: string): string {
  if (w === 0) return s.replaceAll('\n', `\n${' '.repeat(i)}`);
  let width = w - i;
  let r = '';
  if (width < 24) {
    i = 16;
    width = w - i;
    r += `\n${' '.repeat(i)}`;
  }
  if (width < 24) return s.replaceAll('\n', r);
  const slop = 5;
  width -= slop;
  let [l, rest] = wrapN(width, slop, s);
  r += l.replaceAll('\n', `\n${' '.repeat(i)}`);
  while (rest !== '') {
    let t: string;
    [t, rest] = wrapN(width, slop, rest);
    r += `\n${' '.repeat(i)}${t.replaceAll('\n', `\n${' '.repeat(i)}`)}`;
  }
  return r;
}

function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ''];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\t'), head.lastIndexOf('\n'));
  if (w <= 0) return [s, ''];
  const nl = head.lastIndexOf('\n');
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}
