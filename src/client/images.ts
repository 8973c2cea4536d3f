import type { Readable } from 'node:stream';
import { InvalidArgumentError } from '../util/errors.ts';
import { escapePath, readText, type RequestBody } from './transport.ts';
import type {
  BuildCachePruneReport,
  Filters,
  ImageDeleteItem,
  ImageHistoryItem,
  ImageInspect,
  ImagePruneReport,
  ImageRollbackResult,
  ImageSummary,
  JSONMessage,
  TagHistoryEntry,
} from './types.ts';
import { encodeFilters, type CallOptions } from './core.ts';
import { ContainerCalls } from './containers.ts';

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

/** The image calls of the Engine API, pull and push included. */
export class ImageCalls extends ContainerCalls {
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

  /** `POST /build/prune`: the builder's cache (`all` also what is in use). */
  buildPrune(filters: Filters = {}, opts: CallOptions & { all?: boolean } = {}): Promise<BuildCachePruneReport> {
    return this.requestJSON<BuildCachePruneReport>('POST', '/build/prune', {
      query: { filters: encodeFilters(filters), ...(opts.all ? { all: '1' } : {}) },
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
}

/** Splits `repo[:tag]`, where a `:` before the last `/` belongs to a registry port. */
export function splitRepoTag(ref: string): { repo: string; tag: string | undefined } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: undefined };
}
