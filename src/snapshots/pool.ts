/**
 * The unpack threads. A layer is read by a *reader* (reader.ts: its download, decompression, the diff ID digest, tar
 * parsing) and written by *applier* threads (applier.ts, steps.ts: file creation, bodies, metadata, whiteouts),
 * which every reader shares: up to `readers` layers unpack at once, each spread over all `appliers` where order
 * allows (dispatch.ts). Each reader also has an applier of its own (steps done on the reader's thread), which the
 * dispatcher uses only with `localAfter` set: a reader and one thread instead of two saved a thread's ~12 MiB at a
 * load's peak but cost the 256 MiB loads 5–8% of their time (bench/README.md, "Data path"), so by default it is
 * not used for such layers. The main thread only hands bytes over (or nothing at all, when a reader reads a blob
 * file or downloads the blob itself).
 *
 * A reader is a *lane* of a reader thread: its own port and shared memory, one layer at a time. A layer that is not
 * small has a thread to itself (one lane, as long as it runs). Small layers (SMALL_LAYER, known from the manifest)
 * share one: as many at once as `readers` allows, each on a lane of the same thread, their downloads, unpacks and
 * blob syncs (on libuv's pool) taking turns there or overlapping, each doing
 * its file work on the reader's own applier, so a pull of many small layers starts one thread, not three readers and
 * an applier, each of which pays Node's bootstrap and warms its code up on its own (bench/README.md, "Data path",
 * 2026-12-07 17:30).
 *
 * Threads start on first use and stop after IDLE_MS without work: each costs ~10–12 MiB of RSS at a load's peak and
 * 3–6 MiB while it idles, whatever its `resourceLimits`, and ~50 ms of CPU to start here, most of it Node's own worker
 * bootstrap (docs/design-notes.md, "What an unpack thread's start costs"), so they are kept for the next layer but
 * not for ever. All but one: a reader thread that has served small layers is kept by the idle stop (`#stopIdle`),
 * with its lanes, until `close` or its death, so that a pull of small layers after an idle spell does not pay a
 * thread's start and warm-up (0.06–0.08 s of wall and 0.10–0.17 s of CPU of a 50 × 1 MiB pull's ~0.5 s, for ~3.5
 * MiB of RSS; docs/design-notes.md, "The small-layer reader thread is kept"). A daemon that never unpacks starts
 * none. Each lane has its own shared memory: the input ring (main thread → reader), the body slots (reader →
 * appliers) and a control block (see unpack-protocol.ts). A thread that dies fails every unpack under way and the
 * whole set is started again.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, type Transferable } from 'node:worker_threads';
import { UnavailableError } from '../util/errors.ts';
import { phaseEnd, phaseStart } from '../util/trace.ts';
import { Limit } from '../util/lock.ts';
import { IdleTimer, OwnedThread } from '../util/thread.ts';
import {
  CTL_LENGTH,
  type FromReader,
  INPUT_RING,
  MAX_APPLIERS,
  releaseWritebacks,
  SLOT,
  SLOTS,
  type ToApplier,
  type ToReader,
  type ToReaderThread,
  WB_LENGTH,
  WB_PEAK,
  WB_RUNNING,
} from './unpack-protocol.ts';

export interface UnpackThreads {
  /** Layers unpacked at once (a reader lane each: a thread each, but small layers share one, see above). */
  readers: number;
  /**
   * Readers started as soon as a layer finds none free (default: all of them). Past these, a layer first waits up to
   * START_AFTER_MS for a busy reader to come back, and a reader is started only if none does: the daemon's second half
   * of readers is there for layers' tails (see daemon/engine.ts), a few milliseconds each, where a new reader costs
   * ~50 ms of CPU to start and as long again before it takes the layer.
   */
  eager?: number;
  /** Threads doing the file work, shared by the readers (each reader also has an applier of its own, see below). */
  appliers: number;
}

/**
 * Three layers at once (docker's max-concurrent-downloads), over half as many appliers as CPUs (one to four). The
 * file work is the cheap part of an unpack once ext4 does not make each file creation scan just-freed inodes
 * (util/topdir.ts): ~0.2 s of a 256 MiB gzip load's ~1.3 s of CPU, against the reader's ~0.6 s, so on two CPUs one
 * applier keeps up, and a second only queued beside the reader, main thread and client (~12 MiB of RSS too;
 * bench/README.md, "Data path", 2026-12-07 09:30).
 */
export const DEFAULT_THREADS: UnpackThreads = {
  readers: 3,
  appliers: Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2))),
};

/**
 * The process's writeback block (unpack-protocol.ts, WB_*): one for every pool, since libuv's pool threads are the
 * process's.
 */
const writebackBlock = new SharedArrayBuffer(WB_LENGTH * 4);
const writebacks = new Int32Array(writebackBlock);

/** Writebacks of stored blobs under way in the process, and the most seen at once since `resetPeak`. */
export const writebackCount = {
  running: (): number => Atomics.load(writebacks, WB_RUNNING),
  peak: (): number => Atomics.load(writebacks, WB_PEAK),
  resetPeak: (): void => void Atomics.store(writebacks, WB_PEAK, Atomics.load(writebacks, WB_RUNNING)),
};

/** A stored blob's bytes are handed to the disk every this many bytes as they are written (see reader.ts). */
const WRITEBACK_EVERY = 32 << 20;

/** Threads stop after this long with no unpack. */
const IDLE_MS = 10_000;
/**
 * How long a layer that finds every reader busy, with `eager` readers or more running, waits for one to come back
 * before a new one is started: about what a new reader takes to start and load its modules on a quiet machine here
 * (docs/design-notes.md, "What an unpack thread's start costs"), so that the layer is not later for the wait than it
 * would have been on a new reader, and a reader's tail (0.5–14 ms for a 1 MiB layer) is nearly always shorter.
 */
const START_AFTER_MS = 50;
/**
 * Blobs up to this size are small layers: their unpack is a few milliseconds of CPU, less than a new thread's start
 * (docs/design-notes.md, "What an unpack thread's start costs"), so they share a reader thread (as many as `readers`), each
 * on its own lane, their downloads and unpacks taking turns there, and their file work is done on that thread
 * instead of an applier's (no message per batch, no applier thread to start).
 */
export const SMALL_LAYER = 2 << 20;
/** Each thread's heap is kept small: the data goes through shared memory, not the heap. */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 };

/**
 * A reader thread: its lanes (each a Reader: a layer at a time), how many of them serve a layer now, and whether
 * one of those is a layer that is not small (it then has the thread to itself).
 */
interface ReaderThread {
  thread: OwnedThread;
  lanes: Reader[];
  busy: number;
  big: boolean;
  /** It has served a small layer since it started: the idle stop keeps one such thread. */
  small: boolean;
}

/** A lane of a reader thread and its shared memory, lent to one unpack at a time. */
export class Reader {
  readonly home: ReaderThread;
  readonly port: MessagePort;
  /** A Buffer over the shared ring, copied into with copyToShared (util/shared-copy.ts: one memcpy). */
  readonly input: Buffer;
  readonly ctl: Int32Array;
  readonly bodies: SharedArrayBuffer;
  /** The shared memory under `input`. */
  get ring(): SharedArrayBuffer {
    return this.input.buffer as SharedArrayBuffer;
  }
  /** Serving a small layer: its file work is done on the reader's own applier only (the job's `local`). */
  small = false;
  /** The unpack being served: its messages, and what to do if the thread dies. */
  onMessage: ((m: FromReader) => void) | undefined;
  onDeath: ((err: Error) => void) | undefined;

  constructor(home: ReaderThread, port: MessagePort, input: SharedArrayBuffer, bodies: SharedArrayBuffer) {
    this.home = home;
    this.port = port;
    this.input = Buffer.from(input);
    this.bodies = bodies;
    this.ctl = new Int32Array(new SharedArrayBuffer(CTL_LENGTH * 4));
    port.on('message', (m: FromReader) => this.onMessage?.(m));
    port.unref();
  }

  post(m: ToReader, transfer?: Transferable[]): void {
    this.port.postMessage(m, transfer);
  }
}

/** Options of `take`. */
export interface TakeOptions {
  /** The blob's size, when known: a small one (SMALL_LAYER) may share a reader thread with other small ones. */
  blobSize?: number;
}

/** A waiting layer (see `eager`): whether it is small, and how it gets its reader. */
interface Waiter {
  small: boolean;
  handOver: (r: Reader) => void;
  fail: (err: Error) => void;
}

export class UnpackPool {
  #threads: UnpackThreads;
  readonly #slots: Limit;
  #homes: ReaderThread[] = [];
  #idle: Reader[] = [];
  #appliers: { thread: OwnedThread; id: number }[] = [];
  /** Layers waiting for a busy reader to come back (see `eager`), first come first served. */
  #waiting: Waiter[] = [];
  #busy = 0;
  /**
   * The shared memory of lanes whose threads were stopped with no unpack under way, for the next lanes: a stopped
   * lane's memory is freed only when the main thread collects garbage, which an idle daemon does not do, so lanes
   * made anew for every pull after an idle spell grew berthd's RSS by ~10 MiB a pull (bench/README.md, "Data path",
   * 2026-12-07 19:06); reused, it stays at what the most lanes alive at once need.
   */
  #spare: { input: SharedArrayBuffer; bodies: SharedArrayBuffer }[] = [];
  readonly #idleTimer: IdleTimer;
  readonly #writebackEvery: number;
  readonly #localAfter: number | undefined;

  /**
   * `writebackEvery`: how often a stored blob is handed to the disk as it is written; `localAfter`: the steps every
   * applier thread must have waiting before a reader takes one itself (dispatch.ts); `idleMs`: the idle stop's wait
   * (IDLE_MS). Tests make them small.
   */
  constructor(
    threads: UnpackThreads = DEFAULT_THREADS,
    opts: { writebackEvery?: number; localAfter?: number; idleMs?: number } = {},
  ) {
    this.#idleTimer = new IdleTimer(opts.idleMs ?? IDLE_MS, () => void this.#stopIdle());
    this.#writebackEvery = opts.writebackEvery ?? WRITEBACK_EVERY;
    this.#localAfter = opts.localAfter;
    this.#threads = clampThreads(threads);
    this.#slots = new Limit(this.#threads.readers);
  }

  get threads(): UnpackThreads {
    return { ...this.#threads };
  }

  /** The threads running now (readers and appliers). */
  get running(): number {
    return this.#homes.length + this.#appliers.length;
  }

  /** The reader threads running now, and their lanes (one list of lanes a thread). */
  get readerThreads(): readonly (readonly Reader[])[] {
    return this.#homes.map((h) => [...h.lanes]);
  }

  /**
   * New limits. The number of layers at once applies at once, counting the layers under way (the one slot counter
   * is resized: a larger limit lets waiting layers start now, a smaller one lets the layers under way finish and
   * starts no other until fewer than the new number run); the threads are started again with the new numbers at
   * once when nothing is running, else once they have stopped for idleness (a reader started meanwhile shares the
   * appliers already running). Resolves once the threads it stopped have ended.
   */
  configure(threads: UnpackThreads): Promise<void> {
    this.#threads = clampThreads(threads);
    this.#slots.resize(this.#threads.readers);
    return this.#busy === 0 ? this.#stopAll(true) : Promise.resolve();
  }

  /**
   * Waits for a free reader (starting threads as needed); give it back with `give`. A small layer (`blobSize` up to
   * SMALL_LAYER) takes a lane of a reader thread that serves only small layers (a new lane if none is idle), and does
   * its file work there (no applier thread); any other layer has a reader thread to itself, with the appliers.
   */
  async take(opts: TakeOptions = {}): Promise<Reader> {
    const small = opts.blobSize !== undefined && opts.blobSize <= SMALL_LAYER;
    await this.#slots.take();
    this.#busy++;
    this.#idleTimer.disarm();
    try {
      if (!small) this.#startAppliers();
      return this.#idleLane(small) ?? this.#newLane(small) ?? (await this.#reader(small));
    } catch (err) {
      this.#busy--;
      this.#slots.release();
      throw err;
    }
  }

  /** An idle lane the layer may take, taken; undefined if none. */
  #idleLane(small: boolean): Reader | undefined {
    const i = this.#idle.findIndex((r) => fits(r, small));
    if (i < 0) return undefined;
    const [r] = this.#idle.splice(i, 1);
    return this.#use(r!, small);
  }

  /** A small layer: a new lane on a thread that serves small layers (a lane is a port and 4 MiB of shared memory), taken. */
  #newLane(small: boolean): Reader | undefined {
    if (!small) return undefined;
    const home = this.#homes.find((h) => !h.big && h.lanes.length < this.#threads.readers);
    return home ? this.#use(this.#startLane(home), small) : undefined;
  }

  /** Marks `r` busy with a layer (small or not). */
  #use(r: Reader, small: boolean): Reader {
    r.small = small;
    r.home.busy++;
    if (small) r.home.small = true;
    else r.home.big = true;
    r.port.ref();
    r.home.thread.worker.ref();
    for (const a of this.#appliers) a.thread.worker.ref();
    return r;
  }

  /**
   * A reader for a layer that found none free: a new thread while fewer than `eager` run, else the first fitting lane
   * that comes back within START_AFTER_MS, else a new lane (small) or thread. A small layer gets here only when no
   * thread serves small layers (every one has a layer that is not small): the thread it starts takes the next small
   * layers as new lanes (`#newLane`).
   */
  #reader(small: boolean): Promise<Reader> | Reader {
    const eager = this.#threads.eager ?? this.#threads.readers;
    if (this.#homes.length < eager) return this.#use(this.#startLane(undefined), small);
    return new Promise<Reader>((resolve, reject) => {
      const w: Waiter = {
        small,
        handOver: (r: Reader): void => {
          clearTimeout(timer);
          resolve(r);
        },
        fail: (err: Error): void => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.#waiting = this.#waiting.filter((x) => x !== w);
        try {
          resolve(this.#idleLane(small) ?? this.#newLane(small) ?? this.#use(this.#startLane(undefined), small));
        } catch (err) {
          reject(err);
        }
      }, START_AFTER_MS);
      this.#waiting.push(w);
    });
  }

  /**
   * Starts a reader thread now if none runs (and the appliers, unless `appliers` is false), so that their bootstrap
   * (~0.1 s of CPU for the two, bench/README.md, "Data path") overlaps with what comes before the first layer (a
   * pull's manifest and config, a load's archive up to its first layer) instead of delaying it. One reader only: a
   * single-layer load needs no more, and each costs ~10 MiB at a load's peak. A pull does not start the appliers
   * here: a pull of small layers needs none (`take`), and a layer that does starts them. A reader thread kept by the
   * idle stop counts as the one reader (its idle lane takes a layer of any size); the appliers are started beside it
   * all the same. The threads stop after IDLE_MS as usual if no unpack comes.
   */
  warm(opts: { appliers?: boolean } = {}): void {
    const appliers = opts.appliers !== false && this.#appliers.length === 0;
    if (this.#homes.length > 0 && !appliers) return;
    try {
      if (appliers) this.#startAppliers();
      if (this.#homes.length === 0) this.#idle.push(this.#startLane(undefined));
    } catch {
      return; // the unpack that comes next starts them again, and reports what fails
    }
    // Started here, they serve no unpack yet (one that takes them refs them); an applier serves none until a layer
    // that is not small comes, and such a layer would have started them.
    for (const h of this.#homes) if (h.busy === 0) h.thread.worker.unref();
    if (appliers) for (const a of this.#appliers) a.thread.worker.unref();
    if (this.#busy === 0) this.#idleTimer.arm();
  }

  give(r: Reader): void {
    r.onMessage = undefined;
    r.onDeath = undefined;
    this.#busy--;
    this.#slots.release();
    const home = r.home;
    // A lane whose thread died meanwhile goes nowhere, but the threads started since may now be idle too.
    if (this.#homes.includes(home)) {
      home.busy--;
      if (!r.small) home.big = false;
      const i = this.#waiting.findIndex((w) => fits(r, w.small));
      if (i >= 0) {
        const [next] = this.#waiting.splice(i, 1);
        next!.handOver(this.#use(r, next!.small)); // still busy: handed straight to a layer waiting for it
        return;
      }
      this.#idle.push(r);
      r.port.unref();
      if (home.busy === 0) home.thread.worker.unref();
    }
    if (this.#busy === 0) {
      for (const a of this.#appliers) a.thread.worker.unref();
      this.#idleTimer.arm();
    }
  }

  /** Stops every thread now (a test's or the daemon's end); unpacks under way fail. */
  async close(): Promise<void> {
    this.#idleTimer.disarm();
    const lanes = this.#homes.flatMap((h) => h.lanes);
    const waiting = this.#waiting;
    this.#waiting = [];
    const stopped = this.#stopAll();
    for (const r of lanes) r.onDeath?.(new UnavailableError('the unpack threads were stopped'));
    for (const w of waiting) w.fail(new UnavailableError('the unpack threads were stopped'));
    await stopped;
  }

  /** Starts the appliers if none runs, and connects every lane to them. */
  #startAppliers(): void {
    if (this.#appliers.length > 0) return;
    for (let id = 0; id < this.#threads.appliers; id++) this.#appliers.push({ thread: this.#start('applier'), id });
    for (const h of this.#homes) for (const r of h.lanes) this.#connect(r);
  }

  /** Connects lane `r` to every applier running (each through a port of their own, and the lane's shared memory). */
  #connect(r: Reader): void {
    for (const a of this.#appliers) {
      const { port1, port2 } = new MessageChannel();
      r.post({ t: 'applier', id: a.id, port: port1 }, [port1]);
      const ctl = r.ctl.buffer as SharedArrayBuffer;
      a.thread.worker.postMessage({ t: 'reader', id: a.id, port: port2, ctl, bodies: r.bodies } satisfies ToApplier, [
        port2,
      ]);
    }
  }

  /** A new lane on `home`, or on a new reader thread; idle (not in #idle: the caller takes it or puts it there). */
  #startLane(home: ReaderThread | undefined): Reader {
    const h = home ?? { thread: this.#start('reader'), lanes: [], busy: 0, big: false, small: false };
    if (home === undefined) this.#homes.push(h);
    const { input, bodies } = this.#spare.pop() ?? {
      input: new SharedArrayBuffer(INPUT_RING),
      bodies: new SharedArrayBuffer(SLOTS * SLOT),
    };
    const { port1, port2 } = new MessageChannel();
    h.thread.worker.postMessage({ t: 'lane', port: port2 } satisfies ToReaderThread, [port2]);
    const r = new Reader(h, port1, input, bodies);
    r.post({
      t: 'init',
      input,
      bodies,
      ctl: r.ctl.buffer as SharedArrayBuffer,
      writebacks: writebackBlock,
      writebackEvery: this.#writebackEvery,
      ...(this.#localAfter !== undefined ? { localAfter: this.#localAfter } : {}),
    });
    // The appliers running (started before a `configure`) are the ones this lane shares.
    this.#connect(r);
    h.lanes.push(r);
    return r;
  }

  #start(kind: 'reader' | 'applier'): OwnedThread {
    const started = phaseStart();
    // Named, so that per-thread figures (top -H, /proc/PID/task) tell the readers from the appliers.
    const t = new OwnedThread(
      new URL(`./${kind}.ts`, import.meta.url),
      { resourceLimits: RESOURCE_LIMITS, name: `unpack-${kind}` },
      `an unpack ${kind} thread`,
      (err) => this.#broken(err),
    );
    // From `new Worker` to the thread running JavaScript (Node's bootstrap; its modules load after): timed for
    // bench/pull-timeline.ts, only when something listens.
    if (started !== undefined) t.worker.once('online', () => phaseEnd(`unpack.${kind}.online`, '', started));
    return t;
  }

  /** A thread died: every unpack under way fails, and the next one starts a fresh set of threads. */
  #broken(err: Error): void {
    const lanes = this.#homes.flatMap((h) => h.lanes);
    void this.#stopAll();
    for (const r of lanes) r.onDeath?.(err);
  }

  /**
   * The idle stop (IDLE_MS without an unpack): every thread but one reader thread that has served small layers, kept
   * with its lanes (idle, their memory its own) for the next pull of small layers, which then starts no thread. Its
   * lanes drop their links to the appliers stopped here; the appliers started next connect to them again. The
   * stopped threads' lanes leave their memory to the next lanes (`#spare`).
   */
  #stopIdle(): Promise<void> {
    const kept = this.#homes.find((h) => h.small && h.busy === 0);
    if (kept === undefined) return this.#stopAll(true);
    const stopping = this.#appliers.length > 0;
    const done = this.#stopAll(true, kept);
    if (stopping) for (const r of kept.lanes) r.post({ t: 'unlink' });
    return done;
  }

  /**
   * Stops every thread on purpose but `keep` (their ends are not failures); resolves once they have all ended.
   * `recycle`: no unpack is under way (an idle stop), so once the threads have ended nothing uses the lanes' shared
   * memory and the next lanes may take it (after a thread's death or a close, an unpack failing may still be copying
   * into it).
   */
  async #stopAll(recycle = false, keep?: ReaderThread): Promise<void> {
    const homes = this.#homes.filter((h) => h !== keep);
    const threads = [...homes.map((h) => h.thread), ...this.#appliers.map((a) => a.thread)];
    this.#homes = keep ? [keep] : [];
    this.#idle = keep ? this.#idle.filter((r) => r.home === keep) : [];
    this.#appliers = [];
    for (const h of homes) for (const r of h.lanes) r.port.close();
    await Promise.all(threads.map((t) => t.stop()));
    // Every thread has ended: the writebacks their callbacks would have given back are given back here.
    for (const h of homes) for (const r of h.lanes) releaseWritebacks(writebacks, r.ctl);
    if (recycle) for (const h of homes) for (const r of h.lanes) this.#spare.push({ input: r.ring, bodies: r.bodies });
  }
}

/** Whether lane `r`, idle, may serve a layer: a small one on a thread serving no other kind, any other alone. */
function fits(r: Reader, small: boolean): boolean {
  return small ? !r.home.big : r.home.busy === 0;
}

function clampThreads(t: UnpackThreads): UnpackThreads {
  const n = (v: number, max: number) => Math.max(1, Math.min(max, Math.floor(v) || 1));
  // The reader's own applier takes the last number (OWN_APPLIER), after the most threads there may be.
  const readers = n(t.readers, 64);
  return {
    readers,
    appliers: n(t.appliers, MAX_APPLIERS - 1),
    ...(t.eager !== undefined ? { eager: Math.min(readers, n(t.eager, 64)) } : {}),
  };
}
