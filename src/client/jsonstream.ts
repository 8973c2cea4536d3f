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
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    for (const value of scanner.push(text)) yield parse<T>(value, reviver);
  }
  const rest = decoder.decode();
  for (const value of scanner.push(rest)) yield parse<T>(value, reviver);
  scanner.end();
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
