import { existsSync, watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pidfdsExited } from '../sys/index.ts';
import { CanceledError, DataLossError, isErrno } from '../util/errors.ts';

/** How a container's (or exec process's) main process ended, as conmon recorded it. */
export interface ExitStatus {
  /** The exit code; 128+N when killed by signal N (conmon's convention, and docker's). */
  exitCode: number;
  /** When conmon wrote the exit file. */
  exitedAt: Date;
  /** conmon saw the cgroup's OOM killer act. */
  oomKilled: boolean;
  /** conmon itself vanished without writing an exit file (killed): the code is unknown, reported as 255. */
  monitorLost?: true;
}

/**
 * Reads an exit file conmon wrote (`g_file_set_contents`: temp file + rename, so it is whole or absent).
 * Undefined when there is none yet.
 */
export async function readExitFile(path: string): Promise<{ exitCode: number; exitedAt: Date } | undefined> {
  let text: string;
  let mtime: Date;
  try {
    [text, mtime] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtime)]);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
  const code = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(code)) throw new DataLossError(`exit file '${path}' holds '${text.trim()}', not an exit code`);
  return { exitCode: code, exitedAt: mtime };
}

interface Waiter {
  /** Called now and then (`checkMs`): may settle the wait by returning true (e.g. the monitor is gone). */
  check?: () => Promise<boolean>;
  /** A pidfd whose process's exit settles the wait, looked at every `checkMs` (one poll(2) for all waiters). */
  pidfd?: number;
  done: () => void;
}

/**
 * Waits for files to appear in one directory: one inotify watch (fs.watch) on it while anyone waits, so a waiter
 * costs nothing until its file comes (100 idle containers: no stat a second each). A file already there is found
 * when its wait starts (a container that exited while berthd was down). The files are looked for every `pollMs`
 * only while the watch cannot be made or has failed (each look also tries to make it again). Whether the waiters'
 * processes are still there (conmon: nothing tells of its death) is looked at every `checkMs` (1 s), all on one
 * timer: their pidfds in one poll(2), and the `check`s of waiters without one. The watch and timers exist only
 * while there are waiters, so an idle watcher holds no handles.
 */
export class ExitWatcher {
  readonly dir: string;
  readonly #pollMs: number;
  readonly #checkMs: number;
  readonly #waiters = new Map<string, Set<Waiter>>();
  #watcher: FSWatcher | undefined;
  /** The files looked for while there is no watch. */
  #poller: NodeJS.Timeout | undefined;
  /** The waiters' checks, while any waiter has one. */
  #checker: NodeJS.Timeout | undefined;
  #checks = 0;

  constructor(dir: string, opts: { pollMs?: number; checkMs?: number } = {}) {
    this.dir = dir;
    this.#pollMs = opts.pollMs ?? 1000;
    this.#checkMs = opts.checkMs ?? 1000;
  }

  /**
   * Resolves once `<dir>/<name>` exists, or `check` (run every `checkMs`) returns true, or the process of `pidfd`
   * (looked at every `checkMs`; the caller keeps and closes it) has exited. Rejects with CanceledError when
   * `signal` aborts.
   */
  async waitFor(
    name: string,
    opts: { signal?: AbortSignal; check?: () => Promise<boolean>; pidfd?: number } = {},
  ): Promise<void> {
    const { signal } = opts;
    if (signal?.aborted) throw new CanceledError(`wait for '${name}' canceled`, { cause: signal.reason });
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const waiter: Waiter = {
        done: () => {
          if (settled) return;
          settled = true;
          this.#remove(name, waiter);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        ...(opts.check ? { check: opts.check } : {}),
        ...(opts.pidfd !== undefined ? { pidfd: opts.pidfd } : {}),
      };
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        this.#remove(name, waiter);
        reject(new CanceledError(`wait for '${name}' canceled`, { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let set = this.#waiters.get(name);
      if (!set) this.#waiters.set(name, (set = new Set()));
      set.add(waiter);
      this.#arm();
      if ((waiter.check || waiter.pidfd !== undefined) && this.#checks++ === 0)
        this.#checker = setInterval(() => this.#runChecks(), this.#checkMs);
      // The file may have been written before the watch existed.
      this.#check(name);
    });
  }

  /** Whether files are looked for on a timer (no watch could be made). */
  get polling(): boolean {
    return this.#poller !== undefined;
  }

  /** Makes the watch, or else looks for the files every `pollMs` until it can be made. */
  #arm(): void {
    if (!this.#watcher) {
      try {
        const w = watch(this.dir, { persistent: true }, (_event, filename) => {
          if (filename && this.#waiters.has(filename.toString())) this.#check(filename.toString());
          else if (!filename) this.#checkAll();
        });
        w.on('error', () => {
          w.close();
          if (this.#watcher !== w) return;
          this.#watcher = undefined;
          // (the directory removed, or the watch broken otherwise: what it would have told is looked for)
          if (this.#waiters.size > 0) this.#arm();
          this.#checkAll();
        });
        this.#watcher = w;
      } catch {
        this.#watcher = undefined;
      }
    }
    if (this.#watcher) {
      if (this.#poller) clearInterval(this.#poller);
      this.#poller = undefined;
    } else
      this.#poller ??= setInterval(() => {
        this.#arm();
        this.#checkAll();
      }, this.#pollMs);
  }

  #remove(name: string, w: Waiter): void {
    const set = this.#waiters.get(name);
    if (!set?.delete(w)) return;
    if (set.size === 0) this.#waiters.delete(name);
    if ((w.check || w.pidfd !== undefined) && --this.#checks === 0) {
      clearInterval(this.#checker);
      this.#checker = undefined;
    }
    if (this.#waiters.size > 0) return;
    this.#watcher?.close();
    this.#watcher = undefined;
    clearInterval(this.#poller);
    this.#poller = undefined;
  }

  /**
   * Settles the waiters of `name` when its file exists. `existsSync`, not an awaited `stat`: one access(2) in the
   * event loop's own step instead of a round trip through libuv's pool, and no ENOENT error object built for the
   * usual answer (not there yet). With `stat`, these checks (one per container at its start, one per running
   * container each poll tick) were 94 of the 705 ms berthd's main thread was busy through three rounds of 20
   * `docker run -d` one after another (bench/burst-profile.ts --one-by-one).
   */
  #check(name: string): void {
    if (!this.#waiters.has(name) || !existsSync(join(this.dir, name))) return;
    for (const w of [...(this.#waiters.get(name) ?? [])]) w.done();
  }

  #checkAll(): void {
    for (const name of [...this.#waiters.keys()]) this.#check(name);
  }

  #runChecks(): void {
    const polled: Waiter[] = [];
    for (const set of this.#waiters.values()) for (const w of set) if (w.pidfd !== undefined) polled.push(w);
    if (polled.length > 0) {
      let exited: boolean[];
      try {
        exited = pidfdsExited(polled.map((w) => w.pidfd!));
      } catch {
        exited = []; // (poll failing: looked at again on the next tick)
      }
      for (let i = 0; i < polled.length; i++) if (exited[i]) polled[i]!.done();
    }
    for (const set of [...this.#waiters.values()]) {
      for (const w of [...set]) {
        w.check?.().then(
          (stop) => {
            if (stop) w.done();
          },
          () => {},
        );
      }
    }
  }
}
