import type { Agent, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { BerthError, CanceledError, InvalidArgumentError } from '../util/errors.ts';
import { exactIntegers, parseJSONStream, type Reviver } from './jsonstream.ts';
import {
  encodeQuery,
  errorFromResponse,
  escapePath,
  isJSON,
  newAgent,
  parseHost,
  readText,
  sendHijack,
  sendRequest,
  type EngineEndpoint,
  type HijackedConnection,
  type Query,
  type RequestBody,
} from './transport.ts';
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
  PathStat,
  StatsResponse,
  TopResponse,
  Volume,
  VolumeCreateRequest,
  VolumeListResponse,
  VolumePruneReport,
  Network,
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkPruneReport,
  EndpointSettings,
  WaitResponse,
  DiskUsage,
  EventMessage,
  Filters,
  ImageDeleteItem,
  ImageHistoryItem,
  ImageInspect,
  ImagePruneReport,
  ImageRollbackResult,
  ImageSummary,
  JSONMessage,
  PingResult,
  SystemInfo,
  SystemVersion,
  TagHistoryEntry,
} from './types.ts';

/** The newest API version this client speaks; negotiation only ever goes down from here. */
export const MAX_API_VERSION = '1.50';
/** Used when the engine's ping carries no `Api-Version` header (as docker's client does). */
export const FALLBACK_API_VERSION = '1.24';
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

export interface EngineClientOptions {
  /** `unix:///path` or `tcp://host:port`; defaults to {@link DEFAULT_HOST}. */
  host?: string;
  /** Pins the API version and turns negotiation off (like `DOCKER_API_VERSION`). */
  apiVersion?: string;
  userAgent?: string;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
}

export interface RequestOptions extends CallOptions {
  query?: Query;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** A JSON request body; sets Content-Type. */
  json?: unknown;
  /** Prefix the path with `/v1.xx` (default true). */
  versioned?: boolean;
}

/** A successful (2xx) response whose body has not been read yet. */
export interface EngineResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

export interface ImageListOptions extends CallOptions {
  all?: boolean;
  filters?: Filters;
  digests?: boolean;
  sharedSize?: boolean;
}

export interface ImageRemoveOptions extends CallOptions {
  force?: boolean;
  noPrune?: boolean;
}

export interface ImageLoadOptions extends CallOptions {
  quiet?: boolean;
}

export interface ImageImportOptions extends CallOptions {
  /** `-` when the tar comes in the request body (the default), else a URL the engine fetches. */
  source?: string;
  repo?: string;
  tag?: string;
  changes?: readonly string[];
  message?: string;
  platform?: string;
}

export interface EventsOptions extends CallOptions {
  since?: string;
  until?: string;
  filters?: Filters;
}

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

/** Encodes filters as the Engine API expects: `{"key":{"value":true}}`. */
export function encodeFilters(filters: Filters | undefined): string | undefined {
  if (filters === undefined) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    const set: Record<string, boolean> = (out[key] ??= {});
    for (const v of values) set[v] = true;
  }
  return Object.keys(out).length === 0 ? undefined : JSON.stringify(out);
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.parseInt(pa[i] ?? '0', 10) || 0;
    const y = Number.parseInt(pb[i] ?? '0', 10) || 0;
    if (x !== y) return x - y;
  }
  return 0;
}

/**
 * A typed Docker Engine API client over HTTP (unix socket or TCP). The API version is negotiated
 * once, lazily, from `HEAD /_ping` as docker's client does; every call then uses `/v1.xx/…` paths.
 * HTTP errors become BerthError subclasses by status (see transport.ts `errorForStatus`).
 */
export class EngineClient {
  readonly host: string;
  readonly #endpoint: EngineEndpoint;
  readonly #agent: Agent;
  readonly #userAgent: string;
  readonly #pinned: string | undefined;
  #negotiated: Promise<string> | undefined;
  #ping: PingResult | undefined;

  constructor(options: EngineClientOptions = {}) {
    this.host = options.host ?? DEFAULT_HOST;
    this.#endpoint = parseHost(this.host);
    this.#agent = newAgent();
    this.#userAgent = options.userAgent ?? 'Berth-Client';
    this.#pinned = options.apiVersion;
  }

  /** Releases pooled connections. */
  close(): void {
    this.#agent.destroy();
  }

  /** The API version in use: pinned, or negotiated from a ping (once). */
  apiVersion(opts: CallOptions = {}): Promise<string> {
    if (this.#pinned !== undefined) return Promise.resolve(this.#pinned);
    this.#negotiated ??= this.ping(opts).then((p) => {
      const server = p.apiVersion ?? FALLBACK_API_VERSION;
      return compareVersions(server, MAX_API_VERSION) < 0 ? server : MAX_API_VERSION;
    });
    // A failed negotiation is not cached: the next call tries again.
    this.#negotiated.catch(() => {
      this.#negotiated = undefined;
    });
    return this.#negotiated;
  }

  /** The headers of the last ping, if one was made. */
  get lastPing(): PingResult | undefined {
    return this.#ping;
  }

  /** `HEAD /_ping`, retried as `GET` when HEAD is refused; 200 and 500 answers both carry headers. */
  async ping(opts: CallOptions = {}): Promise<PingResult> {
    let res = await this.#send('HEAD', '/_ping', undefined, opts);
    res.resume();
    if (res.statusCode !== 200 && res.statusCode !== 500) {
      res = await this.#send('GET', '/_ping', undefined, opts);
      res.resume();
    }
    const h = res.headers;
    const one = (name: string): string | undefined => {
      const v = h[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const result: PingResult = {
      apiVersion: one('api-version'),
      osType: one('ostype'),
      experimental: one('docker-experimental') === 'true',
      builderVersion: one('builder-version'),
      swarmStatus: one('swarm'),
      server: one('server'),
    };
    this.#ping = result;
    return result;
  }

  /**
   * Sends any Engine API request and checks its status: 2xx resolves with the unread body, anything
   * else rejects with the mapped BerthError. Paths are given unversioned (`/containers/json`).
   */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<EngineResponse> {
    const versioned = opts.versioned ?? true;
    const prefix = versioned ? `/v${await this.apiVersion(opts)}` : '';
    const headers: Record<string, string> = { ...opts.headers };
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    const res = await this.#send(method, prefix + path + encodeQuery(opts.query), body, opts, headers);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await errorFromResponse(res);
    return { statusCode: status, headers: res.headers, body: res };
  }

  /** A request whose JSON answer is parsed and returned. */
  async requestJSON<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = await readText(res.body);
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** A request whose answer body is ignored. */
  async requestVoid(method: string, path: string, opts: RequestOptions = {}): Promise<void> {
    const res = await this.request(method, path, opts);
    res.body.resume();
    await new Promise<void>((resolve, reject) => {
      res.body.once('end', resolve);
      res.body.once('error', reject);
    });
  }

  /** A request whose answer is a JSON-message stream (load, import, pull, push, build, events). */
  async requestJSONStream<T = JSONMessage>(
    method: string,
    path: string,
    opts: RequestOptions & { reviver?: Reviver } = {},
  ): Promise<AsyncGenerator<T>> {
    const res = await this.request(method, path, opts);
    if (!isJSON(res.headers)) return textAsMessages(res.body) as AsyncGenerator<T>;
    return parseJSONStream<T>(res.body, opts.reviver);
  }

  #send(
    method: string,
    path: string,
    body: RequestBody | undefined,
    opts: CallOptions,
    headers: Record<string, string> = {},
  ): Promise<IncomingMessage> {
    return sendRequest(this.#endpoint, this.host, this.#agent, {
      method,
      path,
      headers: { 'User-Agent': this.#userAgent, ...headers },
      ...(body !== undefined ? { body } : {}),
      signal: opts.signal,
    });
  }

  // ---- system ----

  version(opts: CallOptions = {}): Promise<SystemVersion> {
    return this.requestJSON<SystemVersion>('GET', '/version', opts);
  }

  info(opts: CallOptions = {}): Promise<SystemInfo> {
    return this.requestJSON<SystemInfo>('GET', '/info', opts);
  }

  systemDf(opts: CallOptions = {}): Promise<DiskUsage> {
    return this.requestJSON<DiskUsage>('GET', '/system/df', opts);
  }

  /**
   * `GET /events`: a stream that ends at `until` (or never, until the signal aborts). `timeNano`
   * arrives as a bigint when it is too large for an exact number.
   */
  events(opts: EventsOptions = {}): Promise<AsyncGenerator<EventMessage>> {
    return this.requestJSONStream<EventMessage>('GET', '/events', {
      query: { since: opts.since, until: opts.until, filters: encodeFilters(opts.filters) },
      signal: opts.signal,
      reviver: exactIntegers,
    });
  }

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
    const res = await this.#sendVersioned('POST', path, { query: { t: opts.timeout, signal }, signal: opts.signal });
    if (res.statusCode === 304) {
      res.resume();
      return;
    }
    await this.#checkAndDrain(res);
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
    return this.#hijack('POST', `/containers/${containerPath(id)}/attach`, {
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
    return this.#hijack('POST', `/exec/${escapePath(execId)}/start`, {
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

  // ---- volumes ----

  volumeCreate(body: VolumeCreateRequest, opts: CallOptions = {}): Promise<Volume> {
    return this.requestJSON<Volume>('POST', '/volumes/create', { json: body, signal: opts.signal });
  }

  volumeList(opts: CallOptions & { filters?: Filters } = {}): Promise<VolumeListResponse> {
    return this.requestJSON<VolumeListResponse>('GET', '/volumes', {
      query: { filters: encodeFilters(opts.filters) },
      signal: opts.signal,
    });
  }

  volumeInspect(name: string, opts: CallOptions = {}): Promise<Volume> {
    return this.requestJSON<Volume>('GET', `/volumes/${objectPath('volume', name)}`, opts);
  }

  async volumeInspectRaw(name: string, opts: CallOptions = {}): Promise<string> {
    return readText((await this.request('GET', `/volumes/${objectPath('volume', name)}`, opts)).body);
  }

  volumeRemove(name: string, opts: CallOptions & { force?: boolean } = {}): Promise<void> {
    return this.requestVoid('DELETE', `/volumes/${objectPath('volume', name)}`, {
      query: { force: opts.force === true ? '1' : undefined },
      signal: opts.signal,
    });
  }

  volumePrune(filters: Filters = {}, opts: CallOptions = {}): Promise<VolumePruneReport> {
    return this.requestJSON<VolumePruneReport>('POST', '/volumes/prune', {
      query: { filters: encodeFilters(filters) },
      signal: opts.signal,
    });
  }

  // ---- networks ----

  /** `POST /networks/create` (201 `{Id, Warning}`). */
  networkCreate(body: NetworkCreateRequest, opts: CallOptions = {}): Promise<NetworkCreateResponse> {
    return this.requestJSON<NetworkCreateResponse>('POST', '/networks/create', { json: body, signal: opts.signal });
  }

  /** `GET /networks`, with docker's filters (name, id, label, driver, type, dangling). */
  networkList(opts: CallOptions & { filters?: Filters } = {}): Promise<Network[]> {
    return this.requestJSON<Network[]>('GET', '/networks', {
      query: { filters: encodeFilters(opts.filters) },
      signal: opts.signal,
    });
  }

  networkInspect(id: string, opts: CallOptions = {}): Promise<Network> {
    return this.requestJSON<Network>('GET', `/networks/${objectPath('network', id)}`, opts);
  }

  /** The network's JSON as the engine wrote it (for `inspect`, which prints it verbatim). */
  async networkInspectRaw(id: string, opts: CallOptions = {}): Promise<string> {
    return readText((await this.request('GET', `/networks/${objectPath('network', id)}`, opts)).body);
  }

  networkRemove(id: string, opts: CallOptions = {}): Promise<void> {
    return this.requestVoid('DELETE', `/networks/${objectPath('network', id)}`, opts);
  }

  networkPrune(filters: Filters = {}, opts: CallOptions = {}): Promise<NetworkPruneReport> {
    return this.requestJSON<NetworkPruneReport>('POST', '/networks/prune', {
      query: { filters: encodeFilters(filters) },
      signal: opts.signal,
    });
  }

  /** `POST /networks/{id}/connect`: attaches a container, with its aliases and static addresses. */
  networkConnect(
    network: string,
    container: string,
    endpoint: EndpointSettings | null = null,
    opts: CallOptions = {},
  ): Promise<void> {
    const body: NetworkConnectRequest = { Container: container, EndpointConfig: endpoint };
    return this.requestVoid('POST', `/networks/${objectPath('network', network)}/connect`, {
      json: body,
      signal: opts.signal,
    });
  }

  /** `POST /networks/{id}/disconnect`; `force` also works when the container is gone or stopped. */
  networkDisconnect(network: string, container: string, force = false, opts: CallOptions = {}): Promise<void> {
    return this.requestVoid('POST', `/networks/${objectPath('network', network)}/disconnect`, {
      json: { Container: container, Force: force },
      signal: opts.signal,
    });
  }

  /** `POST /images/create?fromImage=&tag=`: a pull, as JSON progress messages. */
  imagePull(
    fromImage: string,
    tag: string | undefined,
    opts: CallOptions & { platform?: string; registryAuth?: string } = {},
  ): Promise<AsyncGenerator<JSONMessage>> {
    return this.requestJSONStream('POST', '/images/create', {
      query: { fromImage, tag, platform: opts.platform || undefined },
      ...(opts.registryAuth !== undefined ? { headers: { 'X-Registry-Auth': opts.registryAuth } } : {}),
      signal: opts.signal,
    });
  }

  /** `POST /images/{name}/push?tag=`: a push, as JSON progress messages (docker sends `X-Registry-Auth` always). */
  imagePush(
    name: string,
    tag: string | undefined,
    opts: CallOptions & { registryAuth?: string } = {},
  ): Promise<AsyncGenerator<JSONMessage>> {
    return this.requestJSONStream('POST', `/images/${escapePath(name)}/push`, {
      query: { tag: tag || undefined },
      headers: { 'X-Registry-Auth': opts.registryAuth ?? Buffer.from('{}').toString('base64url') },
      signal: opts.signal,
    });
  }

  /** `POST /auth`: checks credentials against a registry; may answer an identity token to store instead. */
  systemAuth(
    auth: { username?: string; password?: string; serveraddress?: string; identitytoken?: string },
    opts: CallOptions = {},
  ): Promise<{ Status: string; IdentityToken?: string }> {
    return this.requestJSON<{ Status: string; IdentityToken?: string }>('POST', '/auth', {
      json: auth,
      signal: opts.signal,
    });
  }

  async #sendVersioned(method: string, path: string, opts: RequestOptions): Promise<IncomingMessage> {
    const prefix = `/v${await this.apiVersion(opts)}`;
    return this.#send(method, prefix + path + encodeQuery(opts.query), opts.body, opts, opts.headers);
  }

  async #checkAndDrain(res: IncomingMessage): Promise<void> {
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await errorFromResponse(res);
    res.resume();
    await new Promise<void>((resolve, reject) => {
      res.once('end', resolve);
      res.once('error', reject);
    });
  }

  async #hijack(method: string, path: string, opts: RequestOptions): Promise<HijackedConnection> {
    const prefix = `/v${await this.apiVersion(opts)}`;
    return sendHijack(this.#endpoint, this.host, {
      method,
      path: prefix + path + encodeQuery(opts.query),
      headers: { 'User-Agent': this.#userAgent, ...opts.headers },
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      signal: opts.signal,
    });
  }

  // ---- images ----

  imageList(opts: ImageListOptions = {}): Promise<ImageSummary[]> {
    return this.requestJSON<ImageSummary[]>('GET', '/images/json', {
      query: {
        all: opts.all === true ? '1' : undefined,
        filters: encodeFilters(opts.filters),
        digests: opts.digests === true ? '1' : undefined,
        'shared-size': opts.sharedSize === true ? '1' : undefined,
      },
      signal: opts.signal,
    });
  }

  imageInspect(name: string, opts: CallOptions = {}): Promise<ImageInspect> {
    return this.requestJSON<ImageInspect>('GET', `/images/${escapePath(name)}/json`, opts);
  }

  /** The inspect answer as the engine sent it (for byte-faithful re-indentation). */
  async imageInspectRaw(name: string, opts: CallOptions = {}): Promise<string> {
    const res = await this.request('GET', `/images/${escapePath(name)}/json`, opts);
    return readText(res.body);
  }

  imageHistory(name: string, opts: CallOptions = {}): Promise<ImageHistoryItem[]> {
    return this.requestJSON<ImageHistoryItem[]>('GET', `/images/${escapePath(name)}/history`, opts);
  }

  /** `POST /images/{name}/tag?repo=&tag=`; `target` is `repo[:tag]`, the tag defaulting to `latest`. */
  imageTag(source: string, target: string, opts: CallOptions = {}): Promise<void> {
    if (target.includes('@')) throw new InvalidArgumentError('refusing to create a tag with a digest reference');
    const { repo, tag } = splitRepoTag(target);
    return this.requestVoid('POST', `/images/${escapePath(source)}/tag`, {
      query: { repo, tag: tag ?? 'latest' },
      signal: opts.signal,
    });
  }

  imageRemove(name: string, opts: ImageRemoveOptions = {}): Promise<ImageDeleteItem[]> {
    return this.requestJSON<ImageDeleteItem[]>('DELETE', `/images/${escapePath(name)}`, {
      query: { force: opts.force === true ? '1' : undefined, noprune: opts.noPrune === true ? '1' : undefined },
      signal: opts.signal,
    });
  }

  /** `POST /images/load`: streams the tar up, yields the engine's JSON messages. */
  imageLoad(tar: RequestBody, opts: ImageLoadOptions = {}): Promise<AsyncGenerator<JSONMessage>> {
    return this.requestJSONStream('POST', '/images/load', {
      query: { quiet: opts.quiet === true ? '1' : '0' },
      headers: { 'Content-Type': 'application/x-tar' },
      body: tar,
      signal: opts.signal,
    });
  }

  /** `GET /images/get?names=…`: the docker-archive tar as a byte stream. */
  async imageSave(names: readonly string[], opts: CallOptions = {}): Promise<Readable> {
    const res = await this.request('GET', '/images/get', { query: { names }, signal: opts.signal });
    return res.body;
  }

  /** `POST /images/create?fromSrc=…`: a root filesystem tar (body) or URL becomes an image. */
  imageImport(tar: RequestBody | undefined, opts: ImageImportOptions = {}): Promise<AsyncGenerator<JSONMessage>> {
    return this.requestJSONStream('POST', '/images/create', {
      query: {
        fromSrc: opts.source ?? '-',
        repo: opts.repo,
        tag: opts.tag,
        message: opts.message,
        platform: opts.platform,
        changes: opts.changes !== undefined && opts.changes.length > 0 ? opts.changes : undefined,
      },
      ...(tar !== undefined ? { body: tar, headers: { 'Content-Type': 'application/x-tar' } } : {}),
      signal: opts.signal,
    });
  }

  imagePrune(filters: Filters = {}, opts: CallOptions & { history?: boolean } = {}): Promise<ImagePruneReport> {
    return this.requestJSON<ImagePruneReport>('POST', '/images/prune', {
      query: { filters: encodeFilters(filters), ...(opts.history ? { history: '1' } : {}) },
      signal: opts.signal,
    });
  }

  /** Berth addition: points `name` (`repo:tag`) back at an earlier digest (default: the previous one). */
  imageRollback(name: string, opts: CallOptions & { to?: string } = {}): Promise<ImageRollbackResult> {
    return this.requestJSON<ImageRollbackResult>('POST', `/images/${escapePath(name)}/rollback`, {
      query: { to: opts.to },
      signal: opts.signal,
    });
  }

  /** Berth addition: what a tag pointed at over time, newest first. */
  imageTagHistory(name: string, opts: CallOptions = {}): Promise<TagHistoryEntry[]> {
    return this.requestJSON<TagHistoryEntry[]>('GET', `/images/${escapePath(name)}/taghistory`, opts);
  }
}

/** An object reference as a path segment; an empty one fails like docker's client ("value is empty"). */
function objectPath(kind: string, id: string): string {
  const trimmed = id.trim();
  if (trimmed === '') throw new InvalidArgumentError(`invalid ${kind} name or ID: value is empty`);
  return escapePath(trimmed);
}

function containerPath(id: string): string {
  return objectPath('container', id);
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

/** Splits `repo[:tag]`, where a `:` before the last `/` belongs to a registry port. */
export function splitRepoTag(ref: string): { repo: string; tag: string | undefined } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: undefined };
}

/** A non-JSON answer to a streaming call, as `stream` messages (docker prints such bodies verbatim). */
async function* textAsMessages(body: Readable): AsyncGenerator<JSONMessage> {
  for await (const chunk of body) {
    yield { stream: typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8') };
  }
}
