/**
 * Atomic replacement of a file: the new content goes to a temporary file in the same directory, which a rename puts
 * in place, so a reader (or a start after a crash) sees the old file or the whole new one, never part of one. What
 * survives a power loss is the caller's choice: `fsync` syncs the data before the rename, `fsyncDir` the directory
 * after it (the rename itself). A failure removes the temporary file and leaves the old file as it was.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * The temporary file, in the same directory as the target (a rename does not cross file systems); `<path>.tmp` by
   * default. Writers that may run at once (several processes) need names of their own: a PID, random bytes.
   */
  tmp?: string;
  /** The new file's mode (the umask applies), 0o666 by default. */
  mode?: number;
  /** Fails (EEXIST) when the temporary file exists, instead of truncating it. */
  exclusive?: boolean;
  /** Syncs the file's data before the rename. */
  fsync?: boolean;
  /** Syncs the directory after the rename. */
  fsyncDir?: boolean;
}

/** What a file is written with: its bytes, or a stream of them (written with backpressure). */
export type FileContent = string | Uint8Array | AsyncIterable<Uint8Array>;

/**
 * Replaces `path` with `data` through a temporary file and a rename. `data` may be a function, called once the
 * temporary file is open, for content that should not be asked for before (a request, a progress display).
 */
export async function writeFileAtomic(
  path: string,
  data: FileContent | (() => FileContent | Promise<FileContent>),
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const tmp = opts.tmp ?? `${path}.tmp`;
  const fh = await open(tmp, opts.exclusive ? 'wx' : 'w', opts.mode ?? 0o666);
  try {
    try {
      await fh.writeFile(typeof data === 'function' ? await data() : data);
      if (opts.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (opts.fsyncDir) await syncDir(dirname(path));
}

/** `writeFileAtomic` for callers that must not yield (the same steps, synchronous). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const tmp = opts.tmp ?? `${path}.tmp`;
  const fd = openSync(tmp, opts.exclusive ? 'wx' : 'w', opts.mode ?? 0o666);
  try {
    try {
      writeFileSync(fd, data);
      if (opts.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (opts.fsyncDir) {
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}

/** Whether `err` is the failure to create the temporary file `tmp` (say, in a directory that cannot be written). */
export function isTempOpenError(err: unknown, tmp: string): boolean {
  const e = err as { syscall?: unknown; path?: unknown } | null;
  return typeof e === 'object' && e !== null && e.syscall === 'open' && e.path === tmp;
}

/** Makes the renames and new names in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
