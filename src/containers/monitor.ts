/**
 * Following running containers: each one's exit is awaited through conmon's exit file (also across a daemon
 * restart), then recorded, and the container removed (`--rm`) or restarted by its restart policy with Docker's
 * back-off. At daemon start `restore` re-arms the watch of the containers still running and settles the rest.
 */
import type { ContainerRecords } from '../metadata/index.ts';
import type { ExitStatus, RuntimeDriver } from '../runtime/index.ts';
import { errorMessage, NotFoundError } from '../util/errors.ts';
import { phaseEnd, phaseStart } from '../util/trace.ts';
import type { KeyedMutex } from '../util/lock.ts';
import type { HostConfig } from '../engine-api/containers.ts';
import type { Healthchecks } from './health.ts';
import type { Row, StoredConfig } from './model.ts';
import type { ContainerState } from './state.ts';
import { logPolicy } from './logdriver.ts';
import { LogRotation } from './logrotate.ts';

/** What the monitor needs of the container service. */
export interface MonitorDeps {
  records: ContainerRecords<StoredConfig, HostConfig, ContainerState>;
  runtimes: Map<string, RuntimeDriver>;
  /** The per-container lock of the service: exit handling and restarts hold it. */
  lock: KeyedMutex;
  health: Healthchecks;
  log?: { warn(m: string): void } | undefined;
  /** Publishes a container event. */
  publish(action: string, r: Row, extra?: Record<string, string>): void;
  /** What a run held is released (runtime container, network, volumes, root). */
  releaseRun(r: Row): Promise<void>;
  /** Waiters for the next exit hear the code. */
  exited(id: string, code: number): void;
  /** Removes a container, the lock held (`--rm`, and a removal a crash interrupted). */
  remove(r: Row, opts: { volumes?: boolean }): Promise<void>;
  /** Starts a container, the lock held (a restart policy's restart). */
  startLocked(r: Row): Promise<void>;
  /** Starts a container (restart policies at daemon start). */
  start(id: string): Promise<void>;
  /** Unmounts the views a `cp` that a crash interrupted left. */
  detachViews(id: string): Promise<void>;
  /** The container's log file (its rotated files are kept beside it while it runs). */
  logPath(id: string): string;
}

export class Monitor {
  readonly #d: MonitorDeps;
  readonly #watching = new Map<string, AbortController>();
  readonly #restartTimers = new Map<string, NodeJS.Timeout>();
  readonly #rotation: LogRotation;
  #closed = false;

  constructor(deps: MonitorDeps) {
    this.#d = deps;
    this.#rotation = new LogRotation(deps.log);
  }

  /**
   * Follows a running container until it exits (also after a daemon restart: conmon's exit file is kept), keeping
   * its rotated log files meanwhile.
   */
  watch(id: string, driver: RuntimeDriver): void {
    this.#watching.get(id)?.abort();
    const r = this.#d.records.get(id);
    let maxFiles = 1;
    try {
      if (r) maxFiles = logPolicy(r.hostConfig).maxFiles;
    } catch {
      // a log driver stored before it was checked: conmon's single file
    }
    this.#rotation.watch(id, this.#d.logPath(id), maxFiles);
    const ac = new AbortController();
    this.#watching.set(id, ac);
    driver.waitExit(id, { signal: ac.signal }).then(
      (status) => {
        if (this.#watching.get(id) === ac) this.#watching.delete(id);
        const t = phaseStart();
        void this.#d.lock
          .run(id, () => this.#onExit(id, status))
          .finally(() => phaseEnd('exit.lock+handling', id, t))
          .catch((err) =>
            this.#d.log?.warn(`container ${id.slice(0, 12)}: exit handling failed: ${errorMessage(err)}`),
          );
      },
      () => {
        /* aborted: removed, or the daemon is stopping */
      },
    );
  }

  /** Stops following a container (it is being removed). */
  unwatch(id: string): void {
    this.#rotation.unwatch(id);
    this.#watching.get(id)?.abort();
    this.#watching.delete(id);
  }

  /** The container's process ended: recorded, its run released, then `--rm` or the restart policy. The lock is held. */
  async #onExit(id: string, status: ExitStatus): Promise<void> {
    const r = this.#d.records.get(id);
    if (!r || (r.state.Status !== 'running' && r.state.Status !== 'paused')) return;
    this.#rotation.unwatch(id);
    this.#d.health.cancel(id);
    const state: ContainerState = {
      ...r.state,
      Status: 'exited',
      Pid: 0,
      ExitCode: status.exitCode,
      FinishedAt: status.exitedAt.toISOString(),
      OOMKilled: status.oomKilled,
    };
    // A stopped container has no health: the next start begins again at "starting".
    delete state.Health;
    this.#d.records.setState(id, state);
    if (status.oomKilled) this.#d.publish('oom', r);
    this.#d.publish('die', r, { exitCode: String(status.exitCode) });
    this.#d.exited(id, status.exitCode);
    // What the run held (the runtime's container, network, volumes, root) is released once the waiters heard the
    // exit, as dockerd cleans up after it marks a container stopped: a stop returns without waiting for the
    // runtime's delete. The lock is held until then, so a start, rm, cp or commit waits for it.
    await this.#d.releaseRun(r);
    const row = { ...r, state };
    if (r.hostConfig.AutoRemove) {
      await this.#d.remove(row, { volumes: true });
      return;
    }
    this.#maybeRestart(row);
  }

  #maybeRestart(r: Row): void {
    if (this.#closed) return;
    const p = r.hostConfig.RestartPolicy;
    if (!p || p.Name === '' || p.Name === 'no' || r.state.StoppedByUser) return;
    if (p.Name === 'on-failure') {
      if (r.state.ExitCode === 0) return;
      if (p.MaximumRetryCount && r.state.RestartCount >= p.MaximumRetryCount) return;
    }
    // Docker's back-off: 100 ms doubling per restart, reset once a run lasted 10 s or more.
    const ran = Date.parse(r.state.FinishedAt) - Date.parse(r.state.StartedAt);
    const n = ran >= 10_000 ? 0 : r.state.RestartCount;
    const delay = Math.min(100 * 2 ** n, 60_000);
    this.#d.records.setState(r.id, { ...r.state, Status: 'restarting' });
    const timer = setTimeout(() => {
      this.#restartTimers.delete(r.id);
      void this.#d.lock
        .run(r.id, async () => {
          const cur = this.#d.records.get(r.id);
          if (cur?.state.Status !== 'restarting') return;
          cur.state.RestartCount = (ran >= 10_000 ? 0 : cur.state.RestartCount) + 1;
          this.#d.records.setState(cur.id, cur.state);
          await this.#d.startLocked(cur);
          this.#d.publish('restart', cur);
        })
        .catch((err) => {
          this.#d.log?.warn(`container ${r.id.slice(0, 12)}: restart failed: ${errorMessage(err)}`);
          const cur = this.#d.records.get(r.id);
          if (cur) {
            this.#d.records.setState(cur.id, { ...cur.state, Status: 'exited' });
            this.#maybeRestart(this.#d.records.get(r.id)!);
          }
        });
    }, delay);
    timer.unref();
    this.#restartTimers.set(r.id, timer);
  }

  /** A stop or removal cancels a pending restart: the container stays exited, stopped by the user. */
  cancelRestart(r: Row): void {
    const t = this.#restartTimers.get(r.id);
    if (!t) return;
    clearTimeout(t);
    this.#restartTimers.delete(r.id);
    if (r.state.Status === 'restarting')
      this.#d.records.setState(r.id, { ...r.state, Status: 'exited', StoppedByUser: true });
  }

  /**
   * At daemon start: containers that ran when berthd stopped are still running under conmon (re-armed), or
   * exited meanwhile (their exit code comes from conmon's exit file); then restart policies apply.
   */
  async restore(): Promise<void> {
    for (const r of this.#d.records.all()) {
      const driver = this.#d.runtimes.get(r.runtime);
      await this.#d.detachViews(r.id).catch(() => {});
      if (r.state.Status === 'removing') {
        await this.#d.remove(r, {}).catch(() => {});
        continue;
      }
      if (r.state.Status === 'running' || r.state.Status === 'paused') {
        if (!driver) {
          this.#d.records.setState(r.id, {
            ...r.state,
            Status: 'exited',
            ExitCode: 255,
            Error: `runtime ${r.runtime} is not available`,
            Pid: 0,
          });
          continue;
        }
        let alive = false;
        try {
          alive = (await driver.monitor(r.id)).conmonAlive;
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
        const exit = await driver.exitStatus(r.id).catch(() => undefined);
        if (alive && !exit) {
          this.watch(r.id, driver);
          if (r.state.Health) this.#d.health.schedule(r.id, true);
          continue;
        }
        await this.#d.lock.run(r.id, () =>
          this.#onExit(r.id, exit ?? { exitCode: 255, exitedAt: new Date(), oomKilled: false, monitorLost: true }),
        );
        continue;
      }
      if (r.state.Status === 'restarting') {
        this.#d.records.setState(r.id, { ...r.state, Status: 'exited' });
      }
      const p = r.hostConfig.RestartPolicy?.Name;
      if ((p === 'always' || p === 'unless-stopped') && !r.state.StoppedByUser) {
        await this.#d
          .start(r.id)
          .catch((err) =>
            this.#d.log?.warn(`container ${r.id.slice(0, 12)}: restart at daemon start failed: ${errorMessage(err)}`),
          );
      }
    }
  }

  /** Stops following containers (they keep running under conmon) and cancels pending restarts. */
  close(): void {
    this.#closed = true;
    this.#rotation.close();
    for (const ac of this.#watching.values()) ac.abort();
    this.#watching.clear();
    for (const t of this.#restartTimers.values()) clearTimeout(t);
  }
}
