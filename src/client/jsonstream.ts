/**
 * Splits a byte stream of concatenated JSON objects or arrays (JSON-lines or not: the engine's streams
 * are read like Go's json.Decoder reads them, whitespace between values optional) into parsed values.
 * Malformed text is a SyntaxError.
 */
export async function* parseJSONStream<T = unknown>(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  reviver?: Reviver,
): AsyncGenerator<T> {
  const decoder = new TextDecoder('utf-8');
  const scanner = new JSONValueScanner();
  for await (const chunk of source) {
    let text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (scanner.idle) {
      // The engine writes one value a line: each whole line that is one value is parsed as it is, by JSON.parse,
      // instead of being scanned a character at a time first (a 50-layer pull's ~350 messages, ~35 KB, were the
      // CLI's hottest loop, and V8 compiled it for the rest). What is not one value a line goes to the scanner.
      let pos = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', pos)) {
        const line = oneValueLine(text, pos, nl, reviver);
        if (line === NOT_ONE) break;
        pos = nl + 1;
        if (line !== BLANK) yield line as T;
      }
      text = pos === 0 ? text : text.slice(pos);
    }
    for (const value of scanner.push(text)) yield parse<T>(value, reviver);
  }
  const rest = decoder.decode();
  for (const value of scanner.push(rest)) yield parse<T>(value, reviver);
  scanner.end();
}

const BLANK: unique symbol = Symbol('blank');
const NOT_ONE: unique symbol = Symbol('not one value');

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * The value that `text[from, to)` (a line) holds, when it holds exactly one object or array and whitespace: what
 * the scanner would find there, parsed. BLANK for whitespace alone, NOT_ONE for anything else (no value, several,
 * a value across lines, malformed text), which the scanner then reads, and fails on, as before.
 */
function oneValueLine(text: string, from: number, to: number, reviver: Reviver | undefined): unknown {
  let first = from;
  while (first < to && isSpace(text.charCodeAt(first))) first++;
  if (first === to) return BLANK;
  let last = to - 1;
  while (isSpace(text.charCodeAt(last))) last--;
  const open = text.charCodeAt(first);
  const close = text.charCodeAt(last);
  if (!((open === 0x7b && close === 0x7d) || (open === 0x5b && close === 0x5d))) return NOT_ONE;
  try {
    // JSON.parse takes one value and whitespace, nothing else: a success means the scanner would have found this
    // text as one value.
    return parse(text.slice(first, last + 1), reviver);
  } catch {
    return NOT_ONE;
  }
}

/** A JSON.parse reviver that also sees each primitive's source text (Node 24). */
export type Reviver = (key: string, value: unknown, context: { source?: string }) => unknown;

function parse<T>(text: string, reviver: Reviver | undefined): T {
  return (
    reviver === undefined ? JSON.parse(text) : JSON.parse(text, reviver as (k: string, v: unknown) => unknown)
  ) as T;
}

/** Keeps integers JSON numbers cannot hold exactly (event `timeNano`) as bigint. */
export const exactIntegers: Reviver = (_key, value, context) => {
  if (
    typeof value === 'number' &&
    !Number.isSafeInteger(value) &&
    Number.isInteger(value) &&
    context.source !== undefined &&
    /^-?\d+$/.test(context.source)
  ) {
    return BigInt(context.source);
  }
  return value;
};

/** Incremental scanner that finds where each top-level JSON object or array ends. */
export class JSONValueScanner {
  #buf = '';
  #pos = 0;
  #start = -1;
  #depth = 0;
  #inString = false;
  #escape = false;

  /** Whether it holds nothing: no value begun, no text kept. */
  get idle(): boolean {
    return this.#depth === 0 && this.#buf === '';
  }

  /** Feeds text; returns the complete top-level values it closed, as text. */
  push(text: string): string[] {
    this.#buf += text;
    const out: string[] = [];
    const buf = this.#buf;
    for (let i = this.#pos; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (this.#depth === 0) {
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
        if (c !== 0x7b && c !== 0x5b) {
          throw new SyntaxError(`invalid character ${JSON.stringify(buf[i])} looking for beginning of value`);
        }
        this.#start = i;
        this.#depth = 1;
        continue;
      }
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (c === 0x5c) this.#escape = true;
        else if (c === 0x22) this.#inString = false;
        continue;
      }
      if (c === 0x22) this.#inString = true;
      else if (c === 0x7b || c === 0x5b) this.#depth++;
      else if (c === 0x7d || c === 0x5d) {
        this.#depth--;
        if (this.#depth === 0) {
          out.push(buf.slice(this.#start, i + 1));
          this.#start = -1;
        }
      }
    }
    // Keep only the unfinished value.
    if (this.#depth === 0) {
      this.#buf = '';
      this.#pos = 0;
    } else {
      this.#buf = buf.slice(this.#start);
      this.#pos = this.#buf.length;
      this.#start = 0;
    }
    return out;
  }

  /** Fails when the stream ended inside a value. */
  end(): void {
    if (this.#depth !== 0) throw new SyntaxError('unexpected end of JSON input');
  }
}
