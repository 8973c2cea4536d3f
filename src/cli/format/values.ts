/**
 * How JavaScript values stand in for Go values in templates.
 *
 * | JavaScript                               | Go kind   | notes                                           |
 * |------------------------------------------|-----------|-------------------------------------------------|
 * | undefined                                | invalid   | a missing map key; prints `<no value>`          |
 * | null                                     | nil       | a nil pointer/interface; prints `<nil>`         |
 * | boolean, string                          | bool, string                                                |
 * | integral number (|n| < 2^63), bigint     | int       | bigint ≥ 2^63 is uint                           |
 * | other number, GoFloat                    | float64   | GoFloat marks an integral value as float64      |
 * | Array                                    | slice     |                                                 |
 * | Map, plain object (prototype Object/null)| map       | keys printed and ranged in sorted order         |
 * | other object (class instance), or an     | struct    | missing field is an error; functions found on   |
 * | object carrying GO_TYPE                  |           | it are methods, called on lookup                |
 * | function                                 | func      | a func value (e.g. a map entry), for `call`     |
 */

/** Marks an object as a Go struct; the value is its Go type name for error messages ('*formatter.imageContext'). */
export const GO_TYPE: unique symbol = Symbol.for('berth.format.goType');
/** A method returning the object's JSON text, used by the `json` function (Go's json.Marshaler). */
export const MARSHAL_JSON: unique symbol = Symbol.for('berth.format.marshalJSON');

/** A float64 whose value happens to be integral (Go prints 1e+06, not 1000000). */
export class GoFloat {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

export type Kind =
  | 'invalid'
  | 'nil'
  | 'bool'
  | 'int'
  | 'uint'
  | 'float'
  | 'string'
  | 'slice'
  | 'map'
  | 'struct'
  | 'func';

const INT64_MIN = -(2n ** 63n);
const INT64_LIMIT = 2n ** 63n;

export function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case 'undefined':
      return 'invalid';
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    case 'number':
      return Number.isInteger(v) && Math.abs(v) < 2 ** 63 ? 'int' : 'float';
    case 'bigint':
      return v >= INT64_MIN && v < INT64_LIMIT ? 'int' : 'uint';
    case 'function':
      return 'func';
    case 'symbol':
      return 'string';
    case 'object':
      if (v === null) return 'nil';
      if (v instanceof GoFloat) return 'float';
      if (Array.isArray(v)) return 'slice';
      if (v instanceof Map) return 'map';
      if (GO_TYPE in v) return 'struct';
      return isPlainObject(v) ? 'map' : 'struct';
  }
  return 'invalid';
}

export function isPlainObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The Go type name of a value, as Go's error messages print it. */
export function goTypeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'bool':
      return 'bool';
    case 'int':
      return typeof v === 'bigint' ? 'int64' : 'int';
    case 'uint':
      return 'uint64';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    case 'slice': {
      const a = v as unknown[];
      return a.length > 0 && a.every((e) => typeof e === 'string') ? '[]string' : '[]interface {}';
    }
    case 'map':
      return mapTypeName(v as object);
    case 'struct': {
      const o = v as Record<PropertyKey, unknown>;
      const named = o[GO_TYPE];
      if (typeof named === 'string') return named;
      return (o.constructor as { name?: string } | undefined)?.name || 'struct {}';
    }
    case 'func':
      return 'func(...interface {}) interface {}';
  }
}

function mapTypeName(m: object): string {
  const values = m instanceof Map ? [...m.values()] : Object.values(m);
  if (values.length > 0 && values.every((e) => typeof e === 'string')) return 'map[string]string';
  return 'map[string]interface {}';
}

/** A number's value whether plain, bigint or boxed. */
export function toNumber(v: unknown): number {
  if (v instanceof GoFloat) return v.value;
  if (typeof v === 'bigint') return Number(v);
  return v as number;
}

/** An integer value as bigint (for int/uint kinds). */
export function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  return BigInt(v as number);
}

/** Go's truth: false, 0, nil, empty string/slice/map are false; structs are true. */
export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return false;
    case 'bool':
      return v as boolean;
    case 'string':
      return (v as string).length > 0;
    case 'int':
    case 'uint':
      return typeof v === 'bigint' ? v !== 0n : v !== 0;
    case 'float':
      return toNumber(v) !== 0;
    case 'slice':
      return (v as unknown[]).length > 0;
    case 'map':
      return mapSize(v as object) > 0;
    case 'struct':
    case 'func':
      return true;
  }
}

export function mapSize(m: object): number {
  return m instanceof Map ? m.size : Object.keys(m).length;
}

/** A map's entries in Go's fmtsort order: numbers numerically, strings by code unit, others by text. */
export function sortedEntries(m: object): Array<[unknown, unknown]> {
  const entries: Array<[unknown, unknown]> =
    m instanceof Map ? [...m.entries()] : Object.keys(m).map((k) => [k, (m as Record<string, unknown>)[k]]);
  return entries.sort(([a], [b]) => compareKeys(a, b));
}

function compareKeys(a: unknown, b: unknown): number {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if ((ka === 'int' || ka === 'float' || ka === 'uint') && (kb === 'int' || kb === 'float' || kb === 'uint')) {
    const x = toNumber(a);
    const y = toNumber(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (ka === 'bool' && kb === 'bool') return Number(a) - Number(b);
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A member of a struct-like object: a method (a function found on it or its prototypes) or a field.
 * Object.prototype's members are never found.
 */
export type Member = { kind: 'method'; fn: (...args: unknown[]) => unknown } | { kind: 'field'; value: unknown };

export function findMember(obj: object, name: string): Member | undefined {
  for (
    let o: object | null = obj;
    o !== null && o !== Object.prototype;
    o = Object.getPrototypeOf(o) as object | null
  ) {
    const desc = Object.getOwnPropertyDescriptor(o, name);
    if (desc === undefined) continue;
    if (desc.get !== undefined) return { kind: 'field', value: desc.get.call(obj) };
    if (typeof desc.value === 'function') {
      const fn = desc.value as (...args: unknown[]) => unknown;
      return { kind: 'method', fn: (...args: unknown[]) => fn.apply(obj, args) };
    }
    return { kind: 'field', value: desc.value };
  }
  return undefined;
}

/** A map entry by string key, or undefined (Go's missing key). */
export function mapGet(m: object, key: string): unknown {
  if (m instanceof Map) return m.get(key);
  return Object.hasOwn(m, key) ? (m as Record<string, unknown>)[key] : undefined;
}

/** Whether a map has an entry for `key` (an entry may hold undefined, Go's nil interface). */
export function mapHas(m: object, key: string): boolean {
  return m instanceof Map ? m.has(key) : Object.hasOwn(m, key);
}

/** The fields of a struct-like object, in order: enumerable data properties and getters, own ones first. */
export function structFields(obj: object): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  const seen = new Set<string>();
  for (
    let o: object | null = obj;
    o !== null && o !== Object.prototype;
    o = Object.getPrototypeOf(o) as object | null
  ) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (seen.has(key) || key === 'constructor') continue;
      const desc = Object.getOwnPropertyDescriptor(o, key);
      if (desc === undefined) continue;
      const isGetter = desc.get !== undefined;
      const isData = !isGetter && typeof desc.value !== 'function';
      if (!isGetter && !(isData && desc.enumerable)) continue;
      seen.add(key);
      out.push([key, desc.get !== undefined ? desc.get.call(obj) : desc.value]);
    }
  }
  return out;
}
