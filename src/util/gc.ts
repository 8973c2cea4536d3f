/**
 * Young-generation collections on demand, for the data path. Bytes moved through the main thread leave dead
 * Buffers behind (socket reads, gathered chunks), whose memory is outside V8's heap: V8 frees it only when a
 * collection runs, and it runs one for external memory only after ~64 MiB more is held than at the last one. During
 * a 256 MiB load that left 45–90 MiB of dead buffers pending at its peak (measured with process.memoryUsage(); see
 * bench/README.md). A minor collection costs ~0.1 ms here with a small young generation, so one every
 * NUDGE_BYTES moved keeps the pending memory near that size.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes moved between two collections. */
export const NUDGE_BYTES = 16 << 20;

type Gc = (opts?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;
let gc: Gc | undefined;

/** V8's gc(), made available once for this process (the flag only adds the function; it changes no behaviour). */
function collector(): Gc {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  }
  return gc;
}

/** Counts bytes moved and runs a minor collection each time NUDGE_BYTES more have gone by. */
export class GarbageNudge {
  #since = 0;
  readonly #every: number;

  constructor(every = NUDGE_BYTES) {
    this.#every = every;
  }

  moved(bytes: number): void {
    this.#since += bytes;
    if (this.#since < this.#every) return;
    this.#since = 0;
    collector()({ type: 'minor' });
  }
}
