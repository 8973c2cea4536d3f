/** Small async locks: a keyed mutex, a readers-writer lock and a counting limiter. In-process only. */
import { AsyncLocalStorage } from 'node:async_hooks';

export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs fn while holding `key`; callers with the same key run one at a time, in order. */
  async run<T>(key: string, fn: () => T | Promise<T>): Promise<T> {
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

/**
 * A counting semaphore: at most `n` holders at once, the rest wait in the order they came. A slot given back
 * goes straight to the first waiter, so a waiter is never overtaken by a later `tryTake`.
 */
export class Limit {
  #size: number;
  /** Slots free now; below zero after `resize` to fewer than are held, until that many are given back. */
  #free: number;
  readonly #waiting: (() => void)[] = [];

  /** `n` below 1 counts as 1. */
  constructor(n: number) {
    this.#size = Math.max(1, n);
    this.#free = this.#size;
  }

  /**
   * Allows `n` holders at once from now on (below 1 counts as 1), holders or not: a larger limit serves waiters at
   * once; a smaller one lets the holders keep their slots, and their slots given back go to no one until fewer than
   * `n` are held.
   */
  resize(n: number): void {
    const size = Math.max(1, n);
    this.#free += size - this.#size;
    this.#size = size;
    while (this.#free > 0 && this.#waiting.length > 0) {
      this.#free--;
      this.#waiting.shift()!();
    }
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

  /** Gives a slot back (to the first waiter, if any). Call once per slot taken. */
  release(): void {
    if (this.#free < 0) {
      this.#free++; // more are held than the limit allows since a resize: this slot goes to no one
      return;
    }
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

/**
 * Runs fn over items, at most `limit` at a time, in order. After a failure no further item starts; rejects with
 * the first error once every started call has settled.
 */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const slots = new Limit(limit);
  let failed = false;
  let failure: unknown;
  await Promise.all(
    items.map((item) =>
      slots.run(async () => {
        if (failed) return;
        try {
          await fn(item);
        } catch (err) {
          if (!failed) failure = err;
          failed = true;
        }
      }),
    ),
  );
  if (failed) throw failure;
}
