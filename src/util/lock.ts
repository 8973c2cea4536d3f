/** Small async locks: a keyed mutex and a readers-writer lock. In-process only. */
import { AsyncLocalStorage } from 'node:async_hooks';

export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs fn while holding `key`; callers with the same key run one at a time, in order. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Takes `key` (in order, after every earlier holder) and gives back the function that lets it go, for a hold
   * that outlives one callback: an operation that answers early and finishes its work in the background.
   */
  async acquire(key: string): Promise<() => void> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    await prev;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }
}

/**
 * Many readers or one writer. Writers wait for readers to drain; new readers wait behind a waiting writer.
 * Reads are re-entrant: a read inside a read (in the same async context) joins the outer one instead of queueing
 * behind a waiting writer, which would deadlock.
 */
export class RWLock {
  #readers = 0;
  #writer = false;
  readonly #queue: { write: boolean; go: () => void }[] = [];
  readonly #holding = new AsyncLocalStorage<boolean>();

  async read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#holding.getStore()) return fn();
    await this.#acquire(false);
    try {
      return await this.#holding.run(true, fn);
    } finally {
      this.#readers--;
      this.#pump();
    }
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire(true);
    try {
      return await fn();
    } finally {
      this.#writer = false;
      this.#pump();
    }
  }

  #acquire(write: boolean): Promise<void> {
    return new Promise((go) => {
      this.#queue.push({ write, go });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (next.write) {
        if (this.#writer || this.#readers > 0) return;
        this.#writer = true;
      } else {
        if (this.#writer) return;
        this.#readers++;
      }
      this.#queue.shift();
      next.go();
    }
  }
}
