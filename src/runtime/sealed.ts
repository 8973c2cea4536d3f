import { type SealedProgram, sealedCopy } from '../sys/index.ts';
import { errorMessage } from '../util/errors.ts';
import type { RuntimeTraits } from './traits.ts';

/**
 * The sealed in-memory copies of runtime binaries (sys/memfd.ts), one per binary per process: every driver of this
 * process that runs the same binary shares one copy (8.7 MB for Debian's runc), made on the first ask and closed when
 * the last driver that asked has been closed (at berthd's shutdown; in a test process, when its drivers are).
 *
 * Module state, against the house's rule of none, because what it shares is the process's own: the copy is a file
 * descriptor of this process, run by conmon through `/proc/<pid>/fd/<n>`, and two copies of one binary in one
 * process are 8.7 MB of memory for nothing.
 */

interface Entry {
  copy: Promise<SealedProgram>;
  users: number;
}

const copies = new Map<string, Entry>();

/** A hold on one binary's shared copy: `path()` the copy's path (made on first use), `release()` once, at close. */
export class SealedHold {
  readonly #binary: string;
  readonly #name: string;
  #entry: Entry | undefined;

  constructor(binary: string, name: string) {
    this.#binary = binary;
    this.#name = name;
  }

  /** The copy's `/proc/<pid>/fd/<n>` path; rejects when it cannot be made (and the next call tries again). */
  path(): Promise<string> {
    if (!this.#entry) {
      let entry = copies.get(this.#binary);
      if (!entry) {
        const fresh: Entry = { copy: sealedCopy(this.#binary, this.#name), users: 0 };
        // A copy that could not be made is forgotten, so that a later ask tries again.
        fresh.copy.catch(() => {
          if (copies.get(this.#binary) === fresh) copies.delete(this.#binary);
        });
        copies.set(this.#binary, fresh);
        entry = fresh;
      }
      entry.users++;
      this.#entry = entry;
    }
    return this.#entry.copy.then((c) => c.path);
  }

  /** Gives the hold back; the copy is closed when no hold on it is left. Idempotent. */
  release(): void {
    const entry = this.#entry;
    if (!entry) return;
    this.#entry = undefined;
    if (--entry.users > 0) return;
    if (copies.get(this.#binary) === entry) copies.delete(this.#binary);
    entry.copy.then(
      (c) => c.close(),
      () => {},
    );
  }
}

/**
 * What one driver runs for its runtime, as its `sealedCopy` trait says (traits.ts): the process's sealed copy of
 * the installed binary (a SealedHold, taken on the first create or exec and given back at `close()`), or the
 * installed binary itself when the trait is `none` or the copy cannot be made.
 */
export class RuntimeProgram {
  readonly installed: string;
  readonly #name: string;
  readonly #sealed: RuntimeTraits['sealedCopy'];
  readonly #warn: ((message: string) => void) | undefined;
  #hold: SealedHold | undefined;
  #copy: Promise<string> | undefined;

  /** `warn`: told once when the copy cannot be made (containers then run the installed binary). */
  constructor(installed: string, name: string, sealed: RuntimeTraits['sealedCopy'], warn?: (message: string) => void) {
    this.installed = installed;
    this.#name = name;
    this.#sealed = sealed;
    this.#warn = warn;
  }

  /** What conmon runs for a create or an exec: the sealed copy, made now if need be, unless the trait is `none`. */
  forContainer(): Promise<string> {
    if (this.#sealed === 'none') return Promise.resolve(this.installed);
    this.#hold ??= new SealedHold(this.installed, this.#name);
    this.#copy ??= this.#hold.path().catch((err: unknown) => {
      this.#warn?.(
        `${this.#name}'s sealed copy could not be made (${errorMessage(err)}): containers run ${this.installed}`,
      );
      return this.installed;
    });
    return this.#copy;
  }

  /**
   * What berthd's own calls of the runtime run: with `every-call`, the copy once a create or exec has made it (none
   * is made for them); otherwise, and before and after, the installed binary.
   */
  forCall(): Promise<string> {
    return (this.#sealed === 'every-call' ? this.#copy : undefined) ?? Promise.resolve(this.installed);
  }

  /** Gives the hold back (the copy is closed once no holder in the process is left); a later create takes one again. */
  close(): void {
    this.#hold?.release();
    this.#hold = undefined;
    this.#copy = undefined;
  }
}

/** How many binaries have a copy open in this process, and the fds of the copies (for tests). */
export async function openCopies(): Promise<{ binary: string; fd: number; users: number }[]> {
  const out: { binary: string; fd: number; users: number }[] = [];
  for (const [binary, e] of copies) {
    const c = await e.copy.catch(() => undefined);
    if (c) out.push({ binary, fd: c.fd, users: e.users });
  }
  return out;
}
