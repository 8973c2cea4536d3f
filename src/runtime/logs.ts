import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { CanceledError, isErrno } from '../util/errors.ts';

/**
 * conmon's k8s-file log format (the CRI logging format): one line per piece of output,
 *
 *   2024-05-01T10:54:58.569655813+00:00 stdout F hello
 *   <RFC 3339 with nanoseconds and a numeric offset> <stdout|stderr> <F|P> <bytes up to the newline>
 *
 * `F` ends a line of the program's output; `P` is a partial line (the program wrote no newline yet, or the line
 * was longer than conmon's 8 KiB buffer) whose newline conmon added. So the program's bytes are the messages,
 * with a newline after each `F` one.
 */

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** The timestamp as conmon wrote it. */
  time: string;
  /** The same instant in nanoseconds since the epoch. */
  timeNano: bigint;
  /** A partial line: the program's output continues in the next entry of the same stream (no newline here). */
  partial: boolean;
  /** The bytes, without the newline. */
  message: Buffer;
}

const TS_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Nanoseconds since the epoch of an RFC 3339 timestamp with up to nine fractional digits. */
export function parseTimestampNano(ts: string): bigint {
  const m = TS_RE.exec(ts);
  if (!m) throw new SyntaxError(`'${ts}' is not an RFC 3339 timestamp`);
  const seconds = Date.parse(`${m[1]!}${m[3]!}`);
  if (Number.isNaN(seconds)) throw new SyntaxError(`'${ts}' is not an RFC 3339 timestamp`);
  const frac = BigInt((m[2] ?? '').padEnd(9, '0'));
  return BigInt(seconds) * 1_000_000n + frac;
}

/** Formats nanoseconds since the epoch as docker does (`--timestamps`): RFC 3339, UTC, nine digits. */
export function formatTimestampNano(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0');
  return `${base}.${frac}Z`;
}

/** Parses one log line (without its newline). Throws SyntaxError for a line that is not k8s-file. */
export function parseLogLine(line: Buffer): LogEntry {
  const sp1 = line.indexOf(0x20);
  const sp2 = sp1 < 0 ? -1 : line.indexOf(0x20, sp1 + 1);
  const sp3 = sp2 < 0 ? -1 : line.indexOf(0x20, sp2 + 1);
  if (sp3 < 0 && !(sp2 >= 0 && line.length === sp2 + 2)) {
    throw new SyntaxError(`'${line.subarray(0, 80).toString()}' is not a k8s-file log line`);
  }
  const time = line.subarray(0, sp1).toString('latin1');
  const stream = line.subarray(sp1 + 1, sp2).toString('latin1');
  const tag = line.subarray(sp2 + 1, sp3 < 0 ? line.length : sp3).toString('latin1');
  if ((stream !== 'stdout' && stream !== 'stderr') || (tag !== 'F' && tag !== 'P')) {
    throw new SyntaxError(`'${line.subarray(0, 80).toString()}' is not a k8s-file log line`);
  }
  return {
    stream,
    time,
    timeNano: parseTimestampNano(time),
    partial: tag === 'P',
    message: sp3 < 0 ? Buffer.alloc(0) : Buffer.from(line.subarray(sp3 + 1)),
  };
}

export interface ReadLogOptions {
  /** Only entries at or after this instant (ns since the epoch). */
  since?: bigint;
  /** Only entries before this instant; reading stops at the first later one. */
  until?: bigint;
  /** Only the last N entries already in the file (then, with follow, everything new). */
  tail?: number;
  /** Keep reading what is appended, until `signal` aborts or `stopWhen` says so. */
  follow?: boolean;
  /**
   * Polled (with follow) whenever the reader has caught up: true ends the stream after one last read, e.g.
   * once the container's exit file exists (conmon writes all output before it).
   */
  stopWhen?: () => Promise<boolean>;
  /** Milliseconds between checks while following, besides file-change events (default 250). */
  pollMs?: number;
  signal?: AbortSignal;
}

/**
 * The entries of a k8s-file log, oldest first. Lines that do not parse are skipped. While following, a file
 * that conmon replaced (`--log-size-max` reached: it starts a new file under the same name) is reopened from its
 * start. An absent file reads as empty (and, with follow, is waited for).
 */
export async function* readLog(path: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEntry> {
  const { signal } = opts;
  let fh: FileHandle | undefined;
  let ino = -1;
  let pos = 0;
  let rest = Buffer.alloc(0);
  const until = opts.until;
  const keep = (e: LogEntry): boolean => opts.since === undefined || e.timeNano >= opts.since;
  const reopen = async (): Promise<boolean> => {
    await fh?.close();
    fh = undefined;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return false;
      throw e;
    }
    ino = (await fh.stat()).ino;
    pos = 0;
    rest = Buffer.alloc(0);
    return true;
  };
  let watcher: FSWatcher | undefined;
  try {
    await reopen();
    // Without follow, the log as it is now: lines appended while we read are not ours (a `--tail 2` stays 2).
    const end = !opts.follow && fh ? (await fh.stat()).size : Infinity;
    if (fh && opts.tail !== undefined) {
      const start = await tailOffset(fh, opts.tail);
      pos = start;
    }
    for (;;) {
      if (signal?.aborted) throw new CanceledError(`reading '${path}' canceled`, { cause: signal.reason });
      // Read everything there is now.
      if (fh) {
        for (;;) {
          const buf = Buffer.allocUnsafe(64 * 1024);
          const want = Math.min(buf.length, end - pos);
          if (want <= 0) break;
          const { bytesRead } = await fh.read(buf, 0, want, pos);
          if (bytesRead === 0) break;
          pos += bytesRead;
          let data = rest.length > 0 ? Buffer.concat([rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
          let nl: number;
          while ((nl = data.indexOf(0x0a)) >= 0) {
            const line = data.subarray(0, nl);
            data = data.subarray(nl + 1);
            let entry: LogEntry;
            try {
              entry = parseLogLine(line);
            } catch {
              continue;
            }
            if (until !== undefined && entry.timeNano >= until) return;
            if (keep(entry)) yield entry;
          }
          rest = Buffer.from(data);
        }
      }
      if (!opts.follow) return;
      // Caught up: stop if told to (after one more read), else wait for a change.
      const replaced = await fileReplaced(path, ino, pos);
      if (replaced) {
        await reopen();
        continue;
      }
      if (opts.stopWhen && (await opts.stopWhen())) {
        opts.follow = false; // one last pass picks up what was written before the stop condition held
        continue;
      }
      if (!watcher && fh) {
        try {
          watcher = watch(path, { persistent: true });
          watcher.on('error', () => {});
        } catch {
          watcher = undefined;
        }
      }
      await changeOrTimeout(watcher, opts.pollMs ?? 250, signal);
      if (!fh) await reopen();
    }
  } finally {
    watcher?.close();
    await fh?.close();
  }
}

/** Whether `path` is now another file than inode `ino`, or shorter than what we read (truncated). */
async function fileReplaced(path: string, ino: number, pos: number): Promise<boolean> {
  try {
    const st = await stat(path);
    return st.ino !== ino || st.size < pos;
  } catch {
    return false;
  }
}

function changeOrTimeout(watcher: FSWatcher | undefined, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      watcher?.off('change', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    watcher?.on('change', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The offset where the last `n` lines of the file start, read backwards in blocks. */
async function tailOffset(fh: FileHandle, n: number): Promise<number> {
  const size = (await fh.stat()).size;
  if (n <= 0) return size;
  let end = size;
  let newlines = 0;
  const block = 64 * 1024;
  // A final newline ends the last line; it does not start a new one.
  let skipLast = true;
  while (end > 0) {
    const start = Math.max(0, end - block);
    const buf = Buffer.allocUnsafe(end - start);
    await fh.read(buf, 0, buf.length, start);
    for (let i = buf.length - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) {
        skipLast = false;
        continue;
      }
      if (skipLast) {
        skipLast = false;
        continue;
      }
      newlines++;
      if (newlines === n) return start + i + 1;
    }
    end = start;
  }
  return 0;
}
