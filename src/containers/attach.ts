/**
 * Attach sessions asked for before the container runs (`docker run` attaches first): each waits until start has
 * created the container and is handed a session on conmon's attach socket before the process starts, so no byte
 * is lost.
 *
 * All the clients waiting share one connection to conmon. conmon accepts one pending connection per turn of its
 * loop, and in that turn it reads the process's output and writes it to the connections accepted so far: of two
 * connections made before the start, the second missed what the process wrote before conmon's next turn, which
 * happened when conmon was slow to run (a loaded host). dockerd, too, has one stream per container that every
 * attached client reads.
 */
import { Readable, Writable } from 'node:stream';
import type { AttachFrame, AttachSession, RuntimeDriver } from '../runtime/index.ts';

interface Waiter {
  settle(s: AttachSession | Error): void;
}

export class PendingAttaches {
  readonly #waiting = new Map<string, Set<Waiter>>();

  /** A session once the container is created by its next start (or the start's error); `signal` gives up. */
  wait(id: string, signal?: AbortSignal): Promise<AttachSession> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const set = this.#waiting.get(id) ?? new Set<Waiter>();
      this.#waiting.set(id, set);
      const onAbort = (): void => {
        set.delete(w);
        reject(signal?.reason);
      };
      const w: Waiter = {
        settle: (s) => {
          signal?.removeEventListener('abort', onAbort);
          if (s instanceof Error) reject(s);
          else resolve(s);
        },
      };
      set.add(w);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Start created the container: the waiting clients get a session each, all on one connection to conmon.
   * `leaveStdinOpen` is conmon's `--leave-stdin-open` (StdinOnce false): one client's end of input then does
   * not close the process's stdin.
   */
  async handOver(id: string, driver: RuntimeDriver, opts: { leaveStdinOpen: boolean }): Promise<void> {
    if (!this.#waiting.get(id)?.size) return;
    let session: AttachSession | Error;
    try {
      session = await driver.attach(id);
    } catch (err) {
      session = err as Error;
    }
    // Taken after the connection is made: a client that came meanwhile shares it, one that left is not there.
    const waiters = [...(this.#waiting.get(id) ?? [])];
    this.#waiting.delete(id);
    if (session instanceof Error) {
      for (const w of waiters) w.settle(session);
      return;
    }
    if (waiters.length === 0) session.close();
    else if (waiters.length === 1) waiters[0]!.settle(session);
    else {
      const shared = shareSession(session, waiters.length, opts);
      for (const [i, w] of waiters.entries()) w.settle(shared[i]!);
    }
  }

  /** The start failed: the waiting clients get its error. */
  fail(id: string, err: Error): void {
    for (const w of this.#waiting.get(id) ?? []) w.settle(err);
    this.#waiting.delete(id);
  }
}

/**
 * `n` sessions on one: each gets every frame of the output (the slowest reader sets the pace, as one connection
 * each to conmon would), their input goes to the one connection. One client's end of input, or its close, ends the
 * shared input, as conmon closes the process's stdin when any one client's input ends, unless `leaveStdinOpen`:
 * then the input ends with the last client's. The connection closes when every session is closed.
 */
export function shareSession(s: AttachSession, n: number, opts: { leaveStdinOpen: boolean }): AttachSession[] {
  /** The sessions not closed yet, each with what ends its output (once). */
  const open = new Map<Readable, () => void>();
  const full = new Set<Readable>();
  let inputs = n;
  const inputEnded = (): void => {
    inputs--;
    if ((!opts.leaveStdinOpen || inputs === 0) && !s.stdin.writableEnded) s.stdin.end();
  };
  const resumeIfRoom = (): void => {
    if (full.size === 0) s.output.resume();
  };
  const branch = (): AttachSession => {
    let inputDone = false;
    let eof = false;
    const endInput = (): void => {
      if (inputDone) return;
      inputDone = true;
      inputEnded();
    };
    const endOutput = (): void => {
      if (eof || output.destroyed) return;
      eof = true;
      output.push(null);
    };
    const close = (): void => {
      endInput();
      if (!open.delete(output)) return;
      full.delete(output);
      endOutput();
      if (open.size === 0) s.close();
      else resumeIfRoom();
    };
    const output: Readable = new Readable({
      objectMode: true,
      read() {
        if (full.delete(output)) resumeIfRoom();
      },
      destroy(err, cb) {
        close();
        cb(err);
      },
    });
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (inputDone || s.stdin.writableEnded || s.stdin.destroyed) cb();
        else s.stdin.write(chunk, (err) => cb(err ?? undefined));
      },
      final(cb) {
        endInput();
        cb();
      },
    });
    stdin.on('error', () => {}); // as the session's own stdin: the output's end tells the caller
    open.set(output, endOutput);
    return { output, stdin, close };
  };
  const sessions = Array.from({ length: n }, branch);
  s.output.on('data', (f: AttachFrame) => {
    for (const o of open.keys()) if (!o.push(f)) full.add(o);
    if (full.size > 0) s.output.pause();
  });
  s.output.once('end', () => {
    for (const end of open.values()) end();
  });
  s.output.once('error', (e) => {
    for (const o of open.keys()) o.destroy(e);
  });
  return sessions;
}
