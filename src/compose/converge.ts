import type { ContainerSummary } from '../client/index.ts';
import { ConflictError, NotFoundError } from '../util/errors.ts';
import { type ComposeContext, containerName, numberOf, projectContainers, serviceOf } from './context.ts';
import { containerCreateRequest, type CreateInput } from './convert.ts';
import { inDependencyOrder, restartDependents } from './graph.ts';
import { serviceHash } from './hash.ts';
import * as L from './labels.ts';
import { type Project, type Service, serviceScale } from './model.ts';
import { stopContainer } from './hooks.ts';
import { stopAndRemove, stopTimeout } from './remove.ts';

/**
 * The convergence loop, as Docker Compose runs it (pkg/compose/convergence.go): the project's containers are
 * found by label; service by service, dependencies first, each container is kept, recreated (its config hash or
 * image changed, or it lost a network or volume it should have) or removed, and new ones are created up to the
 * service's scale, numbered after the highest number in use. Nothing is started here (see start.ts).
 */

export type RecreatePolicy = 'diverged' | 'force' | 'never';

export interface ConvergeOptions {
  /** The services to converge (dependencies included by the caller when wanted). */
  services: readonly string[];
  /** For the services named on the command line. */
  recreate?: RecreatePolicy;
  /** For the others (their dependencies). */
  recreateDependencies?: RecreatePolicy;
  /** Services named on the command line (`up web`), which get `recreate`. */
  named?: readonly string[];
  /** `--scale SERVICE=N`. */
  scale?: Record<string, number>;
  /** Image IDs by service, recorded in `com.docker.compose.image`. */
  imageIds?: Record<string, string>;
  /** Seconds to wait for a container to stop before it is killed (recreate, scale down). */
  timeout?: number;
}

function mustRecreate(
  project: Project,
  s: Service,
  c: ContainerSummary,
  policy: RecreatePolicy,
  imageId: string | undefined,
): boolean {
  if (policy === 'never') return false;
  if (policy === 'force') return true;
  const labels = c.Labels ?? {};
  if (labels[L.CONFIG_HASH] !== serviceHash(s)) return true;
  if (imageId !== undefined && labels[L.IMAGE] !== undefined && labels[L.IMAGE] !== imageId) return true;
  if (c.State === 'running' && s.network_mode === undefined) {
    const attached = Object.keys(c.NetworkSettings?.Networks ?? {});
    for (const key of Object.keys(s.networks)) {
      const name = project.networks[key]?.name ?? key;
      if (!attached.includes(name)) return true;
    }
  }
  const mounted = (c.Mounts ?? []).filter((m) => m.Type === 'volume').map((m) => m.Name);
  for (const v of s.volumes) {
    if (v.type !== 'volume' || v.source === undefined) continue;
    const name = project.volumes[v.source]?.name ?? v.source;
    if (!mounted.includes(name)) return true;
  }
  return false;
}

/** `service:NAME` in network_mode, ipc, pid and volumes_from pointed at that service's first container. */
function resolveReferences(s: Service, observed: Map<string, ContainerSummary[]>): Service {
  const first = (name: string, what: string): string => {
    const list = observed.get(name) ?? [];
    const c = [...list].sort((a, b) => numberOf(a) - numberOf(b))[0];
    if (c === undefined) throw new NotFoundError(`cannot share ${what} with service ${name}: container missing`);
    return c.Id;
  };
  const out: Service = { ...s };
  if (s.network_mode?.startsWith('service:')) {
    out.network_mode = `container:${first(s.network_mode.slice(8), 'network namespace')}`;
  }
  if (s.ipc?.startsWith('service:')) out.ipc = `container:${first(s.ipc.slice(8), 'IPC namespace')}`;
  if (s.pid?.startsWith('service:')) out.pid = `container:${first(s.pid.slice(8), 'PID namespace')}`;
  out.volumes_from = s.volumes_from.map((v) => {
    const [src = '', mode] = v.split(':');
    if (src === 'container') return v.slice('container:'.length);
    const id = first(src, 'volume');
    return mode === undefined ? id : `${id}:${mode}`;
  });
  return out;
}

/** Creates one container (and connects its extra networks); returns its summary-like record. */
export async function createContainer(
  ctx: ComposeContext,
  input: Omit<CreateInput, 'apiVersion'>,
  finalName = input.name,
): Promise<string> {
  const apiVersion = await ctx.client.apiVersion({ signal: ctx.signal });
  const plan = containerCreateRequest({ ...input, apiVersion });
  const res = await ctx.client.containerCreate(plan.body, { name: input.name, signal: ctx.signal });
  for (const w of res.Warnings ?? []) ctx.reporter.warn(w);
  for (const extra of plan.extraNetworks) {
    await ctx.client.networkConnect(extra.network, res.Id, extra.endpoint, { signal: ctx.signal });
  }
  void finalName;
  return res.Id;
}

async function recreate(
  ctx: ComposeContext,
  project: Project,
  s: Service,
  old: ContainerSummary,
  imageId: string | undefined,
  timeout: number | undefined,
): Promise<string> {
  const number = numberOf(old);
  const name = s.container_name ?? `${project.name}-${s.name}-${number}`;
  const oldName = containerName(old);
  ctx.reporter.event('Container', oldName, 'Recreate');
  // Anonymous volumes live on in the new container, as with Docker Compose.
  const inspect = await ctx.client.containerInspect(old.Id, { signal: ctx.signal });
  const anonymous: Record<string, string> = {};
  const mounts = (inspect.Mounts as { Type?: string; Name?: string; Destination?: string }[] | undefined) ?? [];
  for (const v of s.volumes) {
    if (v.type !== 'volume' || v.source !== undefined) continue;
    const m = mounts.find((x) => x.Type === 'volume' && x.Destination === v.target);
    if (m?.Name !== undefined) anonymous[v.target] = m.Name;
  }
  const tmp = `${old.Id.slice(0, 12)}_${name}`;
  const id = await createContainer(ctx, {
    project,
    service: s,
    number,
    name: tmp,
    ...(imageId !== undefined ? { imageId } : {}),
    anonymousVolumes: anonymous,
    labels: { [L.REPLACE]: oldName },
  });
  if (old.State === 'running' || old.State === 'paused' || old.State === 'restarting') {
    await stopContainer(ctx, s, old, timeout);
  }
  await ctx.client.containerRemove(old.Id, { force: true, signal: ctx.signal });
  await ctx.client.containerRename(id, name, { signal: ctx.signal });
  ctx.reporter.event('Container', name, 'Recreated');
  return id;
}

/** Stops the running containers of the services that `depends_on` this one with `restart: true`. */
async function stopRestartDependents(
  ctx: ComposeContext,
  project: Project,
  name: string,
  observed: Map<string, ContainerSummary[]>,
  timeout: number | undefined,
): Promise<void> {
  for (const dep of restartDependents(project.services, name)) {
    for (const c of observed.get(dep) ?? []) {
      if (c.State !== 'running') continue;
      ctx.reporter.event('Container', containerName(c), 'Stopping');
      await stopContainer(ctx, project.services[dep], c, stopTimeout(project.services[dep], timeout));
      c.State = 'exited';
      ctx.reporter.event('Container', containerName(c), 'Stopped');
    }
  }
}

/** Converges the given services; resolves with each service's containers afterwards (summaries as observed). */
export async function converge(ctx: ComposeContext, project: Project, opts: ConvergeOptions): Promise<void> {
  const all = await projectContainers(ctx, project.name);
  const observed = new Map<string, ContainerSummary[]>();
  for (const c of all) {
    const n = serviceOf(c);
    observed.set(n, [...(observed.get(n) ?? []), c]);
  }
  await inDependencyOrder(project.services, opts.services, async (name) => {
    const s = project.services[name]!;
    const expected = opts.scale?.[name] ?? serviceScale(s);
    if (expected > 1 && s.container_name !== undefined) {
      throw new ConflictError(
        `WARNING: The "${name}" service is using the custom container name "${s.container_name}". Docker requires each container to have a unique name. Remove the custom name to scale the service`,
      );
    }
    const policy = (opts.named ?? opts.services).includes(name)
      ? (opts.recreate ?? 'diverged')
      : (opts.recreateDependencies ?? 'diverged');
    const resolved = resolveReferences(s, observed);
    const imageId = opts.imageIds?.[name];
    const timeout = stopTimeout(s, opts.timeout);
    const containers = observed.get(name) ?? [];
    const obsolete = new Set(containers.filter((c) => mustRecreate(project, s, c, policy, imageId)).map((c) => c.Id));
    const ordered = [...containers].sort(
      (a, b) => Number(obsolete.has(a.Id)) - Number(obsolete.has(b.Id)) || numberOf(a) - numberOf(b),
    );
    const keep = ordered.slice(0, expected);
    const drop = ordered.slice(expected);
    const next = Math.max(0, ...containers.map(numberOf)) + 1;
    await Promise.all(drop.map((c) => stopAndRemove(ctx, c, timeout, false, s)));
    const updated: ContainerSummary[] = [];
    for (const c of keep) {
      if (!obsolete.has(c.Id)) {
        if (c.State === 'running') ctx.reporter.event('Container', containerName(c), 'Running');
        updated.push(c);
        continue;
      }
      await stopRestartDependents(ctx, project, name, observed, opts.timeout);
      const id = await recreate(ctx, project, resolved, c, imageId, timeout);
      updated.push({
        ...c,
        Id: id,
        State: 'created',
        Names: [`/${s.container_name ?? `${project.name}-${name}-${numberOf(c)}`}`],
      });
    }
    const creating: Promise<void>[] = [];
    for (let i = 0; i < expected - keep.length; i++) {
      const number = next + i;
      const cname = s.container_name ?? `${project.name}-${name}-${number}`;
      creating.push(
        (async () => {
          ctx.reporter.event('Container', cname, 'Creating');
          const id = await createContainer(ctx, {
            project,
            service: resolved,
            number,
            name: cname,
            ...(imageId !== undefined ? { imageId } : {}),
          });
          ctx.reporter.event('Container', cname, 'Created');
          updated.push({
            Id: id,
            Names: [`/${cname}`],
            State: 'created',
            Labels: { [L.SERVICE]: name, [L.NUMBER]: String(number) },
          } as unknown as ContainerSummary);
        })(),
      );
    }
    const results = await Promise.allSettled(creating);
    observed.set(name, updated);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  });
}

/** Containers of services that are no longer in the project (renamed or removed from the files). */
export async function orphans(ctx: ComposeContext, project: Project): Promise<ContainerSummary[]> {
  const known = new Set([...Object.keys(project.services), ...Object.keys(project.disabledServices)]);
  return (await projectContainers(ctx, project.name)).filter((c) => !known.has(serviceOf(c)));
}
