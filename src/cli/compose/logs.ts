import type { Readable } from 'node:stream';
import { demultiplex, type ContainerSummary } from '../../client/index.ts';
import {
  compareNames,
  containerName,
  numberOf,
  projectContainers,
  serviceOf,
  selectServices,
  type Project,
  teardown,
} from '../../compose/index.ts';
import { CanceledError } from '../../util/errors.ts';
import type { ComposeInvocation } from './main.ts';

/**
 * `logs` and the attached `up`: every container's output, line by line, behind a `service-N  | ` prefix (coloured
 * on a terminal, a colour per container as Docker Compose assigns them), followed with `-f`.
 */

const COLORS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

export interface Printer {
  line(container: ContainerSummary, text: string): void;
  width: number;
}

function prefixName(c: ContainerSummary): string {
  const svc = serviceOf(c);
  const n = numberOf(c);
  return n > 0 ? `${svc}-${n}` : containerName(c);
}

export function makePrinter(
  write: (s: string) => void,
  containers: readonly ContainerSummary[],
  opts: { prefix: boolean; color: boolean },
): Printer {
  const width = Math.max(0, ...containers.map((c) => prefixName(c).length));
  const colorOf = new Map<string, number>();
  [...containers]
    .sort((a, b) => compareNames(prefixName(a), prefixName(b)))
    .forEach((c, i) => {
      colorOf.set(c.Id, COLORS[i % COLORS.length]!);
    });
  return {
    width,
    line: (c, text) => {
      if (!opts.prefix) return write(`${text}\n`);
      const p = `${prefixName(c).padEnd(width)}  | `;
      write(opts.color ? `\x1b[${colorOf.get(c.Id) ?? 36}m${p}\x1b[0m${text}\n` : `${p}${text}\n`);
    },
  };
}

/** Copies one container's log stream to the printer, line by line. */
async function pump(body: Readable, tty: boolean, c: ContainerSummary, printer: Printer): Promise<void> {
  let pending = '';
  const emit = (chunk: Uint8Array | string) => {
    pending += Buffer.from(chunk as Uint8Array).toString('utf8');
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      printer.line(c, pending.slice(0, nl).replace(/\r$/, ''));
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
  };
  try {
    if (tty) for await (const chunk of body) emit(chunk as Buffer);
    else for await (const frame of demultiplex(body)) emit(frame.data);
  } catch (err) {
    if (!(err instanceof CanceledError) && (err as NodeJS.ErrnoException).code !== 'ABORT_ERR') throw err;
  }
  if (pending !== '') printer.line(c, pending);
}

async function streamLogs(
  inv: ComposeInvocation,
  c: ContainerSummary,
  printer: Printer,
  opts: { follow: boolean; tail?: string; since?: string; until?: string; timestamps: boolean },
  signal?: AbortSignal,
): Promise<void> {
  const info = await inv.compose.client.containerInspect(c.Id, { signal });
  const body = await inv.compose.client.containerLogs(c.Id, {
    stdout: true,
    stderr: true,
    follow: opts.follow,
    timestamps: opts.timestamps,
    ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
    ...(opts.since !== undefined ? { since: opts.since } : {}),
    ...(opts.until !== undefined ? { until: opts.until } : {}),
    signal,
  });
  await pump(body, info.Config.Tty === true, c, printer);
}

export interface FollowOptions {
  abortOnExit: boolean;
  exitCodeFrom: string;
  timestamps: boolean;
  prefix: boolean;
  color: boolean;
  timeout: number | undefined;
}

/**
 * The attached `up`: prints the services' output until every container has stopped, or (with
 * `--abort-on-container-exit`) until the first one stops, then stops the rest; Ctrl-C stops them all.
 * Resolves with the exit status `up` ends with.
 */
export async function followProject(
  inv: ComposeInvocation,
  project: Project,
  services: readonly string[],
  opts: FollowOptions,
): Promise<number> {
  const containers = await projectContainers(inv.compose, project.name, { services });
  const out = (s: string) => inv.ctx.streams.out.write(s);
  const printer = makePrinter(out, containers, opts);
  const local = new AbortController();
  const onAbort = () => local.abort();
  inv.ctx.signal.addEventListener('abort', onAbort, { once: true });
  const exits: { c: ContainerSummary; code: number }[] = [];
  let firstExit: (() => void) | undefined;
  const firstExited = new Promise<void>((r) => (firstExit = r));
  const watchers = containers.map(async (c) => {
    const wait = await inv.compose.client.containerWait(c.Id, { condition: 'not-running', signal: local.signal });
    const logs = streamLogs(inv, c, printer, { follow: true, timestamps: opts.timestamps }, local.signal).catch(
      () => {},
    );
    try {
      const res = await wait.result;
      await logs;
      exits.push({ c, code: res.StatusCode });
      out(`${opts.prefix ? '' : ''}${containerName(c)} exited with code ${res.StatusCode}\n`);
      firstExit?.();
    } catch {
      // Canceled: Ctrl-C or the end of up.
    }
  });
  const allDone = Promise.all(watchers);
  let status = 0;
  if (opts.abortOnExit) {
    await Promise.race([
      firstExited,
      allDone,
      new Promise((r) => local.signal.addEventListener('abort', r, { once: true })),
    ]);
  } else {
    await Promise.race([allDone, new Promise((r) => local.signal.addEventListener('abort', r, { once: true }))]);
  }
  const interrupted = inv.ctx.signal.aborted;
  if (interrupted) inv.ctx.streams.err.write('Gracefully stopping... (press Ctrl+C again to force)\n');
  else if (opts.abortOnExit && exits.length > 0) inv.ctx.streams.err.write('Aborting on container exit...\n');
  if (interrupted || opts.abortOnExit) {
    const still = await projectContainers({ ...inv.compose, signal: undefined }, project.name, { all: false });
    await Promise.all(
      still.map(async (c) => {
        inv.compose.reporter.event('Container', containerName(c), 'Stopping');
        await (await teardown()).stopContainer(
          { ...inv.compose, signal: undefined },
          project.services[serviceOf(c)],
          c,
          opts.timeout,
        );
        inv.compose.reporter.event('Container', containerName(c), 'Stopped');
      }),
    );
  }
  local.abort();
  inv.ctx.signal.removeEventListener('abort', onAbort);
  await allDone;
  if (interrupted) return 130;
  if (opts.exitCodeFrom !== '') {
    const e = exits.find((x) => serviceOf(x.c) === opts.exitCodeFrom);
    if (e !== undefined) status = e.code;
    else {
      const c = containers.find((x) => serviceOf(x) === opts.exitCodeFrom);
      if (c !== undefined) status = (await inv.compose.client.containerInspect(c.Id)).State.ExitCode;
    }
  } else if (opts.abortOnExit && exits[0] !== undefined) {
    status = exits[0].code;
  }
  return status;
}

async function timeArg(value: string, what: string): Promise<string | undefined> {
  if (value === '') return undefined;
  const { getTimestamp } = await import('../system/events.ts');
  try {
    return getTimestamp(value);
  } catch (err) {
    throw new Error(`invalid value for "${what}": ${(err as Error).message}`);
  }
}

export async function runLogs(inv: ComposeInvocation): Promise<void> {
  const f = inv.flags;
  let name: string;
  let services: string[] | undefined;
  try {
    const { project } = inv.load(inv.args);
    name = project.name;
    if (inv.args.length > 0) services = selectServices(project, inv.args, true);
  } catch (err) {
    if (!(err instanceof Error) || !/no configuration file provided/.test(err.message)) throw err;
    name = inv.projectName();
    if (inv.args.length > 0) services = inv.args;
  }
  let containers = await projectContainers(inv.compose, name, {
    ...(services !== undefined ? { services } : {}),
    oneoff: 'exclude',
  });
  if (f.has('index')) containers = containers.filter((c) => numberOf(c) === f.int('index'));
  const printer = makePrinter((s) => inv.ctx.streams.out.write(s), containers, {
    prefix: !f.bool('no-log-prefix'),
    color: inv.ansi && !f.bool('no-color'),
  });
  const tail = f.string('tail');
  const since = await timeArg(f.string('since'), 'since');
  const until = await timeArg(f.string('until'), 'until');
  await Promise.all(
    containers.map((c) =>
      streamLogs(
        inv,
        c,
        printer,
        {
          follow: f.bool('follow'),
          timestamps: f.bool('timestamps'),
          ...(tail !== 'all' && tail !== '' ? { tail } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
        },
        inv.ctx.signal,
      ).catch((err: unknown) => {
        if (!inv.ctx.signal.aborted) throw err;
      }),
    ),
  );
}
