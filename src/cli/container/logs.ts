import { pipeline } from 'node:stream/promises';
import { stdCopy, type EngineClient } from '../../client/index.ts';
import { BerthError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { getTimestamp } from '../system/events.ts';

/**
 * `berth logs` (docker/cli `container/logs.go`): inspects first, since only the container's `Tty`
 * tells whether the engine's log stream is multiplexed (stdout and stderr kept apart) or raw.
 */

export interface LogsOptions {
  container: string;
  follow: boolean;
  since: string;
  until: string;
  timestamps: boolean;
  details: boolean;
  tail: string;
}

function timestamp(value: string, what: string): string {
  if (value === '') return '';
  try {
    return getTimestamp(value);
  } catch (err) {
    throw new BerthError(`invalid value for "${what}": ${(err as Error).message}`, { cause: err });
  }
}

export async function showLogs(
  client: EngineClient,
  out: OutStream,
  err: OutStream,
  opts: LogsOptions,
  signal?: AbortSignal,
): Promise<void> {
  const c = await client.containerInspect(opts.container, { signal });
  const body = await client.containerLogs(c.Id, {
    stdout: true,
    stderr: true,
    since: timestamp(opts.since, 'since'),
    until: timestamp(opts.until, 'until'),
    timestamps: opts.timestamps,
    follow: opts.follow,
    tail: opts.tail,
    details: opts.details,
    signal,
  });
  if (c.Config.Tty === true) await pipeline(body, out.stream, { end: false });
  else await stdCopy(body, out.stream, err.stream);
}
