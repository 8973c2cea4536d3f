import { CanceledError, InvalidArgumentError, NotFoundError } from '../../util/errors.ts';
import type { EngineClient } from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { MultiError } from '../errors.ts';
import { referenceError } from './refs.ts';
import { humanSize } from '../units.ts';
import { confirm, type LineSource } from '../prompt.ts';

export interface TagOptions {
  source: string;
  target: string;
}

/** `berth tag SOURCE TARGET`: references are checked here first, as docker's client does. */
export async function tagImage(client: EngineClient, opts: TagOptions, signal?: AbortSignal): Promise<void> {
  for (const ref of [opts.source, opts.target]) {
    const problem = /^(sha256:)?[a-f0-9]{64}$/.test(ref) && ref !== opts.target ? undefined : referenceError(ref);
    if (problem !== undefined) {
      throw new InvalidArgumentError(
        `Error parsing reference: ${JSON.stringify(ref)} is not a valid repository/tag: ${problem}`,
      );
    }
  }
  await client.imageTag(opts.source, opts.target, { signal });
}

export interface RemoveOptions {
  images: string[];
  force: boolean;
  noPrune: boolean;
}

/**
 * `berth rmi`: prints `Untagged:` / `Deleted:` lines per image. Failures are reported together;
 * with `--force`, images that were not found only warn (exit 0), as docker does.
 */
export async function removeImages(
  client: EngineClient,
  out: OutStream,
  err: OutStream,
  opts: RemoveOptions,
  signal?: AbortSignal,
): Promise<void> {
  const errors: unknown[] = [];
  let fatal = false;
  for (const image of opts.images) {
    try {
      const items = await client.imageRemove(image, { force: opts.force, noPrune: opts.noPrune, signal });
      for (const item of items) {
        out.write(
          item.Deleted !== undefined && item.Deleted !== ''
            ? `Deleted: ${item.Deleted}\n`
            : `Untagged: ${item.Untagged ?? ''}\n`,
        );
      }
    } catch (e) {
      if (!(e instanceof NotFoundError)) fatal = true;
      errors.push(e);
    }
  }
  if (errors.length === 0) return;
  const failure = errors.length === 1 ? errors[0] : new MultiError(errors);
  if (!opts.force || fatal) throw failure;
  err.write(`${new MultiError(errors).message}\n`);
}

export interface PruneOptions {
  all: boolean;
  force: boolean;
  /** Berth: also delete the old versions kept for tags' history (rollback). */
  history?: boolean;
  filters: Record<string, string[]>;
}

const ALL_WARNING = `WARNING! This will remove all images without at least one container associated to them.
Are you sure you want to continue?`;
const DANGLING_WARNING = `WARNING! This will remove all dangling images.
Are you sure you want to continue?`;

/** `berth image prune`: asks first unless forced; a "no" ends quietly (exit 0) like docker. */
export async function pruneImages(
  client: EngineClient,
  input: LineSource,
  out: OutStream,
  opts: PruneOptions,
  signal?: AbortSignal,
): Promise<void> {
  const filters = { ...opts.filters, dangling: [...(opts.filters.dangling ?? []), String(!opts.all)] };
  if (!opts.force) {
    const yes = await confirm(input, out, opts.all ? ALL_WARNING : DANGLING_WARNING);
    if (!yes) throw new CanceledError('image prune has been cancelled');
  }
  const report = await client.imagePrune(filters, { signal, ...(opts.history ? { history: true } : {}) });
  const deleted = report.ImagesDeleted ?? [];
  let space = 0;
  if (deleted.length > 0) {
    let text = 'Deleted Images:\n';
    for (const d of deleted) {
      text +=
        d.Untagged !== undefined && d.Untagged !== '' ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted ?? ''}\n`;
    }
    out.write(`${text}\n`);
    space = report.SpaceReclaimed;
  }
  out.write(`Total reclaimed space: ${humanSize(space)}\n`);
}

export interface RollbackOptions {
  name: string;
  to: string | undefined;
}

/** Berth addition: `berth image rollback NAME:TAG [--to DIGEST]` via `POST /images/{name}/rollback`. */
export async function rollbackImage(
  client: EngineClient,
  out: OutStream,
  opts: RollbackOptions,
  signal?: AbortSignal,
): Promise<void> {
  const r = await client.imageRollback(opts.name, { ...(opts.to !== undefined ? { to: opts.to } : {}), signal });
  out.write(`Rolled back ${r.Name}: ${r.From} -> ${r.To}\n`);
}
