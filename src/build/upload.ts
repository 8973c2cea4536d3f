/**
 * The last context a `docker build` uploaded, kept so that the next upload is compared with it as it streams in
 * instead of hashed and spooled again. The docker CLI sends the whole context with every build (it keeps nothing on
 * the daemon side, unlike `berth build`'s kept contexts): a rebuild of an unchanged 20 MiB context used to cost
 * berthd a sha256 of the 20 MiB and a spool of them, on its main thread, while the CLI was still sending.
 *
 * An entry of the new upload whose tarsum header (name as the archive has it, mode, owner, size, type, link, device
 * numbers, xattrs) is the same as the last upload's entry of that name, and whose body is byte for byte the same as
 * that entry's body in the last upload's spool (compared as it arrives, `Windows`), takes that entry's sum and
 * body: nothing is hashed or written for it. The comparison is exact, so the sums (and the cache keys made of them)
 * are what a fresh hash would give. A body that differs anywhere is hashed and spooled whole, as before.
 *
 * The spools are shared between the last upload and the builds that read bodies from them: each spool file is
 * counted by its holders and removed when none is left (a build's own, at its end; the last upload's, when the next
 * upload replaces it or `builder prune` drops it). The last upload is not kept across a restart. Its spools live in
 * the build's `uploads` directory, not under `contexts`: what start-up finds in `contexts` is a build cut short, and
 * the builder is loaded to repair it (daemon/engine.ts, `leftovers`), while a kept spool alone is no reason to load
 * it; the spools a previous daemon kept are removed when the build service is first used.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rm, stat } from 'node:fs/promises';
import type { ContextEntry } from './context.ts';

/** An upload's entries (with their tarsum headers) and the spools their bodies are in. */
export interface Upload {
  entries: ReadonlyMap<string, ContextEntry>;
  spools: ReadonlySet<string>;
}

/** A hold on some spools: released once. */
export interface Lease {
  readonly upload: Upload | undefined;
  release(): void;
}

/**
 * The last upload as build cache (`system df`, `builder prune`): its spools' bytes on disk are its size, and it is
 * in use while a build holds one of them.
 */
export interface KeptUpload {
  id: string;
  size: number;
  inUse: boolean;
  created: number;
  lastUsed: number;
  usageCount: number;
}

interface Last {
  upload: Upload;
  id: string;
  created: number;
  lastUsed: number;
  usageCount: number;
}

export class Uploads {
  #last: Last | undefined;
  readonly #refs = new Map<string, number>();

  /** The last upload, held until `release` (a build compares its body with it and may read bodies from it). */
  base(): Lease {
    const last = this.#last;
    if (last) {
      last.lastUsed = Date.now();
      last.usageCount++;
    }
    return this.hold(last?.upload);
  }

  /** The last upload as a build cache record; undefined when there is none. */
  async info(): Promise<KeptUpload | undefined> {
    const last = this.#last;
    if (!last) return undefined;
    let size = 0;
    let inUse = false;
    for (const s of last.upload.spools) {
      size += (await stat(s).catch(() => ({ size: 0 }))).size;
      if ((this.#refs.get(s) ?? 0) > 1) inUse = true;
    }
    return { id: last.id, size, inUse, created: last.created, lastUsed: last.lastUsed, usageCount: last.usageCount };
  }

  /** Holds an upload's spools until `release`. */
  hold(upload: Upload | undefined): Lease {
    if (upload) for (const s of upload.spools) this.#refs.set(s, (this.#refs.get(s) ?? 0) + 1);
    let released = false;
    return {
      upload,
      release: () => {
        if (released || !upload) return;
        released = true;
        this.#drop(upload.spools);
      },
    };
  }

  /** Makes `upload` the last one (the next build is compared with it); the one it replaces is let go. */
  keep(upload: Upload): void {
    const old = this.#last;
    this.hold(upload);
    const now = Date.now();
    this.#last = { upload, id: randomBytes(16).toString('hex'), created: now, lastUsed: now, usageCount: 1 };
    if (old) this.#drop(old.upload.spools);
  }

  /**
   * Lets the last upload go (`builder prune`; with `id`, only when it is still that one): its spools are removed
   * once no build reads them. Whether it went.
   */
  clear(id?: string): boolean {
    const old = this.#last;
    if (!old || (id !== undefined && old.id !== id)) return false;
    this.#last = undefined;
    this.#drop(old.upload.spools);
    return true;
  }

  /** A spool written by a build that failed before it was counted: removed unless something holds it. */
  discard(spool: string): void {
    if (!this.#refs.has(spool)) void rm(spool, { force: true }).catch(() => {});
  }

  #drop(spools: ReadonlySet<string>): void {
    for (const s of spools) {
      const n = (this.#refs.get(s) ?? 1) - 1;
      if (n > 0) {
        this.#refs.set(s, n);
        continue;
      }
      this.#refs.delete(s);
      void rm(s, { force: true }).catch(() => {});
    }
  }
}

const WINDOW = 1 << 20;

interface Win {
  start: number;
  len: number;
  buf: Buffer;
}

/**
 * Compares chunks with a spool's bytes at given offsets, reading the spool in 1 MiB windows into reused buffers,
 * the next window read ahead while the current one is compared (uploads arrive in the order they were spooled).
 */
export class Windows {
  readonly #path: string;
  #fh: Promise<FileHandle> | undefined;
  #cur: Win | undefined;
  #ahead: Promise<Win> | undefined;
  readonly #spare: Buffer[] = [];

  constructor(path: string) {
    this.#path = path;
  }

  /**
   * Whether `chunk` is what the spool holds at `pos`, when the window in memory holds all of it; undefined when a
   * window must be read first (then `same`). Most chunks of an upload that matches fall in the window already read:
   * they are compared with no promise made.
   */
  sameNow(pos: number, chunk: Uint8Array): boolean | undefined {
    const w = this.#cur;
    if (!w || pos < w.start || pos + chunk.length > w.start + w.len) return undefined;
    return Buffer.prototype.compare.call(chunk, w.buf, pos - w.start, pos - w.start + chunk.length) === 0;
  }

  /** Whether `chunk` is what the spool holds at `pos`. */
  async same(pos: number, chunk: Uint8Array): Promise<boolean> {
    let off = 0;
    while (off < chunk.length) {
      const at = pos + off;
      const w = await this.#at(at);
      const n = Math.min(chunk.length - off, w.start + w.len - at);
      if (n <= 0) return false;
      if (Buffer.prototype.compare.call(chunk, w.buf, at - w.start, at - w.start + n, off, off + n) !== 0) return false;
      off += n;
    }
    return true;
  }

  async #at(p: number): Promise<Win> {
    const cur = this.#cur;
    if (cur && p >= cur.start && p < cur.start + cur.len) return cur;
    let w: Win | undefined;
    if (this.#ahead) {
      const a = await this.#ahead;
      this.#ahead = undefined;
      if (p >= a.start && p < a.start + a.len) w = a;
      else this.#spare.push(a.buf);
    }
    w ??= await this.#read(p);
    if (this.#cur) this.#spare.push(this.#cur.buf);
    this.#cur = w;
    if (w.len === WINDOW) this.#ahead = this.#read(w.start + w.len);
    return w;
  }

  /** A window at `start`; an empty one when the spool cannot be read there (the comparison then fails). */
  async #read(start: number): Promise<Win> {
    const buf = this.#spare.pop() ?? Buffer.allocUnsafe(WINDOW);
    try {
      this.#fh ??= open(this.#path, 'r');
      const { bytesRead } = await (await this.#fh).read(buf, 0, WINDOW, start);
      return { start, len: bytesRead, buf };
    } catch {
      return { start, len: 0, buf };
    }
  }

  async close(): Promise<void> {
    if (this.#ahead) await this.#ahead;
    this.#ahead = undefined;
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.then((h) => h.close()).catch(() => {});
  }
}
