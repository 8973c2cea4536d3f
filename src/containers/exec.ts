import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AttachSession, type ExecProcess, type ExecSession, ProcessStartError } from '../runtime/index.ts';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import type { ExecConfig, ExecInspect } from '../engine-api/exec.ts';
import type { EventLog } from '../util/events.ts';
import { mergeEnv } from './config.ts';
import type { ContainerService } from './service.ts';
import { resolveUser } from './users.ts';

interface Exec {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  session?: ExecSession;
}

/** Docker's exec instances: created, started once (attached or detached), inspected for the exit code. */
export class ExecManager {
  readonly #containers: ContainerService;
  readonly #events: EventLog;
  readonly #execs = new Map<string, Exec>();

  constructor(containers: ContainerService, events: EventLog) {
    this.#containers = containers;
    this.#events = events;
  }

  create(ref: string, config: ExecConfig): { Id: string } {
    const r = this.#containers.get(ref);
    if (r.state.Status !== 'running') throw new ConflictError(`Container ${r.id} is not running`);
    if (!config.Cmd || config.Cmd.length === 0) throw new InvalidArgumentError('No exec command specified');
    const id = randomBytes(32).toString('hex');
    this.#execs.set(id, { id, containerId: r.id, config, running: false, exitCode: null, pid: 0 });
    this.#events.publish('container', `exec_create: ${config.Cmd.join(' ')}`, r.id, {
      image: r.imageRef,
      name: r.name,
      execID: id,
    });
    return { Id: id };
  }

  #get(id: string): Exec {
    const e = this.#execs.get(id);
    if (!e) throw new NotFoundError(`No such exec instance: ${id}`);
    return e;
  }

  /**
   * Starts the process. Attached: returns the session (output, stdin) and the exit promise; the caller streams.
   * The process spec is the container's own (capabilities, rlimits, no-new-privileges) with this exec's
   * command, environment, working directory, user and terminal.
   */
  async start(
    id: string,
    opts: { detach: boolean; consoleSize?: [number, number] | undefined },
  ): Promise<{ attach?: AttachSession; exit: Promise<number> }> {
    const e = this.#get(id);
    if (e.running || e.exitCode !== null) throw new ConflictError(`Error: Exec command ${id} has already run`);
    const r = this.#containers.get(e.containerId);
    if (r.state.Status !== 'running') throw new ConflictError(`Container ${r.id} is not running`);
    const bundle = join(this.#containers.dir(r.id), 'bundle');
    const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as {
      process: ExecProcess & { env?: string[]; user?: { uid: number; gid: number; additionalGids?: number[] } };
    };
    const c = e.config;
    const user = c.User ? await resolveUser(join(bundle, 'rootfs'), c.User) : undefined;
    const size = c.ConsoleSize ?? opts.consoleSize;
    const process: ExecProcess = {
      ...spec.process,
      args: c.Cmd!,
      env: mergeEnv(spec.process.env ?? [], c.Env ?? []),
      cwd: c.WorkingDir || spec.process.cwd || '/',
      terminal: c.Tty ?? false,
      ...(user ? { user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids } } : {}),
      ...(size && size[0] > 0 ? { consoleSize: { height: size[0], width: size[1] } } : {}),
    };
    if (!c.Tty) delete (process as { consoleSize?: unknown }).consoleSize;
    // As dockerd: --privileged gives the exec'd process every capability, whatever the container has.
    if (c.Privileged) {
      const all = this.#containers.allCapabilities();
      process.capabilities = { bounding: all, effective: all, permitted: all };
    }
    const driver = this.#containers.runtimeOf(r);
    const attached = !opts.detach;
    let session: ExecSession;
    try {
      session = await driver.exec(r.id, id, process, { attach: attached, stdin: attached && (c.AttachStdin ?? false) });
    } catch (err) {
      // As dockerd: the exec ends with 127 when the command is not found, 126 when it cannot be run (the runtime's
      // report says which), 126 for any other failure to start it.
      e.exitCode = err instanceof ProcessStartError ? err.exitCode : 126;
      await driver.removeExec(id).catch(() => {});
      throw err;
    }
    e.session = session;
    e.running = true;
    e.pid = session.pid;
    this.#events.publish('container', `exec_start: ${c.Cmd!.join(' ')}`, r.id, {
      image: r.imageRef,
      name: r.name,
      execID: id,
    });
    const exit = session.exit.then((st) => {
      e.running = false;
      e.exitCode = st.exitCode;
      this.#events.publish('container', 'exec_die', r.id, {
        image: r.imageRef,
        name: r.name,
        execID: id,
        exitCode: String(st.exitCode),
      });
      void driver.removeExec(id).catch(() => {});
      return st.exitCode;
    });
    return { ...(session.attach ? { attach: session.attach } : {}), exit };
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    const e = this.#get(id);
    if (!e.running) throw new ConflictError(`exec ${id} is not running`);
    const r = this.#containers.get(e.containerId);
    await this.#containers.runtimeOf(r).resizeExec(id, { height, width });
  }

  inspect(id: string): ExecInspect {
    const e = this.#get(id);
    const c = e.config;
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: {
        tty: c.Tty ?? false,
        entrypoint: c.Cmd?.[0] ?? '',
        arguments: c.Cmd?.slice(1) ?? [],
        privileged: c.Privileged ?? false,
        ...(c.User ? { user: c.User } : {}),
      },
      OpenStdin: c.AttachStdin ?? false,
      OpenStderr: c.AttachStderr ?? false,
      OpenStdout: c.AttachStdout ?? false,
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: c.DetachKeys ?? '',
      Pid: e.pid,
    };
  }

  /** Exec instances of a container (inspect's ExecIDs). */
  idsOf(containerId: string): string[] {
    return [...this.#execs.values()].filter((e) => e.containerId === containerId).map((e) => e.id);
  }
}
