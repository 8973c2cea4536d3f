/**
 * Where blobs came from: for each blob digest, the repositories (on which registry) it was pulled from or
 * pushed to, so a push can ask the registry to mount it from one of them instead of uploading it. Kept in a
 * small JSON file under the data root (written atomically), or only in memory when no file is configured.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isErrno } from '../../util/errors.ts';

/** Repositories remembered per blob; the oldest go first. */
const PER_BLOB = 4;
/** Blobs remembered in all; the least recently noted go first. */
const MAX_BLOBS = 20_000;

/** The record of blob sources, loaded from its file (if any) at construction and merged back by `save()`. */
export class BlobSources {
  readonly #file: string | undefined;
  /** digest → `registry/repo` entries, most recent last. Map order is insertion order: oldest first. */
  #map = new Map<string, string[]>();
  #dirty = false;
  /** `digest registry/repo` entries this operation found wrong (a failed mount): kept out of the merged save. */
  readonly #forgotten = new Set<string>();

  constructor(file: string | undefined) {
    this.#file = file;
    if (!file) return;
    try {
      const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string[]>;
      for (const [d, list] of Object.entries(doc))
        if (Array.isArray(list))
          this.#map.set(
            d,
            list.filter((x) => typeof x === 'string'),
          );
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
    }
  }

  /** Records that `digest` is in `repo` of `registry`. */
  note(digest: string, registry: string, repo: string): void {
    const entry = `${registry}/${repo}`;
    const list = (this.#map.get(digest) ?? []).filter((e) => e !== entry);
    list.push(entry);
    while (list.length > PER_BLOB) list.shift();
    this.#map.delete(digest);
    this.#map.set(digest, list);
    while (this.#map.size > MAX_BLOBS) this.#map.delete(this.#map.keys().next().value!);
    this.#dirty = true;
  }

  /** Forgets that `digest` is in `repo` (a mount from it failed). */
  forget(digest: string, registry: string, repo: string): void {
    const list = this.#map.get(digest);
    if (!list) return;
    const rest = list.filter((e) => e !== `${registry}/${repo}`);
    if (rest.length) this.#map.set(digest, rest);
    else this.#map.delete(digest);
    this.#forgotten.add(`${digest} ${registry}/${repo}`);
    this.#dirty = true;
  }

  /** Another repository of the same registry known to hold `digest`, most recent first. */
  mountSource(digest: string, registry: string, exceptRepo: string): string | undefined {
    const list = this.#map.get(digest) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i]!;
      if (!e.startsWith(`${registry}/`)) continue;
      const repo = e.slice(registry.length + 1);
      if (repo !== exceptRepo) return repo;
    }
    return undefined;
  }

  /** Writes the record (temp file + rename) when it changed; errors are ignored: it is only a hint. */
  save(): void {
    if (!this.#file || !this.#dirty) return;
    try {
      // Re-read and merge, so that two operations at once do not lose each other's entries.
      const merged = new BlobSources(this.#file);
      for (const [d, list] of this.#map)
        for (const e of list) {
          const i = e.indexOf('/', e.startsWith('[') ? e.indexOf(']') : 0);
          merged.note(d, e.slice(0, i), e.slice(i + 1));
        }
      // What this operation found wrong stays forgotten, even if the file on disk still has it.
      for (const [d, list] of merged.#map) {
        const rest = list.filter((e) => !this.#forgotten.has(`${d} ${e}`));
        if (rest.length === list.length) continue;
        if (rest.length) merged.#map.set(d, rest);
        else merged.#map.delete(d);
      }
      this.#map = merged.#map;
      mkdirSync(dirname(this.#file), { recursive: true });
      const tmp = `${this.#file}.${process.pid}.${Date.now()}.tmp`;
      writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.#map)), { mode: 0o600 });
      renameSync(tmp, this.#file);
      this.#dirty = false;
    } catch {
      // A lost hint costs an upload, never correctness.
    }
  }
}
