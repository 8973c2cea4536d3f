import { CanceledError } from '../errors.ts';

/**
 * Ties awaited steps to an optional AbortSignal: `check()` throws once aborted, and `wait(p)` rejects as soon
 * as the signal fires even if `p` never settles. One listener for the whole operation; no per-step leak.
 */
export class AbortWatch {
  readonly #signal: AbortSignal | undefined;
  readonly #what: string;
  #rejectWaiter: ((err: unknown) => void) | undefined;
  readonly #onAbort = (): void => {
    this.#rejectWaiter?.(this.#error());
  };

  constructor(signal: AbortSignal | undefined, what: string) {
    this.#signal = signal;
    this.#what = what;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  check(): void {
    if (this.#signal?.aborted) throw this.#error();
  }

  /** Awaits `p`, or rejects with CanceledError when the signal fires first. */
  wait<T>(p: Promise<T>): Promise<T> {
    if (this.#signal === undefined) return p;
    this.check();
    return new Promise<T>((resolve, reject) => {
      this.#rejectWaiter = reject;
      p.then(
        (v) => {
          this.#rejectWaiter = undefined;
          resolve(v);
        },
        (err: unknown) => {
          this.#rejectWaiter = undefined;
          reject(err);
        },
      );
    });
  }

  dispose(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#rejectWaiter = undefined;
  }

  #error(): CanceledError {
    return new CanceledError(`${this.#what} was aborted`, { cause: this.#signal?.reason });
  }
}
