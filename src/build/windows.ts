/**
 * File contents read from the host files they lie in (the context's spool or kept segments), in large windows
 * rather than one read per file: a COPY of 10,000 files of 20 KiB from a 200 MiB context takes ~50 reads instead of
 * 10,000, and no buffer per file for the collector.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { DataLossError } from '../util/errors.ts';

/** Where a file's content lies whole in a host file. */
export interface Location {
  path: string;
  offset: number;
  size: number;
}

/** 4 MiB windows: a 200 MiB context of 20 KiB files is read in ~50 reads instead of 10,000. */
const WINDOW = 4 << 20;

const EMPTY = Buffer.alloc(0);

/** Bytes of a host file from `start`, in `memory` (a window's buffer, or a larger one for a large file). */
interface Window {
  path: string;
  start: number;
  data: Buffer;
  memory: Buffer;
}

/**
 * Serves file contents from host files in windows: a read asked for within the window last read (or the one read
 * ahead after it) is a slice of it; the next window is read while the current one is used. A window's memory is
 * read into again once the reader has moved past it, so 200 MiB go through three buffers rather than fifty new ones
 * for the collector.
 *
 * So a body's bytes are valid only until the next body is asked for, and the reader has one consumer at a time.
 * Its consumers hold to both: linked.ts's list and walk digests, whose packer (util/tar `pack`) yields each body
 * chunk as it is (no copy, none kept) and asks for the next entry's body only after the hash has taken the chunk
 * (`update` is synchronous), with `applyLinked` stopping and awaiting the early digest before the walk's digest
 * reads through the same reader; and a cold COPY's layer (layer.ts `applyTar`), whose packed chunks are hashed and
 * copied into the unpack thread's ring before the next is asked for (snapshots/apply.ts `run`). A consumer that
 * keeps chunks (a stream written elsewhere, a batch) would see them overwritten: it must copy them, or take a
 * reader of its own.
 */
export class WindowReader {
  readonly #handles = new Map<string, Promise<FileHandle>>();
  #cur: Window | undefined;
  #next: { path: string; start: number; win: Promise<Window> } | undefined;
  readonly #free: Buffer[] = [];

  /**
   * A file's content as one buffer: at once when it lies in the window being used, else once its window is read.
   * Valid until the next body or bytes are asked for.
   */
  bytes(at: Location): Buffer | Promise<Buffer> {
    const w = this.#cur;
    if (at.size === 0) return EMPTY;
    if (w && w.path === at.path && at.offset >= w.start && at.offset + at.size <= w.start + w.data.length)
      return w.data.subarray(at.offset - w.start, at.offset - w.start + at.size);
    return this.#slice(at);
  }

  body(at: Location): AsyncIterable<Uint8Array> {
    const self = this;
    return (async function* () {
      if (at.size > 0) yield await self.#slice(at);
    })();
  }

  async #slice(at: Location): Promise<Buffer> {
    const inside = (w: { path: string; start: number }, len: number) =>
      w.path === at.path && at.offset >= w.start && at.offset + at.size <= w.start + len;
    if (!(this.#cur && inside(this.#cur, this.#cur.data.length))) {
      const old = this.#cur;
      const n = this.#next;
      this.#next = undefined;
      if (n && inside(n, WINDOW)) this.#cur = await n.win;
      else {
        // the read ahead is not what is wanted: its memory serves again once it is done
        n?.win.then(
          (w) => this.#release(w),
          () => {},
        );
        this.#cur = await this.#read(at.path, at.offset, Math.max(WINDOW, at.size));
      }
      if (old) this.#release(old);
      const end = this.#cur.start + this.#cur.data.length;
      const ahead = this.#read(at.path, end, WINDOW);
      ahead.catch(() => {});
      this.#next = { path: at.path, start: end, win: ahead };
    }
    const w = this.#cur;
    if (!inside(w, w.data.length))
      throw new DataLossError(`${at.path} ends before the ${at.size} bytes at offset ${at.offset}`);
    return w.data.subarray(at.offset - w.start, at.offset - w.start + at.size);
  }

  #release(w: Window): void {
    if (w.memory.length === WINDOW && this.#free.length < 2) this.#free.push(w.memory);
  }

  async #read(path: string, pos: number, len: number): Promise<Window> {
    let h = this.#handles.get(path);
    if (!h) {
      h = open(path, 'r');
      this.#handles.set(path, h);
    }
    const fh = await h;
    const memory = (len === WINDOW && this.#free.pop()) || Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(memory, got, len - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { path, start: pos, data: memory.subarray(0, got), memory };
  }

  async close(): Promise<void> {
    await this.#next?.win.catch(() => {});
    for (const h of this.#handles.values()) await h.then((fh) => fh.close()).catch(() => {});
    this.#handles.clear();
  }
}

/**
 * Whether files at `locations`, read in this order, suit windows: the reads go forward through each host file, with
 * at most a few jumps back or far ahead (each jump costs a window's read, 4 MiB, however small the file).
 */
export function readsInWindows(locations: readonly Location[]): boolean {
  let jumps = 0;
  let prev: Location | undefined;
  for (const at of locations) {
    if (prev && (at.path !== prev.path || at.offset < prev.offset || at.offset > prev.offset + prev.size + WINDOW))
      if (++jumps > MAX_JUMPS) return false;
    prev = at;
  }
  return true;
}

/** Jumps `readsInWindows` allows: 16 windows read for nothing at most (64 MiB). */
const MAX_JUMPS = 16;
