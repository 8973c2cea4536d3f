/**
 * COPY from the context, again: a step whose sources changed is a cache miss, but most of its files are often the
 * same as in the layer the previous build made at the same place (the same parent, the same instruction, other
 * sources). Each COPY layer leaves a record (`<work-root>/copies/<family>.json`): the layer's chain ID and, for
 * every file it holds, what it was made from (the context entry's tarsum, which covers name, mode, size and content)
 * and the header it was written with (mode, owner, time, size). The next COPY of the same family hard-links each
 * file whose record is the same from that layer's directory instead of writing it, and writes the rest.
 *
 * Why a link is safe there: a committed snapshot's directory is only ever a lower layer (overlay copies a file up
 * into the container's own upper directory before changing it), the new layer is written here while no mount uses
 * it and is committed at once, and a linked file's mode, owner and times are never set (they are already those the
 * record names). Nothing writes into either directory after that, so neither layer can change the other's files.
 *
 * The layer's blob is then not written at build time: its digest is that of the tar of the new directory (computed
 * from the COPY's own list while the links are made; the walk of the directory makes the blob later,
 * content/store.ts `Deferrer`), and the blob is made when something reads it.
 */
import { createReadStream, link, utimesSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import type { Snapshotter } from '../snapshots/index.ts';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { diffEntries } from './difftar.ts';
import { isOpaque, withLayerDir } from './layerblob.ts';
import { type Body, packList } from './packlist.ts';
import { entryId, MarkedHash, type TarMarks } from './tarmarks.ts';
import { type Location, WindowReader } from './windows.ts';

/** What the previous layer of a family holds: its chain ID and each file's record by its name in the layer. */
export interface CopyRecord {
  chainId: string;
  files: Map<string, string>;
  /** The time of each directory the layer created (one the image lacked), which the next layer gives it again. */
  created?: ReadonlyMap<string, number> | undefined;
  /** The layer tar's hash states (tarmarks.ts), while this daemon runs. */
  marks?: TarMarks | undefined;
}

/** A file entry's record: what the file was made from and the header it was written with. */
export function fileRecord(
  source: string,
  h: { mode?: number; uid?: number; gid?: number; mtime?: number; size?: number },
) {
  return `${source} ${h.mode ?? 0} ${h.uid ?? 0} ${h.gid ?? 0} ${Math.floor(h.mtime ?? 0)} ${h.size ?? 0}`;
}

export class CopyRecords {
  readonly #dir: string;
  /** The last families' records as put (the next build of the same Dockerfile reads one back at once). */
  readonly #recent = new Map<string, CopyRecord>();
  constructor(workRoot: string) {
    this.#dir = join(workRoot, 'copies');
  }

  #path(family: string): string {
    return join(this.#dir, `${family.replace(/^sha256:/, '')}.json`);
  }

  async get(family: string): Promise<CopyRecord | undefined> {
    const recent = this.#recent.get(family);
    if (recent) return recent;
    try {
      const r = JSON.parse(await readFile(this.#path(family), 'utf8')) as {
        chainId: string;
        files: [string, string][];
        created?: [string, number][];
      };
      return { chainId: r.chainId, files: new Map(r.files), created: new Map(r.created ?? []) };
    } catch {
      return undefined;
    }
  }

  /**
   * Records a family's last layer. Written and renamed without an fsync on purpose: a record is a hint that `get`
   * checks before anything trusts it (the layer it names must still exist, and a file is linked only when its record
   * matches the new one), so a record lost or unreadable after a crash costs the next build a plain copy, and the
   * one left in its place is the previous layer's, true of that layer. No syncs (~1 MB, ~10-30 ms on this disk) on
   * every COPY's path for that.
   */
  async put(family: string, rec: CopyRecord): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const path = this.#path(family);
    const created = [...(rec.created ?? [])];
    await writeFile(`${path}.tmp`, JSON.stringify({ chainId: rec.chainId, files: [...rec.files], created }));
    await rename(`${path}.tmp`, path);
    this.#recent.delete(family);
    this.#recent.set(family, rec);
    for (const k of this.#recent.keys()) {
      if (this.#recent.size <= RECENT) break;
      this.#recent.delete(k);
    }
  }

  /** `builder prune`: the records only point at layers; without the cache they point at nothing useful. */
  async clear(): Promise<void> {
    this.#recent.clear();
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/** Synchronous calls made between two turns of the event loop, at most (fewer when they take long: BATCH_MS). */
const BATCH = 512;

/** Time a batch of synchronous calls may hold the event loop: on a slow disk 512 links can take far longer. */
const BATCH_MS = 10;

/** Calls `f` on each item synchronously, giving the event loop a turn after each batch (BATCH, BATCH_MS). */
async function inBatches<T>(items: readonly T[], f: (item: T) => void): Promise<void> {
  let start = performance.now();
  let n = 0;
  for (const item of items) {
    f(item);
    if (++n === BATCH || performance.now() - start > BATCH_MS) {
      await yieldLoop();
      start = performance.now();
      n = 0;
    }
  }
}

/** Links asked of libuv's threads at once: enough to keep them busy, few enough not to hold up the windows' reads. */
const LINKS_IN_FLIGHT = 32;

/**
 * Hard-links each entry's file from `from` to `upper` (the names are the copy's, relative and clean), with the
 * callback API (a promise per link cost ~2× the thread's CPU); the entries that could not be linked, in order.
 */
function linkAll(from: string, upper: string, entries: readonly PackEntry[]): Promise<PackEntry[]> {
  const failed = new Set<number>();
  return new Promise((resolve) => {
    let next = 0;
    let pending = 0;
    const done = (): void => resolve(failed.size === 0 ? [] : entries.filter((_, i) => failed.has(i)));
    const start = (): void => {
      while (pending < LINKS_IN_FLIGHT && next < entries.length) {
        const i = next++;
        const name = entries[i]!.header.name;
        pending++;
        link(`${from}/${name}`, `${upper}/${name}`, (err) => {
          pending--;
          if (err) failed.add(i);
          if (next < entries.length) start();
          else if (pending === 0) done();
        });
      }
    };
    if (entries.length === 0) done();
    else start();
  });
}

/** Families whose records stay in memory. */
const RECENT = 8;

/** What `applyLinked` made: the tar's digest and size (of the directory as written) and its files' bytes. */
export interface LinkedLayer {
  digest: `sha256:${string}`;
  /** Bytes of the tar. */
  size: number;
  /** Bytes of file content and symbolic link targets, as `docker history` counts them. */
  contentSize: number;
  linked: number;
  /** What the next layer of the same COPY can resume the hash from. */
  marks?: TarMarks | undefined;
}

/**
 * Writes a COPY's layer into `upper` (empty, unmounted): every file whose record (`files`) equals the previous
 * layer's is hard-linked from that layer's directory; the other entries go through `unpack` (the same unpack a
 * COPY's tar always takes). Then each directory gets its time back (the links moved them). The layer's digest is
 * that of the tar of the list in the directory's walk order (the walk a deferred blob is made by gives the same
 * bytes: the headers are those written, the bodies equal by their tarsums), hashed while the links are made; the
 * directory is walked only when a link failed. The previous layer's snapshot is held by a view meanwhile;
 * undefined, with nothing written, when it is gone or no file would be linked.
 */
export async function applyLinked(
  snapshotter: Snapshotter,
  upper: string,
  entries: readonly PackEntry[],
  files: ReadonlyMap<string, string>,
  prev: CopyRecord,
  unpack: (rest: PackEntry[]) => Promise<void>,
  locations?: ReadonlyMap<string, Location>,
): Promise<LinkedLayer | undefined> {
  const toLink: PackEntry[] = [];
  const rest: PackEntry[] = [];
  for (const e of entries) {
    const r = e.header.type === 'file' ? files.get(e.header.name) : undefined;
    if (r !== undefined && prev.files.get(e.header.name) === r) toLink.push(e);
    else rest.push(e);
  }
  // nothing to link: the usual copy (its blob stored) serves better than a walk for the digest
  if (toLink.length === 0) return undefined;
  // the layer's tar from the list itself, in the order and with the headers the directory will have (headers as
  // written, bodies from where the copy read them): hashed from the start, while the directories are written and the
  // links made, with no walk of the directory after
  const listed = locations && walkOrder(entries);
  const located = listed?.every((e) => e.header.type !== 'file' || locations!.has(e.header.name)) ? listed : undefined;
  const windows = new WindowReader();
  // stopped when the layer is not made this way after all (the previous one is gone)
  let wanted = true;
  const early =
    located &&
    listDigest(located, files, prev.marks, (name) => {
      if (!wanted) throw new Error('the linked layer is not made');
      return windows.bytes(locations!.get(name)!);
    });
  early?.catch(() => {});
  try {
    return await withLayerDir(snapshotter, prev.chainId, async (from) => {
      await unpack(rest);
      // the links on libuv's threads, LINKS_IN_FLIGHT at a time, while this thread hashes (its loop gives them a
      // turn every few hundred entries): the kernel's work for 10,000 links off the thread the hash runs on
      const unlinked = await linkAll(from, upper, toLink);
      const linked = toLink.length - unlinked.length;
      // gone from the previous layer (or not linkable): written as any other file, by the same unpack
      if (unlinked.length > 0) await unpack(unlinked);
      const dirs = rest.filter((e) => e.header.type === 'directory').reverse();
      await inBatches(dirs, (d) => {
        const t = d.header.mtime ?? 0;
        utimesSync(`${upper}/${d.header.name}`, t, t);
      });
      // the list's tar is the directory's when every file is where the list says (a fallback unpack wrote the
      // same bytes, but its files are read back here only through the walk)
      if (early && unlinked.length === 0) return { ...(await early), linked };
      if (listed && unlinked.length === 0)
        return {
          ...(await listDigest(listed, files, prev.marks, (name) => bodyFrom(upper, name, locations, windows))),
          linked,
        };
      const written = new Set(unlinked.map((e) => e.header.name));
      // the linked files' bodies come from where the copy read them (one open file, positioned reads), not back
      // from the directory: their content is the same (equal tarsums), and the headers come from the directory
      const bodies = new Map<string, NonNullable<PackEntry['body']>>();
      for (const e of toLink) {
        const name = e.header.name;
        if (written.has(name)) continue;
        const at = locations?.get(name);
        // in large sequential reads of the spool or segment where it lies (the context keeps files in walk order)
        if (at) bodies.set(name, windows.body(at));
      }
      // one consumer of the windows at a time: the list's digest (not needed now) stops before the walk's starts
      wanted = false;
      await early?.catch(() => {});
      return { ...(await walkDigest(diffEntries(upper, isOpaque, (r) => bodies.get(r)))), linked };
    });
  } finally {
    wanted = false;
    await early?.catch(() => {});
    await windows.close();
  }
}

/** A body read from its location, else from the file written in the directory. */
function bodyFrom(
  upper: string,
  name: string,
  locations: ReadonlyMap<string, Location> | undefined,
  windows: WindowReader,
): Body {
  const at = locations?.get(name);
  return at ? windows.bytes(at) : createReadStream(join(upper, name), { highWaterMark: 1 << 20 });
}

/** What a layer tar's hash gives: its digest, its size and its content bytes (files and symbolic link targets). */
interface TarSum {
  digest: `sha256:${string}`;
  size: number;
  contentSize: number;
}

/**
 * The tar of `list` (each file's body from `bodyOf`) hashed, resumed from `prev`'s marks where the list begins as
 * that tar did (each entry's identity from its record in `files`, tarmarks.ts), with the marks the next layer can
 * resume from.
 */
async function listDigest(
  list: readonly PackEntry[],
  files: ReadonlyMap<string, string>,
  prev: TarMarks | undefined,
  bodyOf: (name: string) => Body,
): Promise<TarSum & { marks: TarMarks }> {
  const h = MarkedHash.resume(
    prev,
    list.map((e) => entryId(e, files)),
  );
  await packList(list, { from: h.start, hash: h, bodyOf: (e) => bodyOf(e.header.name) });
  const { digest, marks } = h.digest();
  return { digest, size: h.size, contentSize: h.contentSize, marks };
}

/** The tar of a directory's walk hashed from the start (no marks: its entries' identities are not known). */
async function walkDigest(walk: AsyncIterable<PackEntry>): Promise<TarSum> {
  const h = MarkedHash.fresh();
  for await (const c of pack(h.entries(walk))) h.update(c);
  return { digest: h.digest().digest, size: h.size, contentSize: h.contentSize };
}

/**
 * A COPY's entries in the order a walk of the directory they make lists them (difftar.ts: each directory's names
 * sorted, a directory followed by what is below it), without bodies; undefined when two entries name the same path
 * (the directory then holds only the last, which the list cannot tell cheaply).
 */
export function walkOrder(entries: readonly PackEntry[]): PackEntry[] | undefined {
  const keyed = entries.map((e) => ({ parts: e.header.name.replace(/\/+$/, '').split('/'), e }));
  const names = new Set<string>();
  for (const k of keyed) {
    const n = k.parts.join('/');
    if (names.has(n)) return undefined;
    names.add(n);
  }
  const order = (a: { parts: string[] }, b: { parts: string[] }): number => {
    const n = Math.min(a.parts.length, b.parts.length);
    for (let i = 0; i < n; i++) {
      const x = a.parts[i]!;
      const y = b.parts[i]!;
      if (x !== y) return x < y ? -1 : 1;
    }
    return a.parts.length - b.parts.length;
  };
  // a COPY of a context's directory lists it in this order already (its names sorted, a directory before what is
  // below it): one pass tells, where the sort cost ~10 ms for 10,000 entries on every one-file build
  let sorted = true;
  for (let i = 1; i < keyed.length && sorted; i++) sorted = order(keyed[i - 1]!, keyed[i]!) < 0;
  if (!sorted) keyed.sort(order);
  return keyed.map(({ e }) => ({ header: e.header }));
}
