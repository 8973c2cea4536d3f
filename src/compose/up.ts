import type { ContainerSummary } from '../client/index.ts';
import { NotFoundError } from '../util/errors.ts';
import { type ComposeContext, compareNames, containerName, isOneoff, projectContainers, serviceOf } from './context.ts';
import { converge, orphans, type RecreatePolicy, stopAndRemove, stopTimeout } from './converge.ts';
import { inDependencyOrder, selectServices } from './graph.ts';
import { ensureImages, type EnsureImagesOptions } from './images.ts';
import * as L from './labels.ts';
import { imageName, type Project } from './model.ts';
import { ensureNetworks, ensureVolumes, removeNetworks, removeVolumes, usedResources } from './resources-engine.ts';
import { startServices, waitReady } from './start.ts';

/**
 * `up`, `create` and `down` as Docker Compose runs them: networks and volumes first, images (pull or build), orphans,
 * convergence, then the start phase in dependency order; `down` stops dependents first, removes containers, the
 * project's networks and, with `-v`, its volumes. A failed `up` leaves what started running and says what failed.
 */

export interface CreateOptions extends EnsureImagesOptions {
  /** Services named on the command line; all when empty. */
  services?: readonly string[];
  noDeps?: boolean;
  recreate?: RecreatePolicy;
  recreateDependencies?: RecreatePolicy;
  scale?: Record<string, number>;
  removeOrphans?: boolean;
  /** Seconds (`-t`). */
  timeout?: number;
}

export interface UpOptions extends CreateOptions {
  noStart?: boolean;
  wait?: boolean;
  /** Milliseconds. */
  waitTimeout?: number;
}

export async function create(ctx: ComposeContext, project: Project, opts: CreateOptions = {}): Promise<string[]> {
  const services = selectServices(project, opts.services, opts.noDeps);
  const { networks, volumes } = usedResources(project, services);
  await ensureNetworks(ctx, project, networks);
  await ensureVolumes(ctx, project, volumes);
  const imageIds = await ensureImages(ctx, project, services, opts);
  const stale = await orphans(ctx, project);
  if (stale.length > 0) {
    if (opts.removeOrphans) {
      await Promise.all(stale.map((c) => stopAndRemove(ctx, c, opts.timeout)));
    } else {
      ctx.reporter.warn(
        `Found orphan containers ([${stale.map(containerName).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`,
      );
    }
  }
  await converge(ctx, project, {
    services,
    named: opts.services !== undefined && opts.services.length > 0 ? opts.services : services,
    ...(opts.recreate !== undefined ? { recreate: opts.recreate } : {}),
    ...(opts.recreateDependencies !== undefined ? { recreateDependencies: opts.recreateDependencies } : {}),
    ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
    ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
    imageIds,
  });
  return services;
}

export async function up(ctx: ComposeContext, project: Project, opts: UpOptions = {}): Promise<string[]> {
  const services = await create(ctx, project, opts);
  if (opts.noStart) return services;
  await startServices(ctx, project, {
    services,
    ...(opts.waitTimeout !== undefined ? { timeout: opts.waitTimeout } : {}),
  });
  if (opts.wait) await waitReady(ctx, project, services, opts.waitTimeout);
  return services;
}

/**
 * Before `run`: the service's networks, volumes and image, and (unless `noDeps`) its dependencies created and
 * started as `up` would; the service's own containers are left alone.
 */
export async function prepareRun(
  ctx: ComposeContext,
  project: Project,
  service: string,
  noDeps: boolean,
): Promise<void> {
  const deps = noDeps ? [] : selectServices(project, [service]).filter((s) => s !== service);
  const { networks, volumes } = usedResources(project, [...deps, service]);
  await ensureNetworks(ctx, project, networks);
  await ensureVolumes(ctx, project, volumes);
  await ensureImages(ctx, project, [service]);
  if (deps.length > 0) {
    await create(ctx, project, { services: deps, recreate: 'never', recreateDependencies: 'never' });
    await startServices(ctx, project, { services: deps });
  }
}

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
  const containers = await projectContainers(ctx, name, { oneoff: 'include' });
  const known =
    project === undefined
      ? undefined
      : new Set([...Object.keys(project.services), ...Object.keys(project.disabledServices)]);
  const selected = opts.services !== undefined && opts.services.length > 0 ? new Set(opts.services) : undefined;
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
  // Dependents first; containers of services the file does not know go first of all.
  const rest = [...byService.keys()].filter((s) => !ordered.includes(s));
  await Promise.all(
    rest.map((s) =>
      Promise.all((byService.get(s) ?? []).map((c) => stopAndRemove(ctx, c, opts.timeout, opts.volumes))),
    ),
  );
  if (project !== undefined && ordered.length > 0) {
    await inDependencyOrder(
      project.services,
      ordered,
      async (s) => {
        const t = stopTimeout(project.services[s], opts.timeout);
        await Promise.all(
          (byService.get(s) ?? []).map((c) => stopAndRemove(ctx, c, t, opts.volumes, project.services[s])),
        );
      },
      { reverse: true },
    );
  }
  if (selected !== undefined) return;
  await removeNetworks(ctx, name);
  if (opts.volumes) await removeVolumes(ctx, name);
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

/** Labels that identify a project on an engine: used by `ls`. */
export async function listProjects(
  ctx: ComposeContext,
  all: boolean,
): Promise<{ name: string; status: string; configFiles: string }[]> {
  const list = await ctx.client.containerList({ all: true, filters: { label: [L.PROJECT] }, signal: ctx.signal });
  const projects = new Map<string, { states: Map<string, number>; files: string }>();
  for (const c of list) {
    const p = c.Labels?.[L.PROJECT];
    if (p === undefined) continue;
    const entry = projects.get(p) ?? { states: new Map<string, number>(), files: c.Labels?.[L.CONFIG_FILES] ?? '' };
    entry.states.set(c.State, (entry.states.get(c.State) ?? 0) + 1);
    projects.set(p, entry);
  }
  return [...projects.entries()]
    .filter(([, e]) => all || (e.states.get('running') ?? 0) > 0)
    .sort(([a], [b]) => compareNames(a, b))
    .map(([name, e]) => ({
      name,
      status: [...e.states.entries()]
        .sort(([a], [b]) => compareNames(a, b))
        .map(([s, n]) => `${s}(${n})`)
        .join(', '),
      configFiles: e.files,
    }));
}
