import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ContainerUpdateConfig, EngineClient } from '../../client/index.ts';
import { parseReference, withDefaultTag } from '../../oci/index.ts';
import { isTempOpenError, writeFileAtomic } from '../../util/atomic.ts';
import { BerthError, CanceledError, InvalidArgumentError, NotFoundError, goErrnoText } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { MultiError, describeError } from '../errors.ts';
import { TabWriter } from '../format/tabwriter.ts';
import { confirm, type LineSource } from '../prompt.ts';
import { humanSize } from '../units.ts';
import { ramInBytes } from '../../util/units.ts';
import { memSwapBytes, parseCPUs } from './numbers.ts';
import { parseRestartPolicy } from './values.ts';

/**
 * The small container verbs (docker/cli `container/{stop,restart,kill,rm,pause,unpause,rename,wait,
 * update,prune,commit,diff,top,export}.go`). Verbs over several containers print each name that worked,
 * in argument order, and report the failures together (exit 1).
 */

/** Runs `op` over every item, at most `limit` at a time; each promise settles with the error or undefined. */
function settleLimited(
  items: readonly string[],
  limit: number,
  op: (item: string) => Promise<void>,
): Promise<unknown>[] {
  let running = 0;
  const queue: (() => void)[] = [];
  const slot = (): Promise<void> => {
    if (running < limit) {
      running++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) =>
      queue.push(() => {
        running++;
        resolve();
      }),
    );
  };
  const release = (): void => {
    running--;
    queue.shift()?.();
  };
  return items.map((item) =>
    slot()
      .then(() => op(item))
      .then(
        () => undefined,
        (e: unknown) => e ?? new BerthError('unknown error'),
      )
      .finally(release),
  );
}

/**
 * Runs `op` over containers — in parallel (at most 50 at a time, as docker's `parallelOperation`) or one
 * by one — printing each name that worked in argument order; `onError` may excuse a failure.
 */
async function eachContainer(
  containers: readonly string[],
  out: OutStream,
  op: (id: string) => Promise<void>,
  opts: { parallel: boolean; onError?: (id: string, err: unknown) => boolean } = { parallel: true },
): Promise<void> {
  const settled = opts.parallel ? settleLimited(containers, 50, op) : undefined;
  const errors: unknown[] = [];
  for (let i = 0; i < containers.length; i++) {
    const c = containers[i] as string;
    const failure = settled !== undefined ? await settled[i] : await settleLimited([c], 1, op)[0];
    if (failure === undefined) {
      out.write(`${c}\n`);
      continue;
    }
    if (opts.onError?.(c, failure) === true) continue;
    errors.push(failure);
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new MultiError(errors);
}

export interface StopOptions {
  containers: string[];
  signal: string;
  timeout: number | undefined;
}

export function stopContainers(client: EngineClient, out: OutStream, opts: StopOptions): Promise<void> {
  return eachContainer(opts.containers, out, (id) =>
    client.containerStop(id, {
      ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
      stopSignal: opts.signal,
    }),
  );
}

export function restartContainers(client: EngineClient, out: OutStream, opts: StopOptions): Promise<void> {
  return eachContainer(
    opts.containers,
    out,
    (id) =>
      client.containerRestart(id, {
        ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
        stopSignal: opts.signal,
      }),
    { parallel: false },
  );
}

export function killContainers(
  client: EngineClient,
  out: OutStream,
  opts: { containers: string[]; signal: string },
): Promise<void> {
  return eachContainer(opts.containers, out, (id) => client.containerKill(id, opts.signal));
}

export interface RemoveOptions {
  containers: string[];
  force: boolean;
  volumes: boolean;
  link: boolean;
}

/** `berth rm`: with `-f`, a container that does not exist is reported on stderr but is no failure. */
export function removeContainers(
  client: EngineClient,
  out: OutStream,
  err: OutStream,
  opts: RemoveOptions,
): Promise<void> {
  return eachContainer(
    opts.containers,
    out,
    async (name) => {
      const id = name.replace(/^\/+|\/+$/g, '');
      if (id === '') throw new BerthError('container name cannot be empty');
      await client.containerRemove(id, { force: opts.force, volumes: opts.volumes, link: opts.link });
    },
    {
      parallel: true,
      onError: (_id, e) => {
        if (!opts.force || !(e instanceof NotFoundError)) return false;
        err.write(`${describeError(e)}\n`);
        return true;
      },
    },
  );
}

export function pauseContainers(client: EngineClient, out: OutStream, containers: string[]): Promise<void> {
  return eachContainer(containers, out, (id) => client.containerPause(id));
}

export function unpauseContainers(client: EngineClient, out: OutStream, containers: string[]): Promise<void> {
  return eachContainer(containers, out, (id) => client.containerUnpause(id));
}

export async function renameContainer(
  client: EngineClient,
  err: OutStream,
  oldName: string,
  newName: string,
): Promise<void> {
  const from = oldName.trim();
  const to = newName.trim();
  if (from === '' || to === '') throw new BerthError('Error: Neither old nor new names may be empty');
  try {
    await client.containerRename(from, to);
  } catch (e) {
    err.write(`${describeError(e)}\n`);
    throw new BerthError(`Error: failed to rename container named ${from}`);
  }
}

/** `berth wait`: blocks until each container stops, printing its exit code. */
export async function waitContainers(
  client: EngineClient,
  out: OutStream,
  containers: string[],
  signal?: AbortSignal,
): Promise<void> {
  const errors: unknown[] = [];
  for (const c of containers) {
    try {
      const handle = await client.containerWait(c, { signal });
      const res = await handle.result;
      out.write(`${res.StatusCode}\n`);
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new MultiError(errors);
}

/** `update`'s flag values, as text (empty when not given). */
export interface UpdateOptions {
  containers: string[];
  /** How many flags were given; docker refuses none. */
  flagCount: number;
  values: Record<string, string>;
}

export function buildUpdateConfig(values: Record<string, string>): ContainerUpdateConfig {
  const v = (k: string): string => values[k] ?? '';
  const num = (k: string): number => (v(k) === '' ? 0 : Number(v(k)));
  const config: ContainerUpdateConfig = {
    BlkioWeight: num('blkio-weight'),
    CpusetCpus: v('cpuset-cpus'),
    CpusetMems: v('cpuset-mems'),
    CpuShares: num('cpu-shares'),
    Memory: v('memory') === '' ? 0 : ramInBytes(v('memory')),
    MemoryReservation: v('memory-reservation') === '' ? 0 : ramInBytes(v('memory-reservation')),
    MemorySwap: v('memory-swap') === '' ? 0 : memSwapBytes(v('memory-swap')),
    KernelMemory: v('kernel-memory') === '' ? 0 : ramInBytes(v('kernel-memory')),
    CpuPeriod: num('cpu-period'),
    CpuQuota: num('cpu-quota'),
    CpuRealtimePeriod: num('cpu-rt-period'),
    CpuRealtimeRuntime: num('cpu-rt-runtime'),
    NanoCpus: v('cpus') === '' ? 0 : parseCPUs(v('cpus')),
    RestartPolicy: v('restart') === '' ? { Name: '', MaximumRetryCount: 0 } : parseRestartPolicy(v('restart')),
  };
  if (num('pids-limit') !== 0) config.PidsLimit = num('pids-limit');
  return config;
}

export async function updateContainers(client: EngineClient, out: OutStream, opts: UpdateOptions): Promise<void> {
  if (opts.flagCount === 0) throw new BerthError('you must provide one or more flags when using this command');
  const config = buildUpdateConfig(opts.values);
  const warnings: string[] = [];
  const errors: string[] = [];
  for (const c of opts.containers) {
    try {
      const r = await client.containerUpdate(c, config);
      out.write(`${c}\n`);
      warnings.push(...(r.Warnings ?? []));
    } catch (e) {
      errors.push(describeError(e));
    }
  }
  if (warnings.length > 0) out.write(`${warnings.join('\n')}\n`);
  if (errors.length > 0) throw new BerthError(errors.join('\n'));
}

const PRUNE_WARNING = `WARNING! This will remove all stopped containers.
Are you sure you want to continue?`;

export async function pruneContainers(
  client: EngineClient,
  input: LineSource,
  out: OutStream,
  opts: { force: boolean; filters: Record<string, string[]> },
): Promise<void> {
  if (!opts.force && !(await confirm(input, out, PRUNE_WARNING)))
    throw new CanceledError('container prune has been cancelled');
  const report = await client.containerPrune(opts.filters);
  const deleted = report.ContainersDeleted ?? [];
  let space = 0;
  if (deleted.length > 0) {
    out.write(`Deleted Containers:\n${deleted.map((id) => `${id}\n`).join('')}\n`);
    space = report.SpaceReclaimed;
  }
  out.write(`Total reclaimed space: ${humanSize(space)}\n`);
}

export interface CommitOptions {
  container: string;
  reference: string | undefined;
  message: string;
  author: string;
  changes: string[];
  pause: boolean;
}

/** `berth commit`: the reference is normalised client-side (`repo` → `docker.io/library/repo`, tag `latest`). */
export async function commitContainer(client: EngineClient, out: OutStream, opts: CommitOptions): Promise<void> {
  let repo = '';
  let tag = '';
  if (opts.reference !== undefined && opts.reference !== '') {
    const ref = parseReference(opts.reference);
    if (ref.digest !== undefined) throw new InvalidArgumentError('refusing to create a tag with a digest reference');
    const tagged = withDefaultTag(ref);
    repo = `${ref.domain}/${ref.path}`;
    tag = tagged.tag ?? '';
  }
  const r = await client.containerCommit({
    container: opts.container,
    repo,
    tag,
    comment: opts.message,
    author: opts.author,
    changes: opts.changes,
    pause: opts.pause,
  });
  out.write(`${r.Id}\n`);
}

const CHANGE_KINDS = ['C', 'A', 'D'];

/** `berth diff`: `C /path`, `A /path`, `D /path` lines. */
export async function diffContainer(client: EngineClient, out: OutStream, container: string): Promise<void> {
  if (container === '') throw new BerthError('Container name cannot be empty');
  const changes = (await client.containerChanges(container)) ?? [];
  out.write(changes.map((c) => `${CHANGE_KINDS[c.Kind] ?? '?'} ${c.Path}\n`).join(''));
}

/** `berth top`: the engine's ps table, aligned with docker's tabwriter settings (minwidth 20, padding 3). */
export async function topContainer(
  client: EngineClient,
  out: OutStream,
  container: string,
  psArgs: string[],
): Promise<void> {
  const top = await client.containerTop(container, psArgs);
  let text = `${(top.Titles ?? []).join('\t')}\n`;
  for (const p of top.Processes ?? []) text += `${p.join('\t')}\n`;
  out.write(TabWriter.format(text, { minWidth: 20, tabWidth: 1, padding: 3, padChar: ' ' }));
}

/** `berth export`: the filesystem tar to stdout (never a terminal) or atomically to `-o FILE`. */
export async function exportContainer(
  client: EngineClient,
  out: OutStream,
  opts: { container: string; output: string },
  signal?: AbortSignal,
): Promise<void> {
  if (opts.output === '') {
    if (out.isTerminal) throw new BerthError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const tar = await client.containerExport(opts.container, { signal });
    await pipeline(tar, out.stream, { end: false });
    return;
  }
  const dir = dirname(opts.output);
  const st = await stat(dir).catch((e: unknown) => {
    throw new BerthError(`failed to export container: invalid output path: ${goErrnoText(e, dir, 'stat')}`, {
      cause: e,
    });
  });
  if (!st.isDirectory())
    throw new BerthError(`failed to export container: invalid output path: ${dir} is not a directory`);
  const temp = join(dir, `.${basename(opts.output)}.${process.pid}.tmp`);
  // The request goes out once the file is open.
  const tar = () => client.containerExport(opts.container, { signal });
  await writeFileAtomic(opts.output, tar, { tmp: temp, mode: 0o600, fsync: true }).catch((e: unknown) => {
    if (isTempOpenError(e, temp))
      throw new BerthError(`failed to export container: ${goErrnoText(e, temp)}`, { cause: e });
    throw e;
  });
}
