import type { EngineClient } from '../../client/index.ts';
import { CanceledError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { confirm, type LineSource } from '../prompt.ts';
import { humanSize } from '../units.ts';

export interface SystemPruneOptions {
  all: boolean;
  volumes: boolean;
  force: boolean;
  filters: Record<string, string[]>;
}

/** The confirmation docker 28 asks (`cli/command/system/prune.go`). */
export function pruneWarning(o: Pick<SystemPruneOptions, 'all' | 'volumes'>): string {
  const items = ['all stopped containers', 'all networks not used by at least one container'];
  if (o.volumes) items.push('all anonymous volumes not used by at least one container');
  items.push(o.all ? 'all images without at least one container associated to them' : 'all dangling images');
  items.push(o.all ? 'all build cache' : 'unused build cache');
  return `WARNING! This will remove:\n${items.map((i) => `  - ${i}\n`).join('')}\nAre you sure you want to continue?`;
}

/**
 * `berth system prune [-a] [--volumes] [--filter …] [-f]`: stopped containers, unused networks, (anonymous)
 * volumes, dangling (or, with -a, unused) images and the build cache, each pruned by the engine with the same
 * filters, reported as docker reports them, then the total reclaimed.
 */
export async function pruneSystem(
  client: EngineClient,
  input: LineSource,
  out: OutStream,
  opts: SystemPruneOptions,
  signal?: AbortSignal,
): Promise<void> {
  if (!opts.force && !(await confirm(input, out, pruneWarning(opts))))
    throw new CanceledError('system prune has been cancelled');
  const f = opts.filters;
  let space = 0;
  const section = (title: string, lines: string[]) => {
    if (lines.length > 0) out.write(`${title}:\n${lines.map((l) => `${l}\n`).join('')}\n`);
  };
  const containers = await client.containerPrune(f, { signal });
  section('Deleted Containers', containers.ContainersDeleted ?? []);
  space += containers.SpaceReclaimed ?? 0;
  const networks = await client.networkPrune(f, { signal });
  section('Deleted Networks', networks.NetworksDeleted ?? []);
  if (opts.volumes) {
    const volumes = await client.volumePrune(f, { signal });
    section('Deleted Volumes', volumes.VolumesDeleted ?? []);
    space += volumes.SpaceReclaimed ?? 0;
  }
  const images = await client.imagePrune({ ...f, dangling: [String(!opts.all)] }, { signal });
  section(
    'Deleted Images',
    (images.ImagesDeleted ?? []).map((d) =>
      d.Untagged !== undefined && d.Untagged !== '' ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted ?? ''}`,
    ),
  );
  space += images.SpaceReclaimed ?? 0;
  const cache = await client.buildPrune(f, { signal, all: opts.all });
  section('Deleted build cache objects', cache.CachesDeleted ?? []);
  space += cache.SpaceReclaimed ?? 0;
  out.write(`Total reclaimed space: ${humanSize(space)}\n`);
}
