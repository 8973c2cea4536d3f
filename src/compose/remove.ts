import type { ContainerSummary } from '../client/index.ts';
import { NotFoundError } from '../util/errors.ts';
import { type ComposeContext, containerName } from './context.ts';
import { stopContainer } from './hooks.ts';
import type { Service } from './model.ts';
import { parseDuration } from './units.ts';

/**
 * Stopping and removing containers (down, rm, stop, a recreate, a scale down): small, so that `down`, `stop` and
 * `rm` load none of the creating half.
 */

/** The stop timeout for a service's containers: `-t`, else `stop_grace_period`, else the engine's default. */
export function stopTimeout(s: Service | undefined, given: number | undefined): number | undefined {
  if (given !== undefined) return given;
  const g = s?.stop_grace_period;
  if (g === undefined) return undefined;
  return Math.ceil(parseDuration(g) / 1000);
}

/** Stops and removes a container; `volumes` also removes its anonymous volumes (`down -v`, `rm -v`). */
export async function stopAndRemove(
  ctx: ComposeContext,
  c: ContainerSummary,
  timeout: number | undefined,
  volumes = false,
  service?: Service,
): Promise<void> {
  await stopRunning(ctx, c, timeout, service);
  await removeStopped(ctx, c, volumes);
}

/** Stops a container that runs (its `pre_stop` hooks first), reporting it; one that does not is left as it is. */
export async function stopRunning(
  ctx: ComposeContext,
  c: ContainerSummary,
  timeout: number | undefined,
  service?: Service,
): Promise<void> {
  if (c.State !== 'running' && c.State !== 'paused' && c.State !== 'restarting') return;
  const name = containerName(c);
  ctx.reporter.event('Container', name, 'Stopping');
  await stopContainer(ctx, service, c, timeout);
  ctx.reporter.event('Container', name, 'Stopped');
}

/** Removes a container (forced, in case it started again meanwhile); one already gone is fine. */
export async function removeStopped(ctx: ComposeContext, c: ContainerSummary, volumes: boolean): Promise<void> {
  const name = containerName(c);
  ctx.reporter.event('Container', name, 'Removing');
  try {
    await ctx.client.containerRemove(c.Id, { force: true, volumes, signal: ctx.signal });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  ctx.reporter.event('Container', name, 'Removed');
}
