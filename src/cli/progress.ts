import type { JSONMessage } from '../client/index.ts';
import { displayMessage, type DisplayTarget } from './jsonmessage.ts';

/**
 * Progress of bytes the CLI itself moves (a file uploaded by `load -i`/`import`, a tar written by
 * `save -o`), drawn as docker draws a JSON-message progress line: `Saving [====>    ] 1.2MB/3.4MB 5s`,
 * rewritten in place. Draw it only on a terminal: `byteProgress` gives undefined elsewhere.
 */
export interface ProgressOptions {
  /** Clock in milliseconds (tests). */
  now?: () => number;
  /** Least time between two redraws; the first and the last state are always drawn. */
  intervalMs?: number;
}

export class ByteProgress {
  readonly #out: DisplayTarget;
  readonly #label: string;
  readonly #total: number;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #startSeconds: number;
  #current = 0;
  #lastDraw = -Infinity;
  #finished = false;

  /** `total` 0 when unknown: then only the byte count is shown, as docker does. */
  constructor(out: DisplayTarget, label: string, total: number, opts: ProgressOptions = {}) {
    this.#out = out;
    this.#label = label;
    this.#total = total;
    this.#now = opts.now ?? Date.now;
    this.#intervalMs = opts.intervalMs ?? 100;
    this.#startSeconds = Math.floor(this.#now() / 1000);
  }

  get current(): number {
    return this.#current;
  }

  /** Counts `n` more bytes, redrawing when the interval has passed. */
  add(n: number): void {
    this.#current += n;
    if (this.#finished) return;
    const now = this.#now();
    if (now - this.#lastDraw >= this.#intervalMs) this.#draw(now);
  }

  /** Draws the last state and ends the line; later counts are no longer drawn. Idempotent. */
  finish(): void {
    if (this.#finished) return;
    this.#draw(this.#now());
    this.#finished = true;
    this.#out.write('\n');
  }

  /** Passes a byte stream through, counting it. */
  async *count(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      this.add(chunk.byteLength);
      yield chunk;
    }
  }

  #draw(now: number): void {
    this.#lastDraw = now;
    const message: JSONMessage = {
      status: this.#label,
      progressDetail: { current: this.#current, total: this.#total, start: this.#startSeconds },
    };
    displayMessage(message, this.#out, now);
  }
}

/** A progress line on `out` when it is a terminal (and not `quiet`), else undefined: nothing is drawn. */
export function byteProgress(
  out: DisplayTarget,
  label: string,
  total: number,
  opts: ProgressOptions & { quiet?: boolean } = {},
): ByteProgress | undefined {
  if (!out.isTerminal || opts.quiet === true) return undefined;
  return new ByteProgress(out, label, total, opts);
}
