/**
 * A container's log as `docker logs` reads it: conmon's k8s-file and the rotated files berthd kept (logrotate.ts),
 * oldest first, filtered by stream, followed while it runs.
 */
import { type LogEntry, type RuntimeDriver, readLog } from '../runtime/index.ts';
import { rotatedLogs } from './logrotate.ts';
import type { LogsOptions, Row } from './model.ts';

const live = (r: Row) => r.state.Status === 'running' || r.state.Status === 'paused';

/**
 * The entries of the log at `path` (after those of its rotated files), oldest first; with `follow` (and the container
 * running or restarting), until `current` says it no longer runs or its runtime has its exit. `tail` counts across
 * the files.
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
  const want = (e: LogEntry) => (e.stream === 'stdout' && wantOut) || (e.stream === 'stderr' && wantErr);
  const range = {
    ...(opts.since !== undefined ? { since: opts.since } : {}),
    ...(opts.until !== undefined ? { until: opts.until } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const tail = opts.tail !== undefined && opts.tail >= 0 ? opts.tail : undefined;
  const older = await rotatedLogs(path);
  if (older.length > 0 && tail !== 0) {
    // Lines the rotated files give: all of them, or as many as the live file lacks of `tail`.
    let need = Number.POSITIVE_INFINITY;
    if (tail !== undefined) {
      let n = 0;
      for await (const _ of readLog(path, { ...range, tail })) n++;
      need = tail - n;
    }
    const kept: LogEntry[] = [];
    if (need > 0)
      for (const file of older)
        for await (const e of readLog(file, range)) {
          kept.push(e);
          if (kept.length > need) kept.shift();
        }
    for (const e of kept) if (want(e)) yield e;
  }
  const readOpts = {
    ...range,
    ...(tail !== undefined ? { tail } : {}),
    follow: (opts.follow ?? false) && (live(r) || r.state.Status === 'restarting'),
    stopWhen: async () => {
      const cur = current(r.id);
      if (!cur || !live(cur)) return true;
      return (await driver.exitStatus(r.id).catch(() => undefined)) !== undefined;
    },
  };
  for await (const e of readLog(path, readOpts)) if (want(e)) yield e;
}
