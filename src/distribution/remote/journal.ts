/**
 * The journal of pulls in progress: each pull appends the digest of every blob it has verified into the store
 * to its own file under a directory of the data root, and removes the file when it ends (however it ends).
 * A file left behind means the daemon died mid-pull: at start, the daemon keeps those blobs out of garbage
 * collection (`readPullJournals`) and then removes the files (`clearPullJournals`), so a repeated pull reuses
 * what was already downloaded and verified instead of fetching it again.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest } from '../../util/digest.ts';
import { isErrno } from '../../util/errors.ts';

/** One pull's journal file; a no-op without a directory. */
export class PullJournal {
  readonly #file: string | undefined;
  #created = false;

  constructor(dir: string | undefined) {
    this.#file = dir ? join(dir, `${process.pid}-${Date.now()}-${randomBytes(4).toString('hex')}.pull`) : undefined;
    if (dir) mkdirSync(dir, { recursive: true });
  }

  /** Records a blob verified into the content store. A lost line only costs a download after a crash. */
  note(digest: string): void {
    if (!this.#file) return;
    try {
      appendFileSync(this.#file, `${digest}\n`, { mode: 0o600 });
      this.#created = true;
    } catch {
      // only a hint
    }
  }

  /** Removes the journal: the pull ended (its image registered, or its blobs collected). */
  close(): void {
    if (this.#file && this.#created) rmSync(this.#file, { force: true });
  }
}

/** The blob digests named by journals left in `dir` by pulls that never ended (the daemon died). */
export async function readPullJournals(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return out;
    throw err;
  }
  for (const n of names.filter((x) => x.endsWith('.pull'))) {
    const text = await readFile(join(dir, n), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (isDigest(line)) out.add(line);
  }
  return out;
}

/** Removes the journals left in `dir` (call once their blobs have been spared by the start-up collection). */
export async function clearPullJournals(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  for (const n of names.filter((x) => x.endsWith('.pull'))) await rm(join(dir, n), { force: true });
}
