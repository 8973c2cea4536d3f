/**
 * A reader thread (see pool.ts): takes one layer at a time on each of its lanes (most threads have one), as a blob
 * file, as its download, or as bytes the main thread copies into
 * the input ring, decompresses it (gzip and zstd through node:zlib's codec, driven synchronously on this thread:
 * no round trip through libuv's pool per piece), hashes the tar (the diff ID), parses it (TarParser) and hands the
 * file work to the appliers (Dispatcher), one batch per applier for each piece of input. Reports the diff
 * ID, the archive's size and its files' bytes when every applier is done, or the first error once every applier
 * has stopped working on the layer, so that nothing is written after the main thread hears of the end.
 */
import { createHash, type Hash } from 'node:crypto';
import { close, closeSync, fdatasync, fsync, fsyncSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { type MessagePort, parentPort } from 'node:worker_threads';
import type { Cancel, FetchSource } from '../util/blob-fetch.ts';
import { type SyncDecompressor, syncDecompressor } from '../util/compression.ts';
import { CanceledError } from '../util/errors.ts';
import { TarParser } from '../util/tar/parser.ts';
import { type ApplierLink, ApplierFailed, Dispatcher } from './dispatch.ts';
import { stepApplier } from './steps.ts';
import {
  type ApplierToReader,
  CTL_ABORT,
  CTL_FAILED,
  endWriteback,
  type FromReader,
  OWN_APPLIER,
  type PortableError,
  portableError,
  startWriteback,
  type ToReader,
  type ToReaderThread,
  WB_LENGTH,
} from './unpack-protocol.ts';

/** Blob files are read this much at a time, into one buffer the thread keeps (taken on the first file). */
const READ_CHUNK = 1 << 20;
let readBuf: Buffer | undefined;
/** A progress message goes to the main thread every this many bytes read from a file. */
const PROGRESS_EVERY = 4 << 20;
/** And at most every this many milliseconds of a download (docker's display is redrawn about as often). */
const FETCH_PROGRESS_MS = 100;
/** A lane's decompressors, one per format (see `inflaterFor`). */
type Inflaters = { gzip?: SyncDecompressor | undefined; zstd?: SyncDecompressor | undefined };
/**
 * The lane's decompressor for `c`, kept from layer to layer and reset for each (a new one is a node:zlib stream
 * object, its codec and a 256 KiB buffer: per layer, garbage that lived long enough to be promoted). One set per
 * lane: the layers of a thread's lanes are decompressed in turns, each stream in its own.
 */
function inflaterFor(inflaters: Inflaters, c: 'gzip' | 'zstd'): SyncDecompressor | undefined {
  const kept = inflaters[c];
  if (kept?.reset()) return kept;
  return (inflaters[c] = syncDecompressor(c));
}
/** The HTTP side, loaded with the first download: a reader that only unpacks files and rings loads none of it. */
let fetching: Promise<typeof import('../util/blob-fetch.ts')> | undefined;
if (parentPort !== null) {
  // Each lane is a layer at a time, with its own port and shared memory (pool.ts): one lane for most threads, a few
  // for a thread serving small layers, whose downloads and unpacks take turns on this thread.
  parentPort.on('message', (m: ToReaderThread) => {
    if (m.t === 'lane') serve(m.port);
  });
}

/** Serves one lane: its layers one at a time, through `port`. */
function serve(port: MessagePort): void {
  let input: Uint8Array = new Uint8Array(0);
  let bodies: Buffer = Buffer.alloc(0);
  let ctl: Int32Array = new Int32Array(0);
  let writebacks: Int32Array = new Int32Array(WB_LENGTH);
  let writebackEvery = Number.POSITIVE_INFINITY;
  let localAfter: number | undefined;
  const inflaters: Inflaters = {};
  const links: ApplierLink[] = [];
  /** The ports to the applier threads (not this thread's own). */
  const ports: MessagePort[] = [];
  /** The applier errors of the running job, by job number. */
  const applierErrors = new Map<number, PortableError>();
  let job: Job | undefined;
  const send = (m: FromReader): void => port.postMessage(m);

  port.on('message', (m: ToReader) => {
    switch (m.t) {
      case 'init':
        input = new Uint8Array(m.input);
        bodies = Buffer.from(m.bodies);
        ctl = new Int32Array(m.ctl);
        writebacks = new Int32Array(m.writebacks);
        writebackEvery = m.writebackEvery;
        localAfter = m.localAfter;
        {
          // This thread's own applier: its steps are done here, when the dispatcher sends them.
          const own = stepApplier(OWN_APPLIER, ctl, bodies, (e) => {
            if (!applierErrors.has(e.job)) applierErrors.set(e.job, e);
          });
          links.push({ id: OWN_APPLIER, post: (s) => own.handle(s), local: true });
          links.sort((a, b) => a.id - b.id);
        }
        return;
      case 'applier':
        links.push({ id: m.id, post: (s) => m.port.postMessage(s), local: false });
        links.sort((a, b) => a.id - b.id);
        ports.push(m.port);
        m.port.on('message', (e: ApplierToReader) => {
          if (!applierErrors.has(e.job)) applierErrors.set(e.job, e);
        });
        return;
      case 'unlink':
        // Only this thread's own applier stays; the appliers that start next connect anew ('applier').
        for (let i = links.length - 1; i >= 0; i--) if (!links[i]!.local) links.splice(i, 1);
        for (const p of ports.splice(0)) p.close();
        return;
      case 'job': {
        applierErrors.clear();
        // A copy: an applier connected while the job runs joins the next job, not this one.
        const jobLinks = m.local ? links.filter((l) => l.local) : [...links];
        job = new Job(m, {
          input,
          bodies,
          ctl,
          writebacks,
          writebackEvery,
          localAfter,
          links: jobLinks,
          applierErrors,
          send,
          inflaters,
        });
        if (m.file !== undefined) job.readFile(m.file);
        else if (m.fetch !== undefined) void job.fetch(m.fetch.source, m.fetch.max);
        return;
      }
      case 'data':
        job?.ringData(m.off, m.len);
        return;
      case 'eof':
        job?.ringEnd();
        return;
      case 'abort':
        job?.abort();
        return;
    }
  });
}

interface Shared {
  input: Uint8Array;
  bodies: Buffer;
  ctl: Int32Array;
  /** The process's writeback block (unpack-protocol.ts, WB_*), and how often a stored blob starts one. */
  writebacks: Int32Array;
  writebackEvery: number;
  /** The dispatcher's LOCAL_AFTER, if not its default. */
  localAfter: number | undefined;
  links: ApplierLink[];
  applierErrors: Map<number, PortableError>;
  send: (m: FromReader) => void;
  /** The lane's decompressors. */
  inflaters: Inflaters;
}

/**
 * The blob's bytes written to a file and hashed as they pass (a pull or load storing it in the same pass).
 *
 * Every `writebackEvery` bytes written (32 MiB by default) it starts an fdatasync of the file on libuv's pool, not
 * waited for, so that the disk writes the blob while it arrives and the fsync at its end, which the unpack's answer
 * waits for, finds little left to write (at its end it wrote all 256 MiB of a big layer at once, 0.15 s:
 * bench/README.md, "Data path"). Each holds one of libuv's four pool threads, shared by the whole process, while
 * it waits for the disk: at most WRITEBACKS run at once in the process (a count in shared memory every reader
 * sees), and a writeback that would go over is skipped (the next one covers its bytes).
 */
class BlobSink {
  #fd: number;
  readonly #wb: Int32Array;
  readonly #ctl: Int32Array;
  readonly #every: number;
  readonly #hash: Hash | undefined;
  #size = 0;
  /** Bytes written since the last writeback was started. */
  #unsynced = 0;
  /** Writebacks (fdatasync) under way on libuv's pool: the file is closed once they are over. */
  #syncing = 0;
  #closeWhenSynced = false;

  constructor(path: string, s: Shared, hash: boolean) {
    this.#wb = s.writebacks;
    this.#ctl = s.ctl;
    this.#every = s.writebackEvery;
    this.#fd = openSync(path, 'wx', 0o644);
    this.#hash = hash ? createHash('sha256') : undefined;
  }

  write(view: Buffer): void {
    for (let off = 0; off < view.length; ) off += writeSync(this.#fd, view, off);
    this.#hash?.update(view);
    this.#size += view.length;
    this.#unsynced += view.length;
    if (this.#unsynced >= this.#every) this.#writeback();
  }

  /**
   * Starts writing what is written so far to the disk, without waiting for it; its outcome does not matter (the
   * fsync at the end is what the blob's durability rests on), only that the file stays open until it is over. If
   * this thread is stopped meanwhile, its callback never runs: the pool gives the writeback back for it
   * (`releaseWritebacks`), and Node closes the file as the thread ends.
   */
  #writeback(): void {
    if (!startWriteback(this.#wb, this.#ctl)) return;
    this.#unsynced = 0;
    this.#syncing++;
    const fd = this.#fd;
    fdatasync(fd, () => {
      endWriteback(this.#wb, this.#ctl);
      if (--this.#syncing === 0 && this.#closeWhenSynced) close(fd, () => {});
    });
  }

  /** Syncs and closes the file: its content is on disk before anything names it. */
  finish(): { digest: string; size: number } {
    fsyncSync(this.#fd);
    this.close();
    return this.#result();
  }

  /** The blob's digest (when hashed here) and size. */
  #result(): { digest: string; size: number } {
    return { digest: this.#hash ? `sha256:${this.#hash.digest('hex')}` : '', size: this.#size };
  }

  /**
   * `finish` on libuv's pool: the thread goes on with other work (a shared thread's other lanes) while the disk
   * writes the file; the file is closed once that and every writeback are over.
   */
  finishAsync(): Promise<{ digest: string; size: number }> {
    const fd = this.#fd;
    const done = this.#result();
    this.#syncing++;
    this.#closeWhenSynced = true;
    this.#fd = -1;
    return new Promise((resolve, reject) => {
      fsync(fd, (err) => {
        if (--this.#syncing === 0) close(fd, () => {});
        if (err) reject(err);
        else resolve(done);
      });
    });
  }

  close(): void {
    if (this.#fd < 0) return;
    if (this.#syncing > 0) this.#closeWhenSynced = true;
    else closeSync(this.#fd);
    this.#fd = -1;
  }
}

/**
 * One layer being read. Its outcome has two parts when the blob is stored here too: the blob (written, synced,
 * hashed) and the unpack. The unpack failing (the bytes are no layer, or a bad one) stops the unpack only: the blob
 * goes on to its end, and the answer carries both. The job as a whole fails (an 'error' answer) when it is canceled,
 * when the blob cannot be written, or when the unpack fails and no blob is stored.
 */
class Job {
  readonly #id: number;
  readonly #s: Shared;
  readonly #hash = createHash('sha256');
  readonly #hashing: boolean;
  /** A small layer on a lane of a thread that may serve others (its file work done here, its blob synced async). */
  readonly #local: boolean;
  readonly #parser: TarParser;
  readonly #dispatch: Dispatcher;
  readonly #inflate: SyncDecompressor | undefined;
  /** Decompressed bytes go here (bound once: the decompressor calls it for every piece). */
  readonly #decodedFn = (chunk: Buffer): void => this.#decoded(chunk);
  readonly #blob: BlobSink | undefined;
  /** Bytes of the blob taken in so far. */
  #read = 0;
  #ended = false;
  /** The unpack has stopped for good (failed, or the job did). */
  #stopped = false;
  /** The job failed as a whole: nothing more is done, the input is acknowledged and dropped. */
  #failed = false;
  /** The first failure of this thread's own (the tar, the compression, the input); undefined for an applier's. */
  #failure: unknown;
  /** The unpack's outcome, once known; and the blob's, once its input ended. */
  #unpacked: Promise<{ diffId: string; size: number; fileBytes: number } | PortableError>;
  #settleUnpack!: (v: { diffId: string; size: number; fileBytes: number } | PortableError) => void;
  /** Stops the job's download, if one is under way (`fetch`). */
  readonly #cancel: Cancel = {};

  constructor(m: Extract<ToReader, { t: 'job' }>, s: Shared) {
    this.#id = m.job;
    this.#s = s;
    this.#hashing = m.hash;
    this.#local = m.local === true;
    this.#unpacked = new Promise((resolve) => (this.#settleUnpack = resolve));
    Atomics.store(s.ctl, CTL_FAILED, 0);
    const shared = m.mode === 'overlay' && s.links.length > 1 && isEmptyDir(m.root);
    this.#dispatch = new Dispatcher({
      job: m.job,
      root: m.root,
      mode: m.mode,
      shared,
      links: s.links,
      ctl: s.ctl,
      bodies: s.bodies,
      ...(s.localAfter !== undefined ? { localAfter: s.localAfter } : {}),
    });
    this.#parser = new TarParser(this.#dispatch);
    if (m.compression !== 'none') {
      this.#inflate = inflaterFor(s.inflaters, m.compression);
      if (this.#inflate === undefined)
        this.#stop(new Error(`no synchronous ${m.compression} decompressor in node:zlib`));
    }
    if (m.blob !== undefined) {
      try {
        this.#blob = new BlobSink(m.blob, s, m.blobHash !== false);
      } catch (err) {
        this.#fail(err);
      }
    }
  }

  /** Bytes at `off` of the input ring: read in place, then acknowledged so the main thread may reuse them. */
  ringData(off: number, len: number): void {
    const view = Buffer.from(this.#s.input.buffer, off, len);
    const ack = (): void => this.#s.send({ t: 'ack', bytes: len });
    this.#read += len;
    if (this.#failed) {
      ack();
      return;
    }
    try {
      this.#blob?.write(view);
    } catch (err) {
      this.#fail(err);
      ack();
      return;
    }
    this.#take(view);
    ack();
  }

  /**
   * GETs the blob (util/blob-fetch.ts) and takes each piece as it comes, as `ringData` takes the ring's: written to
   * the blob file, hashed, unpacked. At the last byte the main thread hears 'fetched' and the job ends as at the
   * ring's end. If the GET fails (a status other than 200, a redirect over plain HTTP, the network), the main thread
   * hears after how many bytes, and the rest comes through the ring from there: the job goes on where it was.
   */
  async fetch(source: FetchSource, max: number): Promise<void> {
    let got = 0;
    let shown = Date.now();
    const take = (chunk: Buffer): void => {
      got += chunk.length;
      this.#read += chunk.length;
      if (this.#failed) return;
      try {
        this.#blob?.write(chunk);
      } catch (err) {
        this.#fail(err);
        return;
      }
      this.#take(chunk);
      const now = Date.now();
      if (now - shown >= FETCH_PROGRESS_MS) {
        shown = now;
        this.#s.send({ t: 'progress', read: this.#read });
      }
    };
    try {
      fetching ??= import('../util/blob-fetch.ts').then((m) => {
        m.fetchingAs('unpack thread');
        return m;
      });
      const { fetchInto } = await fetching;
      if (this.#failed) return;
      await fetchInto(source, max, take, this.#cancel);
    } catch (err) {
      if (this.#failed) return;
      const e = err as Error & { status?: number };
      const error = { ...portableError(err), ...(e.status !== undefined ? { status: e.status } : {}) };
      this.#s.send({ t: 'fetchFailed', read: got, error });
      return;
    }
    if (this.#failed) return;
    this.#s.send({ t: 'fetched', read: got });
    this.ringEnd();
  }

  /** The main thread cancels (it also set the abort flag, which the waits here look at). */
  abort(): void {
    this.#fail(new CanceledError('unpack canceled'));
  }

  /** The input ended: the blob is synced, and the unpack finishes. */
  ringEnd(): void {
    if (this.#failed) return;
    let blob: { digest: string; size: number } | undefined;
    let synced: Promise<{ digest: string; size: number }> | undefined;
    try {
      // A lane of a shared thread (`local`) syncs on libuv's pool: this thread serves the other lanes meanwhile.
      if (this.#local) synced = this.#blob?.finishAsync();
      else blob = this.#blob?.finish();
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (blob) this.#s.send({ t: 'stored', blob });
    if (!this.#stopped && this.#inflate) {
      try {
        this.#inflate.end(this.#decodedFn);
      } catch (err) {
        this.#stop(err); // named after the layer by the caller, as a DataLossError
      }
    }
    this.#finish();
    void (async () => {
      if (synced) {
        try {
          blob = await synced;
        } catch (err) {
          this.#fail(err);
          return;
        }
        if (this.#failed) return;
        this.#s.send({ t: 'stored', blob });
      }
      const u = await this.#unpacked;
      if (this.#failed) return;
      if ('diffId' in u) this.#s.send({ t: 'done', ...u, read: this.#read, ...(blob ? { blob } : {}) });
      else if (blob)
        this.#s.send({ t: 'done', diffId: '', size: 0, fileBytes: 0, read: this.#read, blob, unpackError: u });
      else this.#s.send({ t: 'error', ...u });
    })();
  }

  /** Reads a blob file, a chunk at a time, each taken in full before the next is read. */
  readFile(path: string): void {
    let fd = -1;
    try {
      fd = openSync(path, 'r');
      readBuf ??= Buffer.allocUnsafe(READ_CHUNK);
      const buf = readBuf;
      let reported = 0;
      while (!this.#stopped) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        this.#read += n;
        if (this.#read - reported >= PROGRESS_EVERY) {
          reported = this.#read;
          this.#s.send({ t: 'progress', read: this.#read });
        }
        this.#take(buf.subarray(0, n));
      }
    } catch (err) {
      this.#stop(err);
    } finally {
      if (fd >= 0) closeSync(fd);
    }
    this.ringEnd();
  }

  /**
   * A piece of the blob: decompressed (if it is), hashed, parsed, and what the appliers are to do sent to them.
   * Ends the unpack once the compressed stream ended (what follows it is not part of the layer).
   */
  #take(piece: Buffer): void {
    if (this.#stopped || this.#ended) return;
    if (this.#inflate) {
      try {
        this.#inflate.write(piece, this.#decodedFn);
      } catch (err) {
        this.#stop(err); // named after the layer by the caller, as a DataLossError
        return;
      }
    } else this.#decoded(piece);
    if (this.#stopped) return;
    this.#dispatch.flushAll();
    if (this.#inflate?.ended) this.#finish();
  }

  /** Decompressed tar bytes: hashed, parsed, and the file work handed on. */
  #decoded(chunk: Buffer): void {
    if (this.#stopped) return;
    try {
      if (Atomics.load(this.#s.ctl, CTL_ABORT) !== 0) throw new CanceledError('unpack canceled');
      if (this.#hashing) this.#hash.update(chunk);
      this.#parser.push(chunk);
    } catch (err) {
      if (err instanceof CanceledError) this.#fail(err);
      else this.#stop(err);
    }
  }

  #finish(): void {
    if (this.#stopped || this.#ended) return;
    this.#ended = true;
    this.#inflate?.halt();
    try {
      this.#parser.end();
      this.#dispatch.finish();
    } catch (err) {
      this.#stop(err);
      return;
    }
    this.#settleUnpack({
      diffId: this.#hashing ? `sha256:${this.#hash.digest('hex')}` : '',
      size: this.#dispatch.size,
      fileBytes: this.#dispatch.fileBytes,
    });
  }

  /**
   * Stops the unpack: the appliers skip the rest of it; once they have stopped, its error is known (an applier's
   * own, when one failed first). The blob, if any, goes on.
   */
  #stop(err: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (!(err instanceof ApplierFailed)) this.#failure = err;
    Atomics.store(this.#s.ctl, CTL_FAILED, 1);
    this.#inflate?.halt();
    setImmediate(() => void this.#report());
  }

  /**
   * Fails the whole job (canceled, or the blob cannot be written): the unpack stops, the blob is dropped, and once
   * the appliers have stopped the error goes to the main thread.
   */
  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    if (!this.#cancel.reason) {
      this.#cancel.reason = err instanceof Error ? err : new Error(String(err));
      this.#cancel.stop?.(this.#cancel.reason);
    }
    this.#blob?.close();
    this.#stop(err);
    void this.#unpacked.then(() => {
      const canceled = Atomics.load(this.#s.ctl, CTL_ABORT) !== 0;
      this.#s.send({
        t: 'error',
        ...(canceled ? { name: 'CanceledError', message: 'unpack canceled' } : portableError(err)),
      });
    });
  }

  /** Waits for the appliers to stop, then settles the unpack's outcome with its error. */
  async #report(): Promise<void> {
    this.#dispatch.drain();
    const s = this.#s;
    let e: PortableError | undefined = s.applierErrors.get(this.#id);
    // An applier's error message is posted before its count moves on: it may still be on its way.
    for (let i = 0; e === undefined && this.#failure === undefined && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 5));
      e = s.applierErrors.get(this.#id);
    }
    if (Atomics.load(s.ctl, CTL_ABORT) !== 0) e = { name: 'CanceledError', message: 'unpack canceled' };
    else if (e === undefined) e = portableError(this.#failure ?? new Error('an applier failed without saying why'));
    this.#settleUnpack(e);
  }
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}
