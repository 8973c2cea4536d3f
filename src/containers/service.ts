import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerCreateRequest, HostConfig } from '../engine-api/containers.ts';
import { type AttachSession, ProcessStartError, signalNumber } from '../runtime/index.ts';
import type { Snapshotter } from '../snapshots/index.ts';
import { BerthError, ConflictError, errorMessage, NotFoundError, NotModifiedError } from '../util/errors.ts';
import { phase } from '../util/trace.ts';
import type { EventLog } from '../util/events.ts';
import { matchLabel } from '../util/labels.ts';
import { KeyedMutex } from '../util/lock.ts';
import { markTopDir } from '../util/topdir.ts';
import type { VolumeService } from '../volumes/index.ts';
import { type CommitOptions, commitContainer } from './commit.ts';
import { ContainerFiles } from './files.ts';
import { Healthchecks } from './health.ts';
import type { Row, WaitCondition, WaitResult } from './model.ts';
import { Monitor } from './monitor.ts';
import { Waiters } from './waiters.ts';
import { PendingAttaches } from './attach.ts';
import { ContainerLookup, isLive, type LookupDeps } from './lookup.ts';
import { renameContainer, updateContainer } from './manage.ts';
import { createContainer } from './create.ts';
import { signalInit } from './signal.ts';
import { launch, type RunDeps, releaseRun, startError } from './start.ts';
import { type ContainerState, removeLiveMessage, settlesWithin, ZERO_TIME } from './state.ts';

export interface ContainerServiceDeps extends LookupDeps {
  snapshotter: Snapshotter;
  volumes: VolumeService;
  defaultRuntime: string;
  events: EventLog;
  /** A small init for --init (catatonit or tini), if installed. */
  initPath?: string | undefined;
  log?: { info(m: string): void; warn(m: string): void; debug(m: string): void };
}

/**
 * Containers: the state machine (created → running ⇄ paused → exited, restarting, removing) with one lock per
 * container, and the events of each transition. What a transition does is in the modules beside: create's checks
 * (config.ts, spec.ts) and mounts (mounts.ts), a run's resources (start.ts), exits and restart policies
 * (monitor.ts), healthchecks (health.ts), files (files.ts), commit (commit.ts), rename and update (manage.ts).
 * What only reads containers (lookups, the `ps` listing, logs, top, stats) is the base class, lookup.ts.
 */
export class ContainerService extends ContainerLookup {
  readonly #d: ContainerServiceDeps;
  readonly #lock = new KeyedMutex();
  readonly #waiters = new Waiters();
  readonly #attaches = new PendingAttaches();
  /** Names of containers being created (held until their row is inserted). */
  readonly #creating = new Set<string>();
  /** The containers' directory made and marked (util/topdir.ts), once, before the first create. */
  #topDir: Promise<boolean> | undefined;
  readonly #health: Healthchecks;
  /** `docker cp` (archive stat, get and put), `export` and `diff`. */
  readonly files: ContainerFiles;
  readonly #monitor: Monitor;
  readonly #run: RunDeps;

  constructor(deps: ContainerServiceDeps) {
    super(deps);
    this.#d = deps;
    this.#health = new Healthchecks({
      records: deps.records,
      events: deps.events,
      driverOf: (r) => this.runtimeOf(r),
      dir: (id) => this.dir(id),
      attrs: (r) => this.#attrs(r),
    });
    this.files = new ContainerFiles({
      get: (ref) => this.get(ref),
      snapshotter: deps.snapshotter,
      images: deps.images,
      dir: (id) => this.dir(id),
      lock: this.#lock,
      current: (id) => deps.records.get(id),
      etcFiles: (r) => [
        { destination: '/etc/hostname', source: join(this.dir(r.id), 'hostname') },
        { destination: '/etc/hosts', source: join(this.networkFilesDir(r), 'hosts') },
        { destination: '/etc/resolv.conf', source: join(this.networkFilesDir(r), 'resolv.conf') },
      ],
    });
    this.#run = {
      snapshotter: deps.snapshotter,
      volumes: deps.volumes,
      networks: deps.networks,
      host: deps.host,
      initPath: deps.initPath,
      dir: (id) => this.dir(id),
      logPath: (id) => this.logPath(id),
      record: (ref) => deps.records.get(ref) ?? deps.records.byName(ref),
      log: deps.log,
    };
    this.#monitor = new Monitor({
      records: deps.records,
      runtimes: deps.runtimes,
      lock: this.#lock,
      health: this.#health,
      log: deps.log,
      publish: (action, r, extra) => this.#publish(action, r, extra),
      releaseRun: (r) => releaseRun(this.#run, r, deps.runtimes.get(r.runtime)),
      exited: (id, code) => this.#waiters.exited(id, code),
      remove: (r, opts) => this.#removeLocked(r, opts),
      startLocked: (r) => this.#startLocked(r),
      start: (id) => this.start(id),
      detachViews: (id) => this.files.detachViews(id),
      logPath: (id) => this.logPath(id),
    });
  }

  #attrs(r: Row, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(r.config.Config.Labels ?? {}), image: r.imageRef, name: r.name, ...extra };
  }

  #publish(action: string, r: Row, extra?: Record<string, string>): void {
    this.#d.events.publish('container', action, r.id, this.#attrs(r, extra));
  }

  /** dockerd's `kill` event for each signal a `stop` sends: the signal as a number. */
  #publishKill(r: Row, sig: string): void {
    let n: number;
    try {
      n = signalNumber(sig);
    } catch {
      return; // a stop signal recorded before it was checked: sent by the runtime's rules, not reported
    }
    this.#publish('kill', r, { signal: String(n) });
  }

  // ---- create ------------------------------------------------------------------------------------------

  /** A container from an image (see `createContainer`): checked whole, then made, or nothing is left. */
  async create(req: ContainerCreateRequest, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    const { row, warnings } = await createContainer(
      {
        ...this.#d,
        get: (ref) => this.get(ref),
        dir: (id) => this.dir(id),
        topDir: () => (this.#topDir ??= markTopDir(join(this.#d.dataRoot, 'containers'))),
        creating: this.#creating,
      },
      req,
      name,
    );
    this.#publish('create', row);
    return { Id: row.id, Warnings: warnings };
  }

  // ---- start -------------------------------------------------------------------------------------------

  async start(ref: string): Promise<void> {
    const r0 = this.get(ref);
    await this.#lock.run(r0.id, async () => {
      const r = this.get(r0.id);
      if (r.state.Status === 'running') throw new NotModifiedError(`container ${r.id} is already running`);
      if (r.state.Status === 'paused') throw new ConflictError('cannot start a paused container, try unpause instead');
      if (r.state.Status === 'removing' || r.state.Status === 'dead')
        throw new ConflictError(`container ${r.id} is marked for removal and cannot be started`);
      await this.#startLocked(r);
    });
  }

  /** created/exited → running; on failure the container stays as it was, with the error and its exit code. */
  async #startLocked(r: Row): Promise<void> {
    const driver = this.runtimeOf(r);
    let pid: number;
    try {
      const leaveStdinOpen = r.config.Config.StdinOnce === false;
      ({ pid } = await launch(this.#run, r, driver, () => this.#attaches.handOver(r.id, driver, { leaveStdinOpen })));
    } catch (err) {
      await this.#startFailed(r, err);
      throw startError(err);
    }
    const c = r.config.Config;
    const state: ContainerState = {
      ...r.state,
      Status: 'running',
      Pid: pid,
      ExitCode: 0,
      Error: '',
      StartedAt: new Date().toISOString(),
      FinishedAt: ZERO_TIME,
      OOMKilled: false,
      StoppedByUser: false,
    };
    if (c.Healthcheck?.Test?.length && c.Healthcheck.Test[0] !== 'NONE')
      state.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    this.#d.records.setState(r.id, state);
    this.#publish('start', r);
    this.#monitor.watch(r.id, driver);
    if (state.Health) this.#health.schedule(r.id, true);
  }

  async #startFailed(r: Row, err: unknown): Promise<void> {
    const message = errorMessage(err);
    // 127 or 126 when the runtime says the process could not start because of what it was given (dockerd's codes).
    const code = err instanceof ProcessStartError ? err.exitCode : 128;
    this.#d.records.setState(r.id, {
      ...r.state,
      Status: r.state.Status === 'created' ? 'created' : 'exited',
      ExitCode: code,
      Error: message,
      Pid: 0,
    });
    this.#attaches.fail(r.id, err as Error);
    this.#waiters.exited(r.id, code, message);
    // As dockerd: a --rm container whose start failed is removed (and `wait?condition=removed` returns).
    if (r.hostConfig.AutoRemove)
      await this.#removeLocked({ ...r, state: { ...r.state, ExitCode: code } }, { volumes: true }).catch(() => {});
  }

  // ---- stop, kill, wait ----------------------------------------------------------------------------------

  /** Sends the stop signal, then SIGKILL after the timeout (seconds; default the container's StopTimeout or 10). */
  async stop(ref: string, opts: { timeout?: number | undefined; signal?: string | undefined } = {}): Promise<void> {
    if (opts.signal) signalNumber(opts.signal);
    const r = this.get(ref);
    this.#monitor.cancelRestart(r);
    const cur = this.get(r.id);
    if (!isLive(cur)) throw new NotModifiedError(`container ${r.id} is not running`);
    this.#d.records.setState(r.id, { ...cur.state, StoppedByUser: true });
    const driver = this.runtimeOf(r);
    const sig = opts.signal || r.config.Config.StopSignal || 'SIGTERM';
    const timeout = opts.timeout ?? r.config.Config.StopTimeout ?? 10;
    const exited = this.wait(r.id, 'not-running');
    if (cur.state.Status === 'paused') await driver.resume(r.id).catch(() => {});
    await signalInit(driver, r.id, cur.state.Pid, sig).catch(() => {});
    this.#publishKill(r, sig);
    if (timeout >= 0) {
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((res) => setTimeout(() => res(true), timeout * 1000).unref()),
      ]);
      if (timedOut) {
        await driver.kill(r.id, 'SIGKILL', { all: true }).catch(() => {});
        this.#publishKill(r, 'SIGKILL');
      }
    }
    await exited;
    this.#publish('stop', r);
  }

  /**
   * Sends a signal. SIGKILL returns only once the container is recorded as exited (as dockerd: a client reads
   * `Running: false` right after); a paused container is resumed so that the signal is delivered.
   */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const n = signalNumber(signal); // a bad signal is refused before the container is looked at, as dockerd does
    const r = this.get(ref);
    if (!isLive(r)) throw new ConflictError(`Cannot kill container: ${ref}: Container ${r.id} is not running`);
    const killing = n === 9;
    if (killing) this.#d.records.setState(r.id, { ...r.state, StoppedByUser: true });
    const exited = killing ? this.wait(r.id, 'not-running') : undefined;
    const driver = this.runtimeOf(r);
    await driver.kill(r.id, signal); // the driver takes names, short names and numbers
    this.#publish('kill', r, { signal: String(n) });
    if (!exited) return;
    if (r.state.Status === 'paused') await driver.resume(r.id).catch(() => {});
    // dockerd waits (2 s), kills every process of the container directly, and waits once more.
    if (await settlesWithin(exited, 2000)) return;
    await driver.kill(r.id, 'SIGKILL', { all: true }).catch(() => {});
    if (!(await settlesWithin(exited, 2000)))
      throw new BerthError('tried to kill container, but did not receive an exit event');
  }

  async restart(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const r = this.get(ref);
    try {
      await this.stop(r.id, opts);
    } catch (err) {
      if (!(err instanceof NotModifiedError)) throw err;
    }
    await this.start(r.id);
    this.#publish('restart', r);
  }

  /** Docker's `/wait`. */
  wait(ref: string, condition: WaitCondition = 'not-running', signal?: AbortSignal): Promise<WaitResult> {
    const r = this.get(ref);
    if (condition === 'not-running' && !isLive(r) && r.state.Status !== 'restarting')
      return Promise.resolve({ StatusCode: r.state.ExitCode, Error: null });
    return this.#waiters.add(r.id, condition, signal);
  }

  // ---- remove ------------------------------------------------------------------------------------------

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const r0 = this.get(ref);
    if (isLive(r0) || r0.state.Status === 'restarting') {
      if (!opts.force) throw new ConflictError(removeLiveMessage(r0.id, r0.state.Status));
      this.#monitor.cancelRestart(r0);
      const cur = this.get(r0.id);
      if (isLive(cur)) {
        this.#d.records.setState(cur.id, { ...cur.state, StoppedByUser: true });
        const exited = this.wait(r0.id, 'not-running');
        await this.runtimeOf(r0)
          .kill(r0.id, 'SIGKILL', { all: true })
          .catch(() => {});
        await exited;
      }
    }
    await this.#lock.run(r0.id, async () => {
      const r = this.#d.records.get(r0.id);
      if (r) await this.#removeLocked(r, opts);
    });
  }

  async #removeLocked(r: Row, opts: { volumes?: boolean }): Promise<void> {
    this.#monitor.unwatch(r.id);
    // A `cp` in progress has volumes mounted under the container's directory: detach them before anything is removed.
    await this.files.detachViews(r.id);
    await releaseRun(this.#run, r, this.#d.runtimes.get(r.runtime), { removing: true });
    await phase('snapshot', r.id, () =>
      this.#d.snapshotter.remove(r.snapshot).catch((err) => {
        if (!(err instanceof NotFoundError)) throw err;
      }),
    );
    await phase('files', r.id, () => rm(this.dir(r.id), { recursive: true, force: true }));
    this.#d.records.delete(r.id);
    if (opts.volumes) {
      for (const m of r.config.Mounts) if (m.Anonymous && m.Name) await this.#d.volumes.remove(m.Name).catch(() => {});
    }
    this.#publish('destroy', r);
    this.#waiters.removed(r.id, r.state.ExitCode);
  }

  async prune(
    filters: { until?: number; labels?: string[] } = {},
  ): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    for (const r of this.#d.records.all()) {
      if (r.state.Status !== 'exited' && r.state.Status !== 'created' && r.state.Status !== 'dead') continue;
      if (filters.until !== undefined && !(r.created / 1000 < filters.until)) continue;
      if (filters.labels && !filters.labels.every((l) => matchLabel(r.config.Config.Labels ?? {}, l))) continue;
      await this.remove(r.id).catch(() => {});
      deleted.push(r.id);
    }
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: 0 };
  }

  // ---- attach, resize, pause, rename, update, commit ------------------------------------------------------

  /**
   * A session on the container's stdio. Before the container starts, it is handed over when start has created
   * the container and before its process runs, so no output is lost.
   */
  async attach(ref: string, signal?: AbortSignal): Promise<AttachSession> {
    const r = this.get(ref);
    this.#publish('attach', r);
    if (isLive(r)) return this.runtimeOf(r).attach(r.id, signal ? { signal } : {});
    return this.#attaches.wait(r.id, signal);
  }

  async resize(ref: string, height: number, width: number): Promise<void> {
    const r = this.get(ref);
    if (r.state.Status !== 'running') throw new ConflictError(`Container ${r.id} is not running`);
    await this.runtimeOf(r).resize(r.id, { height, width });
  }

  async pause(ref: string): Promise<void> {
    const r = this.get(ref);
    if (r.state.Status === 'paused') throw new ConflictError(`Container ${r.id} is already paused`);
    if (r.state.Status !== 'running') throw new ConflictError(`Container ${r.id} is not running`);
    await this.runtimeOf(r).pause(r.id);
    this.#d.records.setState(r.id, { ...r.state, Status: 'paused' });
    this.#publish('pause', r);
  }

  async unpause(ref: string): Promise<void> {
    const r = this.get(ref);
    if (r.state.Status !== 'paused') throw new ConflictError(`Container ${r.id} is not paused`);
    await this.runtimeOf(r).resume(r.id);
    this.#d.records.setState(r.id, { ...r.state, Status: 'running' });
    this.#publish('unpause', r);
  }

  /** `docker rename` (manage.ts). */
  async rename(ref: string, newName: string): Promise<void> {
    const r = this.get(ref);
    const name = await renameContainer(this.#d, r, newName);
    this.#publish('rename', { ...r, name }, { oldName: `/${r.name}` });
  }

  /** `docker update` (manage.ts). */
  async update(ref: string, u: Partial<HostConfig>): Promise<{ Warnings: string[] }> {
    const r = this.get(ref);
    await updateContainer(this.#d, r, u, (x) => this.runtimeOf(x));
    this.#publish('update', r);
    return { Warnings: [] };
  }

  /**
   * `docker commit`: the container's changes as a new image (see `commitContainer`). A running container is paused
   * meanwhile unless `pause` is false; where the runtime cannot pause it (the freezer refused), it is committed
   * running, as dockerd does (it ignores a failed pause).
   */
  async commit(ref: string, o: CommitOptions): Promise<string> {
    const r = this.get(ref);
    let pause = (o.pause ?? true) && r.state.Status === 'running';
    if (pause)
      await this.pause(r.id).catch((err: unknown) => {
        pause = false;
        this.#d.log?.warn(
          `commit ${r.id.slice(0, 12)}: committing it running, it could not be paused: ${errorMessage(err)}`,
        );
      });
    try {
      const id = await commitContainer(this.#d, r, o);
      this.#publish('commit', r, { comment: o.comment ?? '', imageID: id });
      return id;
    } finally {
      if (pause) await this.unpause(r.id).catch(() => {});
    }
  }

  // ---- daemon start and stop -------------------------------------------------------------------------------

  /** At daemon start: running containers re-armed, exits meanwhile recorded, restart policies applied. */
  restore(): Promise<void> {
    return this.#monitor.restore();
  }

  /** Stops following containers; they keep running under conmon. */
  close(): void {
    this.#monitor.close();
    this.#health.close();
  }
}
