import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writevSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { InvalidArgumentError, isErrno } from '../util/errors.ts';
import {
  entryPath,
  isAbsoluteEntry,
  normalise,
  OPAQUE_MARKER,
  times,
  WHITEOUT_PREFIX,
  type PortableHeader,
  type WhiteoutMode,
} from './layer-rules.ts';

const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';

type Sys = typeof import('../sys/index.ts');
let sysModule: Sys | undefined;
/**
 * sys/ (libc's mknod and lsetxattr through koffi, with the netlink, spawn and socket modules beside them), loaded by
 * the first entry that needs it: a device or fifo, an xattr, an overlay whiteout or opaque directory. Imported at the
 * top, it was a third of what an unpack thread's modules cost it to load, at every start of the thread, for entries
 * many layers do not have (docs/design-notes.md, "What an unpack thread's start costs").
 */
function sys(): Sys {
  sysModule ??= createRequire(import.meta.url)('../sys/index.ts') as Sys;
  return sysModule;
}
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Applies a layer's tar entries to `root`, one call at a time and every file system call synchronous: it runs in
 * a worker thread (an applier, see pool.ts), where blocking on ext4's journal holds up nobody else, and where a
 * round trip through the libuv pool (shared with gunzip and the content store's writes) would only add waiting.
 *
 * For each entry: `begin(header)`; if it returns true (a regular file), its body follows through `write` and
 * ends with `endFile`; `finish()` after the last entry sets directories' times. The rules are `unpackLayer`'s.
 *
 * Alone, one SyncUnpacker applies a whole layer in order. Several (one per applier thread) share a layer when the
 * reading thread orders their work (dispatch.ts): then `keepDirTimes` is false (the reader sets directories' times
 * at the end), missing parents arrive as `makeParent` steps, and `forgetDirs()` drops what this one knows of the
 * tree after another removed part of it.
 */
export class SyncUnpacker {
  readonly #root: string;
  readonly #mode: WhiteoutMode;
  /** Relative paths known to be real directories (not symlinks); '' is the root. */
  readonly #dirs = new Set<string>(['']);
  /** 'delete' mode: paths written by this layer (and their ancestors), kept through opaque directories. */
  readonly #written = new Set<string>();
  /** Directory times to set once everything is written: path → [atime, mtime]. */
  readonly #dirTimes = new Map<string, [number, number]>();
  /** The regular file being written, between `begin` and `endFile`. */
  #fd = -1;
  #file: { abs: string; header: PortableHeader } | undefined;
  readonly #keepDirTimes: boolean;

  constructor(root: string, mode: WhiteoutMode, opts: { keepDirTimes?: boolean } = {}) {
    this.#root = root;
    this.#mode = mode;
    this.#keepDirTimes = opts.keepDirTimes ?? true;
  }

  /** Applies one entry; true if it is a regular file whose body must follow (`write`, then `endFile`). */
  begin(header: PortableHeader): boolean {
    const path = entryPath(header.name);
    if ('refused' in path) throw new InvalidArgumentError(path.refused);
    const rel = path.rel;
    if (rel === '') return false; // the root itself: its metadata belongs to the snapshot, as Docker skips '.'
    const base = posix.basename(rel);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.#whiteout(header.name, rel, base);
      return false;
    }
    this.#ensureParent(header.name, rel, true);
    this.#markWritten(rel);
    const abs = this.#abs(rel);
    switch (header.type) {
      case 'directory':
        this.#directory(rel, header);
        return false;
      case 'file':
        this.#fd = this.#replacing(rel, () => openSync(abs, CREATE_FLAGS, 0o600));
        this.#file = { abs, header };
        return true;
      case 'symlink':
        this.#replacing(rel, () => symlinkSync(header.linkname, abs));
        this.#metadata(abs, header, true);
        return false;
      case 'link':
        this.#hardLink(rel, header);
        return false;
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const { makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO } = sys();
        const type = header.type === 'fifo' ? S_IFIFO : header.type === 'block-device' ? S_IFBLK : S_IFCHR;
        const dev = header.type === 'fifo' ? 0n : makedev(header.devmajor, header.devminor);
        this.#replacing(rel, () => mknod(abs, type | (header.mode & 0o7777), dev));
        this.#metadata(abs, header, false);
        return false;
      }
      default:
        throw new InvalidArgumentError(`layer entry "${header.name}" has unsupported type "${String(header.type)}"`);
    }
  }

  /** Appends to the file `begin` opened. */
  write(chunks: Uint8Array[]): void {
    let rest = chunks;
    while (rest.length > 0) rest = skipBytes(rest, writevSync(this.#fd, rest));
  }

  /** Owner, mode, xattrs and times of the file `begin` opened, then closes it. */
  endFile(): void {
    const { abs, header: h } = this.#file!;
    try {
      fchownSync(this.#fd, h.uid, h.gid);
      fchmodSync(this.#fd, h.mode & 0o7777);
      this.#xattrs(abs, h);
      const [atime, mtime] = times(h);
      futimesSync(this.#fd, atime, mtime);
    } finally {
      this.close();
    }
  }

  /**
   * A parent directory of entry `name` that the layer does not name, made as `begin` makes missing parents (0755,
   * root-owned), after the same checks of each existing ancestor (a real directory, never a symlink).
   */
  makeParent(rel: string, name: string): void {
    this.#ensureParent(name, `${rel}/.`, true);
  }

  /** Forgets which paths are directories: another thread removed part of the tree, so each is checked again. */
  forgetDirs(): void {
    this.#dirs.clear();
    this.#dirs.add('');
  }

  /** Sets directories' times, after everything else. */
  finish(): void {
    for (const [rel, [atime, mtime]] of this.#dirTimes) {
      try {
        utimesSync(this.#abs(rel), atime, mtime);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err; // removed by a later whiteout
      }
    }
  }

  /** Closes the file being written, if any (also after a failure). */
  close(): void {
    const fd = this.#fd;
    this.#fd = -1;
    this.#file = undefined;
    if (fd >= 0) closeSync(fd);
  }

  #abs(rel: string): string {
    return rel === '' ? this.#root : `${this.#root}/${rel}`;
  }

  #markWritten(rel: string): void {
    if (this.#mode !== 'delete') return;
    for (let p = rel; p !== '.' && !this.#written.has(p); p = posix.dirname(p)) this.#written.add(p);
  }

  /**
   * Makes sure every ancestor of `rel` is a real directory, creating missing ones (0755, root-owned, as
   * Docker does) when `create`. Returns false if one is missing and `create` is false.
   */
  #ensureParent(name: string, rel: string, create: boolean): boolean {
    const parent = posix.dirname(rel);
    if (parent === '.' || this.#dirs.has(parent)) return true;
    let p = '';
    for (const part of parent.split('/')) {
      p = p === '' ? part : `${p}/${part}`;
      if (this.#dirs.has(p)) continue;
      const st = lstatSync(this.#abs(p), { throwIfNoEntry: false });
      if (st === undefined) {
        if (!create) return false;
        mkdirSync(this.#abs(p), 0o755);
        this.#markWritten(p);
        this.#dirs.add(p);
        continue;
      }
      if (st.isSymbolicLink()) {
        throw new InvalidArgumentError(`layer entry "${name}" would be written through the symlink "${p}"`);
      }
      if (!st.isDirectory()) throw new InvalidArgumentError(`layer entry "${name}" needs "${p}" to be a directory`);
      this.#dirs.add(p);
    }
    return true;
  }

  /** Runs `create`; if something is in the way, removes it (with its contents) and runs it again. */
  #replacing<T>(rel: string, create: () => T): T {
    try {
      return create();
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      this.#remove(rel);
      return create();
    }
  }

  #remove(rel: string): void {
    if (this.#dirs.delete(rel)) {
      const prefix = `${rel}/`;
      for (const d of this.#dirs) if (d.startsWith(prefix)) this.#dirs.delete(d);
      for (const d of this.#dirTimes.keys()) if (d === rel || d.startsWith(prefix)) this.#dirTimes.delete(d);
    }
    rmSync(this.#abs(rel), { recursive: true, force: true });
  }

  #directory(rel: string, h: PortableHeader): void {
    const abs = this.#abs(rel);
    try {
      mkdirSync(abs, 0o700);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      if (!lstatSync(abs).isDirectory()) {
        this.#remove(rel);
        mkdirSync(abs, 0o700);
      }
    }
    this.#dirs.add(rel);
    chownSync(abs, h.uid, h.gid);
    chmodSync(abs, h.mode & 0o7777);
    this.#xattrs(abs, h);
    if (this.#keepDirTimes) this.#dirTimes.set(rel, times(h));
  }

  #hardLink(rel: string, h: PortableHeader): void {
    const target = isAbsoluteEntry(h.linkname) ? null : normalise(h.linkname);
    if (target === null || target === '') {
      throw new InvalidArgumentError(`layer entry "${h.name}" links to "${h.linkname}", outside the root`);
    }
    const missing = `layer entry "${h.name}" links to "${h.linkname}", which does not exist`;
    if (!this.#ensureParent(h.name, target, false)) throw new InvalidArgumentError(missing);
    const st = lstatSync(this.#abs(target), { throwIfNoEntry: false });
    if (st === undefined) throw new InvalidArgumentError(missing);
    if (st.isDirectory())
      throw new InvalidArgumentError(`layer entry "${h.name}" links to the directory "${h.linkname}"`);
    if (target === rel) return;
    this.#replacing(rel, () => linkSync(this.#abs(target), this.#abs(rel)));
  }

  /** Ownership, mode, xattrs and times of a symlink, device or fifo (by path; never followed). */
  #metadata(abs: string, h: PortableHeader, isSymlink: boolean): void {
    lchownSync(abs, h.uid, h.gid);
    if (!isSymlink) chmodSync(abs, h.mode & 0o7777); // a device or fifo: chmod does not follow anything
    this.#xattrs(abs, h);
    const [atime, mtime] = times(h);
    (isSymlink ? lutimesSync : utimesSync)(abs, atime, mtime);
  }

  #xattrs(abs: string, h: PortableHeader): void {
    for (const [name, value] of h.xattrs) {
      if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
      try {
        sys().lsetxattr(abs, name, value);
      } catch (err) {
        if (!isErrno(err, 'ENOTSUP') && !isErrno(err, 'EOPNOTSUPP')) throw err;
      }
    }
  }

  #whiteout(name: string, rel: string, base: string): void {
    const dir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
    if (base === OPAQUE_MARKER) {
      if (this.#mode === 'overlay') {
        this.#ensureParent(name, rel, true);
        sys().lsetxattr(this.#abs(dir), 'trusted.overlay.opaque', Buffer.from('y'));
      } else if (this.#ensureParent(name, rel, false)) {
        this.#clearUnwritten(dir);
      }
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // other AUFS metadata (.wh..wh.plnk)
    const victim = posix.join(dir, base.slice(WHITEOUT_PREFIX.length));
    if (this.#mode === 'overlay') {
      this.#ensureParent(name, victim, true);
      const { mknod, S_IFCHR } = sys();
      this.#replacing(victim, () => mknod(this.#abs(victim), S_IFCHR, 0n));
    } else if (this.#ensureParent(name, victim, false)) {
      this.#remove(victim);
      this.#written.delete(victim);
    }
  }

  /** 'delete' mode's opaque directory: removes what the lower layers put in `dir`, keeping this layer's. */
  #clearUnwritten(dir: string): void {
    for (const ent of readdirSync(this.#abs(dir), { withFileTypes: true })) {
      const child = dir === '' ? ent.name : `${dir}/${ent.name}`;
      if (!this.#written.has(child)) this.#remove(child);
      else if (ent.isDirectory()) this.#clearUnwritten(child);
    }
  }
}

function skipBytes(chunks: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < chunks.length && n >= chunks[i]!.length) n -= chunks[i++]!.length;
  if (i === chunks.length) return [];
  const rest = chunks.slice(i);
  rest[0] = rest[0]!.subarray(n);
  return rest;
}
