/**
 * The build context: the body of `POST /build` (a tar, possibly compressed, or a Dockerfile alone) streamed into
 * a directory, each entry's tarsum computed as it passes (cachekey.ts), so COPY's source hashes need no second
 * read. Nothing is held whole in memory: bodies of large files stream to disk, small ones are written a few at a
 * time while the next entries arrive.
 *
 * The directory is made only of what the archive holds, and nothing is written through a symbolic link: an entry
 * below a symbolic link, or whose name leaves the context, is refused.
 */
import { createWriteStream } from 'node:fs';
import { chmod, link, lutimes, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError } from '../util/errors.ts';
import { Limit } from '../util/lock.ts';
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

const SMALL_FILE = 1 << 20;
/** The largest Dockerfile sent alone as the body. */
const MAX_DOCKERFILE = 16 << 20;

/** A context name as the docker CLI writes it: relative, cleaned, no `./`; '' for the root. */
export function contextName(name: string): string {
  const n = posix.normalize(`/${name}`).slice(1);
  return n.endsWith('/') ? n.slice(0, -1) : n;
}

export class BuildContext {
  /** Where the files are. */
  readonly dir: string;
  /** Every entry by its cleaned name ('' is not in it). */
  readonly entries: Map<string, ContextEntry>;
  /** Bytes of file content. */
  readonly size: number;

  constructor(dir: string, entries: Map<string, ContextEntry>, size: number) {
    this.dir = dir;
    this.entries = entries;
    this.size = size;
  }

  /**
   * Reads a context body into `dir` (which must not exist). A body that is not an archive is a Dockerfile sent
   * alone: the context is then empty and the Dockerfile is returned.
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
    const writer = new ContextWriter(dir);
    for await (const e of extract(stream, opts.signal ? { signal: opts.signal } : {})) {
      await writer.add(e.header, e.body);
    }
    await writer.finish();
    return { context: new BuildContext(dir, writer.entries, writer.size) };
  }

  /**
   * Resolves a path of the context, following symbolic links inside it (a link that points outside, or too many
   * links, resolves to where it points as far as the context goes). Returns the cleaned name, '' for the root.
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

  /** Names below a directory (not itself), in sorted order. */
  below(name: string): string[] {
    const prefix = name === '' ? '' : `${name}/`;
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix) && k !== name).sort();
  }

  /** The sum the classic builder uses for a name: the entry's tarsum, a link's target's, or the name itself. */
  sumOf(name: string): string {
    const e = this.entries.get(this.resolve(name));
    return e?.sum || (name === '' ? '.' : name);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Writes entries under a directory, refusing names that leave it or pass through a symbolic link. */
class ContextWriter {
  readonly entries = new Map<string, ContextEntry>();
  size = 0;
  readonly #dir: string;
  readonly #dirs = new Set<string>(['']);
  readonly #pending = new Map<string, Promise<void>>();
  readonly #limit = new Limit(8);
  readonly #dirTimes: [string, number][] = [];
  #failure: unknown;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async add(h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    const raw = h.name;
    if (raw.split('/').includes('..') || raw.startsWith('/'))
      throw new InvalidArgumentError(`context entry "${raw}" is outside the context`);
    const name = contextName(raw);
    if (name === '') return;
    await this.#parents(name);
    const path = join(this.#dir, name);
    // hashed with the name exactly as the archive has it (`./a` and `a` hash differently, as in the classic builder)
    const header: EntryHeader = {
      name: raw,
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
    const hash = entryHash(header);
    const previous = this.entries.get(name);
    if (previous && previous.type !== 'directory') {
      await this.#pending.get(name);
      await rm(path, { force: true });
    }
    const mtime = h.mtime;
    switch (h.type) {
      case 'directory':
        if (!this.#dirs.has(name)) {
          await mkdir(path);
          this.#dirs.add(name);
        }
        await chmod(path, h.mode);
        this.#dirTimes.push([path, mtime]);
        break;
      case 'file': {
        this.size += h.size;
        if (h.size <= SMALL_FILE) {
          const chunks: Buffer[] = [];
          for await (const c of body) {
            hash.update(c);
            chunks.push(c);
          }
          await this.#background(name, async () => {
            await writeFile(path, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), { mode: h.mode });
            await chmod(path, h.mode);
            await utimes(path, mtime, mtime);
          });
        } else {
          const out = createWriteStream(path, { mode: h.mode });
          await pipeline(async function* () {
            for await (const c of body) {
              hash.update(c);
              yield c;
            }
          }, out);
          await chmod(path, h.mode);
          await utimes(path, mtime, mtime);
        }
        break;
      }
      case 'symlink':
        await symlink(h.linkname, path);
        await lutimes(path, mtime, mtime).catch(() => {});
        break;
      case 'link': {
        const target = contextName(h.linkname);
        const t = this.entries.get(target);
        if (t?.type !== 'file')
          throw new InvalidArgumentError(`context entry "${raw}" links to "${h.linkname}", no file`);
        await this.#pending.get(target);
        await link(join(this.#dir, target), path);
        break;
      }
      default:
        // devices and FIFOs are not copied into images from a context; their sums still count
        break;
    }
    this.entries.set(name, { type: h.type, sum: hash.digest('hex'), linkname: h.linkname, size: header.size });
  }

  /** Every parent of `name` is a directory of ours: made when missing, refused when something else. */
  async #parents(name: string): Promise<void> {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (this.#dirs.has(p)) continue;
      if (this.entries.has(p))
        throw new InvalidArgumentError(`context entry "${name}" is below "${p}", which is not a directory`);
      await mkdir(join(this.#dir, p));
      this.#dirs.add(p);
    }
  }

  /** Runs a write beside the reading, at most 8 at once: the reading waits for a free slot (backpressure). */
  async #background(name: string, fn: () => Promise<void>): Promise<void> {
    await this.#limit.take();
    const p = fn()
      .catch((err: unknown) => {
        this.#failure ??= err;
      })
      .finally(() => {
        this.#limit.release();
        if (this.#pending.get(name) === p) this.#pending.delete(name);
      });
    this.#pending.set(name, p);
  }

  async finish(): Promise<void> {
    await Promise.all(this.#pending.values());
    if (this.#failure !== undefined) throw this.#failure;
    // directories last, deepest first: writing into them moved their times
    for (const [path, t] of this.#dirTimes.reverse()) await utimes(path, t, t);
  }
}
