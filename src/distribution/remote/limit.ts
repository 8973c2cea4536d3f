/** A counting semaphore: at most `n` holders at once, the rest wait in order. */
export class Limit {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(n: number) {
    this.#free = Math.max(1, n);
  }

  /** Takes a slot if one is free now. */
  tryTake(): boolean {
    if (this.#free <= 0) return false;
    this.#free--;
    return true;
  }

  /** Waits for a slot. */
  async take(): Promise<void> {
    if (this.tryTake()) return;
    await new Promise<void>((r) => this.#waiting.push(r));
  }

  /** Gives a slot back (to the first waiter, if any). */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }

  /** Runs fn holding a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.take();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}
