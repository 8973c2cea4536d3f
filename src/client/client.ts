import { exactIntegers } from './jsonstream.ts';
import type {
  DiskUsage,
  EndpointSettings,
  EventMessage,
  Filters,
  Network,
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkPruneReport,
  SystemInfo,
  SystemVersion,
  Volume,
  VolumeCreateRequest,
  VolumeListResponse,
  VolumePruneReport,
} from './types.ts';
import { encodeFilters, objectPath, type CallOptions, type RequestOptions } from './core.ts';
import { readText } from './transport.ts';
import { ImageCalls } from './images.ts';

export interface EventsOptions extends CallOptions {
  since?: string;
  until?: string;
  filters?: Filters;
}

/**
 * A typed Docker Engine API client over HTTP (unix socket or TCP): every call of the Engine API that Berth's
 * clients make. The connection and version negotiation are in core.ts; the container and exec calls in
 * containers.ts, the image calls in images.ts; the system, volume and network calls here.
 */
export class EngineClient extends ImageCalls {
  // ---- system ----

  /**
   * `GET /version`. With `versioned: false` the path carries no API version and needs none negotiated first: an
   * engine answers it at its own API version, the one its ping reports.
   */
  version(opts: CallOptions & Pick<RequestOptions, 'versioned'> = {}): Promise<SystemVersion> {
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
}
