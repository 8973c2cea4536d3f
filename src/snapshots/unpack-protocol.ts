/**
 * What the unpack threads say to each other (see pool.ts for who they are): the messages, the layout of the memory
 * each reader thread shares with the main thread and the appliers, and how an error crosses a thread boundary.
 */
import type { MessagePort } from 'node:worker_threads';
import type { FetchSource } from '../util/blob-fetch.ts';
import type { Compression } from '../util/compression.ts';
import { CanceledError, DataLossError, InvalidArgumentError } from '../util/errors.ts';
import type { PortableHeader, WhiteoutMode } from './layer-rules.ts';

/**
 * Bytes of a layer's blob in flight from the main thread to its reader: copied in, read in place. 2 MiB, and 2 MiB
 * of body slots: measured as fast as 4 + 4 MiB, and 4 MiB less of RSS per reader (bench/README.md, "Data path").
 */
export const INPUT_RING = 2 << 20;
/**
 * File bodies go from a reader to the appliers through slots of this size, at most SLOTS of them in use: 64 KiB,
 * so that a small file (64 KiB and less: most of a layer's files) takes one slot and 32 of them can be in flight.
 */
export const SLOT = 64 << 10;
export const SLOTS = 32;
/**
 * A reader out of slots sleeps until this many are free again, not until the first one is: one wake-up for a few
 * small files written instead of one for each.
 */
export const WAKE_FREE = SLOTS / 4;
/** Applier threads at most (the control block has room for this many). */
export const MAX_APPLIERS = 8;
/** The number of a reader's own applier (steps done on the reader's thread): the last, after the threads'. */
export const OWN_APPLIER = MAX_APPLIERS - 1;

/** The reader's control block, an Int32Array over shared memory. */
export const CTL_ABORT = 0; // the main thread sets 1: cancel the running unpack
export const CTL_FAILED = 1; // set when the unpack failed: appliers skip the rest of its steps
export const CTL_FREED = 2; // bumped each time a body slot is freed
export const CTL_USED = 3; // body slots in use
export const CTL_WAITING = 4; // 1 while the reader waits for free slots
export const CTL_PROGRESS = 5; // + applier id: steps of the running unpack that applier has done
export const CTL_SLOTS = CTL_PROGRESS + MAX_APPLIERS; // + slot: 1 while the slot holds a body piece
/** This reader's writebacks under way (fdatasyncs on libuv's pool): given back for it if the thread ends. */
export const CTL_WRITEBACKS = CTL_SLOTS + SLOTS;
export const CTL_LENGTH = CTL_WRITEBACKS + 1;

/**
 * The process's writeback block, an Int32Array over one SharedArrayBuffer every reader of every pool shares:
 * writebacks under way in the process, and the most seen at once. Each holds one of libuv's four pool threads
 * (shared by every thread of the process: the main thread's file system calls, gunzip, DNS) while it waits for the
 * disk, so the process as a whole has at most WRITEBACKS of them, not each blob or each reader.
 */
export const WB_RUNNING = 0;
export const WB_PEAK = 1;
export const WB_LENGTH = 2;
/** Writebacks under way at most in the process: two of libuv's four pool threads, the other two left to the rest. */
export const WRITEBACKS = 2;

/**
 * Takes a writeback for a reader whose control block is `ctl`; false if the process has WRITEBACKS under way. The
 * process's count moves first and the reader's second (and the other way round in `endWriteback`): a thread
 * stopped between the two leaves the process's count one too high (one writeback fewer, never one more).
 */
export function startWriteback(wb: Int32Array, ctl: Int32Array): boolean {
  for (let n = Atomics.load(wb, WB_RUNNING); n < WRITEBACKS; n = Atomics.load(wb, WB_RUNNING)) {
    if (Atomics.compareExchange(wb, WB_RUNNING, n, n + 1) !== n) continue;
    Atomics.add(ctl, CTL_WRITEBACKS, 1);
    for (let peak = Atomics.load(wb, WB_PEAK); peak < n + 1; peak = Atomics.load(wb, WB_PEAK))
      if (Atomics.compareExchange(wb, WB_PEAK, peak, n + 1) === peak) break;
    return true;
  }
  return false;
}

/** A writeback `startWriteback` took is over. */
export function endWriteback(wb: Int32Array, ctl: Int32Array): void {
  Atomics.sub(ctl, CTL_WRITEBACKS, 1);
  Atomics.sub(wb, WB_RUNNING, 1);
}

/**
 * A reader thread has ended (stopped, or died): its writebacks' callbacks will never run, so the main thread gives
 * them back. Node has by then finished or canceled the thread's requests on the pool, and closed the files it had
 * open (the Worker option `trackUnmanagedFds`, on by default).
 */
export function releaseWritebacks(wb: Int32Array, ctl: Int32Array): void {
  const n = Atomics.exchange(ctl, CTL_WRITEBACKS, 0);
  if (n > 0) Atomics.sub(wb, WB_RUNNING, n);
}

/**
 * Gives body slot `slot` back (an applier after writing it, or a failed unpack), and wakes the reader if it waits
 * and WAKE_FREE slots are free.
 */
export function freeSlot(ctl: Int32Array, slot: number): void {
  Atomics.store(ctl, CTL_SLOTS + slot, 0);
  const used = Atomics.sub(ctl, CTL_USED, 1) - 1;
  Atomics.add(ctl, CTL_FREED, 1);
  if (used <= SLOTS - WAKE_FREE && Atomics.load(ctl, CTL_WAITING) !== 0) Atomics.notify(ctl, CTL_FREED);
}

/**
 * Takes a free body slot for the reader; -1 when none is free. `cursor` is where to start looking (the slot after
 * the last one taken).
 */
export function takeSlot(ctl: Int32Array, cursor: number): number {
  for (let k = 0; k < SLOTS; k++) {
    const s = (cursor + k) % SLOTS;
    if (Atomics.compareExchange(ctl, CTL_SLOTS + s, 0, 1) === 0) {
      Atomics.add(ctl, CTL_USED, 1);
      return s;
    }
  }
  return -1;
}

/**
 * The reader, out of slots, waits until WAKE_FREE are free (or `ms` passed). `seen` is CTL_FREED as read before
 * looking for a slot: a slot freed since then ends the wait at once.
 */
export function waitForSlots(ctl: Int32Array, seen: number, ms: number): void {
  Atomics.store(ctl, CTL_WAITING, 1);
  // Set before looking: an applier freeing slots from now on sees it and wakes this thread once enough are free.
  if (Atomics.load(ctl, CTL_USED) > SLOTS - WAKE_FREE) Atomics.wait(ctl, CTL_FREED, seen, ms);
  Atomics.store(ctl, CTL_WAITING, 0);
}

/**
 * One step for an applier: an entry's header (`begin`), a parent directory the layer does not name, a piece of
 * the current file's body (`n` bytes in body slot `d`), the end of that body, forgetting cached directories after
 * another applier removed part of the tree, and the end of the unpack (set directories' times, when it keeps them).
 */
export type ApplyStep =
  | { h: PortableHeader }
  | { p: string; name: string }
  | { d: number; n: number }
  | { e: 1 }
  | { r: 1 }
  | { f: 1 };

/** An error as it crosses a thread boundary. */
export interface PortableError {
  name: string;
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/**
 * Main thread → reader thread: a lane to serve (see pool.ts), whose messages (ToReader, FromReader) go through
 * `port`.
 */
export type ToReaderThread = { t: 'lane'; port: MessagePort };

/** Main thread → reader, through the lane's port. */
export type ToReader =
  | {
      t: 'init';
      input: SharedArrayBuffer;
      bodies: SharedArrayBuffer;
      ctl: SharedArrayBuffer;
      /** The process's writeback block (WB_*). */
      writebacks: SharedArrayBuffer;
      /** A stored blob's bytes are handed to the disk every this many bytes written. */
      writebackEvery: number;
      /** The dispatcher's LOCAL_AFTER, if not its default. */
      localAfter?: number;
    }
  | { t: 'applier'; id: number; port: MessagePort }
  /** The appliers were stopped (an idle stop that kept this lane's thread, pool.ts): drop the links to them. */
  | { t: 'unlink' }
  | {
      t: 'job';
      job: number;
      root: string;
      mode: WhiteoutMode;
      compression: Compression;
      /** Compute the tar's digest (the diff ID). */
      hash: boolean;
      /** Do the file work on the reader's own applier only (a small layer, on a thread that may serve others). */
      local?: true;
      /** Read the blob from this file; without it, the bytes come through the input ring. */
      file?: string;
      /**
       * GET the blob from here (util/blob-fetch.ts), at most `max` bytes; if that fails ('fetchFailed'), the rest
       * comes through the input ring.
       */
      fetch?: { source: FetchSource; max: number };
      /** Also write the bytes that come through the ring to this new file (synced, and hashed) as they pass. */
      blob?: string;
      /** False: the blob written is not hashed (its digest is answered as ''); the caller hashes it. */
      blobHash?: false;
    }
  | { t: 'data'; off: number; len: number }
  | { t: 'eof' }
  | { t: 'abort' };

/** Reader → main thread, through the lane's port. */
export type FromReader =
  | { t: 'ack'; bytes: number }
  | { t: 'progress'; read: number }
  /** The job's GET (`fetch`) received its last byte. */
  | { t: 'fetched'; read: number }
  /** The job's GET failed after `read` bytes: the bytes from there on are to come through the ring. */
  | { t: 'fetchFailed'; read: number; error: PortableError & { status?: number } }
  /** The blob written as it passed is synced (before the unpack may be done). */
  | { t: 'stored'; blob: { digest: string; size: number } }
  | {
      t: 'done';
      diffId: string;
      size: number;
      fileBytes: number;
      read: number;
      /** The blob written as it passed (a job with `blob`): its digest and size. */
      blob?: { digest: string; size: number };
      /** The unpack failed while the blob was stored (then the unpack's fields are empty). */
      unpackError?: PortableError;
    }
  | ({ t: 'error' } & PortableError);

/** Main thread → applier: a reader to serve, with its shared memory, and this applier's id. */
export type ToApplier = {
  t: 'reader';
  id: number;
  port: MessagePort;
  ctl: SharedArrayBuffer;
  bodies: SharedArrayBuffer;
};

/** Reader → applier, through their own port. */
export type ReaderToApplier =
  | { t: 'start'; job: number; root: string; mode: WhiteoutMode; shared: boolean }
  | { t: 'steps'; job: number; steps: ApplyStep[] };

/** Applier → reader. */
export type ApplierToReader = { t: 'error'; job: number } & PortableError;

export function portableError(err: unknown): PortableError {
  const e = err as NodeJS.ErrnoException;
  const out: PortableError = { name: e?.name ?? 'Error', message: e?.message ?? String(err) };
  if (typeof e?.code === 'string') out.code = e.code;
  if (typeof e?.errno === 'number') out.errno = e.errno;
  if (typeof e?.syscall === 'string') out.syscall = e.syscall;
  if (typeof e?.path === 'string') out.path = e.path;
  return out;
}

/** The error again, as the class a caller expects: Berth's own classes by name, else an errno error. */
export function rebuildError(m: PortableError): Error {
  if (m.name === 'InvalidArgumentError') return new InvalidArgumentError(m.message);
  if (m.name === 'DataLossError') return new DataLossError(m.message);
  if (m.name === 'CanceledError') return new CanceledError(m.message);
  const err: NodeJS.ErrnoException = new Error(m.message);
  if (m.name !== 'Error') err.name = m.name;
  if (m.code !== undefined) err.code = m.code;
  if (m.errno !== undefined) err.errno = m.errno;
  if (m.syscall !== undefined) err.syscall = m.syscall;
  if (m.path !== undefined) err.path = m.path;
  return err;
}
