import type { ContainerSummary } from '../../client/index.ts';
import {
  COMPOSE_VERSION,
  containerName,
  formatConfig,
  imageName,
  numberOf,
  parseReadiness,
  PROJECT_LABEL as PROJECT,
  projectContainers,
  selectServices,
  planning,
  serviceOf,
  type Project,
  engine,
} from '../../compose/index.ts';
import { InvalidArgumentError, NotFoundError } from '../../util/errors.ts';
import type { ComposeInvocation } from './main.ts';
import { compileFormat } from '../output.ts';
import { humanSize, timeAgo } from '../units.ts';

/** ps, ls, images, top, port, config, version, events (and logs, from logs.ts). */

/** Columns padded as Go's tabwriter does for Docker Compose's tables (3 spaces between). */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map(
      (r) =>
        `${r
          .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3)))
          .join('')
          .trimEnd()}\n`,
    )
    .join('');
}

function portsText(c: ContainerSummary): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const p of c.Ports ?? []) {
    const text =
      p.PublicPort !== undefined
        ? `${p.IP?.includes(':') ? `[${p.IP}]` : (p.IP ?? '')}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`
        : `${p.PrivatePort}/${p.Type}`;
    if (!seen.has(text)) out.push(text);
    seen.add(text);
  }
  return out.join(', ');
}

function quoteCommand(cmd: string): string {
  const short = cmd.length > 20 ? `${cmd.slice(0, 19)}…` : cmd;
  return `"${short}"`;
}

/** `Up 5 seconds (ready)` for a service with `x-berth-ready`, else the engine's status. */
async function statusOf(
  inv: ComposeInvocation,
  project: Project | undefined,
  c: ContainerSummary,
): Promise<{ status: string; health: string }> {
  const svc = project?.services[serviceOf(c)];
  if (c.State !== 'running' || svc === undefined || parseReadiness(svc) === undefined) {
    const m = /\((healthy|unhealthy|health: starting)\)/.exec(c.Status);
    return { status: c.Status, health: m === null ? '' : m[1] === 'health: starting' ? 'starting' : m[1]! };
  }
  const info = await inv.compose.client.containerInspect(c.Id, { signal: inv.ctx.signal });
  const h = await (await engine()).containerHealth(inv.compose, info, svc);
  const word = h === 'healthy' ? 'ready' : 'not ready';
  return { status: `${c.Status.replace(/ \((healthy|unhealthy|health: starting)\)$/, '')} (${word})`, health: word };
}

function loadOrName(
  inv: ComposeInvocation,
  services: string[] = inv.args,
): { project: Project | undefined; name: string } {
  try {
    const { project } = inv.load(services);
    return { project, name: project.name };
  } catch (err) {
    if (!(err instanceof Error) || !/no configuration file provided/.test(err.message)) throw err;
    return { project: undefined, name: inv.projectName() };
  }
}

export async function runPs(inv: ComposeInvocation): Promise<void> {
  const f = inv.flags;
  const { project, name } = loadOrName(inv);
  if (f.bool('services')) {
    if (project === undefined) throw new NotFoundError('no configuration file provided: not found');
    inv.ctx.streams.out.write(
      Object.keys(project.services)
        .sort()
        .map((s) => `${s}\n`)
        .join(''),
    );
    return;
  }
  const services =
    inv.args.length > 0 ? (project !== undefined ? selectServices(project, inv.args, true) : inv.args) : undefined;
  const statuses = [
    ...f.list('status'),
    ...f
      .list('filter')
      .filter((x) => x.startsWith('status='))
      .map((x) => x.slice(7)),
  ];
  let containers = await projectContainers(inv.compose, name, {
    ...(services !== undefined ? { services } : {}),
    all: f.bool('all') || statuses.length > 0,
    oneoff: f.bool('all') ? 'include' : 'exclude',
  });
  if (statuses.length > 0) containers = containers.filter((c) => statuses.includes(c.State));
  if (f.bool('quiet')) {
    inv.ctx.streams.out.write(containers.map((c) => `${c.Id}\n`).join(''));
    return;
  }
  const format = f.string('format');
  const rows = await Promise.all(containers.map(async (c) => ({ c, ...(await statusOf(inv, project, c)) })));
  if (format === 'json') {
    for (const { c, status, health } of rows)
      inv.ctx.streams.out.write(`${JSON.stringify(psRow(c, status, health, name))}\n`);
    return;
  }
  if (format !== '' && format !== 'table') {
    // A Go template over the same fields as the JSON lines, one line per container, as Docker Compose v2.
    const render = await compileFormat(format);
    for (const { c, status, health } of rows) inv.ctx.streams.out.write(`${render(psRow(c, status, health, name))}\n`);
    return;
  }
  const lines = [['NAME', 'IMAGE', 'COMMAND', 'SERVICE', 'CREATED', 'STATUS', 'PORTS']];
  for (const { c, status } of rows) {
    lines.push([
      containerName(c),
      c.Image,
      quoteCommand(c.Command),
      serviceOf(c),
      timeAgo(c.Created),
      status,
      portsText(c),
    ]);
  }
  inv.ctx.streams.out.write(table(lines));
}

/** One container as `ps --format json` prints it (Docker Compose v2's fields); templates see the same. */
function psRow(c: ContainerSummary, status: string, health: string, project: string): Record<string, unknown> {
  const ports = c.Ports ?? [];
  const exited = /Exited \((\d+)\)/.exec(c.Status)?.[1];
  return {
    Command: `"${c.Command}"`,
    CreatedAt: new Date(c.Created * 1000).toISOString(),
    ExitCode: exited !== undefined ? Number(exited) : 0,
    Health: health,
    ID: c.Id,
    Image: c.Image,
    Labels: Object.entries(c.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Type === 'volume').length),
    Mounts: (c.Mounts ?? []).map((m) => m.Name ?? m.Source ?? '').join(','),
    Name: containerName(c),
    Names: containerName(c),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
    Ports: portsText(c),
    Project: project,
    Publishers: ports.map((p) => ({
      URL: p.IP ?? '',
      TargetPort: p.PrivatePort,
      PublishedPort: p.PublicPort ?? 0,
      Protocol: p.Type,
    })),
    RunningFor: timeAgo(c.Created),
    Service: serviceOf(c),
    Size: '0B',
    State: c.State,
    Status: status,
  };
}

export async function runLs(inv: ComposeInvocation): Promise<void> {
  const list = await (await engine()).listProjects(inv.compose, inv.flags.bool('all'));
  const filters = inv.flags.list('filter').filter((x) => x.startsWith('name='));
  const shown = filters.length === 0 ? list : list.filter((p) => filters.some((x) => p.name.includes(x.slice(5))));
  if (inv.flags.bool('quiet')) return void inv.ctx.streams.out.write(shown.map((p) => `${p.name}\n`).join(''));
  if (inv.flags.string('format') === 'json') {
    const json = shown.map((p) => ({ Name: p.name, Status: p.status, ConfigFiles: p.configFiles }));
    return void inv.ctx.streams.out.write(`${JSON.stringify(json)}\n`);
  }
  inv.ctx.streams.out.write(
    table([['NAME', 'STATUS', 'CONFIG FILES'], ...shown.map((p) => [p.name, p.status, p.configFiles])]),
  );
}

export async function runImages(inv: ComposeInvocation): Promise<void> {
  const { name } = loadOrName(inv);
  const containers = await projectContainers(inv.compose, name, {
    oneoff: 'include',
    ...(inv.args.length > 0 ? { services: inv.args } : {}),
  });
  const rows: string[][] = [['CONTAINER', 'REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE']];
  const ids = new Set<string>();
  for (const c of containers) {
    const img = await inv.compose.client.imageInspect(c.ImageID, { signal: inv.ctx.signal }).catch(() => undefined);
    const ref = img?.RepoTags?.[0] ?? c.Image;
    const colon = ref.lastIndexOf(':');
    const [repo, tag] = colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
    ids.add(c.ImageID);
    rows.push([
      containerName(c),
      repo,
      tag,
      c.ImageID.replace(/^sha256:/, '').slice(0, 12),
      humanSize((img?.Size as number | undefined) ?? 0),
    ]);
  }
  if (inv.flags.bool('quiet')) return void inv.ctx.streams.out.write([...ids].map((i) => `${i}\n`).join(''));
  inv.ctx.streams.out.write(table(rows));
}

export async function runTop(inv: ComposeInvocation): Promise<void> {
  const { name } = loadOrName(inv);
  const containers = await projectContainers(inv.compose, name, {
    all: false,
    ...(inv.args.length > 0 ? { services: inv.args } : {}),
  });
  for (const c of containers) {
    const top = await inv.compose.client.containerTop(c.Id, [], { signal: inv.ctx.signal });
    inv.ctx.streams.out.write(`${containerName(c)}\n${table([top.Titles ?? [], ...(top.Processes ?? [])])}\n`);
  }
}

export async function runPort(inv: ComposeInvocation): Promise<void> {
  const [service, privatePort] = inv.args as [string, string];
  const { name } = loadOrName(inv, [service]);
  const index = inv.flags.has('index') ? inv.flags.int('index') : 1;
  const c = (await projectContainers(inv.compose, name, { services: [service] })).find((x) => numberOf(x) === index);
  if (c === undefined) throw new NotFoundError(`service "${service}" is not running container #${index}`);
  const proto = inv.flags.string('protocol');
  const p = (c.Ports ?? []).find(
    (x) => String(x.PrivatePort) === privatePort && x.Type === proto && x.PublicPort !== undefined,
  );
  if (p === undefined) throw new NotFoundError(`no port ${privatePort}/${proto} for container ${containerName(c)}`);
  inv.ctx.streams.out.write(`${p.IP ?? '0.0.0.0'}:${p.PublicPort}\n`);
}

export async function runConfig(inv: ComposeInvocation): Promise<void> {
  const f = inv.flags;
  const { project } = inv.load(inv.args.length > 0 ? inv.args : undefined);
  const out = (s: string) => inv.ctx.streams.out.write(s);
  if (f.bool('services'))
    return void out(
      Object.keys(project.services)
        .sort()
        .map((s) => `${s}\n`)
        .join(''),
    );
  if (f.bool('volumes'))
    return void out(
      Object.keys(project.volumes)
        .sort()
        .map((s) => `${s}\n`)
        .join(''),
    );
  if (f.bool('networks'))
    return void out(
      Object.keys(project.networks)
        .sort()
        .map((s) => `${s}\n`)
        .join(''),
    );
  if (f.bool('profiles')) {
    const all = new Set(
      [...Object.values(project.services), ...Object.values(project.disabledServices)].flatMap((s) => s.profiles),
    );
    return void out(
      [...all]
        .sort()
        .map((p) => `${p}\n`)
        .join(''),
    );
  }
  if (f.bool('images'))
    return void out(
      Object.keys(project.services)
        .sort()
        .map((s) => `${imageName(project, project.services[s]!)}\n`)
        .join(''),
    );
  if (f.has('hash')) {
    const want = f.string('hash');
    const names = want === '*' ? Object.keys(project.services).sort() : want.split(',').map((s) => s.trim());
    const { serviceHash } = await planning();
    for (const n of names) {
      const s = project.services[n];
      if (s === undefined) throw new NotFoundError(`no such service: ${n}`);
      out(`${n} ${serviceHash(s)}\n`);
    }
    return;
  }
  if (f.bool('quiet')) return;
  const format = f.string('format');
  if (format !== 'yaml' && format !== 'json') throw new InvalidArgumentError(`unsupported format "${format}"`);
  const text = formatConfig(project, format);
  if (f.string('output') !== '') {
    const { writeFileSync } = process.getBuiltinModule('node:fs');
    writeFileSync(f.string('output'), text);
  } else out(text);
}

export async function runVersion(inv: ComposeInvocation): Promise<void> {
  if (inv.flags.bool('short')) return void inv.ctx.streams.out.write(`${COMPOSE_VERSION}\n`);
  if (inv.flags.string('format') === 'json')
    return void inv.ctx.streams.out.write(`${JSON.stringify({ version: `v${COMPOSE_VERSION}` })}\n`);
  inv.ctx.streams.out.write(`Docker Compose version v${COMPOSE_VERSION} (Berth ${inv.ctx.version})\n`);
}

export async function runEvents(inv: ComposeInvocation): Promise<void> {
  const { name } = loadOrName(inv);
  const events = await inv.compose.client.events({
    filters: { label: [`${PROJECT}=${name}`] },
    signal: inv.ctx.signal,
  });
  try {
    for await (const e of events) {
      const attrs = (e.Actor?.Attributes ?? {}) as Record<string, string>;
      const service = attrs['com.docker.compose.service'] ?? '';
      if (inv.args.length > 0 && !inv.args.includes(service)) continue;
      const time = new Date(Number(e.timeNano ?? BigInt(e.time ?? 0) * 1_000_000_000n) / 1e6).toISOString();
      const id = e.Actor?.ID ?? e.id ?? '';
      if (inv.flags.bool('json')) {
        inv.ctx.streams.out.write(
          `${JSON.stringify({ time, type: e.Type, action: e.Action, id, service, attributes: attrs })}\n`,
        );
      } else {
        const rest = Object.entries(attrs)
          .filter(([k]) => !k.startsWith('com.docker.compose'))
          .map(([k, v]) => `${k}=${v}`)
          .join(', ');
        inv.ctx.streams.out.write(`${time} ${e.Type} ${e.Action} ${id} (${rest})\n`);
      }
    }
  } catch (err) {
    if (!inv.ctx.signal.aborted) throw err;
  }
}
