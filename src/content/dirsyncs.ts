/**
 * The directory syncs of one store (and of the ingest thread), shared by its commits. Blobs committed at once (a
 * client's parallel pushes, a replication's) land in the same directory: a sync asked for while one runs waits for
 * the next, which covers every rename made before it started, so several commits share one sync. `dirSync` does the
 * sync (util/atomic's `syncDir` on the serving thread, a file descriptor's fsync on the ingest thread; a test may
 * delay it). It imports nothing, so that the ingest thread loads nothing more with it.
 */
export class DirSyncs {
  readonly #dirs = new Map<string, { running: Promise<void>; next: Promise<void> | undefined }>();
  readonly #dirSync: (dir: string) => Promise<void>;

  constructor(dirSync: (dir: string) => Promise<void>) {
    this.#dirSync = dirSync;
  }

  /** Makes the renames into `dir` so far durable. */
  sync(dir: string): Promise<void> {
    const s = this.#dirs.get(dir);
    if (s === undefined) return this.#run(dir);
    s.next ??= s.running.then(
      () => this.#run(dir),
      () => this.#run(dir),
    );
    return s.next;
  }

  /**
   * Resolves once the renames into `dir` made so far are durable (at once when no sync is under way): one made
   * since the running sync started has asked for the next.
   */
  settled(dir: string): Promise<void> {
    const s = this.#dirs.get(dir);
    return s === undefined ? Promise.resolve() : (s.next ?? s.running);
  }

  #run(dir: string): Promise<void> {
    const s: { running: Promise<void>; next: Promise<void> | undefined } = {
      running: this.#dirSync(dir),
      next: undefined,
    };
    this.#dirs.set(dir, s);
    const done = () => {
      if (this.#dirs.get(dir) === s && s.next === undefined) this.#dirs.delete(dir);
    };
    s.running.then(done, done);
    return s.running;
  }
}
