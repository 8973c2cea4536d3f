/**
 * The sha256 of a COPY's layer tar, with the hash's state kept at entry boundaries (about every 2 MiB of tar) and
 * each entry's identity (its name, header and, for a file, what it was made from). SHA-256 reads its input in
 * order, so the state after a prefix is all that the bytes after it need: the next layer of the same COPY, whose
 * tar begins with the same entries, resumes from the last boundary before the first entry that differs instead of
 * hashing the whole tar again. A one-file change in a 200 MiB layer then hashes, on average, half of it.
 *
 * The states live in memory only (node:crypto's `Hash.copy`), beside the COPY's record (linked.ts): after a
 * restart the first such layer is hashed whole. A mark is never changed after it is made (resuming copies it), so
 * one mark may serve several layers' lists.
 */
import { createHash, type Hash } from 'node:crypto';
import type { PackEntry } from '../util/tar/index.ts';

/** About this many bytes of tar between two marks. */
const EVERY = 2 << 20;

interface Mark {
  /** The entry the tar had reached. */
  index: number;
  /** Bytes hashed before it (the padding of the entry before it not included). */
  size: number;
  contentSize: number;
  hash: Hash;
}

/** A layer tar's entries' identities, in order, and the hash's states between them. */
export interface TarMarks {
  ids: readonly (string | undefined)[];
  marks: readonly Mark[];
}

/** A layer's content size as dockerd counts it (overlay2's diff size): file bodies and symlink targets' bytes. */
export function contentBytes(h: { type?: string; size?: number; linkname?: string }): number {
  if (h.type === 'file') return h.size ?? 0;
  return h.type === 'symlink' ? Buffer.byteLength(h.linkname ?? '') : 0;
}

/**
 * An entry's identity: two entries with the same identity are the same bytes of tar. A file's is its name and its
 * record (linked.ts `fileRecord`: what it was made from and the header it was written with); undefined when the file
 * has none (it then equals nothing).
 */
export function entryId(e: PackEntry, records: ReadonlyMap<string, string> | undefined): string | undefined {
  const h = e.header;
  if (h.type === 'file') {
    const r = records?.get(h.name);
    return r === undefined ? undefined : `${h.name}\0${r}`;
  }
  return `${h.name}\0${h.type}\0${h.mode}\0${h.uid}\0${h.gid}\0${h.mtime}\0${h.linkname ?? ''}\0${h.size ?? 0}`;
}

export class MarkedHash {
  readonly #hash: Hash;
  /** The identities of the whole list's entries (none known for a fresh hash's). */
  readonly #ids: readonly (string | undefined)[];
  /** The entries of the whole list passed on so far. */
  #at: number;
  readonly #marks: Mark[];
  #next: number;
  size: number;
  contentSize: number;
  /** The entry of the whole list this hash goes on from (the ones before it are hashed already). */
  readonly start: number;

  private constructor(
    hash: Hash,
    ids: readonly (string | undefined)[],
    from: Mark | undefined,
    prev: TarMarks | undefined,
  ) {
    this.#hash = hash;
    this.#ids = ids;
    this.start = from?.index ?? 0;
    this.#at = this.start;
    this.size = from?.size ?? 0;
    this.contentSize = from?.contentSize ?? 0;
    this.#marks = prev && from ? prev.marks.filter((m) => m.index <= from.index) : [];
    this.#next = from ? this.size + EVERY : 0;
    // the padding owed after the entry before the mark (a tar's entries end on 512-byte blocks)
    const pad = (512 - (this.size % 512)) % 512;
    if (pad > 0) this.update(Buffer.alloc(pad));
  }

  /** A fresh hash of a tar whose entries' identities are `ids` (none known when not given). */
  static fresh(ids: readonly (string | undefined)[] = []): MarkedHash {
    return new MarkedHash(createHash('sha256'), ids, undefined, undefined);
  }

  /**
   * The hash of a tar of entries with identities `ids`, resumed from the last mark of `prev` before the first entry
   * whose identity differs (or is unknown); fresh when there is none. Pack and hash the list from `start` on.
   */
  static resume(prev: TarMarks | undefined, ids: readonly (string | undefined)[]): MarkedHash {
    if (!prev) return MarkedHash.fresh(ids);
    let same = 0;
    const n = Math.min(ids.length, prev.ids.length);
    while (same < n && ids[same] !== undefined && ids[same] === prev.ids[same]) same++;
    let from: Mark | undefined;
    for (const m of prev.marks) if (m.index <= same && m.index > 0) from = m;
    if (!from) return MarkedHash.fresh(ids);
    return new MarkedHash(from.hash.copy(), ids, from, prev);
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
  }

  /** Passes the list's entries from `start` on to the packer, noting every 2 MiB the hash's state. */
  async *entries(list: AsyncIterable<PackEntry> | Iterable<PackEntry>): AsyncGenerator<PackEntry> {
    for await (const e of list) {
      // the packer asks for an entry once every byte before it (but the last body's padding) is hashed
      this.enter(e);
      yield e;
    }
  }

  /**
   * The next entry of the list begins: called once every byte before it (but the last body's padding) is hashed
   * (`entries` does it for `pack`; a caller packing with util/tar's `TarPacker` calls it before each entry's head).
   */
  enter(e: PackEntry): void {
    if (this.size >= this.#next) {
      this.#marks.push({
        index: this.#at,
        size: this.size,
        contentSize: this.contentSize,
        hash: this.#hash.copy(),
      });
      this.#next = this.size + EVERY;
    }
    this.#at++;
    this.contentSize += contentBytes(e.header);
  }

  /** The digest, and the identities and marks the next layer of the same COPY can resume from. */
  digest(): { digest: `sha256:${string}`; marks: TarMarks } {
    return { digest: `sha256:${this.#hash.digest('hex')}`, marks: { ids: this.#ids, marks: this.#marks } };
  }
}
