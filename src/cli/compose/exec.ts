import { numberOf, planning, projectContainers, shellSplit, engine, teardown } from '../../compose/index.ts';
import { BerthError, InvalidArgumentError, NotFoundError } from '../../util/errors.ts';
import { ExitStatusError } from '../errors.ts';
import type { ComposeInvocation } from './main.ts';

/** exec, run, cp, wait, watch. */

async function serviceContainer(inv: ComposeInvocation, project: string, service: string, index: number) {
  const list = await projectContainers(inv.compose, project, { services: [service], all: false });
  const c = list.find((x) => numberOf(x) === index) ?? (index === 1 ? list[0] : undefined);
  if (c === undefined) throw new NotFoundError(`service "${service}" is not running`);
  return c;
}

export async function runExec(inv: ComposeInvocation): Promise<void> {
  const [service, ...command] = inv.args;
  if (service === undefined || command.length === 0)
    throw new InvalidArgumentError(`"${inv.prog} exec" requires at least 2 arguments`);
  const { project } = inv.load([service]);
  if (project.services[service] === undefined) throw new NotFoundError(`service "${service}" is not running`);
  const f = inv.flags;
  const c = await serviceContainer(inv, project.name, service, f.has('index') ? f.int('index') : 1);
  const tty = !f.bool('no-TTY') && inv.ctx.streams.in.isTTY === true && !f.bool('detach');
  // The container commands' code is loaded only by the compose commands that use it.
  const { execInContainer } = await import('../container/exec.ts');
  await execInContainer(inv.ctx.client(), inv.ctx.streams, {
    container: c.Id,
    command,
    detach: f.bool('detach'),
    interactive: !f.bool('detach'),
    tty,
    user: f.string('user'),
    privileged: f.bool('privileged'),
    env: f.list('env'),
    workdir: f.string('workdir'),
    detachKeys: '',
  });
}

export async function runRun(inv: ComposeInvocation): Promise<void> {
  const [service, ...command] = inv.args;
  if (service === undefined) throw new InvalidArgumentError(`"${inv.prog} run" requires at least 1 argument`);
  const f = inv.flags;
  const { project } = inv.load([service]);
  const svc = project.services[service];
  if (svc === undefined) throw new NotFoundError(`no such service: ${service}`);
  // Dependencies first (unless --no-deps), as `up` would start them.
  await (await engine()).prepareRun(inv.compose, project, service, f.bool('no-deps'));
  const name =
    f.string('name') ||
    `${project.name}-${service}-run-${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}`;
  const tty = !f.bool('no-TTY') && inv.ctx.streams.in.isTTY === true;
  const entrypoint = f.has('entrypoint') ? shellSplit(f.string('entrypoint')) : undefined;
  const apiVersion = await inv.compose.client.apiVersion({ signal: inv.ctx.signal });
  const plan = (await planning()).containerCreateRequest({
    project,
    service: { ...svc, ...(f.bool('service-ports') ? {} : { ports: [] }), container_name: name },
    name,
    apiVersion,
    oneoff: true,
    labels: { 'com.docker.compose.slug': process.getBuiltinModule('node:crypto').randomBytes(32).toString('hex') },
    override: {
      ...(command.length > 0 ? { Cmd: command } : {}),
      ...(entrypoint !== undefined ? { Entrypoint: entrypoint, ...(command.length === 0 ? { Cmd: [] } : {}) } : {}),
      ...(f.has('user') ? { User: f.string('user') } : {}),
      ...(f.has('workdir') ? { WorkingDir: f.string('workdir') } : {}),
      Tty: tty,
      OpenStdin: !f.bool('detach'),
      AttachStdin: !f.bool('detach'),
      env: f.list('env'),
      ports: f.list('publish'),
      autoRemove: f.bool('rm'),
    },
  });
  const { runContainer } = await import('../container/run.ts');
  await runContainer(
    inv.ctx.client(),
    inv.ctx.streams,
    {
      name,
      pull: 'never',
      quiet: true,
      platform: '',
      request: { body: plan.body, attach: !f.bool('detach'), autoRemove: f.bool('rm') },
      detach: f.bool('detach'),
      sigProxy: true,
      detachKeys: '',
      attachGiven: false,
    },
    inv.ctx.releaseSignals !== undefined ? { releaseSignals: inv.ctx.releaseSignals } : {},
  );
}

export async function runCp(inv: ComposeInvocation): Promise<void> {
  const [src, dst] = inv.args as [string, string];
  if (inv.args.length !== 2) throw new InvalidArgumentError(`"${inv.prog} cp" requires exactly 2 arguments`);
  const { project } = inv.load();
  const index = inv.flags.has('index') ? inv.flags.int('index') : 1;
  const resolve = async (arg: string): Promise<string> => {
    const colon = arg.indexOf(':');
    if (colon <= 0 || arg.startsWith('/') || arg.startsWith('.')) return arg;
    const service = arg.slice(0, colon);
    if (project.services[service] === undefined) throw new NotFoundError(`no such service: ${service}`);
    const list = await projectContainers(inv.compose, project.name, { services: [service] });
    const c = list.find((x) => numberOf(x) === index);
    if (c === undefined) throw new NotFoundError(`service "${service}" has no container #${index}`);
    return `${c.Id}:${arg.slice(colon + 1)}`;
  };
  const { copyFiles } = await import('../container/cp.ts');
  await copyFiles(inv.ctx.client(), inv.ctx.streams.in, inv.ctx.streams.out, inv.ctx.streams.err, {
    source: await resolve(src),
    destination: await resolve(dst),
    followLink: inv.flags.bool('follow-link'),
    copyUIDGID: inv.flags.bool('archive'),
    quiet: true,
  });
}

export async function runWait(inv: ComposeInvocation): Promise<void> {
  if (inv.args.length === 0) throw new InvalidArgumentError(`"${inv.prog} wait" requires at least 1 argument`);
  const { project } = inv.load(inv.args);
  const containers = await projectContainers(inv.compose, project.name, { services: inv.args });
  if (containers.length === 0) throw new BerthError('no containers for project');
  let status = 0;
  const handles = await Promise.all(
    containers.map((c) => inv.compose.client.containerWait(c.Id, { signal: inv.ctx.signal })),
  );
  const first = await Promise.race(handles.map((h) => h.result));
  status = first.StatusCode;
  for (const h of handles) h.cancel();
  if (inv.flags.bool('down-project')) await (await teardown()).down(inv.compose, project.name, project, {});
  inv.ctx.streams.out.write(`${status}\n`);
  if (status !== 0) throw new ExitStatusError('', status);
}
