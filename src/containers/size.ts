/**
 * A container's sizes as dockerd reports them (`?size=1` on inspect and list, `docker ps -s`, `system df`): `SizeRw`
 * is what the container wrote (its writable layer: the overlay's upper directory), counted as moby's
 * `directory.Size` counts (the bytes of files and symlinks, each inode once, directories not counted); `SizeRootFs`
 * is the image's size plus `SizeRw`. With the copy snapshotter, whose container root is a whole copy of the image,
 * `SizeRw` is what the root holds beyond the image's size (files the container deleted are not seen).
 */
import { lstat, readdir } from 'node:fs/promises';
import type { ImageService } from '../images/index.ts';
import type { Snapshotter } from '../snapshots/index.ts';
import { isErrno, NotFoundError } from '../util/errors.ts';
import type { Row } from './model.ts';

export interface ContainerSize {
  SizeRw: number;
  SizeRootFs: number;
}

/** Bytes of the files and symlinks under `dir`, each inode once, directories not counted; 0 if it does not exist. */
export async function apparentSize(dir: string): Promise<number> {
  const seen = new Set<number>();
  let total = 0;
  const visit = async (path: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
      throw err;
    }
    for (const name of names) {
      const p = `${path}/${name}`;
      const st = await lstat(p).catch((err) => {
        if (isErrno(err, 'ENOENT')) return undefined;
        throw err;
      });
      if (!st) continue;
      if (st.isDirectory()) await visit(p);
      else if (st.size > 0 && !seen.has(st.ino)) {
        seen.add(st.ino);
        total += st.size;
      }
    }
  };
  await visit(dir);
  return total;
}

/** The writable directory of the container's snapshot and whether it holds only what the container wrote. */
async function writableDir(snapshotter: Snapshotter, r: Row): Promise<{ dir: string; whole: boolean } | undefined> {
  // A container being removed meanwhile has no snapshot any more: nothing to count (its row goes next).
  const m = (
    await snapshotter.mounts(r.snapshot).catch((err: unknown) => {
      if (err instanceof NotFoundError) return [];
      throw err;
    })
  )[0];
  if (!m) return undefined;
  const upper = m.options.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
  if (m.type === 'overlay' && upper) return { dir: upper, whole: false };
  // overlay with no parent (an image without layers) binds its upper directory; the copy snapshotter its whole root.
  if (m.type === 'bind') return { dir: m.source, whole: snapshotter.name !== 'overlay' };
  return undefined;
}

/** `SizeRw` and `SizeRootFs` of the container (the image's size is 0 when the image is gone). */
export async function containerSize(snapshotter: Snapshotter, images: ImageService, r: Row): Promise<ContainerSize> {
  let imageSize = 0;
  try {
    imageSize = images.size((await images.load(images.resolve(r.imageId))).config);
  } catch {
    // removed by force while the container exists: its layers are still there, but no longer counted as an image's
  }
  const w = await writableDir(snapshotter, r);
  if (!w) return { SizeRw: 0, SizeRootFs: imageSize };
  const bytes = await apparentSize(w.dir);
  if (w.whole) return { SizeRw: Math.max(0, bytes - imageSize), SizeRootFs: Math.max(bytes, imageSize) };
  return { SizeRw: bytes, SizeRootFs: imageSize + bytes };
}
