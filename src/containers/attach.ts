/**
 * Attach sessions asked for before the container runs (`docker run` attaches first): each waits until start has
 * created the container and is handed conmon's attach socket before the process starts, so no byte is lost.
 */
import type { AttachSession, RuntimeDriver } from '../runtime/index.ts';

export class PendingAttaches {
  readonly #waiting = new Map<string, ((s: AttachSession | Error) => void)[]>();

  /** A session once the container is created by its next start (or the start's error); `signal` gives up. */
  wait(id: string, signal?: AbortSignal): Promise<AttachSession> {
    return new Promise((resolve, reject) => {
      const list = this.#waiting.get(id) ?? [];
      const give = (s: AttachSession | Error) => (s instanceof Error ? reject(s) : resolve(s));
      list.push(give);
      this.#waiting.set(id, list);
      signal?.addEventListener('abort', () => {
        const l = this.#waiting.get(id);
        if (l)
          this.#waiting.set(
            id,
            l.filter((g) => g !== give),
          );
        reject(signal.reason);
      });
    });
  }

  /** Start created the container: each waiting client gets its own session on the container's stdio. */
  async handOver(id: string, driver: RuntimeDriver): Promise<void> {
    for (const give of this.#waiting.get(id) ?? []) {
      try {
        give(await driver.attach(id));
      } catch (err) {
        give(err as Error);
      }
    }
    this.#waiting.delete(id);
  }

  /** The start failed: the waiting clients get its error. */
  fail(id: string, err: Error): void {
    for (const give of this.#waiting.get(id) ?? []) give(err);
    this.#waiting.delete(id);
  }
}
