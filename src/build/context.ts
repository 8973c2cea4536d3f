/**
 * The build context: the body of `POST /build` (a tar, possibly compressed, or a Dockerfile alone), read once as it
 * streams in: each entry's tarsum is computed as it passes (cachekey.ts), so COPY's source hashes need no second
 * read, and the bodies of the files are appended to one spool file. Files are written out to the context
 * directory only when a step needs them (`materialize`): a build whose steps all come from the cache writes
 * nothing but the spool. Nothing is held whole in memory.
 *
 * The directory is made only of what the archive holds, and nothing is written through a symbolic link: names are
 * cleaned, an entry below something that is not a directory, or whose name leaves the context, is refused.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import {
  chmod,
  copyFile,
  type FileHandle,
  link,
  lutimes,
  mkdir,
  open,
  rm,
  stat,
  symlink,
  utimes,
} from 'node:fs/promises';
import { join, posix } from 'node:path';
import { DataLossError, InvalidArgumentError } from '../util/errors.ts';
import { extract, type TarHeader } from '../util/tar/index.ts';
import { type EntryHeader, entryHeaderText } from './cachekey.ts';
import { looksLikeTar, openArchive } from './decompress.ts';
import { type Upload, Windows } from './upload.ts';

/** One entry of the context, as received. */
export interface ContextEntry {
  type: TarHeader['type'];
  /** Its tarsum (hex). */
  sum: string;
  /** Symbolic and hard links: the target as written. */
  linkname: string;
  size: number;
  mode?: number;
  /** Seconds since the epoch. */
  mtime?: number;
  /** Where its body is: a spool file and the offset in it (files of a received or kept context). */
  spool?: string;
  offset?: number;
  /** A received entry's tarsum header text (cachekey.ts): an upload compared with this one matches on it. */
  head?: string;
}

const TYPEFLAG: Record<TarHeader['type'], string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

/** The largest Dockerfile sent alone as the body. */
const MAX_DOCKERFILE = 16 << 20;

/** A context name as the docker CLI writes it: relative, cleaned, no `./`; '' for the root. */
export function contextName(name: string): string {
  // most names come clean (the CLI's manifest, the kept index): a few scans instead of a normalize's new strings
  if (isClean(name)) return name;
  const n = posix.normalize(`/${name}`).slice(1);
  return n.endsWith('/') ? n.slice(0, -1) : n;
}

/** A name `contextName` leaves as it is: relative, no empty, `.` or `..` component, no trailing `/`. */
function isClean(name: string): boolean {
  return (
    name !== '' &&
    name.charCodeAt(0) !== 47 &&
    name.charCodeAt(name.length - 1) !== 47 &&
    !name.includes('//') &&
    !DOT_PART.test(name)
  );
}

const DOT_PART = /(?:^|\/)\.\.?(?:\/|$)/;

export class BuildContext {
  /** Where the files are (or will be, once materialized). */
  readonly dir: string;
  /** Every entry by its cleaned name ('' is not in it). */
  readonly entries: Map<string, ContextEntry>;
  /** Bytes of file content. */
  readonly size: number;
  /**
   * The spools the bodies are in, for a received context (its own and the last upload's, upload.ts: they are
   * counted and removed there, not by `remove`); empty for a kept context.
   */
  readonly spools: ReadonlySet<string>;
  readonly #made = new Map<string, Promise<void>>();
  /** Spools and segments open for `read`, each opened once for the build (not once per file). */
  readonly #handles = new Map<string, Promise<FileHandle>>();
  /** Every name, sorted (`below`), once asked for: the entries do not change once the context is made. */
  #sorted: string[] | undefined;

  constructor(dir: string, entries: Map<string, ContextEntry>, size: number, spools: ReadonlySet<string> = new Set()) {
    this.dir = dir;
    this.entries = entries;
    this.size = size;
    this.spools = spools;
  }

  /**
   * Reads a context body: its entries into memory, the files' bodies into a spool (`spool`, or beside `dir`, which
   * must not exist). A body that is not an archive is a Dockerfile sent alone: the context is then empty.
   *
   * With `base` (the last upload, upload.ts), a file whose tarsum header is the base's entry's and whose body is
   * byte for byte the base's takes the base's sum and body: it is compared as it arrives, not hashed or spooled.
   * The spool is made only when something differs; `spools` names every spool the entries' bodies are in.
   */
  static async receive(
    source: AsyncIterable<Uint8Array>,
    dir: string,
    opts: { signal?: AbortSignal; base?: Upload | undefined; spool?: string } = {},
  ): Promise<{ context: BuildContext; dockerfile?: Buffer }> {
    const { head, stream } = await openArchive(source);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (head.length > 0 && !looksLikeTar(head)) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of stream) {
        size += c.length;
        if (size > MAX_DOCKERFILE) throw new InvalidArgumentError('the Dockerfile sent as the context is too large');
        chunks.push(c);
      }
      return { context: new BuildContext(dir, new Map(), 0), dockerfile: Buffer.concat(chunks) };
    }
    const spool = opts.spool ?? `${dir}.spool`;
    const sink = new Spool(spool);
    const base = opts.base;
    const windows = new Map<string, Windows>();
    const spools = new Set<string>();
    const entries = new Map<string, ContextEntry>();
    let size = 0;
    try {
      for await (const e of extract(stream, { endInPadding: true, ...(opts.signal ? { signal: opts.signal } : {}) })) {
        const h = e.header;
        if (h.name.split('/').includes('..') || h.name.startsWith('/'))
          throw new InvalidArgumentError(`context entry "${h.name}" is outside the context`);
        const name = contextName(h.name);
        if (name === '') continue;
        checkParents(entries, name);
        const text = entryHeaderText(entryHeader(h));
        const entry: ContextEntry = {
          type: h.type,
          sum: '',
          linkname: h.linkname,
          size: h.type === 'file' ? h.size : 0,
          mode: h.mode,
          mtime: h.mtime,
          head: text,
        };
        entries.set(name, entry);
        const was = base?.entries.get(name);
        if (h.type !== 'file' || h.size === 0) {
          entry.sum = was?.head === text ? was.sum : createHash('sha256').update(text, 'utf8').digest('hex');
          // an empty file is written out from no spool bytes: the spool it names is never read
          if (h.type === 'file') Object.assign(entry, { spool, offset: 0 });
          continue;
        }
        size += h.size;
        // the base's body, compared chunk by chunk until one differs
        let w: Windows | undefined;
        if (was?.head === text && was.spool !== undefined && was.offset !== undefined && was.size === h.size) {
          w = windows.get(was.spool);
          if (!w) windows.set(was.spool, (w = new Windows(was.spool)));
        }
        let matched = 0;
        let hash: Hash | undefined;
        for await (const c of e.body) {
          if (hash === undefined) {
            if (w && (w.sameNow(was!.offset! + matched, c) ?? (await w.same(was!.offset! + matched, c)))) {
              matched += c.length;
              continue;
            }
            // the bytes before this chunk are the base's: hashed and spooled from there
            hash = createHash('sha256').update(text, 'utf8');
            entry.spool = spool;
            entry.offset = sink.offset;
            if (matched > 0)
              for await (const p of spoolRange(was!.spool!, was!.offset!, matched)) await sink.add(p, hash);
          }
          await sink.add(c, hash);
        }
        if (hash === undefined && w) {
          entry.sum = was!.sum;
          entry.spool = was!.spool!;
          entry.offset = was!.offset!;
          spools.add(was!.spool!);
        } else {
          // (a body of size > 0 has chunks: without a base to match, the first one made the hash)
          entry.sum = hash!.digest('hex');
          spools.add(spool);
        }
      }
      await unpin(entries, spools, spool, sink, size);
    } catch (err) {
      await sink.end();
      throw err;
    } finally {
      for (const w of windows.values()) await w.close();
    }
    await sink.end();
    return { context: new BuildContext(dir, entries, size, spools) };
  }

  /**
   * Resolves a path of the context, following symbolic links inside it (a link that points outside, or too many
   * links, resolves to where it points as far as the context goes). Returns the cleaned name, '' for the root.
   *
   * Synchronous on purpose, though it runs on berthd's thread for each COPY/ADD source: it reads only the entries
   * received with the context (the `entries` map), never the file system, and does at most one map look-up per
   * component of the path and of at most 40 link targets. An async version would cost a promise per call for no
   * I/O to wait on.
   */
  resolve(path: string): string {
    const parts = contextName(path).split('/').filter(Boolean);
    const out: string[] = [];
    let links = 0;
    while (parts.length > 0) {
      const c = parts.shift()!;
      if (c === '..') {
        out.pop();
        continue;
      }
      const name = [...out, c].join('/');
      const e = this.entries.get(name);
      if (e?.type === 'symlink' && links++ < 40) {
        const target = e.linkname.split('/').filter((p) => p !== '' && p !== '.');
        if (e.linkname.startsWith('/')) out.length = 0;
        parts.unshift(...target);
        continue;
      }
      out.push(c);
    }
    return out.join('/');
  }

  /** The entry at a cleaned name (the root is a directory). */
  stat(name: string): ContextEntry | undefined {
    if (name === '') return { type: 'directory', sum: '', linkname: '', size: 0 };
    return this.entries.get(name);
  }

  /**
   * Names below a directory (not itself), in sorted order: a range of every name sorted once (a large COPY asks
   * twice per build, for its source hash and its entries, and sorting 10,000 names took ~10 ms each time).
   */
  below(name: string): string[] {
    const all = (this.#sorted ??= [...this.entries.keys()].sort());
    if (name === '') return all.filter((k) => k !== '');
    const prefix = `${name}/`;
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (all[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < all.length && all[end]!.startsWith(prefix)) end++;
    return all.slice(lo, end);
  }

  /** The sum the classic builder uses for a name: the entry's tarsum, a link's target's, or the name itself. */
  sumOf(name: string): string {
    const e = this.entries.get(this.resolve(name));
    return e?.sum || (name === '' ? '.' : name);
  }

  /** Writes `name` and everything below it (and their parents) into the directory, once. */
  async materialize(name: string): Promise<void> {
    const names = [...parentsOf(name), ...(name === '' ? [] : [name]), ...this.below(name)];
    const dirs: string[] = [];
    for (const n of names) {
      const e = this.entries.get(n);
      if (e?.type === 'directory') dirs.push(n);
      await this.#one(n);
    }
    // directory times last: writing into them moved them
    for (const d of dirs.reverse()) {
      const e = this.entries.get(d)!;
      if (e.mtime !== undefined) await utimes(join(this.dir, d), e.mtime, e.mtime);
    }
  }

  #one(name: string): Promise<void> {
    let p = this.#made.get(name);
    if (!p) {
      p = this.#write(name);
      this.#made.set(name, p);
    }
    return p;
  }

  async #write(name: string): Promise<void> {
    const e = this.entries.get(name);
    const path = join(this.dir, name);
    if (!e) {
      await mkdir(path, { recursive: true });
      return;
    }
    const mtime = e.mtime ?? 0;
    switch (e.type) {
      case 'directory':
        await mkdir(path, { recursive: true });
        await chmod(path, e.mode ?? 0o755);
        break;
      case 'file': {
        if (e.spool === undefined) break; // already in the directory
        const fh = await open(path, 'w', e.mode ?? 0o644);
        try {
          if (e.size > 0) {
            const start = e.offset ?? 0;
            const stream = createReadStream(e.spool, { start, end: start + e.size - 1, highWaterMark: 1 << 20 });
            for await (const c of stream) await fh.write(c as Buffer);
          }
          await fh.chmod(e.mode ?? 0o644);
        } finally {
          await fh.close();
        }
        await utimes(path, mtime, mtime);
        break;
      }
      case 'symlink':
        await symlink(e.linkname, path);
        await lutimes(path, mtime, mtime).catch(() => {});
        break;
      case 'link': {
        const target = contextName(e.linkname);
        if (this.entries.get(target)?.type !== 'file')
          throw new InvalidArgumentError(`context entry "${name}" links to "${e.linkname}", no file`);
        await this.#one(target);
        await link(join(this.dir, target), path);
        break;
      }
      default:
        // devices and FIFOs are not copied into images from a context; their sums still count
        break;
    }
  }

  /**
   * Writes a file's content to `dest`, created with `mode`: straight from the spool, or a copy of the file in the
   * directory (a kept context, or one already written out).
   */
  async copyFileTo(name: string, dest: string, mode: number): Promise<void> {
    const e = this.entries.get(name);
    if (e?.type === 'link') return this.copyFileTo(contextName(e.linkname), dest, mode);
    if (e?.spool === undefined || e.offset === undefined) {
      await copyFile(join(this.dir, name), dest);
      await chmod(dest, mode);
      return;
    }
    const fh = await open(dest, 'w', mode);
    try {
      if (e.size > 0) {
        const stream = createReadStream(e.spool, {
          start: e.offset,
          end: e.offset + e.size - 1,
          highWaterMark: 1 << 20,
        });
        for await (const c of stream) await fh.write(c as Buffer);
      }
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
  }

  /** A file's content, from the spool or the directory; nothing is opened before it is read. */
  async *read(name: string): AsyncGenerator<Uint8Array> {
    const e = this.entries.get(name);
    if (e?.type === 'link') {
      yield* this.read(contextName(e.linkname));
      return;
    }
    if (e && e.size === 0) return;
    if (e?.spool !== undefined && e.offset !== undefined) {
      // positioned reads on one handle per spool, in buffers no bigger than the file: a COPY of many small files
      // neither opens a stream per file nor allocates a 1 MiB buffer for each
      const fh = await this.#handle(e.spool);
      let pos = e.offset;
      let left = e.size;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(left, 1 << 20));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0)
          throw new DataLossError(`the body of context entry "${name}" ends ${left} bytes early in ${e.spool}`);
        pos += bytesRead;
        left -= bytesRead;
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      }
      return;
    }
    const stream = createReadStream(join(this.dir, name), { highWaterMark: 1 << 20 });
    for await (const c of stream) yield c as Buffer;
  }

  #handle(path: string): Promise<FileHandle> {
    let h = this.#handles.get(path);
    if (!h) {
      h = open(path, 'r');
      this.#handles.set(path, h);
      h.catch(() => this.#handles.delete(path));
    }
    return h;
  }

  /** Closes the handles `read` opened; the context stays usable (they are opened again when needed). */
  async close(): Promise<void> {
    const handles = [...this.#handles.values()];
    this.#handles.clear();
    for (const h of handles) await h.then((fh) => fh.close()).catch(() => {});
  }

  async remove(): Promise<void> {
    await this.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A spool being written: made on the first byte (an upload that matches the last one in full writes nothing), each
 * chunk hashed as it is written.
 */
class Spool {
  readonly #path: string;
  #out: WriteStream | undefined;
  #failed: Promise<never> | undefined;
  offset = 0;

  constructor(path: string) {
    this.#path = path;
  }

  async add(c: Uint8Array, hash?: Hash): Promise<void> {
    hash?.update(c);
    this.offset += c.length;
    if (!this.#out) {
      const out = createWriteStream(this.#path, { mode: 0o600, highWaterMark: 1 << 20 });
      this.#failed = new Promise<never>((_, reject) => out.once('error', reject));
      this.#failed.catch(() => {});
      this.#out = out;
    }
    if (!this.#out.write(c))
      await Promise.race([new Promise<void>((r) => this.#out!.once('drain', () => r())), this.#failed!]);
  }

  /** Ends the file (when one was made); a write that failed fails here. */
  async end(): Promise<void> {
    const out = this.#out;
    if (!out) return;
    this.#out = undefined;
    await Promise.race([new Promise<void>((resolve) => out.end(resolve)), this.#failed!]);
  }
}

/**
 * Bounds the dead bytes the base's spools keep on disk: a spool stays while any body of the upload is in it, so one
 * small unchanged file could keep a whole old spool (a 400 MB context held 800 MB). While the base's spools this
 * upload reads hold more dead bytes than half the context's live ones, the bodies of the one with the least of it
 * in use are copied into this upload's spool and that spool is let go: the spools the upload keeps then hold at
 * most 1.5 times its bytes. A spool mostly in use is copied last, and only a changed upload copies at all.
 */
async function unpin(
  entries: ReadonlyMap<string, ContextEntry>,
  spools: Set<string>,
  own: string,
  sink: Spool,
  live: number,
): Promise<void> {
  const held = new Map<string, { used: number; size: number; entries: ContextEntry[] }>();
  for (const e of entries.values()) {
    if (e.type !== 'file' || e.size === 0 || e.spool === undefined || e.spool === own) continue;
    let h = held.get(e.spool);
    if (!h) held.set(e.spool, (h = { used: 0, size: 0, entries: [] }));
    h.used += e.size;
    h.entries.push(e);
  }
  if (held.size === 0) return;
  let dead = 0;
  for (const [path, h] of held) {
    h.size = (await stat(path).catch(() => ({ size: h.used }))).size;
    dead += Math.max(0, h.size - h.used);
  }
  const byUse = [...held].sort(([, a], [, b]) => a.used / a.size - b.used / b.size);
  for (const [path, h] of byUse) {
    if (dead <= live / 2) break;
    // in spool order: one pass through the old spool
    h.entries.sort((a, b) => a.offset! - b.offset!);
    for (const e of h.entries) {
      const at = sink.offset;
      for await (const p of spoolRange(path, e.offset!, e.size)) await sink.add(p);
      e.spool = own;
      e.offset = at;
    }
    spools.delete(path);
    spools.add(own);
    dead -= Math.max(0, h.size - h.used);
  }
}

/** `length` bytes of a spool from `start`. */
async function* spoolRange(path: string, start: number, length: number): AsyncGenerator<Buffer> {
  for await (const c of createReadStream(path, { start, end: start + length - 1, highWaterMark: 1 << 20 }))
    yield c as Buffer;
}

/** The header fields an entry is hashed with, its name exactly as the archive has it (`./a` and `a` differ). */
function entryHeader(h: TarHeader): EntryHeader {
  return {
    name: h.name,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.type === 'file' ? h.size : 0,
    typeflag: TYPEFLAG[h.type],
    linkname: h.linkname,
    devmajor: h.devmajor,
    devminor: h.devminor,
    ...(h.xattrs.size > 0
      ? { xattrs: Object.fromEntries([...h.xattrs].map(([k, v]) => [k, v.toString('utf8')])) }
      : {}),
  };
}

/** Every parent of `name` must be a directory (or not listed): nothing is ever written below a link or a file. */
function checkParents(entries: ReadonlyMap<string, ContextEntry>, name: string): void {
  for (const p of parentsOf(name)) {
    const e = entries.get(p);
    if (e && e.type !== 'directory')
      throw new InvalidArgumentError(`context entry "${name}" is below "${p}", which is not a directory`);
  }
}

function parentsOf(name: string): string[] {
  const parts = name.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}
