import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SnapshotRecord } from '../metadata/index.ts';
import { FailedPreconditionError } from '../util/errors.ts';
import type { WhiteoutMode } from './apply.ts';
import { DirectorySnapshotter } from './base.ts';
import type { Mount } from './types.ts';

/**
 * mount(2) takes at most one page of option data: 4096 bytes including the final NUL. Each lower layer costs
 * `<root>/snapshots/<id>/fs:`, about 34 bytes under the default /var/lib/berth, so an active snapshot can sit
 * on about 115 layers there (Docker allows 125); a longer chain is a FailedPreconditionError.
 */
export const MAX_MOUNT_DATA = 4095;

/**
 * The overlayfs snapshotter. A committed snapshot's `fs` holds exactly its layer in overlayfs's format
 * (whiteouts are 0/0 character devices, opaque directories carry `trusted.overlay.opaque=y`), so layers of
 * one image unpack in parallel, each into its own empty `fs`, without reading their parents.
 *
 * Mounts: an active snapshot on parents is an overlay (lowerdir = the parents' `fs`, nearest first; upperdir
 * = its `fs`; workdir = its `work`); without a parent it is a read-write bind mount of its `fs`. A view on
 * one parent is a read-only bind mount of the parent's `fs`; on several, an overlay of lowerdirs only.
 */
export class OverlaySnapshotter extends DirectorySnapshotter {
  readonly name = 'overlay';
  readonly layersIndependent = true;
  protected readonly whiteouts: WhiteoutMode = 'overlay';

  protected async populate(rec: SnapshotRecord, parents: SnapshotRecord[]): Promise<void> {
    if (rec.kind === 'active' && parents.length > 0) mkdirSync(join(this.home(rec.id), 'work'), 0o700);
    this.mountsOf(rec, parents); // refuses a chain too long to mount before anything is written to it
  }

  protected mountsOf(rec: SnapshotRecord, parents: SnapshotRecord[]): Mount[] {
    const own = this.fsDir(rec.id);
    if (parents.length === 0) {
      return [{ type: 'bind', source: own, options: ['rbind', rec.kind === 'active' ? 'rw' : 'ro'] }];
    }
    if (rec.kind === 'view' && parents.length === 1) {
      return [{ type: 'bind', source: this.fsDir(parents[0]!.id), options: ['rbind', 'ro'] }];
    }
    const options = [`lowerdir=${parents.map((p) => this.fsDir(p.id)).join(':')}`];
    if (rec.kind === 'active') options.push(`upperdir=${own}`, `workdir=${join(this.home(rec.id), 'work')}`);
    const data = Buffer.byteLength(options.join(','));
    if (data > MAX_MOUNT_DATA) {
      throw new FailedPreconditionError(
        `snapshot "${rec.key}" has ${parents.length} layers: its overlay options take ${data} bytes, over the ` +
          `kernel's ${MAX_MOUNT_DATA}`,
      );
    }
    return [{ type: 'overlay', source: 'overlay', options }];
  }
}
