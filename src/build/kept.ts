/**
 * Kept contexts (a Berth addition for `berth build`): the daemon keeps the last context a client sent for a
 * directory, with each entry's metadata and tarsum, so the next build of that directory sends only what changed.
 *
 * 1. `plan(id, manifest)`: the client lists every entry of its context (path, type, mode, size, times, link);
 *    the answer names the files and links whose content the kept copy lacks (new, or any of those changed).
 * 2. `receive(id, body)`: the client sends a tar whose first entry is that manifest (`MANIFEST_NAME`), then the entries
 *    asked for (and every directory). The plan's answer also names the manifest it kept (`planned`, in memory): the
 *    first entry may then be `{"planned": "<token>"}` instead of the list again (a 10,000-file context's manifest is
 *    ~1.2 MB of JSON, sent, parsed and checked once rather than twice). The build request names the token too
 *    (`claim`): the plan holds its context from prune until that build ends, or for `PLAN_GRACE_MS` when no build names
 *    it (its client went away). The bodies sent are appended to a new segment file; the index maps every entry to its
 *    segment and offset (those not sent keep theirs); entries the manifest no longer lists are dropped. A segment no
 *    entry uses is deleted, and when the segments hold more dead bytes than live ones, the live bodies are copied into
 *    one new segment. The build reads the bodies from the segments, as it reads a received context's spool
 *    (context.ts); one build uses a kept context at a time.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { BuildCacheRecords } from '../metadata/index.ts';
import { errorMessage, InvalidArgumentError } from '../util/errors.ts';
import { KeyedMutex } from '../util/lock.ts';
import { extract } from '../util/tar/index.ts';
import { entryHash } from './cachekey.ts';
import { BuildContext, type ContextEntry, contextName } from './context.ts';
import { openArchive } from './decompress.ts';
import type { ContextManifestEntry } from '../engine-api/build.ts';

export const MANIFEST_NAME = '.berth-context-manifest.json';

/** One entry of a client's context, as it describes it (the Engine API's shape). */
export type ManifestEntry = ContextManifestEntry;

interface Indexed extends ManifestEntry {
  sum: string;
  /** Files: the segment (file name) and offset of the body. */
  seg?: string;
  offset?: number;
}

const COMPACT_MIN = 64 << 20;

interface Last {
  id: string;
  /** The index file's, once written or read (-1 before). */
  size: number;
  mtimeMs: number;
  index: Map<string, Indexed>;
  unwritten: boolean;
  writing?: Promise<void>;
}

/**
 * Whether the kept record of a file or link lacks what a manifest entry describes (new content, or any of its
 * metadata changed): what a plan asks the client to send, and what a body may not leave out.
 */
function stale(k: Indexed | undefined, m: ManifestEntry): boolean {
  return (
    !k ||
    k.type !== m.type ||
    k.mode !== m.mode ||
    k.size !== m.size ||
    k.mtime !== m.mtime ||
    (k.ctime ?? 0) !== (m.ctime ?? 0) ||
    (k.linkname ?? '') !== (m.linkname ?? '')
  );
}

/** Whether a manifest entry says of a file or link just what its kept record does (the record serves as it is). */
function sameMeta(k: Indexed, m: ManifestEntry): boolean {
  return (
    k.type === m.type &&
    k.mode === m.mode &&
    k.size === m.size &&
    k.mtime === m.mtime &&
    k.ctime === m.ctime &&
    k.linkname === m.linkname
  );
}

/** How many planned manifests no build has claimed are kept. */
const PLANNED_MAX = 8;
/**
 * How long a plan no build has claimed holds its context: `berth build` sends the build request as soon as the plan
 * is answered, so a plan unclaimed for this long is one whose client went away.
 */
const PLAN_GRACE_MS = 30_000;

interface Planned {
  id: string;
  at: number;
  manifest: Map<string, ManifestEntry>;
  /** A build named it (`claim`): it holds until that build ends, however long that build waits for the lock. */
  claimed: boolean;
}

export class KeptContexts {
  readonly #root: string;
  readonly #records: BuildCacheRecords;
  readonly #log: { warn(m: string): void } | undefined;
  readonly #locks = new KeyedMutex();
  readonly #graceMs: number;
  /**
   * Manifests of recent plans, by the token the plan's answer gave: a body may name one instead of its list. A
   * context with a plan pending (its token neither used nor let go, nor unclaimed past the grace) is in use:
   * `remove` leaves it.
   */
  readonly #planned = new Map<string, Planned>();
  /** Contexts being removed: a plan that starts meanwhile plans against nothing kept. */
  readonly #removing = new Set<string>();
  /**
   * The index last read or made. `unwritten` while the build that received it runs (its index is written when the
   * build releases the context: memory is the truth until then), `writing` while that write is under way.
   */
  #last: Last | undefined;

  constructor(
    root: string,
    records: BuildCacheRecords,
    log?: { warn(m: string): void },
    opts: { planGraceMs?: number } = {},
  ) {
    this.#root = root;
    this.#records = records;
    this.#log = log;
    this.#graceMs = opts.planGraceMs ?? PLAN_GRACE_MS;
  }

  #dir(id: string): string {
    if (!/^[0-9a-f]{16,64}$/.test(id)) throw new InvalidArgumentError(`invalid context ID "${id}"`);
    return join(this.#root, id);
  }

  /**
   * A kept context's index. The last one read or written stays parsed (a 10,000-file context's is ~2 MB of JSON,
   * read by the plan and again by the build that follows it), as long as the file's size and time say it is the same.
   */
  async #index(id: string): Promise<Map<string, Indexed>> {
    const path = join(this.#dir(id), 'index.json');
    let last = this.#last;
    if (last?.id === id) {
      if (last.unwritten) return last.index;
      await last.writing;
    }
    try {
      const st = await stat(path);
      last = this.#last;
      if (last && last.id === id && last.size === st.size && last.mtimeMs === st.mtimeMs) return last.index;
      const index = new Map((JSON.parse(await readFile(path, 'utf8')) as Indexed[]).map((e) => [e.path, e]));
      // kept unless a build received this context meanwhile (a plan reads without the lock): its index in memory is
      // newer than the file just read
      const now = this.#last;
      if (!(now?.id === id && now.unwritten))
        this.#last = { id, size: st.size, mtimeMs: st.mtimeMs, index, unwritten: false };
      return index;
    } catch {
      return new Map();
    }
  }

  /**
   * The paths whose content the kept copy of context `id` lacks, and the token of the manifest kept for the body
   * that follows. No lock (a plan does not wait for a build of the same context): the token is registered before the
   * index is read, so a removal that has not started yet leaves the context to the build the plan announces, and a
   * removal under way makes the plan ask for everything. A build received between the plan and its body is caught by
   * `receive`, which takes no entry the body leaves out unless the kept record still says what the manifest does.
   */
  async plan(id: string, manifest: readonly ManifestEntry[]): Promise<{ need: string[]; planned: string }> {
    this.#dir(id);
    const now = Date.now();
    let unclaimed = 0;
    for (const p of this.#planned.values()) if (!p.claimed) unclaimed++;
    for (const [t, p] of this.#planned) {
      if (p.claimed || (now - p.at <= this.#graceMs && unclaimed < PLANNED_MAX)) continue;
      this.#planned.delete(t);
      unclaimed--;
    }
    const planned = randomBytes(16).toString('hex');
    const byName = new Map<string, ManifestEntry>();
    this.#planned.set(planned, { id, at: now, manifest: byName, claimed: false });
    const index = this.#removing.has(id) ? new Map<string, Indexed>() : await this.#index(id);
    const need: string[] = [];
    for (const m of manifest) {
      const name = contextName(m.path);
      byName.set(name, m);
      if (m.type === 'directory') continue;
      if (stale(index.get(name), m)) need.push(m.path);
    }
    return { need, planned };
  }

  /**
   * The build request that names plan `token` of context `id` takes it over: the plan holds the context until the
   * returned function is called as that build ends (failed, canceled, its client gone before its body came), not
   * for the grace. Its body uses the token up as it comes; a token unknown (expired, another context's) is left to
   * the body to refuse.
   */
  claim(id: string, token: string): () => void {
    const p = this.#planned.get(token);
    if (!p || p.id !== id) return () => {};
    p.claimed = true;
    return () => {
      if (this.#planned.get(token) === p) this.#planned.delete(token);
    };
  }

  /** Whether a plan of context `id` waits for its body (claimed by a build, or not yet past the grace). */
  #pending(id: string): boolean {
    const now = Date.now();
    for (const p of this.#planned.values()) if (p.id === id && (p.claimed || now - p.at <= this.#graceMs)) return true;
    return false;
  }

  /** The manifest a body's first entry gives: its list, or the token of one kept by a plan of the same context. */
  #manifest(id: string, text: string): Map<string, ManifestEntry> {
    const v = JSON.parse(text) as ManifestEntry[] | { planned?: unknown };
    if (Array.isArray(v)) return new Map(v.map((m) => [contextName(m.path), m]));
    const token = typeof v?.planned === 'string' ? v.planned : '';
    const p = this.#planned.get(token);
    if (!p || p.id !== id)
      throw new InvalidArgumentError(`no planned manifest "${token}" for context ${id}: send the manifest itself`);
    this.#planned.delete(token);
    return p.manifest;
  }

  /**
   * Takes context `id` for one build: applies the body (manifest, then the entries sent) to the kept copy and
   * returns it (files written out, when a step needs them, under `workDir`) with a release to call when the build
   * is done. `endPlan`: lets go of the plan the build claimed (`claim`), called when the body fails before the
   * context is let go, so that a prune waiting for the context finds no plan of this build pending.
   */
  async receive(
    id: string,
    body: AsyncIterable<Uint8Array>,
    workDir: string,
    opts: { signal?: AbortSignal; description?: string; endPlan?: () => void } = {},
  ): Promise<{ context: BuildContext; release: () => void }> {
    const dir = this.#dir(id);
    const release = await this.#locks.acquire(id);
    try {
      const segs = join(dir, 'segments');
      await mkdir(segs, { recursive: true, mode: 0o700 });
      const old = await this.#index(id);
      const next = new Map<string, Indexed>();
      const seg = `${Date.now()}-${randomBytes(4).toString('hex')}`;
      const out = createWriteStream(join(segs, seg), { mode: 0o600, highWaterMark: 1 << 20 });
      let offset = 0;
      let manifest: Map<string, ManifestEntry> | undefined;
      try {
        const { stream } = await openArchive(body);
        for await (const e of extract(stream, opts.signal ? { signal: opts.signal } : {})) {
          const h = e.header;
          if (manifest === undefined) {
            if (h.name !== MANIFEST_NAME)
              throw new InvalidArgumentError(`a kept context's body starts with ${MANIFEST_NAME}`);
            const chunks: Buffer[] = [];
            for await (const c of e.body) chunks.push(c);
            manifest = this.#manifest(id, Buffer.concat(chunks).toString('utf8'));
            continue;
          }
          const name = contextName(h.name);
          const m = manifest.get(name);
          if (!m || name === '' || h.name.split('/').includes('..'))
            throw new InvalidArgumentError(`context entry "${h.name}" is not in the manifest`);
          if (h.type !== 'file' && h.type !== 'directory' && h.type !== 'symlink')
            throw new InvalidArgumentError(`context entry "${h.name}": ${h.type} is not kept`);
          const hash = entryHash({
            name: h.name,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            size: h.type === 'file' ? h.size : 0,
            typeflag: h.type === 'file' ? '0' : h.type === 'directory' ? '5' : '2',
            linkname: h.linkname,
          });
          const start = offset;
          if (h.type === 'file') {
            for await (const c of e.body) {
              hash.update(c);
              offset += c.length;
              await write(out, c);
            }
          }
          next.set(name, {
            ...m,
            path: name,
            mode: h.mode,
            sum: hash.digest('hex'),
            ...(h.type === 'file' ? { seg, offset: start } : {}),
          });
        }
      } finally {
        await new Promise<void>((resolve) => out.end(resolve));
      }
      if (!manifest) throw new InvalidArgumentError(`a kept context's body starts with ${MANIFEST_NAME}`);
      // what was not sent is kept as it was (the same record when the manifest says what it did, as a plan's
      // unchanged entries do: no copy of each of 10,000); what the manifest no longer lists is dropped
      for (const [name, m] of manifest) {
        if (next.has(name) || name === '') continue;
        const k = old.get(name);
        if (!k) throw new InvalidArgumentError(`context entry "${name}" was neither sent nor kept: send it again`);
        // (a file changed by a build received after this body's plan: its kept bytes are not the ones described)
        if (m.type !== 'directory' && stale(k, m))
          throw new InvalidArgumentError(
            `context entry "${name}" was not sent and its kept copy is not the one described: send it again`,
          );
        next.set(name, sameMeta(k, m) ? k : { ...k, ...m, path: name, sum: k.sum });
      }
      await this.#compact(segs, next);
      const list = [...next.values()];
      // the index is written when the build releases the context, off its path (~1.5 MB of JSON for 10,000
      // entries, made and written on every build): until then this daemon has it in memory, and a crash before it
      // leaves the previous index, still true of the segments it names (none is removed before the new one is in)
      const last: Last = { id, size: -1, mtimeMs: -1, index: next, unwritten: true };
      this.#last = last;
      const entries = new Map<string, ContextEntry>();
      let size = 0;
      // each segment's path once, not a join per file
      const segPaths = new Map<string, string>();
      const segPath = (s: string): string => {
        let p = segPaths.get(s);
        if (p === undefined) segPaths.set(s, (p = join(segs, s)));
        return p;
      };
      for (const e of list) {
        entries.set(e.path, {
          type: e.type,
          sum: e.sum,
          linkname: e.linkname ?? '',
          size: e.size,
          mode: e.mode,
          mtime: Math.floor(e.mtime / 1000),
          ...(e.seg !== undefined ? { spool: segPath(e.seg), offset: e.offset ?? 0 } : {}),
        });
        if (e.type === 'file') size += e.size;
      }
      const now = Date.now();
      const prev = this.#records.getDir('source.local', id);
      this.#records.putDir({
        kind: 'source.local',
        id,
        path: dir,
        size,
        created: prev?.created ?? now,
        lastUsed: now,
        usageCount: (prev?.usageCount ?? 0) + 1,
        description: opts.description ?? 'kept build context',
      });
      let released = false;
      const done = (): void => {
        if (released) return;
        released = true;
        last.unwritten = false;
        // on a later turn of the event loop: the release comes as the build ends, before its answer is written,
        // and the JSON is made synchronously (~10 ms for 10,000 entries)
        last.writing = new Promise<void>((resolve) => setImmediate(resolve))
          .then(() => this.#writeIndex(dir, list, last))
          .finally(release);
      };
      return { context: new BuildContext(workDir, entries, size), release: done };
    } catch (err) {
      opts.endPlan?.();
      release();
      throw err;
    }
  }

  /**
   * Removes kept context `id` and its record (`builder prune`), under its lock: after the build that holds it and
   * that build's index write, which would otherwise leave, written into a directory being removed, an index naming
   * segments already gone (every later build of the context would fail on them). The index kept in memory goes too.
   * A context whose plan waits for its body is in use, as one a build holds is in BuildKit's prune: it stays, and
   * the answer is false (else the build the plan announced would find nothing of what it did not send). It waits
   * for as long as the build that claimed the plan runs, or the grace when none did.
   */
  async remove(id: string): Promise<boolean> {
    const dir = this.#dir(id);
    return this.#locks.run(id, async () => {
      if (this.#pending(id)) return false;
      this.#removing.add(id);
      try {
        if (this.#last?.id === id) this.#last = undefined;
        this.#records.deleteDir('source.local', id);
        await rm(dir, { recursive: true, force: true });
      } finally {
        this.#removing.delete(id);
      }
      return true;
    });
  }

  /**
   * Writes a received context's index and then removes the segments it no longer names. A failure is logged and
   * costs nothing but time: the previous index stays (or none, when there was none) and the next build's plan reads
   * it from the disk, true of the segments, which are removed only once the new index is in.
   */
  async #writeIndex(dir: string, list: readonly Indexed[], last: Last): Promise<void> {
    try {
      await writeFile(join(dir, 'index.json.tmp'), JSON.stringify(list));
      await rename(join(dir, 'index.json.tmp'), join(dir, 'index.json'));
      const st = await stat(join(dir, 'index.json'));
      last.size = st.size;
      last.mtimeMs = st.mtimeMs;
      const segs = join(dir, 'segments');
      const used = new Set<string>();
      for (const e of list) if (e.seg) used.add(e.seg);
      for (const name of await readdir(segs)) if (!used.has(name)) await rm(join(segs, name), { force: true });
    } catch (err) {
      // (the size and time stay unknown: the next read of the index is from the disk)
      this.#log?.warn(`kept build context ${dir}: ${errorMessage(err)} (the next build plans from the index on disk)`);
    }
  }

  /** When the segments in use hold more dead bytes than live ones, copies the live bodies into one segment. */
  async #compact(segs: string, index: Map<string, Indexed>): Promise<void> {
    const live = new Map<string, number>();
    for (const e of index.values()) if (e.seg) live.set(e.seg, (live.get(e.seg) ?? 0) + e.size);
    let total = 0;
    for (const name of live.keys()) total += (await stat(join(segs, name))).size;
    const liveBytes = [...live.values()].reduce((a, b) => a + b, 0);
    if (total - liveBytes < Math.max(COMPACT_MIN, liveBytes)) return;
    const seg = `${Date.now()}-${randomBytes(4).toString('hex')}-compact`;
    const out = createWriteStream(join(segs, seg), { mode: 0o600, highWaterMark: 1 << 20 });
    let offset = 0;
    try {
      for (const e of index.values()) {
        if (!e.seg) continue;
        const start = offset;
        if (e.size > 0) {
          const from = createReadStream(join(segs, e.seg), { start: e.offset ?? 0, end: (e.offset ?? 0) + e.size - 1 });
          for await (const c of from) {
            offset += (c as Buffer).length;
            await write(out, c as Buffer);
          }
        }
        // a new record: the previous index (still the one on disk) may share this one
        index.set(e.path, { ...e, seg, offset: start });
      }
    } finally {
      await new Promise<void>((resolve) => out.end(resolve));
    }
  }
}

function write(out: Writable, c: Uint8Array): Promise<void> {
  if (out.write(c)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', done);
      out.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    out.once('drain', () => done());
    out.once('error', done);
  });
}
