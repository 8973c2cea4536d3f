import type { EngineClient } from './client.ts';
import type { CallOptions } from './core.ts';
import type { RequestBody } from './transport.ts';
import type { JSONMessage } from './types.ts';

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
    },
    headers: {
      'Content-Type': 'application/x-tar',
      ...(opts.registryConfig !== undefined ? { 'X-Registry-Config': opts.registryConfig } : {}),
    },
    body: context,
    signal: opts.signal,
  });
}
