/**
 * The unpack threads. A layer is read by a *reader* thread (reader.ts: decompression, the diff ID digest, tar
 * parsing) and written by *applier* threads (applier.ts: file creation, bodies, metadata, whiteouts), which every
 * reader shares: up to `readers` layers unpack at once, each spread over all `appliers` where order allows
 * (dispatch.ts). The main thread only hands bytes over (or nothing at all, when a reader reads a blob file itself).
 *
 * Threads start on first use and stop together after IDLE_MS without work (each costs ~11 MiB of RSS and 50–250 ms
 * of CPU to start here, so they are kept for the next layer but not for ever). Each reader has its own shared
 * memory: the input ring (main thread → reader), the body slots (reader → appliers) and a control block (see
 * unpack-protocol.ts). A thread that dies fails every unpack under way and the whole set is started again.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, type Worker } from 'node:worker_threads';
import { UnavailableError } from '../util/errors.ts';
import { Limit } from '../util/lock.ts';
import { startThread } from '../util/thread.ts';
import {
  CTL_LENGTH,
  type FromReader,
  INPUT_RING,
  MAX_APPLIERS,
  SLOT,
  SLOTS,
  type ToApplier,
  type ToReader,
} from './unpack-protocol.ts';

export interface UnpackThreads {
  /** Layers unpacked at once (a reader thread each). */
  readers: number;
  /** Threads doing the file work, shared by the readers. */
  appliers: number;
}

/** Three layers at once (docker's max-concurrent-downloads), each over as many appliers as CPUs (up to four). */
export const DEFAULT_THREADS: UnpackThreads = { readers: 3, appliers: Math.min(4, availableParallelism()) };

/** Threads stop after this long with no unpack. */
const IDLE_MS = 10_000;
/** Each thread's heap is kept small: the data goes through shared memory, not the heap. */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 };

/** A reader thread and its shared memory, lent to one unpack at a time. */
export class Reader {
  readonly worker: Worker;
  readonly input: Uint8Array;
  readonly ctl: Int32Array;
  /** The unpack being served: its messages, and what to do if the thread dies. */
  onMessage: ((m: FromReader) => void) | undefined;
  onDeath: ((err: Error) => void) | undefined;

  constructor(worker: Worker, input: SharedArrayBuffer, ctl: SharedArrayBuffer) {
    this.worker = worker;
    this.input = new Uint8Array(input);
    this.ctl = new Int32Array(ctl);
    worker.on('message', (m: FromReader) => this.onMessage?.(m));
  }

  post(m: ToReader): void {
    this.worker.postMessage(m);
  }
}

export class UnpackPool {
  #threads: UnpackThreads;
  #slots: Limit;
  #readers: Reader[] = [];
  #idle: Reader[] = [];
  #appliers: { worker: Worker; id: number }[] = [];
  #busy = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  /** Set while the threads are being stopped on purpose (their exits are not failures). */
  #stopping = new Set<Worker>();

  constructor(threads: UnpackThreads = DEFAULT_THREADS) {
    this.#threads = clampThreads(threads);
    this.#slots = new Limit(this.#threads.readers);
  }

  get threads(): UnpackThreads {
    return { ...this.#threads };
  }

  /** New limits: taken at once when nothing is running, else once the threads have stopped for idleness. */
  configure(threads: UnpackThreads): void {
    this.#threads = clampThreads(threads);
    this.#slots = new Limit(this.#threads.readers);
    if (this.#busy === 0) this.#stopAll();
  }

  /** Waits for a free reader (starting the threads as needed); give it back with `give`. */
  async take(): Promise<Reader> {
    const slots = this.#slots;
    await slots.take();
    this.#busy++;
    clearTimeout(this.#idleTimer);
    try {
      const r = this.#idle.pop() ?? this.#startReader();
      r.worker.ref();
      for (const a of this.#appliers) a.worker.ref();
      return r;
    } catch (err) {
      this.#busy--;
      slots.release();
      throw err;
    }
  }

  give(r: Reader): void {
    r.onMessage = undefined;
    r.onDeath = undefined;
    this.#busy--;
    this.#slots.release();
    if (!this.#readers.includes(r)) return; // its thread died meanwhile
    this.#idle.push(r);
    r.worker.unref();
    if (this.#busy === 0) {
      for (const a of this.#appliers) a.worker.unref();
      this.#idleTimer = setTimeout(() => this.#stopAll(), IDLE_MS);
      this.#idleTimer.unref();
    }
  }

  /** Stops every thread now (a test's or the daemon's end); unpacks under way fail. */
  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    const readers = this.#readers;
    const all = [...readers.map((r) => r.worker), ...this.#appliers.map((a) => a.worker)];
    this.#stopAll();
    for (const r of readers) r.onDeath?.(new UnavailableError('the unpack threads were stopped'));
    await Promise.all(all.map((w) => w.terminate()));
  }

  #startReader(): Reader {
    if (this.#appliers.length === 0) {
      for (let id = 0; id < this.#threads.appliers; id++) this.#appliers.push({ worker: this.#start('applier'), id });
    }
    const input = new SharedArrayBuffer(INPUT_RING);
    const bodies = new SharedArrayBuffer(SLOTS * SLOT);
    const ctl = new SharedArrayBuffer(CTL_LENGTH * 4);
    const r = new Reader(this.#start('reader'), input, ctl);
    r.post({ t: 'init', input, bodies, ctl });
    for (const a of this.#appliers) {
      const { port1, port2 } = new MessageChannel();
      r.worker.postMessage({ t: 'applier', id: a.id, port: port1 } satisfies ToReader, [port1]);
      a.worker.postMessage({ t: 'reader', id: a.id, port: port2, ctl, bodies } satisfies ToApplier, [port2]);
    }
    this.#readers.push(r);
    return r;
  }

  #start(kind: 'reader' | 'applier'): Worker {
    // Named, so that per-thread figures (top -H, /proc/PID/task) tell the readers from the appliers.
    const w = startThread(new URL(`./${kind}.ts`, import.meta.url), {
      resourceLimits: RESOURCE_LIMITS,
      name: `unpack-${kind}`,
    });
    const died = (why: string): void => {
      if (this.#stopping.has(w)) {
        this.#stopping.delete(w);
        return;
      }
      this.#broken(new UnavailableError(`an unpack ${kind} thread ${why}`));
    };
    w.on('error', (err) => died(`failed: ${err.message}`));
    w.on('exit', (code) => died(`exited with code ${code}`));
    return w;
  }

  /** A thread died: every unpack under way fails, and the next one starts a fresh set of threads. */
  #broken(err: Error): void {
    const readers = this.#readers;
    this.#stopAll();
    for (const r of readers) r.onDeath?.(err);
  }

  #stopAll(): void {
    const workers = [...this.#readers.map((r) => r.worker), ...this.#appliers.map((a) => a.worker)];
    this.#readers = [];
    this.#idle = [];
    this.#appliers = [];
    for (const w of workers) {
      this.#stopping.add(w);
      void w.terminate();
    }
  }
}

function clampThreads(t: UnpackThreads): UnpackThreads {
  const n = (v: number, max: number) => Math.max(1, Math.min(max, Math.floor(v) || 1));
  return { readers: n(t.readers, 64), appliers: n(t.appliers, MAX_APPLIERS) };
}
