/** A container's log as `docker logs` reads it: conmon's k8s-file, filtered by stream, followed while it runs. */
import { type LogEntry, type RuntimeDriver, readLog } from '../runtime/index.ts';
import type { LogsOptions, Row } from './model.ts';

const live = (r: Row) => r.state.Status === 'running' || r.state.Status === 'paused';

/**
 * The entries of the log at `path`, oldest first; with `follow` (and the container running or restarting), until
 * `current` says it no longer runs or its runtime has its exit.
 */
export async function* containerLog(
  r: Row,
  path: string,
  driver: RuntimeDriver,
  current: (id: string) => Row | undefined,
  opts: LogsOptions = {},
): AsyncGenerator<LogEntry> {
  const wantOut = opts.stdout ?? true;
  const wantErr = opts.stderr ?? true;
  const readOpts = {
    ...(opts.since !== undefined ? { since: opts.since } : {}),
    ...(opts.until !== undefined ? { until: opts.until } : {}),
    ...(opts.tail !== undefined && opts.tail >= 0 ? { tail: opts.tail } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    follow: (opts.follow ?? false) && (live(r) || r.state.Status === 'restarting'),
    stopWhen: async () => {
      const cur = current(r.id);
      if (!cur || !live(cur)) return true;
      return (await driver.exitStatus(r.id).catch(() => undefined)) !== undefined;
    },
  };
  for await (const e of readLog(path, readOpts)) {
    if ((e.stream === 'stdout' && wantOut) || (e.stream === 'stderr' && wantErr)) yield e;
  }
}
