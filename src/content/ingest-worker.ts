/**
 * The ingest thread's side (see ingest-thread.ts): it owns the open partial blobs, writes the bytes the serving
 * thread leaves in the shared slots, hashes them, and commits a verified blob (fsync, rename into the store, fsync
 * of the directory). Writes and hashes are synchronous here, one request after the other, which is what a
 * dedicated thread is for; the fsyncs go to libuv's pool so that other blobs' writes go on meanwhile. Node's
 * built-ins only: the thread loads nothing else.
 */
import { type Hash, createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  rename,
  rmSync,
  stat,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parentPort } from 'node:worker_threads';
import { DirSyncs } from './dirsyncs.ts';
import type { Cancel, FetchSource } from '../util/blob-fetch.ts';

/** What the serving thread asks of the ingest thread. */
export type IngestRequest =
  | { t: 'init'; slots: SharedArrayBuffer }
  /** `quiet`: answered only when it fails, and then by the file's next request (a new file's open cannot wait). */
  | { t: 'open'; id: number; path: string; size: number; algorithm: 'sha256' | 'sha512'; quiet?: boolean }
  | { t: 'write'; id: number; at: number; len: number }
  | { t: 'truncate'; id: number; size: number }
  /**
   * Appends the body of a GET of `source` (at most `max` bytes), written and hashed as it comes; answered with
   * `written`, the bytes appended. All or nothing: on a failure the file is cut back to where it was. `fetch`
   * names the request for an `abort`.
   */
  | { t: 'fetch'; id: number; fetch: number; source: FetchSource; max: number }
  | { t: 'abort'; fetch: number; reason: string }
  /**
   * Ends the file: its digest, checked against `digest` and `size` where given (on a mismatch the partial is
   * removed, and the serving thread's `verifyCommit` throws); when it matches, the file is synced and renamed to
   * `<blobs>/<alg>/<hex>`.
   */
  | {
      t: 'finish';
      id: number;
      digest?: string | undefined;
      size?: number | undefined;
      blobs: string;
      /** The file's last piece (an append's `last`), written first. */
      tail?: Uint8Array;
    }
  | { t: 'close'; id: number }
  | { t: 'closeAll' };

/** A request as posted: each is answered once, with its `req` (and `error` when it failed). */
export type ToIngest = IngestRequest & { req: number };

export interface FromIngest {
  req: number;
  /** `open`: the file is shorter than the size asked for (its size). */
  short?: number;
  /** `finish`: the digest of the file's bytes. */
  digest?: string;
  /** `finish`: false when the blob was already in the store. */
  created?: boolean;
  /** `fetch`: bytes appended. */
  written?: number;
  /** `status`: a fetch's HTTP status when that was what failed. */
  error?: { name: string; message: string; code?: string | undefined; status?: number | undefined };
}

interface Open {
  fd: number;
  path: string;
  algorithm: 'sha256' | 'sha512';
  /** Bytes in the file (the next write's position). */
  pos: number;
  /** The running digest of bytes [0, pos), or undefined when it must be computed from the file again. */
  hash: Hash | undefined;
}

const fsyncAsync = promisify(fsync);
const statAsync = promisify(stat);
const renameAsync = promisify(rename);
/** Directories of the store made already (`<blobs>/<alg>`). */
const made = new Set<string>();
const files = new Map<number, Open>();
/** Fetches under way, by their `fetch` number: what an `abort` cancels. */
const fetches = new Map<number, Cancel>();
/** The HTTP side, loaded on the first fetch: a thread that only takes uploads does not hold node:http and TLS. */
let fetching: Promise<typeof import('../util/blob-fetch.ts')> | undefined;
const fetcher = () => {
  fetching ??= import('../util/blob-fetch.ts');
  return fetching;
};
/** Why a quiet open failed, for the file's next request. */
const failed = new Map<number, Error>();
let slots: Uint8Array = new Uint8Array(0);

function file(id: number): Open {
  const f = files.get(id);
  if (f) return f;
  const err = failed.get(id);
  failed.delete(id);
  throw err ?? new Error(`ingest file ${id} is not open`);
}

function hashOf(f: Open): Hash {
  if (f.hash) return f.hash;
  const h = createHash(f.algorithm);
  const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(1, f.pos)));
  for (let at = 0; at < f.pos; ) {
    const n = readSync(f.fd, buf, 0, Math.min(buf.length, f.pos - at), at);
    if (n === 0) throw new Error(`${f.path} ended at byte ${at} of ${f.pos}`);
    h.update(buf.subarray(0, n));
    at += n;
  }
  f.hash = h;
  return h;
}

async function serve(m: ToIngest): Promise<Omit<FromIngest, 'req'>> {
  switch (m.t) {
    case 'init':
      slots = new Uint8Array(m.slots);
      return {};
    case 'open': {
      // As the main thread's writer opens it: created if need be, never truncated by the open itself.
      const fd = openSync(m.path, m.size === 0 ? 'a+' : 'r+');
      const size = fstatSync(fd).size;
      if (size < m.size) {
        closeSync(fd);
        return { short: size };
      }
      if (size > m.size) ftruncateSync(fd, m.size);
      const hash = m.size === 0 ? createHash(m.algorithm) : undefined;
      files.set(m.id, { fd, path: m.path, algorithm: m.algorithm, pos: m.size, hash });
      return {};
    }
    case 'write':
      write(file(m.id), slots.subarray(m.at, m.at + m.len));
      return {};
    case 'fetch': {
      const f = file(m.id);
      const start = f.pos;
      const cancel: Cancel = {};
      fetches.set(m.fetch, cancel);
      try {
        const { fetchInto } = await fetcher();
        return { written: await fetchInto(m.source, m.max, (chunk) => write(f, chunk), cancel) };
      } catch (err) {
        f.hash = undefined;
        ftruncateSync(f.fd, start);
        f.pos = start;
        throw err;
      } finally {
        fetches.delete(m.fetch);
      }
    }
    case 'abort': {
      const c = fetches.get(m.fetch);
      if (c && !c.reason) {
        c.reason = new (await fetcher()).FetchFailure(m.reason, { code: 'ABORT_ERR' });
        c.stop?.(c.reason);
      }
      return {};
    }
    case 'truncate': {
      const f = file(m.id);
      f.hash = undefined;
      ftruncateSync(f.fd, m.size);
      f.pos = m.size;
      return {};
    }
    case 'finish': {
      const f = file(m.id);
      files.delete(m.id);
      let open = true;
      const close = () => {
        if (open) closeSync(f.fd);
        open = false;
      };
      // Whatever fails from here on (the last write, the hash, the syncs, the rename), the partial goes: the file
      // is not open any more, so nothing could continue it.
      try {
        if (m.tail) write(f, m.tail);
        const digest = `${f.algorithm}:${hashOf(f).digest('hex')}`;
        if ((m.size !== undefined && f.pos !== m.size) || (m.digest !== undefined && digest !== m.digest)) {
          // Bytes that hash wrong cannot become right by appending more: the partial goes.
          close();
          rmSync(f.path, { force: true });
          return { digest };
        }
        const final = join(m.blobs, f.algorithm, digest.slice(f.algorithm.length + 1));
        if (!made.has(dirname(final))) {
          mkdirSync(dirname(final), { recursive: true });
          made.add(dirname(final));
        }
        // A blob already stored is not synced again, nor is the copy that goes. One whose rename here is not yet
        // durable (its directory's sync under way) is waited for: the caller records the blob once this answers.
        if (await exists(final)) {
          close();
          rmSync(f.path, { force: true });
          await dirSyncs.settled(dirname(final));
          return { digest, created: false };
        }
        try {
          await fsyncAsync(f.fd);
        } finally {
          close();
        }
        await renameAsync(f.path, final);
        await dirSyncs.sync(dirname(final));
        return { digest, created: true };
      } catch (err) {
        try {
          close();
        } finally {
          rmSync(f.path, { force: true });
        }
        throw err;
      }
    }
    case 'close': {
      const f = files.get(m.id);
      files.delete(m.id);
      failed.delete(m.id);
      if (f) closeSync(f.fd);
      return {};
    }
    case 'closeAll':
      if (fetching) (await fetching).closeAgents();
      for (const f of files.values()) closeSync(f.fd);
      files.clear();
      failed.clear();
      return {};
  }
}

/** The directory syncs of the store's blobs (dirsyncs.ts): several commits' renames share one. */
const dirSyncs = new DirSyncs(async (dir) => {
  const fd = openSync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
});

/** Writes `bytes` at the file's end, and hashes them. */
function write(f: Open, bytes: Uint8Array): void {
  const h = hashOf(f);
  const len = bytes.length;
  for (let off = 0; off < len; ) off += writeSync(f.fd, bytes, off, len - off, f.pos + off);
  h.update(bytes);
  f.pos += len;
}

/**
 * Whether a blob is stored. Its stat and a commit's rename go to libuv's pool like the fsyncs: on this thread they
 * would hold up every fetch's socket reads while the disk is busy (a rename took up to 200 ms under I/O load).
 */
async function exists(path: string): Promise<boolean> {
  try {
    await statAsync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

const port = parentPort!;
port.on('message', (m: ToIngest) => {
  serve(m).then(
    (r) => {
      if (!(m.t === 'open' && m.quiet)) port.postMessage({ req: m.req, ...r } satisfies FromIngest);
    },
    (err: NodeJS.ErrnoException & { status?: number }) => {
      if (m.t === 'open' && m.quiet) failed.set(m.id, err);
      else
        port.postMessage({
          req: m.req,
          error: {
            name: err?.name ?? 'Error',
            message: String(err?.message ?? err),
            code: err?.code,
            ...(err?.status !== undefined ? { status: err.status } : {}),
          },
        } satisfies FromIngest);
    },
  );
});
