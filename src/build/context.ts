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
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, type FileHandle, link, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { DataLossError, InvalidArgumentError } from '../util/errors.ts';
import { extract, type TarHeader } from '../util/tar/index.ts';
import { type EntryHeader, entryHash } from './cachekey.ts';
import { looksLikeTar, openArchive } from './decompress.ts';

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
  /** The spool this context received its bodies into (removed with it); undefined for a kept context. */
  readonly #spool: string | undefined;
  readonly #made = new Map<string, Promise<void>>();
  /** Spools and segments open for `read`, each opened once for the build (not once per file). */
  readonly #handles = new Map<string, Promise<FileHandle>>();
  /** Every name, sorted (`below`), once asked for: the entries do not change once the context is made. */
  #sorted: string[] | undefined;

  constructor(dir: string, entries: Map<string, ContextEntry>, size: number, spool?: string) {
    this.dir = dir;
    this.entries = entries;
    this.size = size;
    this.#spool = spool;
  }

  /**
   * Reads a context body: its entries into memory, the files' bodies into a spool beside `dir` (which must not
   * exist). A body that is not an archive is a Dockerfile sent alone: the context is then empty.
   */
  static async receive(
    source: AsyncIterable<Uint8Array>,
    dir: string,
    opts: { signal?: AbortSignal } = {},
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
    const spool = `${dir}.spool`;
    const out = createWriteStream(spool, { mode: 0o600, highWaterMark: 1 << 20 });
    const failed = new Promise<never>((_, reject) => out.once('error', reject));
    failed.catch(() => {});
    const entries = new Map<string, ContextEntry>();
    let offset = 0;
    try {
      for await (const e of extract(stream, { endInPadding: true, ...(opts.signal ? { signal: opts.signal } : {}) })) {
        const h = e.header;
        if (h.name.split('/').includes('..') || h.name.startsWith('/'))
          throw new InvalidArgumentError(`context entry "${h.name}" is outside the context`);
        const name = contextName(h.name);
        if (name === '') continue;
        checkParents(entries, name);
        const hash = entryHash(entryHeader(h));
        const start = offset;
        if (h.type === 'file') {
          for await (const c of e.body) {
            hash.update(c);
            offset += c.length;
            if (!out.write(c)) await Promise.race([new Promise<void>((r) => out.once('drain', () => r())), failed]);
          }
        }
        entries.set(name, {
          type: h.type,
          sum: hash.digest('hex'),
          linkname: h.linkname,
          size: h.type === 'file' ? h.size : 0,
          mode: h.mode,
          mtime: h.mtime,
          ...(h.type === 'file' ? { spool, offset: start } : {}),
        });
      }
    } finally {
      await new Promise<void>((resolve) => out.end(resolve));
    }
    return { context: new BuildContext(dir, entries, offset, spool) };
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
    if (this.#spool) await rm(this.#spool, { force: true });
  }
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
