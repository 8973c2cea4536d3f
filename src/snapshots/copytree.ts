import {
  copyFile,
  chmod,
  chown,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  readdir,
  readlink,
  symlink,
  utimes,
} from 'node:fs/promises';
import { constants } from 'node:fs';
import type { Stats } from 'node:fs';
import { lgetxattr, llistxattr, lsetxattr, mknod } from '../sys/index.ts';
import { isErrno } from '../util/errors.ts';

/** Entries of one directory copied at once. */
const BATCH = 64;

/**
 * Copies the tree under `src` into the existing empty directory `dst`, keeping everything a layer can hold:
 * types (files, directories, symlinks, hard links, character and block devices, fifos), owners, modes
 * (setuid/setgid included), xattrs and times (to the microsecond: what utimes takes from Node). Directories'
 * times are set after their contents. Sockets are skipped. The top directory's own metadata is copied too.
 */
export async function copyTree(src: string, dst: string): Promise<void> {
  const links = new Map<string, Promise<string>>();
  const top = await lstat(src);
  await copyDirContents(src, dst, links);
  await setMetadata(dst, src, top);
}

async function copyDirContents(src: string, dst: string, links: Map<string, Promise<string>>): Promise<void> {
  const names = await readdir(src);
  for (let i = 0; i < names.length; i += BATCH) {
    await Promise.all(names.slice(i, i + BATCH).map((n) => copyEntry(`${src}/${n}`, `${dst}/${n}`, links)));
  }
}

async function copyEntry(src: string, dst: string, links: Map<string, Promise<string>>): Promise<void> {
  const st = await lstat(src);
  if (st.isDirectory()) {
    await mkdir(dst, 0o700);
    await copyDirContents(src, dst, links);
  } else if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dst);
  } else if (st.isSocket()) {
    return;
  } else {
    if (st.nlink > 1) {
      const id = `${st.dev}:${st.ino}`;
      const first = links.get(id);
      if (first) {
        await link(await first, dst);
        return;
      }
      let done!: (p: string) => void;
      let failed!: (e: unknown) => void;
      const copied = new Promise<string>((res, rej) => {
        done = res;
        failed = rej;
      });
      copied.catch(() => {}); // the error is thrown below; later links only wait on it
      links.set(id, copied);
      try {
        await copyNode(src, dst, st);
        done(dst);
      } catch (err) {
        failed(err);
        throw err;
      }
      return;
    }
    await copyNode(src, dst, st);
    return;
  }
  await setMetadata(dst, src, st);
}

async function copyNode(src: string, dst: string, st: Stats): Promise<void> {
  if (st.isFile()) await copyFile(src, dst, constants.COPYFILE_FICLONE);
  else mknod(dst, st.mode, BigInt(st.rdev)); // device or fifo
  await setMetadata(dst, src, st);
}

async function setMetadata(dst: string, src: string, st: Stats): Promise<void> {
  const symlinked = st.isSymbolicLink();
  await (symlinked ? lchown(dst, st.uid, st.gid) : chown(dst, st.uid, st.gid));
  if (!symlinked) await chmod(dst, st.mode & 0o7777);
  for (const name of llistxattr(src)) {
    const value = lgetxattr(src, name);
    if (value === undefined) continue;
    try {
      lsetxattr(dst, name, value);
    } catch (err) {
      if (!isErrno(err, 'ENOTSUP') && !isErrno(err, 'EOPNOTSUPP')) throw err;
    }
  }
  const atime = st.atimeMs / 1000;
  const mtime = st.mtimeMs / 1000;
  await (symlinked ? lutimes(dst, atime, mtime) : utimes(dst, atime, mtime));
}
