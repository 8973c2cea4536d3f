import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { ChangeItem, PathStat } from '../engine-api/containers.ts';
import type { PackEntry, TarEntry } from '../util/tar/index.ts';
import { BerthError, DataLossError, InvalidArgumentError } from '../util/errors.ts';
import { deviceNumbers } from '../util/devnum.ts';
import { resolveInRoot } from '../util/rootpath.ts';

/**
 * The entries of a directory tree as tar entries (for `export` and `cp`): depth first, names relative to `root`
 * under `prefix`, hard links kept as links, device numbers, owners, modes and times as on disk. File bodies are
 * streamed when the entry is written.
 */
export async function* treeEntries(root: string, prefix = '', rel = ''): AsyncGenerator<PackEntry> {
  const seen = new Map<string, string>();
  yield* walk(root, prefix, rel, seen);
}

async function* walk(root: string, prefix: string, rel: string, seen: Map<string, string>): AsyncGenerator<PackEntry> {
  for (const n of (await readdir(join(root, rel))).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    const st = await lstat(join(root, r));
    const name = prefix ? `${prefix}/${r}` : r;
    if (st.isDirectory()) {
      yield {
        header: {
          name: `${name}/`,
          type: 'directory',
          mode: st.mode & 0o7777,
          uid: st.uid,
          gid: st.gid,
          mtime: st.mtimeMs / 1000,
        },
      };
      yield* walk(root, prefix, r, seen);
      continue;
    }
    for await (const e of walkOne(root, r, st, seen)) {
      const h = e.header;
      yield {
        ...e,
        header: { ...h, name, ...(h.type === 'link' && prefix ? { linkname: `${prefix}/${h.linkname}` } : {}) },
      };
    }
  }
}

/** One entry of `docker diff` (its `Kind` 0 modified, 1 added, 2 deleted). */
export type Change = ChangeItem & { Kind: 0 | 1 | 2 };

/**
 * What a container changed, from its overlay upper directory: a 0/0 character device is a deletion, an entry
 * that exists in a lower layer a modification, anything else an addition (docker's `diff`).
 */
export async function upperChanges(upper: string, lowers: readonly string[], rel = ''): Promise<Change[]> {
  const out: Change[] = [];
  let names: string[];
  try {
    names = (await readdir(join(upper, rel))).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const r = `${rel}/${n}`;
    const st = await lstat(join(upper, r));
    if (st.isCharacterDevice() && st.rdev === 0) {
      out.push({ Path: r, Kind: 2 });
      continue;
    }
    let inLower = false;
    for (const l of lowers) {
      try {
        await lstat(join(l, r));
        inLower = true;
        break;
      } catch {
        // not in this layer
      }
    }
    out.push({ Path: r, Kind: inLower ? 0 : 1 });
    if (st.isDirectory()) out.push(...(await upperChanges(upper, lowers, r)));
  }
  return out;
}

/**
 * A container's changes as a layer tar, from its overlay upper directory: 0/0 character devices become
 * `.wh.<name>` whiteouts, opaque directories get a `.wh..wh..opq` entry, and `skip` (mount points the runtime
 * made, such as /etc/hosts) is left out when it is an empty file or directory.
 */
export async function* layerEntries(
  upper: string,
  skip: ReadonlySet<string>,
  isOpaque: (path: string) => boolean,
  rel = '',
): AsyncGenerator<PackEntry> {
  const seen = new Map<string, string>();
  yield* layerWalk(upper, skip, isOpaque, rel, seen);
}

async function* layerWalk(
  upper: string,
  skip: ReadonlySet<string>,
  isOpaque: (path: string) => boolean,
  rel: string,
  seen: Map<string, string>,
): AsyncGenerator<PackEntry> {
  for (const n of (await readdir(join(upper, rel))).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    const path = join(upper, r);
    const st = await lstat(path);
    if (
      skip.has(`/${r}`) &&
      ((st.isFile() && st.size === 0) || (st.isDirectory() && (await readdir(path)).length === 0))
    )
      continue;
    if (st.isCharacterDevice() && st.rdev === 0) {
      yield { header: { name: rel ? `${rel}/.wh.${n}` : `.wh.${n}`, type: 'file', size: 0, mode: 0o644 } };
      continue;
    }
    if (st.isDirectory()) {
      yield {
        header: {
          name: `${r}/`,
          type: 'directory',
          mode: st.mode & 0o7777,
          uid: st.uid,
          gid: st.gid,
          mtime: st.mtimeMs / 1000,
        },
      };
      if (isOpaque(path)) yield { header: { name: `${r}/.wh..wh..opq`, type: 'file', size: 0, mode: 0o644 } };
      yield* layerWalk(upper, skip, isOpaque, r, seen);
      continue;
    }
    for await (const e of walkOne(upper, r, st, seen)) yield e;
  }
}

async function* walkOne(
  root: string,
  r: string,
  st: import('node:fs').Stats,
  seen: Map<string, string>,
): AsyncGenerator<PackEntry> {
  const path = join(root, r);
  const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 };
  if (st.isSymbolicLink()) yield { header: { ...base, name: r, type: 'symlink', linkname: await readlink(path) } };
  else if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? seen.get(key) : undefined;
    if (first !== undefined) yield { header: { ...base, name: r, type: 'link', linkname: first } };
    else {
      if (st.nlink > 1) seen.set(key, r);
      yield {
        header: { ...base, name: r, type: 'file', size: st.size },
        body: createReadStream(path, { highWaterMark: 1 << 20 }),
      };
    }
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    yield {
      header: {
        ...base,
        name: r,
        type: st.isCharacterDevice() ? 'character-device' : 'block-device',
        devmajor: deviceNumbers(st.rdev).major,
        devminor: deviceNumbers(st.rdev).minor,
      },
    };
  } else if (st.isFIFO()) yield { header: { ...base, name: r, type: 'fifo' } };
}

/**
 * A path to copy out of the container (`HEAD` and `GET /archive`), as dockerd's ResolvePath: the directory part is
 * resolved in the root, links followed; the last component is not followed, unless the path ends in `/` or `/.`,
 * which says it is a directory (so a link to a directory is followed, and a file is an error).
 */
export async function resolveCopyPath(root: string, path: string): Promise<string> {
  const asDir = /\/\.?$/.test(path);
  const host = await resolveInRoot(root, path, { followLast: asDir });
  if (asDir) {
    const st = await lstat(host).catch(() => undefined);
    if (st && !st.isDirectory()) throw new BerthError(`lstat ${path}: not a directory`);
  }
  return host;
}

export async function pathStat(host: string, name: string): Promise<PathStat> {
  const st = await lstat(host);
  // Go's FileMode has type bits up to 1<<31; JS bitwise operators are 32-bit signed, so add instead.
  let mode = st.mode & 0o777;
  if (st.isDirectory()) mode += 2 ** 31;
  if (st.isSymbolicLink()) mode += 2 ** 27;
  if (st.isCharacterDevice()) mode += 2 ** 26 + 2 ** 21;
  if (st.isBlockDevice()) mode += 2 ** 26;
  if (st.isFIFO()) mode += 2 ** 25;
  if (st.isSocket()) mode += 2 ** 24;
  if (st.mode & 0o4000) mode += 2 ** 23;
  if (st.mode & 0o2000) mode += 2 ** 22;
  if (st.mode & 0o1000) mode += 2 ** 20;
  return {
    name,
    size: st.size,
    mode,
    mtime: new Date(st.mtimeMs).toISOString(),
    linkTarget: st.isSymbolicLink() ? await readlink(host) : '',
  };
}

/** One path as tar entries named from its base name (a directory with everything below it). */
export async function* pathEntries(host: string, name: string): AsyncGenerator<PackEntry> {
  const st = await lstat(host);
  if (st.isDirectory()) {
    yield {
      header: {
        name: `${name}/`,
        type: 'directory',
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: st.mtimeMs / 1000,
      },
    };
    yield* treeEntries(host, name);
    return;
  }
  const dir = join(host, '..');
  const seen = new Map<string, string>();
  for await (const e of walkOne(dir, host.slice(dir.length + 1), st, seen))
    yield { ...e, header: { ...e.header, name } };
}

/**
 * `noOverwriteDirNonDir`: the entries of a tar being extracted at `dest` (the container's `inside`), refusing one that
 * would replace a directory by a non-directory or the reverse, before it reaches the unpacker (dockerd's words).
 * What is already there is looked at through real directories only: under a symbolic link the unpacker refuses
 * the entry anyway.
 */
export async function* noOverwriteDirNonDir(
  entries: AsyncIterable<TarEntry>,
  dest: string,
  inside: string,
): AsyncGenerator<TarEntry> {
  const realDirs = new Set<string>(['']);
  for await (const e of entries) {
    const rel = posix.normalize(e.header.name).replace(/^(\.\/|\/)+|\/+$/g, '');
    if (rel !== '' && rel !== '.') {
      const existing = await lstatUnder(dest, rel, realDirs);
      const isDir = e.header.type === 'directory';
      const target = posix.join(inside, rel);
      if (existing?.isDirectory() && !isDir)
        throw new BerthError(
          `Error processing tar file(exit status 1): cannot overwrite directory "${target}" with non-directory "${inside}"`,
        );
      if (existing && !existing.isDirectory() && isDir)
        throw new BerthError(
          `Error processing tar file(exit status 1): cannot overwrite non-directory "${target}" with directory "${inside}"`,
        );
    }
    yield e;
  }
}

/** lstat of `rel` below `dest`, undefined when it or a parent is missing or a parent is not a real directory. */
async function lstatUnder(dest: string, rel: string, realDirs: Set<string>): Promise<Stats | undefined> {
  const parts = rel.split('/');
  let p = '';
  for (const part of parts.slice(0, -1)) {
    p = p === '' ? part : `${p}/${part}`;
    if (realDirs.has(p)) continue;
    const st = await lstat(join(dest, p)).catch(() => undefined);
    if (!st?.isDirectory()) return undefined;
    realDirs.add(p);
  }
  return lstat(join(dest, rel)).catch(() => undefined);
}

/**
 * An extraction that failed on its archive, worded as dockerd words it (clients show it as is): "Error processing tar
 * file(exit status 1): …", "unexpected EOF" for an archive cut short. Errors of other kinds pass unchanged.
 */
export function tarError(err: unknown): unknown {
  if (!(err instanceof DataLossError) || err.message.startsWith('Error processing tar file')) return err;
  const why = err.message.startsWith('unexpected end of tar archive') ? 'unexpected EOF' : err.message;
  return new InvalidArgumentError(`Error processing tar file(exit status 1): ${why}`, { cause: err });
}
