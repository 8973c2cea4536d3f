import type { SnapshotRecord } from '../metadata/index.ts';
import type { WhiteoutMode } from './apply.ts';
import { DirectorySnapshotter } from './base.ts';
import { copyTree } from './copytree.ts';
import type { Mount } from './types.ts';

/**
 * The plain-copy reference snapshotter (containerd's "native"): every snapshot's `fs` is a whole tree, a
 * full copy of its parent's made by prepare/view, so any filesystem works and mounts are always bind
 * mounts (read-only for views). Whiteouts delete what they name; opaque directories are emptied of lower
 * content. Slow and large by design: it is the behaviour the overlay snapshotter must match.
 */
export class CopySnapshotter extends DirectorySnapshotter {
  readonly name = 'copy';
  readonly layersIndependent = false;
  protected readonly whiteouts: WhiteoutMode = 'delete';

  protected async populate(rec: SnapshotRecord, parents: SnapshotRecord[]): Promise<void> {
    const parent = parents[0];
    if (parent) await copyTree(this.fsDir(parent.id), this.fsDir(rec.id));
  }

  protected mountsOf(rec: SnapshotRecord): Mount[] {
    return [{ type: 'bind', source: this.fsDir(rec.id), options: ['rbind', rec.kind === 'active' ? 'rw' : 'ro'] }];
  }
}
