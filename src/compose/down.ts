import type { ContainerSummary } from '../client/index.ts';
import { NotFoundError } from '../util/errors.ts';
import { type ComposeContext, containerName, isOneoff, projectContainers, serviceOf } from './context.ts';
import { inDependencyOrder } from './graph.ts';
import { imageName, type Project, type Service } from './model.ts';
import { removeStopped, stopRunning, stopTimeout } from './remove.ts';
import { listNetworks, listVolumes, removeNetworks, removeVolumes } from './resources-engine.ts';

/**
 * `down` as Docker Compose runs it: dependents stop first, each container is removed once it has stopped, then the
 * project's networks and, with `-v`, its volumes go. It loads none of the creating half (index.ts: `teardown()`).
 */

export { stopAndRemove, stopRunning, stopTimeout } from './remove.ts';
export { stopContainer } from './hooks.ts';

export interface DownOptions {
  /** `-v`: named volumes of the project and anonymous volumes of its containers. */
  volumes?: boolean;
  removeOrphans?: boolean;
  /** `--rmi all|local`. */
  rmi?: 'all' | 'local';
  /** Seconds (`-t`). */
  timeout?: number;
  /** Services named on the command line (`down web`): only their containers go. */
  services?: readonly string[];
}

/**
 * `down`: also works without a project file (`down -p name`), from the labels alone. Containers of the project's
 * services are stopped dependents first; every container of the project goes (orphans only with
 * `--remove-orphans`, or when there is no file to tell them apart).
 */
export async function down(
  ctx: ComposeContext,
  name: string,
  project: Project | undefined,
  opts: DownOptions = {},
): Promise<void> {
  const selected = opts.services !== undefined && opts.services.length > 0 ? new Set(opts.services) : undefined;
  // The project's networks and volumes are listed beside its containers (the lists do not change meanwhile).
  const lists =
    selected === undefined
      ? Promise.all([listNetworks(ctx, name), opts.volumes ? listVolumes(ctx, name) : Promise.resolve([])])
      : undefined;
  lists?.catch(() => {}); // awaited below; a failure is thrown there
  const containers = await projectContainers(ctx, name, { oneoff: 'include' });
  const known =
    project === undefined
      ? undefined
      : new Set([...Object.keys(project.services), ...Object.keys(project.disabledServices)]);
  const targets = containers.filter((c) => {
    const svc = serviceOf(c);
    if (selected !== undefined) return selected.has(svc);
    if (known === undefined || opts.removeOrphans) return true;
    return known.has(svc) || isOneoff(c);
  });
  const orphaned =
    known === undefined
      ? []
      : containers.filter((c) => !known.has(serviceOf(c)) && !isOneoff(c) && !targets.includes(c));
  if (orphaned.length > 0) {
    ctx.reporter.warn(
      `Found orphan containers ([${orphaned.map(containerName).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`,
    );
  }
  const byService = new Map<string, ContainerSummary[]>();
  for (const c of targets) byService.set(serviceOf(c), [...(byService.get(serviceOf(c)) ?? []), c]);
  const ordered = project === undefined ? [] : [...byService.keys()].filter((s) => project.services[s] !== undefined);
  // Stops go dependents first; a stopped container is removed at once, while the services it depended on stop.
  const removals: Promise<unknown>[] = [];
  const stopThenRemove = async (c: ContainerSummary, timeout: number | undefined, service?: Service) => {
    await stopRunning(ctx, c, timeout, service);
    const removal = removeStopped(ctx, c, opts.volumes === true);
    removals.push(removal);
    removal.catch(() => {}); // awaited below with the others
  };
  let stopping: unknown;
  try {
    // Containers of services the file does not know go first of all.
    const rest = [...byService.keys()].filter((s) => !ordered.includes(s));
    await Promise.all(rest.flatMap((s) => (byService.get(s) ?? []).map((c) => stopThenRemove(c, opts.timeout))));
    if (project !== undefined && ordered.length > 0) {
      await inDependencyOrder(
        project.services,
        ordered,
        async (s) => {
          const t = stopTimeout(project.services[s], opts.timeout);
          await Promise.all((byService.get(s) ?? []).map((c) => stopThenRemove(c, t, project.services[s])));
        },
        { reverse: true },
      );
    }
  } catch (err) {
    stopping = err;
  }
  // The removals already under way finish before any failure is reported.
  const failed = (await Promise.allSettled(removals)).find((r) => r.status === 'rejected');
  if (stopping !== undefined) throw stopping;
  if (failed !== undefined) throw failed.reason;
  if (lists === undefined) return;
  const [networks, volumes] = await lists;
  await Promise.all([removeNetworks(ctx, networks), opts.volumes ? removeVolumes(ctx, volumes) : undefined]);
  if (opts.rmi !== undefined && project !== undefined) {
    for (const s of Object.values(project.services)) {
      if (opts.rmi === 'local' && s.image !== undefined) continue;
      const image = imageName(project, s);
      try {
        ctx.reporter.event('Image', image, 'Removing');
        await ctx.client.imageRemove(image, { signal: ctx.signal });
        ctx.reporter.event('Image', image, 'Removed');
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
  }
}
