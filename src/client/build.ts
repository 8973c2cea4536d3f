import type { EngineClient } from './client.ts';
import type { CallOptions } from './core.ts';
import type { RequestBody } from './transport.ts';
import type { JSONMessage } from './types.ts';
import type { ContextManifestEntry } from '../engine-api/build.ts';

/** The query of `POST /build`, as the docker CLI sends it without BuildKit (the classic builder). */
export interface ImageBuildOptions extends CallOptions {
  /** `repo:tag` names for the result (`t`, repeatable). */
  tags?: readonly string[];
  /** The Dockerfile's path inside the context (default `Dockerfile`). */
  dockerfile?: string;
  buildArgs?: Record<string, string | null>;
  labels?: Record<string, string>;
  target?: string;
  cacheFrom?: readonly string[];
  pull?: boolean;
  noCache?: boolean;
  /** Remove intermediate containers (the docker CLI's default: true). */
  rm?: boolean;
  forceRm?: boolean;
  quiet?: boolean;
  networkMode?: string;
  extraHosts?: readonly string[];
  shmSize?: number;
  platform?: string;
  /** `X-Registry-Config`: base64url JSON of registry → credentials, for `FROM` pulls. */
  registryConfig?: string;
  /** Berth: also send the build's progress as structured events (`{"berth": …}` lines). */
  berthProgress?: boolean;
  /** Berth: the body updates this kept context (see `planBuildContext`). */
  keptContext?: string;
  /** Berth: the token of the plan the body follows (`planBuildContext`): its hold on the context ends with the build. */
  keptPlan?: string;
  /** Berth: secrets for `RUN --mount=type=secret`, by id. */
  secrets?: ReadonlyMap<string, Uint8Array>;
  /** An ID `buildCancel` takes. */
  buildId?: string;
}

/**
 * `POST /build`: the context (a tar, possibly compressed) as the body; yields the engine's JSON messages
 * (`stream` lines, `aux` with the image ID, `error`).
 */
export function imageBuild(
  client: EngineClient,
  context: RequestBody,
  opts: ImageBuildOptions = {},
): Promise<AsyncGenerator<JSONMessage>> {
  const json = (v: unknown): string | undefined => (v === undefined ? undefined : JSON.stringify(v));
  return client.requestJSONStream('POST', '/build', {
    query: {
      t: opts.tags !== undefined && opts.tags.length > 0 ? [...opts.tags] : undefined,
      dockerfile: opts.dockerfile || undefined,
      buildargs: json(opts.buildArgs),
      labels: json(opts.labels),
      target: opts.target || undefined,
      cachefrom: opts.cacheFrom !== undefined && opts.cacheFrom.length > 0 ? json(opts.cacheFrom) : undefined,
      pull: opts.pull === true ? '1' : undefined,
      nocache: opts.noCache === true ? '1' : undefined,
      rm: opts.rm === false ? '0' : '1',
      forcerm: opts.forceRm === true ? '1' : undefined,
      q: opts.quiet === true ? '1' : undefined,
      networkmode: opts.networkMode || undefined,
      extrahosts: opts.extraHosts !== undefined && opts.extraHosts.length > 0 ? [...opts.extraHosts] : undefined,
      shmsize: opts.shmSize,
      platform: opts.platform || undefined,
      berthprogress: opts.berthProgress === true ? '1' : undefined,
      berthcontext: opts.keptContext || undefined,
      berthplanned: opts.keptPlan || undefined,
      buildid: opts.buildId || undefined,
    },
    headers: {
      'Content-Type': 'application/x-tar',
      ...(opts.registryConfig !== undefined ? { 'X-Registry-Config': opts.registryConfig } : {}),
      ...(opts.secrets !== undefined && opts.secrets.size > 0
        ? { 'X-Berth-Build-Secrets': secretsHeader(opts.secrets) }
        : {}),
    },
    body: context,
    signal: opts.signal,
  });
}

function secretsHeader(secrets: ReadonlyMap<string, Uint8Array>): string {
  const obj: Record<string, string> = {};
  for (const [k, v] of secrets) obj[k] = Buffer.from(v).toString('base64');
  return Buffer.from(JSON.stringify(obj)).toString('base64');
}

export type { ContextManifestEntry };

/**
 * Berth: the paths of a context the engine's kept copy lacks (`POST /build/context`), and the token of the manifest
 * the engine kept, which the body may send instead of the manifest (undefined from an engine that keeps none).
 */
export async function planBuildContext(
  client: EngineClient,
  id: string,
  manifest: readonly ContextManifestEntry[],
  opts: CallOptions = {},
): Promise<{ need: string[]; planned?: string | undefined }> {
  const r = await client.requestJSON<{ Need?: string[]; Planned?: string }>('POST', '/build/context', {
    query: { id },
    json: manifest,
    signal: opts.signal,
    // the first request of a build: berthd of this release speaks this version, so no ping before it (an engine that
    // does not, Docker's, refuses it with a 400 and gets the ping and the plan again)
    optimistic: true,
  });
  return { need: r.Need ?? [], planned: typeof r.Planned === 'string' ? r.Planned : undefined };
}

/** `POST /build/cancel?id=`. */
export async function buildCancel(client: EngineClient, id: string, opts: CallOptions = {}): Promise<void> {
  const r = await client.request('POST', '/build/cancel', { query: { id }, signal: opts.signal });
  r.body.resume();
}

/** `POST /build/prune`'s answer. */
export interface BuildPruneReport {
  CachesDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** `POST /build/prune`: `all`, `filters` (until=24h), `keepStorage` bytes. */
export function buildPrune(
  client: EngineClient,
  opts: CallOptions & { all?: boolean; filters?: Record<string, string[]>; keepStorage?: number } = {},
): Promise<BuildPruneReport> {
  const filters =
    opts.filters && Object.keys(opts.filters).length > 0
      ? JSON.stringify(
          Object.fromEntries(
            Object.entries(opts.filters).map(([k, vs]) => [k, Object.fromEntries(vs.map((v) => [v, true]))]),
          ),
        )
      : undefined;
  return client.requestJSON<BuildPruneReport>('POST', '/build/prune', {
    query: {
      all: opts.all ? '1' : undefined,
      filters,
      'keep-storage': opts.keepStorage !== undefined ? String(opts.keepStorage) : undefined,
    },
    signal: opts.signal,
  });
}
