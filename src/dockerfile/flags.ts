/**
 * An instruction's `--name[=value]` flags, checked against the flags it takes: booleans (`--link`,
 * `--link=false`), strings (`--from=x`, once) and lists (`--exclude=a --exclude=b`). Messages are those of Docker's
 * builder (`Unknown flag: foo`, `Missing a value on flag: chown`, `Duplicate flag specified: from`).
 */
import { LineParseError } from './line-parsers.ts';

type FlagType = 'bool' | 'string' | 'strings';

export class Flags {
  private readonly defined = new Map<string, FlagType>();
  private readonly values = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();
  private readonly used = new Set<string>();
  private readonly args: readonly string[];

  constructor(args: readonly string[]) {
    this.args = args;
  }

  bool(name: string): this {
    this.defined.set(name, 'bool');
    return this;
  }
  string(name: string): this {
    this.defined.set(name, 'string');
    return this;
  }
  strings(name: string): this {
    this.defined.set(name, 'strings');
    return this;
  }

  /** Checks every flag given against the flags defined; throws LineParseError on the first bad one. */
  parse(): this {
    for (const a of this.args) {
      if (a === '--') break;
      if (!a.startsWith('--')) throw new LineParseError(`Arg should start with -- : ${a}`);
      const eq = a.indexOf('=');
      const name = (eq < 0 ? a : a.slice(0, eq)).slice(2);
      const value = eq < 0 ? undefined : a.slice(eq + 1);
      const type = this.defined.get(name);
      if (type === undefined) {
        throw new LineParseError(`Unknown flag: ${name}${suggestion(name, [...this.defined.keys()], true)}`);
      }
      if (this.used.has(name) && type !== 'strings') throw new LineParseError(`Duplicate flag specified: ${name}`);
      this.used.add(name);
      switch (type) {
        case 'bool': {
          if (value === '') throw new LineParseError(`Missing a value on flag: ${name}`);
          const v = (value ?? 'true').toLowerCase();
          if (v !== 'true' && v !== 'false') {
            throw new LineParseError(`Expecting boolean value for flag ${name}, not: ${value}`);
          }
          this.values.set(name, v);
          break;
        }
        case 'string':
          if (value === undefined) throw new LineParseError(`Missing a value on flag: ${name}`);
          this.values.set(name, value);
          break;
        case 'strings':
          if (value === undefined) throw new LineParseError(`Missing a value on flag: ${name}`);
          this.lists.set(name, [...(this.lists.get(name) ?? []), value]);
          break;
      }
    }
    return this;
  }

  isUsed(name: string): boolean {
    return this.used.has(name);
  }
  getBool(name: string): boolean {
    return this.values.get(name) === 'true';
  }
  getString(name: string, fallback = ''): string {
    return this.values.get(name) ?? fallback;
  }
  getStrings(name: string): string[] {
    return [...(this.lists.get(name) ?? [])];
  }
  /** Names of the flags given, in the order first given. */
  usedNames(): string[] {
    return [...this.used];
  }
}

/** ` (did you mean X?)` when one option is within two edits of the value, as BuildKit suggests; else ''. */
export function suggestion(value: string, options: readonly string[], caseSensitive: boolean): string {
  const v = caseSensitive ? value : value.toLowerCase();
  let best = '';
  let min = 3;
  for (const option of options) {
    const o = caseSensitive ? option : option.toLowerCase();
    if (o === v) return '';
    const d = levenshtein(v, o);
    if (d < min) {
      min = d;
      best = caseSensitive ? option : matchCase(o, value);
    }
  }
  return best === '' ? '' : ` (did you mean ${best}?)`;
}

function matchCase(option: string, original: string): string {
  if (original === original.toLowerCase()) return option.toLowerCase();
  if (original === original.toUpperCase()) return option.toUpperCase();
  return option;
}

function levenshtein(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]!;
}
