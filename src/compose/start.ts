import type { ContainerSummary } from '../client/index.ts';
import { FailedPreconditionError } from '../util/errors.ts';
import { sleep } from '../util/sleep.ts';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { type ComposeContext, containerName, projectContainers, serviceOf } from './context.ts';
import { fileTarget } from './convert.ts';
import { inDependencyOrder } from './graph.ts';
import { postStart } from './hooks.ts';
import type { Dependency, Project, Service } from './model.ts';
import { containerHealth } from './readiness.ts';
import { parseReadiness } from './ready-spec.ts';

/**
 * The start phase of `up` (and `start`): services in dependency order, each one after its `depends_on`
 * conditions hold (started, healthy — a healthcheck or Berth's `x-berth-ready` — or completed successfully);
 * secrets and configs given as content or environment are copied in before start; `post_start` hooks run after.
 * Then `--wait` waits until every service is running and ready.
 */

const POLL_MS = 250;

/** Waits until a dependency meets its condition; throws (or warns, when not required) when it cannot. */
async function waitDependency(
  ctx: ComposeContext,
  project: Project,
  dependant: string,
  dep: string,
  d: Dependency,
  deadline: number | undefined,
  containers: ContainerSummary[],
): Promise<void> {
  if (d.condition === 'service_started') return;
  const s = project.services[dep];
  if (s === undefined) return;
  if (containers.length === 0) {
    if (d.required) throw new FailedPreconditionError(`${dependant} is missing dependency ${dep}`);
    ctx.reporter.warn(`${dependant} is missing dependency ${dep}`);
    return;
  }
  const readiness = parseReadiness(s);
  const limit = readiness?.timeout !== undefined ? Date.now() + readiness.timeout : deadline;
  for (const c of containers) ctx.reporter.event('Container', containerName(c), 'Waiting');
  const fail = (msg: string): void => {
    if (d.required) throw new FailedPreconditionError(msg);
    ctx.reporter.warn(`optional dependency "${dep}": ${msg}`);
  };
  for (;;) {
    let done = true;
    for (const c of containers) {
      const info = await ctx.client.containerInspect(c.Id, { signal: ctx.signal });
      const name = containerName(info);
      if (d.condition === 'service_completed_successfully') {
        if (info.State.Status !== 'exited') {
          done = false;
          continue;
        }
        if (info.State.ExitCode !== 0)
          return fail(`service "${dep}" didn't complete successfully: exit ${info.State.ExitCode}`);
        continue;
      }
      const h = await containerHealth(ctx, info, s);
      if (h === 'exited') return fail(`dependency failed to start: container ${name} exited (${info.State.ExitCode})`);
      if (h === 'unhealthy') return fail(`dependency failed to start: container ${name} is unhealthy`);
      if (h === 'none') return fail(`dependency failed to start: container ${name} has no healthcheck configured`);
      if (h === 'starting') done = false;
    }
    if (done) {
      for (const c of containers) {
        ctx.reporter.event('Container', containerName(c), d.condition === 'service_healthy' ? 'Healthy' : 'Exited');
      }
      return;
    }
    if (limit !== undefined && Date.now() > limit) {
      return fail(
        `timeout waiting for dependency "${dep}" of "${dependant}" to be ${d.condition === 'service_healthy' ? 'healthy' : 'completed'}`,
      );
    }
    await sleep(POLL_MS, ctx.signal);
  }
}

/** Secrets and configs that are not files (`environment:`, `content:`) copied into the container. */
async function injectFiles(ctx: ComposeContext, project: Project, s: Service, id: string): Promise<void> {
  const entries: PackEntry[] = [];
  for (const kind of ['secrets', 'configs'] as const) {
    for (const ref of s[kind]) {
      const def = project[kind][ref.source];
      if (def === undefined || def.file !== undefined) continue;
      const text = def.content ?? (def.environment !== undefined ? project.environment[def.environment] : undefined);
      if (text === undefined) {
        throw new FailedPreconditionError(
          `${kind === 'secrets' ? 'secret' : 'config'} "${ref.source}" has no file, content or set environment variable`,
        );
      }
      const target = fileTarget(kind, ref.source, ref.target).replace(/^\/+/, '');
      const parts = target.split('/');
      for (let i = 1; i < parts.length; i++)
        entries.push({ header: { name: `${parts.slice(0, i).join('/')}/`, mode: 0o755 } });
      entries.push({
        header: {
          name: target,
          mode: ref.mode ?? 0o444,
          uid: ref.uid !== undefined ? Number(ref.uid) : 0,
          gid: ref.gid !== undefined ? Number(ref.gid) : 0,
        },
        body: Buffer.from(text),
      });
    }
  }
  if (entries.length === 0) return;
  const chunks: Buffer[] = [];
  for await (const c of pack(entries)) chunks.push(c);
  await ctx.client.containerArchivePut(id, '/', Buffer.concat(chunks), { signal: ctx.signal });
}

export interface StartOptions {
  services: readonly string[];
  /** Milliseconds; no limit when undefined. */
  timeout?: number;
}

/** Starts the given services' containers, each after its dependencies' conditions hold. */
export async function startServices(ctx: ComposeContext, project: Project, opts: StartOptions): Promise<void> {
  const deadline = opts.timeout === undefined ? undefined : Date.now() + opts.timeout;
  // One listing for the whole start phase: convergence is over, so no container comes or goes meanwhile.
  const byService = new Map<string, ContainerSummary[]>();
  for (const c of await projectContainers(ctx, project.name)) {
    byService.set(serviceOf(c), [...(byService.get(serviceOf(c)) ?? []), c]);
  }
  await inDependencyOrder(project.services, opts.services, async (name) => {
    const s = project.services[name]!;
    await Promise.all(
      Object.entries(s.depends_on).map(([dep, d]) =>
        waitDependency(ctx, project, name, dep, d, deadline, byService.get(dep) ?? []),
      ),
    );
    const containers = byService.get(name) ?? [];
    for (const c of containers) {
      if (c.State === 'running') continue;
      const cname = containerName(c);
      await injectFiles(ctx, project, s, c.Id);
      ctx.reporter.event('Container', cname, 'Starting');
      if (c.State === 'paused') await ctx.client.containerUnpause(c.Id, { signal: ctx.signal });
      else await ctx.client.containerStart(c.Id, { signal: ctx.signal });
      await postStart(ctx, s, c.Id, cname);
      ctx.reporter.event('Container', cname, 'Started');
    }
  });
}

/**
 * `up --wait`: waits until every container of the services runs and is ready (healthy, or its `x-berth-ready`
 * holds; running is enough for one with neither); one that exited fails the wait, unless it exited 0 and
 * another service waits for it to complete.
 */
export async function waitReady(
  ctx: ComposeContext,
  project: Project,
  services: readonly string[],
  timeoutMs?: number,
): Promise<void> {
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  const completers = new Set(
    Object.values(project.services).flatMap((s) =>
      Object.entries(s.depends_on)
        .filter(([, d]) => d.condition === 'service_completed_successfully')
        .map(([n]) => n),
    ),
  );
  const pending = new Set((await projectContainers(ctx, project.name, { services })).map((c) => c.Id));
  for (;;) {
    for (const id of [...pending]) {
      const info = await ctx.client.containerInspect(id, { signal: ctx.signal });
      const name = containerName(info);
      const svc = serviceOf({ Labels: info.Config.Labels ?? null } as ContainerSummary);
      const h = await containerHealth(ctx, info, project.services[svc]);
      if (h === 'exited') {
        if (info.State.ExitCode === 0 && completers.has(svc)) {
          pending.delete(id);
          ctx.reporter.event('Container', name, 'Exited');
          continue;
        }
        throw new FailedPreconditionError(`container ${name} exited (${info.State.ExitCode})`);
      }
      if (h === 'unhealthy') throw new FailedPreconditionError(`container ${name} is unhealthy`);
      if (h === 'healthy' || (h === 'none' && info.State.Running)) {
        pending.delete(id);
        ctx.reporter.event('Container', name, 'Healthy');
      }
    }
    if (pending.size === 0) return;
    if (deadline !== undefined && Date.now() > deadline) {
      throw new FailedPreconditionError(`application not healthy after ${Math.round(timeoutMs! / 1000)}s`);
    }
    await sleep(POLL_MS, ctx.signal);
  }
}
