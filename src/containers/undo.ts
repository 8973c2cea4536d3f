/**
 * What a multi-step operation has acquired so far, undone in reverse order if a later step fails: create's
 * endpoints, directory and snapshot; start's root filesystem, volumes, network sandbox and runtime container.
 */
export class UndoStack {
  readonly #steps: { what: string; undo: () => Promise<unknown> }[] = [];
  readonly #warn: ((message: string) => void) | undefined;

  /** `warn` hears of undo steps that fail (the original error is what the caller reports). */
  constructor(warn?: (message: string) => void) {
    this.#warn = warn;
  }

  /** Runs `acquire`; once it has succeeded, `release` is what undoes it. */
  async acquire<T>(what: string, acquire: () => Promise<T> | T, release: (value: T) => Promise<unknown>): Promise<T> {
    const value = await acquire();
    this.#steps.push({ what, undo: () => release(value) });
    return value;
  }

  /** Records the undo of something already done. */
  push(what: string, undo: () => Promise<unknown>): void {
    this.#steps.push({ what, undo });
  }

  /** Undoes everything, last first; each step runs even if an earlier one failed. */
  async unwind(): Promise<void> {
    for (let step = this.#steps.pop(); step; step = this.#steps.pop()) {
      try {
        await step.undo();
      } catch (err) {
        this.#warn?.(`undoing ${step.what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  /** Keeps what was acquired: the operation succeeded, nothing is to be undone. */
  commit(): void {
    this.#steps.length = 0;
  }

  /** Runs `fn` with a new stack: on success the acquired things are kept, on failure undone, then the error is rethrown. */
  static async run<T>(fn: (stack: UndoStack) => Promise<T>, warn?: (message: string) => void): Promise<T> {
    const stack = new UndoStack(warn);
    try {
      const out = await fn(stack);
      stack.commit();
      return out;
    } catch (err) {
      await stack.unwind();
      throw err;
    }
  }
}
