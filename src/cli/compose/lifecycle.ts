import {
  imageName,
  inDependencyOrder,
  projectContainers,
  selectServices,
  serviceOf,
  containerName,
  type Project,
  type RecreatePolicy,
  engine,
  teardown,
} from '../../compose/index.ts';
import { BerthError, InvalidArgumentError } from '../../util/errors.ts';
import { ExitStatusError } from '../errors.ts';
import { followProject } from './logs.ts';
import type { ComposeInvocation } from './main.ts';

/** up, create, down, start, stop, restart, rm, kill, pause, unpause, build, pull, push. */

function scaleFlags(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) {
    const [name = '', n = ''] = s.split('=');
    const v = Number(n);
    if (name === '' || !Number.isInteger(v) || v < 0)
      throw new InvalidArgumentError(`invalid --scale value "${s}": use SERVICE=NUM`);
    out[name] = v;
  }
  return out;
}

function timeoutOf(inv: ComposeInvocation): number | undefined {
  return inv.flags.has('timeout') ? inv.flags.int('timeout') : undefined;
}

function recreatePolicy(inv: ComposeInvocation): RecreatePolicy | undefined {
  const force = inv.flags.bool('force-recreate');
  const never = inv.flags.bool('no-recreate');
  if (force && never) throw new InvalidArgumentError('--force-recreate and --no-recreate are incompatible');
  return force ? 'force' : never ? 'never' : undefined;
}

function buildMode(inv: ComposeInvocation): 'always' | 'never' | undefined {
  if (inv.flags.bool('build') && inv.flags.bool('no-build'))
    throw new InvalidArgumentError('--build and --no-build are incompatible');
  return inv.flags.bool('build') ? 'always' : inv.flags.bool('no-build') ? 'never' : undefined;
}

function pullMode(inv: ComposeInvocation): 'always' | 'missing' | 'never' | undefined {
  if (!inv.flags.has('pull')) return undefined;
  const p = inv.flags.string('pull');
  if (p !== 'always' && p !== 'missing' && p !== 'never')
    throw new InvalidArgumentError(`invalid --pull option "${p}"`);
  return p;
}

export async function runUp(inv: ComposeInvocation): Promise<void> {
  const f = inv.flags;
  const detach = f.bool('detach');
  if (detach && f.bool('abort-on-container-exit')) {
    throw new InvalidArgumentError('--abort-on-container-exit and --detach are incompatible');
  }
  const { project } = inv.load(inv.args);
  const recreate = recreatePolicy(inv);
  const build = buildMode(inv);
  const pull = pullMode(inv);
  const waitTimeout = f.has('wait-timeout') ? f.int('wait-timeout') * 1000 : undefined;
  const services = await (await engine()).up(inv.compose, project, {
    services: inv.args,
    noDeps: f.bool('no-deps'),
    ...(recreate !== undefined ? { recreate } : {}),
    ...(f.bool('always-recreate-deps') ? { recreateDependencies: 'force' as const } : {}),
    ...(build !== undefined ? { build } : {}),
    ...(pull !== undefined ? { pull } : {}),
    scale: scaleFlags(f.list('scale')),
    removeOrphans: f.bool('remove-orphans'),
    noStart: f.bool('no-start'),
    wait: f.bool('wait'),
    ...(waitTimeout !== undefined ? { waitTimeout } : {}),
    ...(timeoutOf(inv) !== undefined ? { timeout: timeoutOf(inv)! } : {}),
    output: (line) => inv.ctx.streams.err.write(`${line}\n`),
  });
  if (detach || f.bool('no-start') || f.bool('wait')) return;
  // Attached: follow the logs of the attached services until their containers end (or Ctrl-C stops them).
  const attachOnly = f.list('attach');
  const noAttach = new Set(f.list('no-attach'));
  const attached = services.filter(
    (s) => (attachOnly.length > 0 ? attachOnly.includes(s) : project.services[s]?.attach !== false) && !noAttach.has(s),
  );
  const exitFrom = f.string('exit-code-from');
  if (exitFrom !== '' && project.services[exitFrom] === undefined)
    throw new InvalidArgumentError(`no such service: ${exitFrom}`);
  const code = await followProject(inv, project, attached, {
    abortOnExit: f.bool('abort-on-container-exit') || exitFrom !== '',
    exitCodeFrom: exitFrom,
    timestamps: f.bool('timestamps'),
    prefix: !f.bool('no-log-prefix'),
    color: inv.ansi && !f.bool('no-color'),
    timeout: timeoutOf(inv),
  });
  if (code !== 0) throw new ExitStatusError('', code);
}

export async function runDown(inv: ComposeInvocation): Promise<void> {
  const f = inv.flags;
  const rmi = f.string('rmi');
  if (rmi !== '' && rmi !== 'all' && rmi !== 'local') throw new InvalidArgumentError(`invalid --rmi option "${rmi}"`);
  let project: Project | undefined;
  let name: string;
  try {
    project = inv.load().project;
    name = project.name;
  } catch (err) {
    // `down -p NAME` works without the files, from the labels.
    if (!(err instanceof Error) || !/no configuration file provided/.test(err.message)) throw err;
    name = inv.projectName();
  }
  await (await teardown()).down(inv.compose, name, project, {
    volumes: f.bool('volumes'),
    removeOrphans: f.bool('remove-orphans'),
    ...(rmi !== '' ? { rmi: rmi as 'all' | 'local' } : {}),
    ...(timeoutOf(inv) !== undefined ? { timeout: timeoutOf(inv)! } : {}),
    services: inv.args,
  });
}

/** The containers of the named services (all when none), service containers only. */
async function targets(inv: ComposeInvocation, project: Project, all = true) {
  const names = inv.args.length > 0 ? selectServices(project, inv.args, true) : undefined;
  return projectContainers(inv.compose, project.name, { ...(names !== undefined ? { services: names } : {}), all });
}

/** The services named on the command line, else all of them. */
function namedServices(inv: ComposeInvocation, project: Project): string[] {
  return inv.args.length > 0 ? selectServices(project, inv.args, true) : Object.keys(project.services).sort();
}

async function eachInOrder(
  project: Project,
  services: string[],
  reverse: boolean,
  fn: (service: string) => Promise<void>,
): Promise<void> {
  const known = services.filter((s) => project.services[s] !== undefined);
  await inDependencyOrder(project.services, known, fn, { reverse });
}

export async function runStop(inv: ComposeInvocation): Promise<void> {
  const { project } = inv.load(inv.args);
  const containers = await targets(inv, project, false);
  const { stopRunning, stopTimeout } = await teardown();
  const services = [...new Set(containers.map(serviceOf))];
  await eachInOrder(project, services, true, async (s) => {
    const t = stopTimeout(project.services[s], timeoutOf(inv));
    const mine = containers.filter((c) => serviceOf(c) === s);
    await Promise.all(mine.map((c) => stopRunning(inv.compose, c, t, project.services[s])));
  });
}

export async function runStart(inv: ComposeInvocation): Promise<void> {
  const { project } = inv.load(inv.args);
  const services = selectServices(project, inv.args, true);
  const existing = await projectContainers(inv.compose, project.name, { services });
  if (existing.length === 0) throw new BerthError('service(s) have no container to start; use up');
  await (await engine()).startServices(inv.compose, project, { services });
  if (inv.flags.bool('wait')) await (await engine()).waitReady(inv.compose, project, services);
}

export async function runRestart(inv: ComposeInvocation): Promise<void> {
  const { project } = inv.load(inv.args);
  const services = selectServices(project, inv.args, inv.flags.bool('no-deps') || inv.args.length > 0);
  const containers = await projectContainers(inv.compose, project.name, { services });
  const { stopTimeout } = await teardown();
  await eachInOrder(project, services, false, async (s) => {
    const t = stopTimeout(project.services[s], timeoutOf(inv));
    for (const c of containers.filter((x) => serviceOf(x) === s)) {
      inv.compose.reporter.event('Container', containerName(c), 'Restarting');
      await inv.compose.client.containerRestart(c.Id, {
        ...(t !== undefined ? { timeout: t } : {}),
        signal: inv.ctx.signal,
      });
      inv.compose.reporter.event('Container', containerName(c), 'Started');
    }
  });
}

export async function runRm(inv: ComposeInvocation): Promise<void> {
  const { project } = inv.load(inv.args);
  const containers = await targets(inv, project, true);
  if (inv.flags.bool('stop')) {
    for (const c of containers.filter((x) => x.State === 'running')) {
      await (await teardown()).stopContainer(inv.compose, project.services[serviceOf(c)], c, undefined);
      c.State = 'exited';
    }
  }
  const stopped = containers.filter((c) => c.State !== 'running' && c.State !== 'paused' && c.State !== 'restarting');
  if (stopped.length === 0) {
    inv.ctx.streams.err.write('No stopped containers\n');
    return;
  }
  if (!inv.flags.bool('force')) {
    inv.ctx.streams.err.write(`Going to remove ${stopped.map(containerName).join(', ')}\n`);
    if (!inv.ctx.streams.in.isTTY) throw new BerthError('use -f to remove containers without a prompt');
  }
  for (const c of stopped) await (await teardown()).stopAndRemove(inv.compose, c, undefined, inv.flags.bool('volumes'));
}

export function simple(verb: 'kill' | 'pause' | 'unpause', done: string): (inv: ComposeInvocation) => Promise<void> {
  return async (inv) => {
    const { project } = inv.load(inv.args);
    const containers = (await targets(inv, project, false)).filter((c) =>
      verb === 'unpause' ? c.State === 'paused' : c.State === 'running' || (verb === 'kill' && c.State === 'paused'),
    );
    await Promise.all(
      containers.map(async (c) => {
        if (verb === 'kill')
          await inv.compose.client.containerKill(c.Id, inv.flags.string('signal'), { signal: inv.ctx.signal });
        else if (verb === 'pause') await inv.compose.client.containerPause(c.Id, { signal: inv.ctx.signal });
        else await inv.compose.client.containerUnpause(c.Id, { signal: inv.ctx.signal });
        inv.compose.reporter.event('Container', containerName(c), done);
      }),
    );
  };
}

export async function runCreate(inv: ComposeInvocation): Promise<void> {
  const { project } = inv.load(inv.args);
  const recreate = recreatePolicy(inv);
  const build = buildMode(inv);
  const pull = pullMode(inv);
  await (await engine()).create(inv.compose, project, {
    services: inv.args,
    ...(recreate !== undefined ? { recreate } : {}),
    ...(build !== undefined ? { build } : {}),
    ...(pull !== undefined ? { pull } : {}),
    scale: scaleFlags(inv.flags.list('scale')),
    removeOrphans: inv.flags.bool('remove-orphans'),
    output: (line) => inv.ctx.streams.err.write(`${line}\n`),
  });
}

export async function runBuild(inv: ComposeInvocation): Promise<void> {
  const { project } = inv.load(inv.args);
  const services = namedServices(inv, project);
  const args: Record<string, string> = {};
  for (const a of inv.flags.list('build-arg')) {
    const eq = a.indexOf('=');
    if (eq < 0) {
      const v = project.environment[a];
      if (v !== undefined) args[a] = v;
    } else args[a.slice(0, eq)] = a.slice(eq + 1);
  }
  for (const n of services) {
    const s = project.services[n]!;
    if (s.build === undefined) continue;
    await (await engine()).buildImage(inv.compose, project, s, {
      noCache: inv.flags.bool('no-cache'),
      pull: inv.flags.bool('pull'),
      quiet: inv.flags.bool('quiet'),
      args,
      output: (line) => inv.ctx.streams.err.write(`${line}\n`),
    });
  }
}

export async function runPull(inv: ComposeInvocation): Promise<void> {
  const { project } = inv.load(inv.args);
  const services = namedServices(inv, project);
  const failures: string[] = [];
  for (const n of services) {
    const s = project.services[n]!;
    if (s.image === undefined || s.pull_policy === 'build') continue;
    try {
      await (await engine()).pullImage(inv.compose, s.image, n);
    } catch (err) {
      if (!inv.flags.bool('ignore-pull-failures') && !(s.build !== undefined && inv.flags.bool('ignore-buildable')))
        throw err;
      failures.push(`${n}: ${(err as Error).message}`);
    }
  }
  for (const f of failures) inv.compose.reporter.warn(f);
}

export async function runPush(inv: ComposeInvocation): Promise<void> {
  const { project } = inv.load(inv.args);
  const services = namedServices(inv, project);
  for (const n of services) {
    const s = project.services[n]!;
    if (s.build === undefined && s.image === undefined) continue;
    const image = imageName(project, s);
    inv.compose.reporter.event('Image', image, 'Pushing');
    const slash = image.lastIndexOf('/');
    const colon = image.lastIndexOf(':');
    const [repo, tag] = colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, 'latest'];
    for await (const m of await inv.compose.client.imagePush(repo, tag, { signal: inv.ctx.signal })) {
      if (m.error !== undefined) {
        if (inv.flags.bool('ignore-push-failures')) inv.compose.reporter.warn(`${n}: ${m.error}`);
        else throw new BerthError(m.error);
      }
    }
    inv.compose.reporter.event('Image', image, 'Pushed');
  }
}
