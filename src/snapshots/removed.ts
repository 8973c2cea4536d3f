/**
 * A removed snapshot's files are unlinked at once, but its directories are kept for a while, empty, renamed aside
 * in the snapshots' directory (`.removed-<id>`), and removed only once the inodes its files freed are old.
 *
 * Why (docs/design-notes.md, "Where a layer's files go on ext4"): ext4 places a directory made under one marked `T`
 * (util/topdir.ts), as each snapshot's is, in a group with the fewest directories among those with at least the
 * average free inodes and blocks, the first such from a start hashed from its name (`find_group_orlov`); here
 * hundreds of groups share that fewest count, and each snapshot's directories lift its group out of them until it
 * is removed. A removal puts the group back among them, so any later snapshot whose name hashes near it lands
 * among the inodes just freed, and with removals all over a busy store, many do. Without a journal ext4 does not
 * reuse an inode freed less than 60 s ago (360 s while its inode table block is not written back), and for every
 * file it creates it scans its group's free inodes from the start, skipping each such inode after looking it up
 * (`find_inode_bit`, `recently_deleted`): such a layer paid, per file, for every file removed there. Kept
 * directories keep the group's count above the fewest, so new snapshots go elsewhere; when they go, only their own
 * few inodes are freed.
 *
 * Disk space is freed as before (the files' blocks at once; only the directories' blocks wait). A crash leaves a
 * skeleton (or a whole tree) behind: the start-up repair removes the old ones and keeps the young ones for their
 * time (their age from the rename, the skeleton's ctime).
 */
import { readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Names of kept skeletons in the snapshots' directory; no snapshot's name starts so. */
export const REMOVED_PREFIX = '.removed-';

/**
 * How long a skeleton is kept. ext4 treats an inode freed less than 60 s ago as recently deleted, 360 s while its
 * inode table block is dirty; a skeleton's removal dirties the blocks of its directories' inodes, which the files
 * freed with it share, so the skeleton is kept past the longer of the two.
 */
export const KEEP_REMOVED_MS = 6.5 * 60_000;

/** Entries unlinked at once within one directory. */
const BATCH = 64;

export class RemovedTrees {
  readonly #dir: string;
  readonly #keepMs: number;
  /** Kept skeletons: path → when its files were unlinked (ms since the epoch). */
  readonly #kept = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  /** The kept time `#timer` is set for (the oldest when it was set; a sweep sets it again). */
  #armedFor = 0;
  /** The sweep under way, if any: sweeps run one at a time. */
  #sweep: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(dir: string, opts: { keepMs?: number } = {}) {
    this.#dir = dir;
    this.#keepMs = opts.keepMs ?? KEEP_REMOVED_MS;
  }

  /** How many skeletons are waiting. */
  get size(): number {
    return this.#kept.size;
  }

  /**
   * Takes `home` (a snapshot's directory, its record already gone) out of sight under `name`, unlinks every file in
   * it and keeps its directories. With `keepMs` 0 the tree is simply removed. On an error the tree is removed whole.
   */
  async bury(home: string, name: string): Promise<void> {
    if (this.#keepMs <= 0) {
      await rm(home, { recursive: true, force: true });
      return;
    }
    const aside = join(this.#dir, `${REMOVED_PREFIX}${name}`);
    try {
      await renameAside(home, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await rm(home, { recursive: true, force: true });
      return;
    }
    try {
      await unlinkFiles(aside);
    } catch {
      await rm(aside, { recursive: true, force: true });
      return;
    }
    this.#keep(aside, Date.now());
    this.#startSweep();
  }

  /**
   * At start: `name` is a skeleton left by an earlier run (or a tree whose removal it did not finish). Finishes
   * unlinking its files and keeps it for the rest of its time, or removes it if that time is over. Resolves whether
   * it was removed.
   */
  async adopt(name: string): Promise<boolean> {
    const path = join(this.#dir, name);
    let at: number;
    try {
      at = (await stat(path)).ctimeMs;
    } catch {
      await rm(path, { recursive: true, force: true });
      return true;
    }
    if (this.#keepMs <= 0 || Date.now() - at >= this.#keepMs) {
      await rm(path, { recursive: true, force: true });
      return true;
    }
    try {
      await unlinkFiles(path);
    } catch {
      await rm(path, { recursive: true, force: true });
      return true;
    }
    this.#keep(path, at);
    return false;
  }

  /** Stops the timer and waits for a sweep under way; the skeletons left are the next start's repair's. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#sweep;
  }

  /** Keeps `path` from `at`; the timer moves only for a time older than the one it is set for. */
  #keep(path: string, at: number): void {
    this.#kept.set(path, at);
    if (this.#timer === undefined || at < this.#armedFor) this.#arm(at);
  }

  /**
   * The timer set for the oldest skeleton's time (unref'd: it keeps no process alive): `oldest` when the caller
   * knows it, else found by a loop over the kept times (a spread into Math.min fails past the engine's argument
   * limit, which a busy store's removals within the window can reach).
   */
  #arm(oldest?: number): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed || this.#kept.size === 0) return;
    if (oldest === undefined) {
      oldest = Number.POSITIVE_INFINITY;
      for (const at of this.#kept.values()) if (at < oldest) oldest = at;
    }
    this.#armedFor = oldest;
    const wait = Math.max(0, oldest + this.#keepMs - Date.now()) + 100;
    this.#timer = setTimeout(() => this.#startSweep(), wait);
    this.#timer.unref();
  }

  /** Removes, in the background, the skeletons whose time is over. Errors are dropped: the next repair retries. */
  #startSweep(): void {
    this.#sweep = this.#sweep.then(async () => {
      const now = Date.now();
      for (const [path, at] of [...this.#kept]) {
        if (now - at < this.#keepMs) continue;
        this.#kept.delete(path);
        await rm(path, { recursive: true, force: true }).catch(() => {});
      }
      this.#arm();
    });
  }
}

/** Renames `from` to `to`, removing a `to` left over (a crash between a rename and the repair). */
async function renameAside(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    await rm(to, { recursive: true, force: true });
    await rename(from, to);
  }
}

/** Unlinks every entry under `dir` that is not a directory, keeping the directories. */
export async function unlinkFiles(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  const subdirs: string[] = [];
  const files: string[] = [];
  for (const e of entries) (e.isDirectory() ? subdirs : files).push(join(dir, e.name));
  for (let i = 0; i < files.length; i += BATCH) {
    await Promise.all(files.slice(i, i + BATCH).map((f) => unlink(f).catch(ignoreMissing)));
  }
  for (const d of subdirs) await unlinkFiles(d);
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
