/**
 * A committed layer's tar, made from its snapshot's own directory: what a deferred layer blob (content/store.ts,
 * `Deferrer`) is made of when something reads it (push, save, an unpack elsewhere). The same walk (difftar.ts) gave
 * the digest the blob was recorded with when the build made the layer, so the bytes made now hash to it as long as
 * the directory is as the build left it, which is what the store checks before it keeps them. Small on purpose: the
 * daemon loads it on the first deferred read, without the rest of the builder.
 */
import { randomBytes } from 'node:crypto';
import type { Mount, Snapshotter } from '../snapshots/index.ts';
import { lgetxattr } from '../sys/index.ts';
import { coalesce } from '../util/chunks.ts';
import { NotFoundError, NotImplementedError } from '../util/errors.ts';
import { pack } from '../util/tar/index.ts';
import { diffEntries } from './difftar.ts';

export const isOpaque = (p: string): boolean => lgetxattr(p, 'trusted.overlay.opaque')?.toString() === 'y';

/** Views made only to find a layer's directory carry this prefix, which the builder's start-up repair removes. */
const PEEK = 'build-view-peek-';

/** The directory of a committed overlay snapshot's own layer, from the mounts of a view on it. */
export function ownDir(mounts: readonly Mount[]): string {
  const m = mounts[0];
  if (m?.type === 'bind') return m.source;
  const lower = m?.type === 'overlay' ? m.options.find((o) => o.startsWith('lowerdir=')) : undefined;
  const first = lower?.slice('lowerdir='.length).split(':')[0];
  if (!first) throw new NotImplementedError(`no layer directory in mounts of type ${m?.type ?? 'none'}`);
  return first;
}

/**
 * Runs `fn` with the directory of committed snapshot `chainId`, held by a view meanwhile (a collection keeps
 * what a view is on). Undefined, without calling `fn`, when the snapshot is gone.
 */
export async function withLayerDir<T>(
  snapshotter: Snapshotter,
  chainId: string,
  fn: (dir: string) => Promise<T>,
): Promise<T | undefined> {
  const key = `${PEEK}${randomBytes(8).toString('hex')}`;
  let mounts: Mount[];
  try {
    mounts = await snapshotter.view(key, chainId);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  try {
    return await fn(ownDir(mounts));
  } finally {
    await snapshotter.remove(key).catch(() => {});
  }
}

/** A layer directory walked as its layer tar, in chunks of about 1 MiB: the walk a deferred blob's digest is of. */
export function layerTar(dir: string): AsyncGenerator<Buffer> {
  return coalesce(pack(diffEntries(dir, isOpaque)));
}

/** The layer tar of committed snapshot `chainId`, as the build hashed it (the deferred blob's producer). */
export async function* snapshotTar(snapshotter: Snapshotter, chainId: string): AsyncGenerator<Uint8Array> {
  const key = `${PEEK}${randomBytes(8).toString('hex')}`;
  const mounts = await snapshotter.view(key, chainId);
  try {
    yield* layerTar(ownDir(mounts));
  } finally {
    await snapshotter.remove(key).catch(() => {});
  }
}
