/**
 * A reader thread (see pool.ts): takes one layer at a time, as a blob file or as bytes the main thread copies into
 * the input ring, decompresses it (gzip and zstd through node:zlib, whose work runs on libuv's pool), hashes the
 * tar (the diff ID), parses it (TarParser) and hands the file work to the appliers (Dispatcher). Reports the diff
 * ID, the archive's size and its files' bytes when every applier is done, or the first error once every applier
 * has stopped working on the layer, so that nothing is written after the main thread hears of the end.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { decompressor } from '../util/compression.ts';
import { CanceledError } from '../util/errors.ts';
import { TarParser } from '../util/tar/parser.ts';
import { type ApplierLink, ApplierFailed, Dispatcher } from './dispatch.ts';
import {
  type ApplierToReader,
  CTL_ABORT,
  CTL_FAILED,
  type FromReader,
  type PortableError,
  portableError,
  type ToReader,
} from './unpack-protocol.ts';

/** Blob files are read this much at a time. */
const READ_CHUNK = 1 << 20;
/** A progress message goes to the main thread every this many bytes read from a file. */
const PROGRESS_EVERY = 4 << 20;

const port = parentPort;
if (port !== null) {
  let input: Uint8Array = new Uint8Array(0);
  let bodies: Uint8Array = new Uint8Array(0);
  let ctl: Int32Array = new Int32Array(0);
  const links: ApplierLink[] = [];
  /** The applier errors of the running job, by job number. */
  const applierErrors = new Map<number, PortableError>();
  let job: Job | undefined;
  const send = (m: FromReader): void => port.postMessage(m);

  port.on('message', (m: ToReader) => {
    switch (m.t) {
      case 'init':
        input = new Uint8Array(m.input);
        bodies = new Uint8Array(m.bodies);
        ctl = new Int32Array(m.ctl);
        return;
      case 'applier':
        links.push({ id: m.id, port: m.port });
        links.sort((a, b) => a.id - b.id);
        m.port.on('message', (e: ApplierToReader) => {
          if (!applierErrors.has(e.job)) applierErrors.set(e.job, e);
        });
        return;
      case 'job':
        applierErrors.clear();
        job = new Job(m, { input, bodies, ctl, links, applierErrors, send });
        if (m.file !== undefined) void job.readFile(m.file);
        return;
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
  bodies: Uint8Array;
  ctl: Int32Array;
  links: ApplierLink[];
  applierErrors: Map<number, PortableError>;
  send: (m: FromReader) => void;
}

/** One layer being read. */
class Job {
  readonly #id: number;
  readonly #s: Shared;
  readonly #hash = createHash('sha256');
  readonly #hashing: boolean;
  readonly #parser: TarParser;
  readonly #dispatch: Dispatcher;
  readonly #inflate: Duplex | undefined;
  /** Bytes of the blob taken in so far. */
  #read = 0;
  #ended = false;
  /** The first failure of this thread's own (the tar, the compression, the input); undefined for an applier's. */
  #failure: unknown;
  #failed = false;

  constructor(m: Extract<ToReader, { t: 'job' }>, s: Shared) {
    this.#id = m.job;
    this.#s = s;
    this.#hashing = m.hash;
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
    });
    this.#parser = new TarParser(this.#dispatch);
    if (m.compression !== 'none') {
      const z = decompressor(m.compression);
      z.on('data', (chunk: Buffer) => this.#decoded(chunk));
      z.on('error', (err) => this.#fail(err)); // named after the layer by the caller, as a DataLossError
      z.on('end', () => this.#finish());
      this.#inflate = z;
    }
  }

  /** Bytes at `off` of the input ring: read in place, then acknowledged so the main thread may reuse them. */
  ringData(off: number, len: number): void {
    const view = Buffer.from(this.#s.input.buffer, off, len);
    this.#read += len;
    if (this.#failed) {
      this.#s.send({ t: 'ack', bytes: len });
      return;
    }
    if (this.#inflate) this.#inflate.write(view, () => this.#s.send({ t: 'ack', bytes: len }));
    else {
      this.#decoded(view);
      this.#s.send({ t: 'ack', bytes: len });
    }
  }

  /** The main thread cancels (it also set the abort flag, which the waits here look at). */
  abort(): void {
    this.#fail(new CanceledError('unpack canceled'));
  }

  ringEnd(): void {
    if (this.#failed) return;
    if (this.#inflate) this.#inflate.end();
    else this.#finish();
  }

  /** Reads a blob file: the next chunk is read while the previous one is decompressed. */
  async readFile(path: string): Promise<void> {
    let fd = -1;
    try {
      fd = openSync(path, 'r');
      const bufs = [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)];
      let consumed: Promise<void> = Promise.resolve();
      let reported = 0;
      for (let i = 0; !this.#failed; i++) {
        const buf = bufs[i % 2]!;
        const n = readSync(fd, buf, 0, buf.length, null);
        await consumed; // the other buffer is free again
        if (n === 0 || this.#failed) break;
        this.#read += n;
        if (this.#read - reported >= PROGRESS_EVERY) {
          reported = this.#read;
          this.#s.send({ t: 'progress', read: this.#read });
        }
        const chunk = buf.subarray(0, n);
        if (this.#inflate) {
          const z = this.#inflate;
          consumed = new Promise((resolve) => z.write(chunk, () => resolve()));
        } else this.#decoded(chunk);
      }
    } catch (err) {
      this.#fail(err);
    } finally {
      if (fd >= 0) closeSync(fd);
    }
    this.ringEnd();
  }

  /** Decompressed tar bytes: hashed, parsed, and the file work handed on. */
  #decoded(chunk: Buffer): void {
    if (this.#failed) return;
    try {
      if (Atomics.load(this.#s.ctl, CTL_ABORT) !== 0) throw new CanceledError('unpack canceled');
      if (this.#hashing) this.#hash.update(chunk);
      this.#parser.push(chunk);
      this.#dispatch.flushAll();
    } catch (err) {
      this.#fail(err);
    }
  }

  #finish(): void {
    if (this.#failed || this.#ended) return;
    this.#ended = true;
    try {
      this.#parser.end();
      this.#dispatch.finish();
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.#s.send({
      t: 'done',
      diffId: this.#hashing ? `sha256:${this.#hash.digest('hex')}` : '',
      size: this.#dispatch.size,
      fileBytes: this.#dispatch.fileBytes,
      read: this.#read,
    });
  }

  /**
   * Fails the job: the appliers skip the rest of it; once they have stopped, the error goes to the main thread
   * (an applier's own, when one failed first). After a failure the input is still acknowledged, and dropped.
   */
  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    if (!(err instanceof ApplierFailed)) this.#failure = err;
    Atomics.store(this.#s.ctl, CTL_FAILED, 1);
    this.#inflate?.destroy();
    setImmediate(() => void this.#report());
  }

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
    else if (e === undefined) {
      e = portableError(this.#failure ?? new Error('an applier failed without saying why'));
    }
    s.send({ t: 'error', ...e });
  }
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}
