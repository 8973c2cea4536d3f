/**
 * ADD's local archives: a file that is a tar (plain, gzip, bzip2, xz or zstd) is unpacked into the destination
 * instead of copied. Entries keep their owners, modes and times; names are resolved inside the step's root, so an
 * entry cannot write through a symbolic link out of it, and names with `..` or a leading `/` stay inside.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { chmod, lchown, link, lutimes, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract } from '../util/tar/index.ts';
import { decompress, looksLikeTar, peek, sniffCompression } from './decompress.ts';
import { resolveInRoot } from '../util/rootpath.ts';

/** Whether the file is an archive ADD unpacks. */
export async function isArchive(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  const head = Buffer.alloc(6);
  try {
    await fh.read(head, 0, 6, 0);
  } finally {
    await fh.close();
  }
  const c = sniffCompression(head);
  try {
    const { head: plain } = await peek(decompress(createReadStream(path, { end: 1 << 20 }), c), 512);
    return looksLikeTar(plain);
  } catch {
    return false;
  }
}

/** Unpacks the archive at `file` into the directory `dest` (a path in the container) of `root`. */
export async function extractArchive(file: string, root: string, dest: string, signal?: AbortSignal): Promise<void> {
  const head = Buffer.alloc(6);
  const fh = await open(file, 'r');
  try {
    await fh.read(head, 0, 6, 0);
  } finally {
    await fh.close();
  }
  const stream = decompress(createReadStream(file), sniffCompression(head));
  const dirTimes: [string, number][] = [];
  for await (const e of extract(stream, signal ? { signal } : {})) {
    const h = e.header;
    const name = posix.normalize(`/${h.name}`);
    if (name === '/') continue;
    const parent = await resolveInRoot(root, posix.join(dest, posix.dirname(name)));
    await mkdir(parent, { recursive: true });
    const path = join(parent, posix.basename(name));
    if (h.type !== 'directory') await rm(path, { force: true, recursive: false }).catch(() => {});
    switch (h.type) {
      case 'directory':
        await mkdir(path, { recursive: true });
        await chmod(path, h.mode);
        dirTimes.push([path, h.mtime]);
        break;
      case 'file':
        await pipeline(e.body, createWriteStream(path, { mode: h.mode }));
        await chmod(path, h.mode);
        break;
      case 'symlink':
        await symlink(h.linkname, path);
        break;
      case 'link':
        await link(await resolveInRoot(root, posix.join(dest, posix.normalize(`/${h.linkname}`))), path);
        break;
      default:
        await writeFile(path, '');
        continue;
    }
    await lchown(path, h.uid, h.gid);
    if (h.type === 'file') await utimes(path, h.mtime, h.mtime);
    else if (h.type === 'symlink') await lutimes(path, h.mtime, h.mtime).catch(() => {});
  }
  for (const [d, t] of dirTimes.reverse()) await utimes(d, t, t);
}
