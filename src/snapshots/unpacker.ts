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
import { posix } from 'node:path';
import { lsetxattr, makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from '../sys/index.ts';
import { InvalidArgumentError, isErrno } from '../util/errors.ts';
import type { TarHeader } from '../util/tar/index.ts';

/**
 * How a layer's whiteouts are written:
 * - 'overlay': into an empty directory that becomes an overlayfs layer. `.wh.NAME` becomes a 0/0 character
 *   device NAME, `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory; neither marker is written.
 * - 'delete': onto a copy of the parent's tree. `.wh.NAME` removes NAME, `.wh..wh..opq` removes everything in
 *   its directory that this layer did not write.
 */
export type WhiteoutMode = 'overlay' | 'delete';

/** A header as it arrives through a worker's message port: its xattr values are plain Uint8Arrays. */
export type PortableHeader = Omit<TarHeader, 'xattrs'> & { xattrs: Map<string, Uint8Array> };

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Applies a layer's tar entries to `root`, one call at a time and every file system call synchronous: it runs in
 * a worker thread (see apply.ts), where blocking on ext4's journal holds up nobody else, and where a round trip
 * through the libuv pool (shared with gunzip and the content store's writes) would only add waiting.
 *
 * For each entry: `begin(header)`; if it returns true (a regular file), its body follows through `write` and
 * ends with `endFile`; `finish()` after the last entry sets directories' times. The rules are `unpackLayer`'s.
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
  /** The archive's size so far (see `unpackLayer`). */
  size = 0;

  constructor(root: string, mode: WhiteoutMode) {
    this.#root = root;
    this.#mode = mode;
  }

  /** Applies one entry; true if it is a regular file whose body must follow (`write`, then `endFile`). */
  begin(header: PortableHeader): boolean {
    this.size += archivedSize(header);
    if (isAbsoluteEntry(header.name))
      throw new InvalidArgumentError(`layer entry "${header.name}" has an absolute path`);
    const rel = normalise(header.name);
    if (rel === null) throw new InvalidArgumentError(`layer entry "${header.name}" escapes the root`);
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
    this.#dirTimes.set(rel, times(h));
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
        lsetxattr(abs, name, value);
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
        lsetxattr(this.#abs(dir), 'trusted.overlay.opaque', Buffer.from('y'));
      } else if (this.#ensureParent(name, rel, false)) {
        this.#clearUnwritten(dir);
      }
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // other AUFS metadata (.wh..wh.plnk)
    const victim = posix.join(dir, base.slice(WHITEOUT_PREFIX.length));
    if (this.#mode === 'overlay') {
      this.#ensureParent(name, victim, true);
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

/** An absolute entry name, other than the root directory itself ('/'). */
export function isAbsoluteEntry(name: string): boolean {
  return name.startsWith('/') && name.replace(/\/+$/, '') !== '';
}

/**
 * The entry's path relative to the root, without './', '//', '..' steps or a trailing '/'; '' for the root
 * itself; null if it leaves the root. A leading '/' is dropped, as Docker does.
 */
export function normalise(name: string): string | null {
  let p = posix.normalize(name.replace(/^\/+/, ''));
  if (p === '..' || p.startsWith('../')) return null;
  if (p.endsWith('/')) p = p.slice(0, -1);
  if (p === '.' || p === '') return '';
  return p;
}

/** The bytes `h` took in the archive: header, PAX extended header if any, padded body. */
function archivedSize(h: PortableHeader): number {
  let pax = 0;
  for (const [key, value] of Object.entries(h.pax)) {
    const raw = key.startsWith('SCHILY.xattr.') ? h.xattrs.get(key.slice('SCHILY.xattr.'.length)) : undefined;
    pax += paxRecordLength(key, raw ? raw.length : Buffer.byteLength(value));
  }
  return 512 + (pax > 0 ? 512 + blocks(pax) : 0) + blocks(h.size);
}

/** The length of the PAX record "<len> <key>=<value>\n", which counts its own length's digits. */
function paxRecordLength(key: string, valueBytes: number): number {
  const rest = 1 + Buffer.byteLength(key) + 1 + valueBytes + 1;
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return len;
}

function blocks(n: number): number {
  return Math.ceil(n / 512) * 512;
}

function times(h: PortableHeader): [number, number] {
  const atime = Number(h.pax.atime);
  return [Number.isFinite(atime) ? atime : h.mtime, h.mtime];
}

function skipBytes(chunks: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < chunks.length && n >= chunks[i]!.length) n -= chunks[i++]!.length;
  if (i === chunks.length) return [];
  const rest = chunks.slice(i);
  rest[0] = rest[0]!.subarray(n);
  return rest;
}
