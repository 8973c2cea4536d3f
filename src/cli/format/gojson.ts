/**
 * Go's encoding/json Marshal over the value model of values.ts: compact output, Go's string escaping
 * (\u00XX for control characters, \u2028/\u2029, optional HTML escaping of < > &), Go's float format.
 * Maps (Map, or plain objects when `sortMapKeys` is set) are written in sorted key order like Go maps; plain
 * objects otherwise keep their key order, which for Engine API data is Docker's struct field order.
 */
import { MARSHAL_JSON, isPlainObject, kindOf, sortedEntries, structFields, toNumber } from './values.ts';

export interface MarshalOptions {
  /** Escape <, > and & as \u003c, \u003e, \u0026 (Go's default; docker's `json` function turns it off). */
  escapeHTML: boolean;
  /** Write plain objects' keys sorted, as Go writes a map. */
  sortMapKeys?: boolean;
}

/** A value Go's json.Marshal refuses (NaN, infinities, functions). */
export class UnsupportedValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedValueError';
  }
}

export function marshalJSON(v: unknown, opts: MarshalOptions): string {
  const out: string[] = [];
  encode(v, opts, out);
  return out.join('');
}

function encode(v: unknown, opts: MarshalOptions, out: string[]): void {
  if (typeof v === 'object' && v !== null && MARSHAL_JSON in v) {
    const m = (v as Record<PropertyKey, unknown>)[MARSHAL_JSON];
    if (typeof m === 'function') {
      out.push(String(m.call(v)));
      return;
    }
  }
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      out.push('null');
      return;
    case 'bool':
      out.push(v ? 'true' : 'false');
      return;
    case 'int':
    case 'uint':
      out.push(String(v));
      return;
    case 'float': {
      const n = toNumber(v);
      if (!Number.isFinite(n)) throw new UnsupportedValueError(`json: unsupported value: ${goFloatName(n)}`);
      // JavaScript's number-to-string uses the same shortest digits and the same 1e-6 / 1e21 thresholds for
      // exponent form as Go's encoder, and writes exponents without leading zeros as Go's cleanup does.
      out.push(Object.is(n, -0) ? '-0' : String(n));
      return;
    }
    case 'string':
      out.push(quoteJSON(String(v), opts.escapeHTML));
      return;
    case 'slice':
      out.push('[');
      (v as unknown[]).forEach((e, i) => {
        if (i > 0) out.push(',');
        encode(e, opts, out);
      });
      out.push(']');
      return;
    case 'map': {
      const m = v as object;
      const entries =
        m instanceof Map || opts.sortMapKeys === true ? sortedEntries(m) : Object.entries(m as Record<string, unknown>);
      writeObject(
        entries.filter(([, e]) => e !== undefined && typeof e !== 'function'),
        opts,
        out,
      );
      return;
    }
    case 'struct': {
      const o = v as { toJSON?: unknown };
      if (typeof o.toJSON === 'function' && !isPlainObject(o)) {
        encode((o.toJSON as () => unknown).call(o), opts, out);
        return;
      }
      writeObject(
        structFields(v as object).filter(([, e]) => e !== undefined && typeof e !== 'function'),
        opts,
        out,
      );
      return;
    }
    case 'func':
      throw new UnsupportedValueError('json: unsupported type: func()');
  }
}

function writeObject(entries: Array<[unknown, unknown]>, opts: MarshalOptions, out: string[]): void {
  out.push('{');
  entries.forEach(([k, e], i) => {
    if (i > 0) out.push(',');
    out.push(quoteJSON(String(k), opts.escapeHTML), ':');
    encode(e, opts, out);
  });
  out.push('}');
}

function goFloatName(n: number): string {
  return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
}

const HEX = '0123456789abcdef';

/** Go's json string encoding. Lone surrogates (invalid UTF-8 in Go) become \ufffd. */
export function quoteJSON(s: string, escapeHTML: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else {
        out += '\\ufffd';
      }
      continue;
    }
    switch (c) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += '\\\\';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
      case 0x2028:
      case 0x2029:
        out += `\\u${c.toString(16)}`;
        continue;
    }
    if (c < 0x20 || (escapeHTML && (c === 0x3c || c === 0x3e || c === 0x26))) {
      out += `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}`;
      continue;
    }
    out += s[i];
  }
  return `${out}"`;
}
