import { buildPrune, type EngineClient } from '../../client/index.ts';
import { CanceledError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { ramInBytes } from '../../util/units.ts';
import { confirm, type LineSource } from '../prompt.ts';
import { humanSize } from '../units.ts';

export interface BuildPruneOptions {
  all: boolean;
  force: boolean;
  filters: Record<string, string[]>;
  keepStorage: string;
}

/** `berth builder prune`: docker's prompt, then the deleted cache IDs and the space reclaimed. */
export async function pruneBuildCache(
  client: EngineClient,
  input: LineSource,
  out: OutStream,
  opts: BuildPruneOptions,
  signal?: AbortSignal,
): Promise<void> {
  if (!opts.force) {
    const warning = opts.all
      ? 'WARNING! This will remove all build cache.'
      : 'WARNING! This will remove all dangling build cache.';
    if (!(await confirm(input, out, warning))) throw new CanceledError('builder prune has been cancelled');
  }
  const report = await buildPrune(client, {
    all: opts.all,
    filters: opts.filters,
    ...(opts.keepStorage ? { keepStorage: ramInBytes(opts.keepStorage) } : {}),
    ...(signal ? { signal } : {}),
  });
  const deleted = report.CachesDeleted ?? [];
  if (deleted.length > 0) out.write(`Deleted build cache objects:\n${deleted.join('\n')}\n\n`);
  out.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
}
