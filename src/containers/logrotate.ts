/**
 * Rotated log files (`--log-opt max-file=N` with `max-size`): conmon starts the log afresh when it reaches max-size
 * (it writes `ctr.log.tmp` and renames it over `ctr.log`), so berthd holds a hard link `ctr.log.live` to the live file
 * and, when conmon replaces it, keeps the old file as `ctr.log.1` (older ones move up to `ctr.log.<N-1>`, the oldest
 * goes), as Docker's json-file driver names its files. Only conmon's renames are watched (inotify on the container's
 * directory), never its writes. A replacement while berthd was stopped keeps the file it held then; conmon's
 * replacements in quick succession may lose a middle one.
 */
import { type FSWatcher, watch } from 'node:fs';
import { link, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { errorMessage, isErrno } from '../util/errors.ts';

export class LogRotation {
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #log: { warn(m: string): void } | undefined;

  constructor(log?: { warn(m: string): void }) {
    this.#log = log;
  }

  /** Keeps `maxFiles - 1` rotated files beside the log at `path` while the container `id` runs. */
  watch(id: string, path: string, maxFiles: number): void {
    this.unwatch(id);
    if (maxFiles <= 1) return;
    let queue = Promise.resolve();
    const sync = () => {
      queue = queue
        .then(() => keepGeneration(path, maxFiles))
        .catch((err) => this.#log?.warn(`container ${id.slice(0, 12)}: log rotation: ${errorMessage(err)}`));
    };
    let w: FSWatcher;
    try {
      w = watch(dirname(path), { persistent: false }, (event, name) => {
        if (event === 'rename' && name === basename(path)) sync();
      });
    } catch (err) {
      this.#log?.warn(`container ${id.slice(0, 12)}: log rotation not watched: ${errorMessage(err)}`);
      return;
    }
    w.on('error', () => this.unwatch(id));
    this.#watchers.set(id, w);
    sync();
  }

  unwatch(id: string): void {
    this.#watchers.get(id)?.close();
    this.#watchers.delete(id);
  }

  close(): void {
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }
}

/** If conmon replaced the live log, the file held under `.live` becomes `.1` (the others shift); then `.live` holds the new one. */
export async function keepGeneration(path: string, maxFiles: number): Promise<void> {
  const live = `${path}.live`;
  const cur = await stat(path).catch(() => undefined);
  if (!cur) return;
  const held = await stat(live).catch(() => undefined);
  if (held?.ino === cur.ino) return;
  if (held) {
    await rm(`${path}.${maxFiles - 1}`, { force: true });
    for (let i = maxFiles - 2; i >= 1; i--)
      await rename(`${path}.${i}`, `${path}.${i + 1}`).catch((err) => {
        if (!isErrno(err, 'ENOENT')) throw err;
      });
    await rename(live, `${path}.1`);
  }
  await link(path, live).catch(async (err) => {
    if (!isErrno(err, 'EEXIST')) throw err;
    await rm(live, { force: true });
    await link(path, live);
  });
}

/** The rotated files of the log at `path`, oldest first (`ctr.log.3`, `ctr.log.2`, `ctr.log.1`). */
export async function rotatedLogs(path: string): Promise<string[]> {
  const base = basename(path);
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  return names
    .map((n) => ({ n, i: n.startsWith(`${base}.`) ? Number(n.slice(base.length + 1)) : Number.NaN }))
    .filter((x) => Number.isInteger(x.i) && x.i > 0)
    .sort((a, b) => b.i - a.i)
    .map((x) => `${dirname(path)}/${x.n}`);
}
