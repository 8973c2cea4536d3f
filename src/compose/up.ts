import { type ComposeContext, compareNames, containerName } from './context.ts';
import { converge, orphans, type RecreatePolicy } from './converge.ts';
import { selectServices } from './graph.ts';
import { ensureImages, type EnsureImagesOptions } from './images.ts';
import * as L from './labels.ts';
import type { Project } from './model.ts';
import { stopAndRemove } from './remove.ts';
import { ensureNetworks, ensureVolumes, usedResources } from './resources-engine.ts';
import { startServices, waitReady } from './start.ts';

/**
 * `up` and `create` as Docker Compose runs them: networks and volumes first, images (pull or build), orphans,
 * convergence, then the start phase in dependency order (`down` is in down.ts). A failed `up` leaves what started
 * running and says what failed.
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
