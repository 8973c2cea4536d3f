import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { BerthError, CanceledError } from '../util/errors.ts';
import { parseJSONStream } from './jsonstream.ts';
import { escapePath, readText, type HijackedConnection, type RequestBody } from './transport.ts';
import type {
  ChangeItem,
  CommitResponse,
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerPruneReport,
  ContainerSummary,
  ContainerUpdateConfig,
  ContainerUpdateResponse,
  ExecConfig,
  ExecInspect,
  Filters,
  PathStat,
  StatsResponse,
  TopResponse,
  WaitResponse,
} from './types.ts';
import {
  compareVersions,
  containerPath,
  EngineConnection,
  encodeFilters,
  objectPath,
  type CallOptions,
} from './core.ts';

export interface ContainerListOptions extends CallOptions {
  all?: boolean;
  /** Only the n most recently created (`-n`); ignored when not positive. */
  limit?: number;
  size?: boolean;
  filters?: Filters;
}

export interface ContainerCreateOptions extends CallOptions {
  name?: string;
  platform?: string;
}

export interface StopOptions extends CallOptions {
  /** Seconds before SIGKILL; the container's own default when undefined. */
  timeout?: number;
  /** The signal to stop with; sent only at API ≥ 1.42, as docker's client does. */
  stopSignal?: string;
}

export interface ContainerRemoveOptions extends CallOptions {
  force?: boolean;
  volumes?: boolean;
  link?: boolean;
}

/** `not-running` (the engine's default when undefined), `next-exit` or `removed`. */
export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/** A `/wait` whose headers have arrived: `result` settles when the container reaches the condition. */
export interface WaitHandle {
  result: Promise<WaitResponse>;
  /** Drops the connection (the result then rejects with CanceledError). */
  cancel(): void;
}

export interface AttachOptions extends CallOptions {
  stream?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  logs?: boolean;
  detachKeys?: string;
}

export interface LogsOptions extends CallOptions {
  stdout?: boolean;
  stderr?: boolean;
  /** Unix time (`seconds[.nanoseconds]`), already resolved from relative forms. */
  since?: string;
  until?: string;
  timestamps?: boolean;
  follow?: boolean;
  /** `all` or a number. */
  tail?: string;
  details?: boolean;
}

export interface StatsOptions extends CallOptions {
  stream?: boolean;
  oneShot?: boolean;
}

/** A stats stream and the engine's OS (from its `Server` header), which decides how the CLI computes. */
export interface StatsStream {
  osType: string;
  samples: AsyncGenerator<StatsResponse>;
}

export interface CommitOptions extends CallOptions {
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  changes?: readonly string[];
  /** Pause during commit (default true); `false` sends `pause=0`. */
  pause?: boolean;
  config?: unknown;
}

export interface CopyToOptions extends CallOptions {
  noOverwriteDirNonDir?: boolean;
  copyUIDGID?: boolean;
}

export interface ExecStartOptions extends CallOptions {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

/** The container and exec calls of the Engine API. */
export class ContainerCalls extends EngineConnection {
  // ---- containers ----

  /** `POST /containers/create?name=`: 201 `{Id, Warnings}`; 404 when the image is missing. */
  containerCreate(body: ContainerCreateRequest, opts: ContainerCreateOptions = {}): Promise<ContainerCreateResponse> {
    return this.requestJSON<ContainerCreateResponse>('POST', '/containers/create', {
      query: { name: opts.name || undefined, platform: opts.platform || undefined },
      json: body,
      signal: opts.signal,
    });
  }

  containerList(opts: ContainerListOptions = {}): Promise<ContainerSummary[]> {
    return this.requestJSON<ContainerSummary[]>('GET', '/containers/json', {
      query: {
        all: opts.all === true ? '1' : undefined,
        limit: opts.limit !== undefined && opts.limit > 0 ? String(opts.limit) : undefined,
        size: opts.size === true ? '1' : undefined,
        filters: encodeFilters(opts.filters),
      },
      signal: opts.signal,
    });
  }

  containerInspect(id: string, opts: CallOptions = {}): Promise<ContainerInspect> {
    return this.requestJSON<ContainerInspect>('GET', `/containers/${containerPath(id)}/json`, opts);
  }

  /** The inspect answer as the engine sent it; `size` asks for SizeRw/SizeRootFs. */
  async containerInspectRaw(id: string, opts: CallOptions & { size?: boolean } = {}): Promise<string> {
    const res = await this.request('GET', `/containers/${containerPath(id)}/json`, {
      query: { size: opts.size === true ? '1' : undefined },
      signal: opts.signal,
    });
    return readText(res.body);
  }

  containerStart(id: string, opts: CallOptions & { detachKeys?: string } = {}): Promise<void> {
    return this.requestVoid('POST', `/containers/${containerPath(id)}/start`, {
      query: { detachKeys: opts.detachKeys || undefined },
      signal: opts.signal,
    });
  }

  async containerStop(id: string, opts: StopOptions = {}): Promise<void> {
    await this.#stopLike('stop', id, opts);
  }

  async containerRestart(id: string, opts: StopOptions = {}): Promise<void> {
    await this.#stopLike('restart', id, opts);
  }

  async #stopLike(verb: string, id: string, opts: StopOptions): Promise<void> {
    const path = `/containers/${containerPath(id)}/${verb}`;
    let signal: string | undefined;
    if (
      opts.stopSignal !== undefined &&
      opts.stopSignal !== '' &&
      compareVersions(await this.apiVersion(opts), '1.42') >= 0
    )
      signal = opts.stopSignal;
    // 304 (already stopped) is success for the CLI.
    const res = await this.sendVersioned('POST', path, { query: { t: opts.timeout, signal }, signal: opts.signal });
    if (res.statusCode === 304) {
      res.resume();
      return;
    }
    await this.checkAndDrain(res);
  }

  containerKill(id: string, signal?: string, opts: CallOptions = {}): Promise<void> {
    return this.requestVoid('POST', `/containers/${containerPath(id)}/kill`, {
      query: { signal: signal || undefined },
      signal: opts.signal,
    });
  }

  containerRemove(id: string, opts: ContainerRemoveOptions = {}): Promise<void> {
    return this.requestVoid('DELETE', `/containers/${containerPath(id)}`, {
      query: {
        v: opts.volumes === true ? '1' : undefined,
        link: opts.link === true ? '1' : undefined,
        force: opts.force === true ? '1' : undefined,
      },
      signal: opts.signal,
    });
  }

  containerPause(id: string, opts: CallOptions = {}): Promise<void> {
    return this.requestVoid('POST', `/containers/${containerPath(id)}/pause`, opts);
  }

  containerUnpause(id: string, opts: CallOptions = {}): Promise<void> {
    return this.requestVoid('POST', `/containers/${containerPath(id)}/unpause`, opts);
  }

  containerRename(id: string, name: string, opts: CallOptions = {}): Promise<void> {
    return this.requestVoid('POST', `/containers/${containerPath(id)}/rename`, {
      query: { name },
      signal: opts.signal,
    });
  }

  /**
   * `POST /containers/{id}/wait?condition=`: resolves once the engine has sent its headers (it does so
   * before waiting), so a caller can start the container knowing no exit will be missed.
   */
  async containerWait(id: string, opts: CallOptions & { condition?: WaitCondition } = {}): Promise<WaitHandle> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const res = await this.request('POST', `/containers/${containerPath(id)}/wait`, {
      query: { condition: opts.condition },
      signal: controller.signal,
    }).catch((err: unknown) => {
      opts.signal?.removeEventListener('abort', onAbort);
      throw err;
    });
    const result = (async (): Promise<WaitResponse> => {
      let text: string;
      try {
        text = await readText(res.body);
      } catch (err) {
        if (controller.signal.aborted) throw new CanceledError('wait canceled', { cause: err });
        throw err;
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
      }
      if (controller.signal.aborted) throw new CanceledError('wait canceled');
      try {
        return JSON.parse(text) as WaitResponse;
      } catch {
        throw new BerthError(text.slice(0, 2048));
      }
    })();
    result.catch(() => {});
    return { result, cancel: () => controller.abort(new CanceledError('wait canceled')) };
  }

  /** `POST /containers/{id}/attach` hijacked: the raw connection after `101`. */
  containerAttach(id: string, opts: AttachOptions = {}): Promise<HijackedConnection> {
    return this.hijack('POST', `/containers/${containerPath(id)}/attach`, {
      query: {
        stream: opts.stream === true ? '1' : undefined,
        stdin: opts.stdin === true ? '1' : undefined,
        stdout: opts.stdout === true ? '1' : undefined,
        stderr: opts.stderr === true ? '1' : undefined,
        detachKeys: opts.detachKeys || undefined,
        logs: opts.logs === true ? '1' : undefined,
      },
      headers: { 'Content-Type': 'text/plain' },
      signal: opts.signal,
    });
  }

  containerResize(id: string, height: number, width: number, opts: CallOptions = {}): Promise<void> {
    return this.requestVoid('POST', `/containers/${containerPath(id)}/resize`, {
      query: { h: height, w: width },
      signal: opts.signal,
    });
  }

  /** `GET /containers/{id}/logs`: the byte stream (multiplexed unless the container has a TTY). */
  async containerLogs(id: string, opts: LogsOptions = {}): Promise<Readable> {
    const res = await this.request('GET', `/containers/${containerPath(id)}/logs`, {
      query: {
        stdout: opts.stdout === true ? '1' : undefined,
        stderr: opts.stderr === true ? '1' : undefined,
        since: opts.since || undefined,
        until: opts.until || undefined,
        timestamps: opts.timestamps === true ? '1' : undefined,
        details: opts.details === true ? '1' : undefined,
        follow: opts.follow === true ? '1' : undefined,
        tail: opts.tail ?? '',
      },
      signal: opts.signal,
    });
    return res.body;
  }

  containerTop(id: string, psArgs: readonly string[] = [], opts: CallOptions = {}): Promise<TopResponse> {
    return this.requestJSON<TopResponse>('GET', `/containers/${containerPath(id)}/top`, {
      query: { ps_args: psArgs.length > 0 ? psArgs.join(' ') : undefined },
      signal: opts.signal,
    });
  }

  /** `GET /containers/{id}/stats?stream=`: one sample, or samples until the signal aborts. */
  async containerStats(id: string, opts: StatsOptions = {}): Promise<StatsStream> {
    const res = await this.request('GET', `/containers/${containerPath(id)}/stats`, {
      query: { stream: opts.stream === true ? '1' : '0', 'one-shot': opts.oneShot === true ? '1' : undefined },
      signal: opts.signal,
    });
    const server = res.headers.server;
    const m = typeof server === 'string' ? /\(([^)]+)\)/.exec(server) : null;
    return { osType: m?.[1] ?? '', samples: parseJSONStream<StatsResponse>(res.body) };
  }

  containerChanges(id: string, opts: CallOptions = {}): Promise<ChangeItem[] | null> {
    return this.requestJSON<ChangeItem[] | null>('GET', `/containers/${containerPath(id)}/changes`, opts);
  }

  /** `GET /containers/{id}/export`: the filesystem as a tar stream. */
  async containerExport(id: string, opts: CallOptions = {}): Promise<Readable> {
    return (await this.request('GET', `/containers/${containerPath(id)}/export`, opts)).body;
  }

  /** `POST /commit?container=&repo=&tag=&comment=&author=&changes=`. */
  containerCommit(opts: CommitOptions): Promise<CommitResponse> {
    return this.requestJSON<CommitResponse>('POST', '/commit', {
      query: {
        container: opts.container,
        repo: opts.repo ?? '',
        tag: opts.tag ?? '',
        comment: opts.comment ?? '',
        author: opts.author ?? '',
        changes: opts.changes !== undefined && opts.changes.length > 0 ? opts.changes : undefined,
        pause: opts.pause === false ? '0' : undefined,
      },
      json: opts.config ?? null,
      signal: opts.signal,
    });
  }

  containerPrune(filters: Filters = {}, opts: CallOptions = {}): Promise<ContainerPruneReport> {
    return this.requestJSON<ContainerPruneReport>('POST', '/containers/prune', {
      query: { filters: encodeFilters(filters) },
      signal: opts.signal,
    });
  }

  containerUpdate(id: string, update: ContainerUpdateConfig, opts: CallOptions = {}): Promise<ContainerUpdateResponse> {
    return this.requestJSON<ContainerUpdateResponse>('POST', `/containers/${containerPath(id)}/update`, {
      json: update,
      signal: opts.signal,
    });
  }

  /** `HEAD /containers/{id}/archive?path=`: the stat of a path in the container. */
  async containerStatPath(id: string, path: string, opts: CallOptions = {}): Promise<PathStat> {
    const res = await this.request('HEAD', `/containers/${containerPath(id)}/archive`, {
      query: { path },
      signal: opts.signal,
    });
    res.body.resume();
    return decodePathStat(res.headers);
  }

  /** `GET /containers/{id}/archive?path=`: a tar of the path and its stat. */
  async containerArchiveGet(
    id: string,
    path: string,
    opts: CallOptions = {},
  ): Promise<{ stat: PathStat; body: Readable }> {
    const res = await this.request('GET', `/containers/${containerPath(id)}/archive`, {
      query: { path },
      signal: opts.signal,
    });
    let stat: PathStat;
    try {
      stat = decodePathStat(res.headers);
    } catch (err) {
      res.body.destroy();
      throw new BerthError(`unable to get resource stat from response: ${(err as Error).message}`);
    }
    return { stat, body: res.body };
  }

  /** `PUT /containers/{id}/archive?path=`: extracts a tar (the body) into the directory `path`. */
  containerArchivePut(id: string, path: string, tar: RequestBody, opts: CopyToOptions = {}): Promise<void> {
    return this.requestVoid('PUT', `/containers/${containerPath(id)}/archive`, {
      query: {
        path,
        noOverwriteDirNonDir: opts.noOverwriteDirNonDir === false ? undefined : 'true',
        copyUIDGID: opts.copyUIDGID === true ? 'true' : undefined,
      },
      headers: { 'Content-Type': 'application/x-tar' },
      body: tar,
      signal: opts.signal,
    });
  }

  // ---- exec ----

  /** `POST /containers/{id}/exec`: 201 `{Id}`. */
  execCreate(containerId: string, config: ExecConfig, opts: CallOptions = {}): Promise<{ Id: string }> {
    return this.requestJSON<{ Id: string }>('POST', `/containers/${containerPath(containerId)}/exec`, {
      json: config,
      signal: opts.signal,
    });
  }

  /** `POST /exec/{id}/start` without attaching (`Detach: true`). */
  execStart(execId: string, opts: ExecStartOptions = {}): Promise<void> {
    return this.requestVoid('POST', `/exec/${escapePath(execId)}/start`, {
      json: {
        Detach: opts.Detach ?? false,
        Tty: opts.Tty ?? false,
        ...(opts.ConsoleSize != null ? { ConsoleSize: opts.ConsoleSize } : {}),
      },
      signal: opts.signal,
    });
  }

  /** `POST /exec/{id}/start` hijacked. */
  execAttach(execId: string, opts: ExecStartOptions = {}): Promise<HijackedConnection> {
    const body = {
      Detach: false,
      Tty: opts.Tty ?? false,
      ...(opts.ConsoleSize != null ? { ConsoleSize: opts.ConsoleSize } : {}),
    };
    return this.hijack('POST', `/exec/${escapePath(execId)}/start`, {
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
      signal: opts.signal,
    });
  }

  execResize(execId: string, height: number, width: number, opts: CallOptions = {}): Promise<void> {
    return this.requestVoid('POST', `/exec/${escapePath(execId)}/resize`, {
      query: { h: height, w: width },
      signal: opts.signal,
    });
  }

  execInspect(execId: string, opts: CallOptions = {}): Promise<ExecInspect> {
    return this.requestJSON<ExecInspect>('GET', `/exec/${objectPath('exec', execId)}/json`, opts);
  }
}

/** Decodes `X-Docker-Container-Path-Stat` (base64 JSON). */
export function decodePathStat(headers: IncomingHttpHeaders): PathStat {
  const raw = headers['x-docker-container-path-stat'];
  const text = Buffer.from(typeof raw === 'string' ? raw : '', 'base64').toString('utf8');
  try {
    return JSON.parse(text) as PathStat;
  } catch (err) {
    throw new BerthError(
      `unable to decode container path stat header: ${text === '' ? 'EOF' : (err as Error).message}`,
    );
  }
}
