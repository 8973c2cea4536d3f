/**
 * Where COPY and ADD read: the build context (entries and their sums as they were received) or the root of a
 * stage or an image (a mounted snapshot, hashed on demand). Both answer the same questions: what a path resolves
 * to (symbolic links followed, never out of the root), what it is, what is below it, and its source hash in the
 * classic builder's format (cachekey.ts). Globs use Go's `filepath.Match`, as the classic builder does.
 */
import { createReadStream } from 'node:fs';
import { chmod, copyFile, lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { resolveInRoot } from '../util/rootpath.ts';
import { dirSourceHash, type EntryHeader, entryHash, fileSourceHash } from './cachekey.ts';
import { type BuildContext, type ContextEntry, contextName } from './context.ts';

export type SourceType = 'file' | 'directory' | 'symlink' | 'other';

/** What COPY keeps of a source entry. */
export interface SourceInfo {
  type: SourceType;
  /** Permission bits with setuid/setgid/sticky. */
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  size: number;
  linkname: string;
}

export interface SourceFS {
  /** The host directory the names are relative to. */
  readonly root: string;
  /** A name with symbolic links followed inside the root ('' for the root itself). */
  resolve(name: string): Promise<string>;
  /** What a (resolved) name is, without following a link; undefined when there is nothing. */
  type(name: string): Promise<SourceType | undefined>;
  /** Every name below a directory, depth first, sorted, links not followed. */
  below(name: string): Promise<string[]>;
  /** The classic builder's hash of a resolved name: `file:<sum>` or `dir:<sum>`. */
  hash(name: string): Promise<string>;
  /** An entry's metadata, links not followed (at once where it is at hand: a context's). */
  info(name: string): SourceInfo | Promise<SourceInfo>;
  /** Writes a file's content to `dest` (a new file, created with `mode`). */
  copyTo(name: string, dest: string, mode: number): Promise<void>;
  /** A file's content; nothing is opened before it is read. */
  read(name: string): AsyncIterable<Uint8Array>;
  /** Makes `name` and what is below it readable under `root` (a received context writes files only when asked). */
  prepare?(name: string): Promise<void>;
  /**
   * What a file is made from, where that is known without reading it (a context file's tarsum: its name, mode,
   * size and content); undefined otherwise. Two files with the same origin have the same content.
   */
  origin?(name: string): string | undefined;
  /** Where a file's content lies whole in a file on the host (a context's spool or kept segment), if it does. */
  location?(name: string): { path: string; offset: number; size: number } | undefined;
}

/** The build context as a source. */
export class ContextSource implements SourceFS {
  readonly #ctx: BuildContext;
  constructor(ctx: BuildContext) {
    this.#ctx = ctx;
  }
  get root(): string {
    return this.#ctx.dir;
  }
  async resolve(name: string): Promise<string> {
    return this.#ctx.resolve(name);
  }
  async type(name: string): Promise<SourceType | undefined> {
    return typeOf(this.#ctx.stat(name));
  }
  async below(name: string): Promise<string[]> {
    return this.#ctx.below(name);
  }
  prepare(name: string): Promise<void> {
    return this.#ctx.materialize(name);
  }
  info(name: string): SourceInfo {
    const e = this.#ctx.stat(name);
    // a hard link has the content (and size) of its target
    const content = e?.type === 'link' ? (this.#ctx.stat(contextName(e.linkname)) ?? e) : e;
    const type = typeOf(e) ?? 'other';
    return {
      type,
      mode: e?.mode ?? 0o755,
      mtime: e?.mtime ?? 0,
      size: content?.size ?? 0,
      linkname: e?.type === 'link' ? '' : (e?.linkname ?? ''),
    };
  }
  read(name: string): AsyncIterable<Uint8Array> {
    return this.#ctx.read(name);
  }
  location(name: string): { path: string; offset: number; size: number } | undefined {
    let e = this.#ctx.stat(name);
    if (e?.type === 'link') e = this.#ctx.stat(contextName(e.linkname));
    if (e?.type !== 'file' || e.spool === undefined || e.offset === undefined) return undefined;
    return { path: e.spool, offset: e.offset, size: e.size };
  }
  origin(name: string): string | undefined {
    const e = this.#ctx.stat(name);
    return e?.type === 'file' && e.sum !== '' ? e.sum : undefined;
  }
  copyTo(name: string, dest: string, mode: number): Promise<void> {
    return this.#ctx.copyFileTo(name, dest, mode);
  }
  async hash(name: string): Promise<string> {
    const ctx = this.#ctx;
    const e = ctx.stat(name);
    if (e?.type !== 'directory') return fileSourceHash(ctx.sumOf(name));
    // a name below a directory is an entry whose parents are directories (or not sent), so it resolves to itself
    // unless it is a symbolic link: `sumOf`'s resolving (a normalize, a split and a look-up per component) is
    // needed only for those, which matters for a directory of 10,000 files hashed on every build
    const sums = [ctx.sumOf(name)];
    for (const n of ctx.below(name)) {
      const below = ctx.entries.get(n);
      sums.push(below !== undefined && below.type !== 'symlink' ? below.sum || n : ctx.sumOf(n));
    }
    return dirSourceHash(sums);
  }
}

/** A context entry's type as a COPY source sees it (a hard link is a file). */
function typeOf(e: ContextEntry | undefined): SourceType | undefined {
  if (!e) return undefined;
  if (e.type === 'directory' || e.type === 'file' || e.type === 'symlink') return e.type;
  if (e.type === 'link') return 'file';
  return 'other';
}

/** A directory on the host (a stage's or an image's root, mounted read-only) as a source. */
export class DirSource implements SourceFS {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  async resolve(name: string): Promise<string> {
    return relative(this.root, await resolveInRoot(this.root, contextName(name)));
  }

  async info(name: string): Promise<SourceInfo> {
    const path = join(this.root, name);
    const st = await lstat(path);
    return {
      type: st.isDirectory() ? 'directory' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other',
      mode: st.mode & 0o7777,
      mtime: st.mtimeMs / 1000,
      size: st.size,
      linkname: st.isSymbolicLink() ? await readlink(path) : '',
    };
  }

  async copyTo(name: string, dest: string, mode: number): Promise<void> {
    await copyFile(join(this.root, name), dest);
    await chmod(dest, mode);
  }

  async *read(name: string): AsyncGenerator<Uint8Array> {
    for await (const c of createReadStream(join(this.root, name), { highWaterMark: 1 << 20 })) yield c as Buffer;
  }

  async type(name: string): Promise<SourceType | undefined> {
    const st = await lstat(join(this.root, name)).catch(() => undefined);
    if (!st) return undefined;
    if (st.isDirectory()) return 'directory';
    if (st.isFile()) return 'file';
    if (st.isSymbolicLink()) return 'symlink';
    return 'other';
  }

  async below(name: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (rel: string) => {
      for (const n of (await readdir(join(this.root, rel))).sort()) {
        const r = rel === '' ? n : `${rel}/${n}`;
        out.push(r);
        const st = await lstat(join(this.root, r));
        if (st.isDirectory()) await walk(r);
      }
    };
    await walk(name);
    return out;
  }

  async hash(name: string): Promise<string> {
    const st = await lstat(join(this.root, name)).catch(() => undefined);
    if (!st?.isDirectory()) return fileSourceHash(await this.#sum(name));
    const sums = [name === '' ? '.' : await this.#sum(name)];
    for (const n of await this.below(name)) sums.push(await this.#sum(await this.resolve(n)));
    return dirSourceHash(sums);
  }

  /** The tarsum of one entry, read from disk. */
  async #sum(name: string): Promise<string> {
    const path = join(this.root, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st) return name;
    // as Go's tar.FileInfoHeader makes it for the classic builder: the file type bits in the mode, owner names
    // from the host's user database
    const header: EntryHeader = {
      name: st.isDirectory() ? `${name}/` : name,
      mode: st.mode,
      uid: st.uid,
      gid: st.gid,
      size: st.isFile() ? st.size : 0,
      typeflag: st.isDirectory() ? '5' : st.isSymbolicLink() ? '2' : st.isFile() ? '0' : '6',
      linkname: st.isSymbolicLink() ? await readlink(path) : '',
      uname: (await hostNames()).users.get(st.uid) ?? '',
      gname: (await hostNames()).groups.get(st.gid) ?? '',
    };
    const h = entryHash(header);
    if (st.isFile() && st.size > 0) for await (const c of createReadStream(path)) h.update(c as Buffer);
    return h.digest('hex');
  }
}

let names: Promise<{ users: Map<number, string>; groups: Map<number, string> }> | undefined;

/** The host's user and group names by ID (read once). */
function hostNames(): Promise<{ users: Map<number, string>; groups: Map<number, string> }> {
  names ??= (async () => {
    const read = async (f: string) => {
      const m = new Map<number, string>();
      for (const l of (await readFile(f, 'utf8').catch(() => '')).split('\n')) {
        const p = l.split(':');
        if (p.length > 2 && /^\d+$/.test(p[2]!) && !m.has(Number(p[2]))) m.set(Number(p[2]), p[0]!);
      }
      return m;
    };
    return { users: await read('/etc/passwd'), groups: await read('/etc/group') };
  })();
  return names;
}

/** Whether a source argument is a glob (Go's filepath.Match metacharacters). */
export function hasWildcards(s: string): boolean {
  return /[*?[\\]/.test(s);
}

/** Go's `filepath.Match` on slash-separated names: `*` and `?` never match `/`. Throws on a malformed pattern. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) throw new SyntaxError(`syntax error in pattern: ${pattern}`);
      re += escapeRe(pattern[i]!);
    } else if (c === '[') {
      let j = i + 1;
      let cls = '';
      if (pattern[j] === '^') {
        cls += '^';
        j++;
      }
      let closed = false;
      for (; j < pattern.length; j++) {
        const d = pattern[j]!;
        if (d === ']' && cls.replace('^', '') !== '') {
          closed = true;
          break;
        }
        if (d === '\\') {
          j++;
          const e = pattern[j] ?? '';
          cls += e === '-' ? '\\-' : escapeRe(e);
        } else if (d === '-') cls += '-';
        else cls += escapeRe(d);
      }
      if (!closed) throw new SyntaxError(`syntax error in pattern: ${pattern}`);
      re += cls.startsWith('^') ? `(?!/)[${cls}]` : `[${cls}]`;
      i = j;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, 'u');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
