import { NotFoundError } from '../util/errors.ts';
import type { Project, Service } from './model.ts';

/**
 * The service dependency graph: `depends_on`, `links`, `volumes_from` and `network_mode`/`ipc`/`pid` of the
 * form `service:NAME` are edges. Used for the cycle check, for start order (dependencies first) and stop
 * order (dependents first), and to walk a service's dependencies or dependents.
 */

/** The services a service needs, whatever the reason. */
export function dependenciesOf(s: Service): string[] {
  const out = new Set(Object.keys(s.depends_on));
  for (const l of s.links) out.add(l.split(':')[0]!);
  for (const v of s.volumes_from) {
    const first = v.split(':')[0]!;
    if (first !== 'container') out.add(first);
  }
  for (const mode of [s.network_mode, s.ipc, s.pid]) {
    if (mode?.startsWith('service:')) out.add(mode.slice('service:'.length));
  }
  return [...out];
}

/** A cycle as `a -> b -> a`, or undefined. Only edges between known services count. */
export function findCycle(services: Record<string, Service>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const st = state.get(name);
    if (st === 'done') return undefined;
    if (st === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    const svc = services[name];
    for (const dep of svc === undefined ? [] : dependenciesOf(svc).sort()) {
      if (services[dep] === undefined) continue;
      const cycle = visit(dep);
      if (cycle !== undefined) return cycle;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of Object.keys(services).sort()) {
    const cycle = visit(name);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

/** Service names, dependencies before the services that need them (ties by name). */
export function startOrder(services: Record<string, Service>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name) || services[name] === undefined) return;
    seen.add(name);
    for (const dep of dependenciesOf(services[name]).sort()) visit(dep);
    out.push(name);
  };
  for (const name of Object.keys(services).sort()) visit(name);
  return out;
}

/** The named services and everything they need, transitively. */
export function withDependencies(services: Record<string, Service>, names: readonly string[]): Set<string> {
  const out = new Set<string>();
  const visit = (name: string): void => {
    if (out.has(name)) return;
    out.add(name);
    const svc = services[name];
    if (svc !== undefined) for (const dep of dependenciesOf(svc)) visit(dep);
  };
  for (const n of names) visit(n);
  return out;
}

/** The services that depend on `name` directly through `depends_on` with `restart: true`, transitively. */
export function restartDependents(services: Record<string, Service>, name: string): string[] {
  const out = new Set<string>();
  const visit = (target: string): void => {
    for (const [n, s] of Object.entries(services)) {
      if (out.has(n)) continue;
      if (s.depends_on[target]?.restart === true) {
        out.add(n);
        visit(n);
      }
    }
  };
  visit(name);
  return [...out];
}

/**
 * Runs `fn` for every service once all its dependencies' `fn` resolved, independent services concurrently
 * (Docker Compose's InDependencyOrder). `reverse` runs dependents first (for stop and down). The first
 * failure is thrown after the services already running finish; services waiting on a failed one never run.
 */
export async function inDependencyOrder(
  services: Record<string, Service>,
  names: readonly string[],
  fn: (name: string) => Promise<void>,
  opts: { reverse?: boolean } = {},
): Promise<void> {
  const selected = new Set(names);
  const needs = new Map<string, Set<string>>();
  for (const n of selected) needs.set(n, new Set());
  for (const n of selected) {
    const svc = services[n];
    if (svc === undefined) continue;
    for (const dep of dependenciesOf(svc)) {
      if (!selected.has(dep)) continue;
      if (opts.reverse) needs.get(dep)!.add(n);
      else needs.get(n)!.add(dep);
    }
  }
  const done = new Map<string, Promise<void>>();
  const run = (n: string): Promise<void> => {
    let p = done.get(n);
    if (p === undefined) {
      p = (async () => {
        await Promise.all([...needs.get(n)!].map(run));
        await fn(n);
      })();
      done.set(n, p);
    }
    return p;
  };
  const results = await Promise.allSettled([...selected].sort().map(run));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** The services an operation covers: the named ones and (unless `noDeps`) what they depend on, in start order. */
export function selectServices(project: Project, names: readonly string[] | undefined, noDeps = false): string[] {
  const all = Object.keys(project.services);
  if (names === undefined || names.length === 0) return startOrder(project.services);
  for (const n of names) {
    if (project.services[n] === undefined) throw new NotFoundError(`no such service: ${n}`);
  }
  const chosen = noDeps ? new Set(names) : withDependencies(project.services, names);
  return startOrder(project.services).filter((n) => chosen.has(n) && all.includes(n));
}
