/** Clients waiting on a container (`POST /containers/{id}/wait`) until its next exit or its removal. */
import type { WaitCondition, WaitResult } from './model.ts';

interface Waiter {
  condition: WaitCondition;
  resolve: (r: WaitResult) => void;
}

export class Waiters {
  readonly #waiting = new Map<string, Set<Waiter>>();

  /** Resolves at the container's next exit (or, for `removed`, at its removal); `signal` gives up. */
  add(id: string, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult> {
    return new Promise((resolve, reject) => {
      let set = this.#waiting.get(id);
      if (!set) this.#waiting.set(id, (set = new Set()));
      const w: Waiter = { condition, resolve };
      set.add(w);
      signal?.addEventListener('abort', () => {
        set.delete(w);
        reject(signal.reason);
      });
    });
  }

  /** The container's process ended (or could not start, with `error`): all but the `removed` waiters hear it. */
  exited(id: string, code: number, error?: string): void {
    this.#resolve(id, (w) => w.condition !== 'removed', code, error);
  }

  /** The container is gone: every waiter hears its last exit code. */
  removed(id: string, code: number): void {
    this.#resolve(id, () => true, code);
  }

  #resolve(id: string, which: (w: Waiter) => boolean, code: number, error?: string): void {
    const set = this.#waiting.get(id);
    if (!set) return;
    for (const w of [...set]) {
      if (!which(w)) continue;
      set.delete(w);
      w.resolve({ StatusCode: code, Error: error ? { Message: error } : null });
    }
    if (set.size === 0) this.#waiting.delete(id);
  }
}
