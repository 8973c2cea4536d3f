import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecProcess, RuntimeDriver } from '../runtime/index.ts';
import { errorMessage } from '../util/errors.ts';
import type { EventLog } from '../util/events.ts';
import type { Row } from './model.ts';

/** What the healthchecks need of the container service. */
export interface HealthDeps {
  records: { get(id: string): Row | undefined; setState(id: string, state: Row['state']): void };
  events: EventLog;
  /** The runtime a container runs under. */
  driverOf(r: Row): RuntimeDriver;
  /** The container's directory (its bundle holds the process spec the check runs with). */
  dir(id: string): string;
  /** Event attributes of a container. */
  attrs(r: Row): Record<string, string>;
}

/**
 * Healthchecks, run by berthd itself: the image's or the run's HEALTHCHECK command is exec'd in the container
 * every Interval (default 30 s) with a Timeout (default 30 s); Retries (default 3) failures in a row make it
 * unhealthy, failures during StartPeriod do not count. Status changes are `health_status` events.
 */
export class Healthchecks {
  readonly #d: HealthDeps;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #closed = false;

  constructor(deps: HealthDeps) {
    this.#d = deps;
  }

  /** Arms the next check of a running container (`first`: right after start, StartInterval applies). */
  schedule(id: string, first: boolean): void {
    const r = this.#d.records.get(id);
    const hc = r?.config.Config.Healthcheck;
    if (!r || !hc?.Test?.length || hc.Test[0] === 'NONE' || this.#closed) return;
    const ns = (v: number | undefined, dflt: number) => (v && v > 0 ? v / 1e6 : dflt);
    const interval = ns(hc.Interval, 30_000);
    const delay = first && hc.StartInterval ? ns(hc.StartInterval, interval) : interval;
    clearTimeout(this.#timers.get(id));
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      void this.#run(id).finally(() => this.schedule(id, false));
    }, delay);
    timer.unref();
    this.#timers.set(id, timer);
  }

  /** Stops checking a container (it exited or is removed). */
  cancel(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  /** Stops every check (the daemon is stopping); nothing is scheduled after. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  async #run(id: string): Promise<void> {
    const r = this.#d.records.get(id);
    const hc = r?.config.Config.Healthcheck;
    if (r?.state.Status !== 'running' || !hc?.Test?.length || !r.state.Health) return;
    const args =
      hc.Test[0] === 'CMD-SHELL'
        ? ['/bin/sh', '-c', hc.Test.slice(1).join(' ')]
        : hc.Test[0] === 'CMD'
          ? hc.Test.slice(1)
          : hc.Test;
    const timeout = hc.Timeout && hc.Timeout > 0 ? hc.Timeout / 1e6 : 30_000;
    const start = new Date();
    let exitCode = -1;
    let output = '';
    try {
      const spec = JSON.parse(await readFile(join(this.#d.dir(id), 'bundle', 'config.json'), 'utf8')) as {
        process: ExecProcess;
      };
      const driver = this.#d.driverOf(r);
      const execId = randomBytes(16).toString('hex');
      const session = await driver.exec(id, execId, { ...spec.process, args, terminal: false }, { attach: true });
      const collect = (async () => {
        for await (const f of (session.attach?.output ?? []) as AsyncIterable<{ data: Buffer }>)
          if (output.length < 4096) output += f.data.toString();
      })();
      const timer = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), timeout).unref());
      const res = await Promise.race([session.exit.then((st) => st.exitCode), timer]);
      if (res === 'timeout') {
        output = `Health check exceeded timeout (${timeout / 1000}s)`;
        exitCode = -1;
        session.attach?.close();
      } else {
        exitCode = res;
        await collect.catch(() => {});
      }
      void driver.removeExec(execId).catch(() => {});
    } catch (err) {
      output = errorMessage(err);
    }
    const cur = this.#d.records.get(id);
    if (cur?.state.Status !== 'running' || !cur.state.Health) return;
    const h = {
      ...cur.state.Health,
      Log: [
        ...cur.state.Health.Log,
        {
          Start: start.toISOString(),
          End: new Date().toISOString(),
          ExitCode: exitCode,
          Output: output.slice(0, 4096),
        },
      ].slice(-5),
    };
    const inStartPeriod = hc.StartPeriod ? Date.now() - Date.parse(cur.state.StartedAt) < hc.StartPeriod / 1e6 : false;
    const before = h.Status;
    if (exitCode === 0) {
      h.Status = 'healthy';
      h.FailingStreak = 0;
    } else if (!inStartPeriod || before !== 'starting') {
      h.FailingStreak++;
      if (h.FailingStreak >= (hc.Retries && hc.Retries > 0 ? hc.Retries : 3)) h.Status = 'unhealthy';
    }
    this.#d.records.setState(id, { ...cur.state, Health: h });
    if (h.Status !== before) this.#d.events.publish('container', `health_status: ${h.Status}`, id, this.#d.attrs(cur));
  }
}
