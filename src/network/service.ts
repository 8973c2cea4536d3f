/**
 * Networks (`docker network …`): the predefined `bridge`, `host` and `none`, user-defined bridge networks, IPAM,
 * list/inspect/create/remove/prune, and connect/disconnect, whose per-container work is the sandbox's
 * (sandbox.ts). The backend that makes bridges, interfaces, rules and DNS records is built by the daemon and
 * passed in (backend.ts).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BerthError, ConflictError, ForbiddenError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { phase } from '../util/trace.ts';
import type { EndpointSettings, Network, NetworkCreateRequest } from '../engine-api/networks.ts';
import type { EventLog } from '../util/events.ts';
import { matchLabel } from '../util/labels.ts';
import { KeyedMutex } from '../util/lock.ts';
import type { NetworkRecords } from '../metadata/index.ts';
import type { NetworkBackend } from './backend.ts';
import { networkInspect } from './inspect.ts';
import { firstHost, formatCidr, formatIP, parseCidr, parseIP, type Pool } from './ipam.ts';
import {
  BRIDGE_NAME_OPT,
  type ContainerLink,
  type ContainerLookup,
  type EpRec,
  lookupNetwork,
  MTU_OPT,
  type NetRec,
  type NetSpec,
  networkSpec,
  PREDEFINED,
  type Records,
  untilMs,
} from './model.ts';
import { Sandboxes } from './sandbox.ts';

/** The daemon's network settings (from berthd's config). */
export interface NetworkConfig {
  /** The default bridge's device name (Docker's `--bridge`), `berth0`. */
  bridge: string;
  /** The default bridge's gateway address with prefix (Docker's `--bip`), `10.65.0.1/16`. */
  bip: string;
  /** Host address used when a published port names none (Docker's `--ip`), `0.0.0.0`. */
  defaultBindAddress: string;
  /** Where user networks without `--subnet` get theirs (Docker's `default-address-pools`). */
  pools: Pool[];
}

export interface NetworkServiceDeps {
  records: NetworkRecords;
  events: EventLog;
  /** Namespaces, backend state and per-container inputs live under `<execRoot>/network`. */
  execRoot: string;
  config: NetworkConfig;
  /** Makes the bridges, interfaces, firewall rules and DNS records (the daemon's choice). */
  backend: NetworkBackend;
  containers?: ContainerLookup;
  log?: { info(msg: string): void; warn(msg: string): void };
}

/** Filters of `GET /networks` and `POST /networks/prune` (`?filters=` decoded). */
export type NetworkFilters = Map<string, string[]>;

/** Networks; each container's side of them is `sandboxes`. */
export class NetworkService {
  readonly #d: NetworkServiceDeps;
  readonly #records: Records;
  readonly #lock = new KeyedMutex();
  /** Each container's networking: what the container service calls (prepare, setUp, tearDown, release, …). */
  readonly sandboxes: Sandboxes;

  constructor(deps: NetworkServiceDeps) {
    this.#d = deps;
    this.#records = deps.records as Records;
    this.sandboxes = new Sandboxes({
      records: this.#records,
      events: deps.events,
      backend: deps.backend,
      root: join(deps.execRoot, 'network'),
      defaultBindAddress: deps.config.defaultBindAddress,
      lock: this.#lock,
      containers: deps.containers,
      log: deps.log,
    });
    this.#ensurePredefined();
  }

  // ---------------------------------------------------------------- predefined networks

  #ensurePredefined(): void {
    const cfg = this.#d.config;
    const bip = parseCidr(cfg.bip, 'bip');
    const gwIp = cfg.bip.slice(0, cfg.bip.indexOf('/'));
    const gateway = gwIp && parseIP(gwIp)?.value !== bip.base ? gwIp : formatIP(4, firstHost(bip));
    const bridgeSpec: NetSpec = {
      internal: false,
      attachable: false,
      ipv6: false,
      bridge: cfg.bridge,
      subnets: [{ subnet: formatCidr(bip), gateway }],
      options: {
        'com.docker.network.bridge.default_bridge': 'true',
        'com.docker.network.bridge.enable_icc': 'true',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
        'com.docker.network.bridge.host_binding_ipv4': cfg.defaultBindAddress || '0.0.0.0',
        [BRIDGE_NAME_OPT]: cfg.bridge,
        [MTU_OPT]: '1500',
      },
      labels: {},
      ipamOptions: null,
      dns: false,
      predefined: 'bridge',
    };
    const plain = (p: 'host' | 'none'): NetSpec => ({
      internal: false,
      attachable: false,
      ipv6: false,
      bridge: '',
      subnets: [],
      options: {},
      labels: {},
      ipamOptions: null,
      dns: false,
      predefined: p,
    });
    this.#records.transaction(() => {
      for (const name of PREDEFINED) {
        const spec = name === 'bridge' ? bridgeSpec : plain(name);
        const driver = name === 'none' ? 'null' : name;
        const cur = this.#records.byName(name);
        if (cur && JSON.stringify(cur.spec) === JSON.stringify(spec)) continue;
        // A changed --bridge/--bip takes effect at start; the ID stays.
        const id = cur?.id ?? randomBytes(32).toString('hex');
        if (cur) this.#records.delete(cur.id);
        this.#records.put({ id, name, driver, created: cur?.created ?? Date.now(), spec });
      }
    });
  }

  // ---------------------------------------------------------------- docker network ...

  /** Finds a network by full ID, name, or unique ID prefix (Docker's order); NotFound when there is none. */
  #find(ref: string): NetRec {
    const n = lookupNetwork(this.#records, ref);
    if (!n) throw new NotFoundError(`network ${ref} not found`);
    return n;
  }

  #json(n: NetRec, withContainers: boolean): Network {
    return networkInspect(this.#records, n, {
      withContainers,
      nameOf: (id) => this.#d.containers?.(id)?.name,
      // Where Berth's own backend keeps this network's rules.
      chains: this.#d.backend.chains?.(n.id),
    });
  }

  /** `GET /networks`: filters `name` (substring), `id` (prefix), `label`, `driver`, `type` (custom/builtin), `dangling`. */
  list(filters: NetworkFilters = new Map()): Network[] {
    const out: Network[] = [];
    for (const n of this.#records.all()) {
      if (!this.#matches(n, filters)) continue;
      out.push(this.#json(n, false));
    }
    return out;
  }

  #active(n: NetRec): EpRec[] {
    return this.#records.endpointsOn(n.id).filter((e) => e.endpointId !== null);
  }

  #matches(n: NetRec, f: NetworkFilters): boolean {
    const names = f.get('name');
    if (names && !names.some((x) => n.name.includes(x))) return false;
    const ids = f.get('id');
    if (ids && !ids.some((x) => n.id.startsWith(x))) return false;
    const drivers = f.get('driver');
    if (drivers && !drivers.includes(n.driver)) return false;
    const labels = f.get('label');
    if (labels && !labels.every((l) => matchLabel(n.spec.labels, l))) return false;
    const notLabels = f.get('label!');
    if (notLabels?.some((l) => matchLabel(n.spec.labels, l))) return false;
    const types = f.get('type');
    if (types) {
      for (const t of types)
        if (t !== 'custom' && t !== 'builtin') throw new InvalidArgumentError(`invalid filter: 'type'='${t}'`);
      if (!types.includes(n.spec.predefined ? 'builtin' : 'custom')) return false;
    }
    const dangling = f.get('dangling');
    if (dangling) {
      const want = dangling.some((d) => d === 'true' || d === '1');
      const isDangling = !n.spec.predefined && this.#active(n).length === 0;
      if (isDangling !== want) return false;
    }
    const until = f.get('until');
    if (until && !until.every((u) => n.created <= untilMs(u))) return false;
    return true;
  }

  /** `GET /networks/{id}`: the network with its running containers' endpoints. */
  inspect(ref: string): Network {
    return this.#json(this.#find(ref), true);
  }

  /**
   * `POST /networks/create`. Validates everything before anything is recorded; the bridge device itself is made by
   * the backend when the first container joins (and removed when the last leaves).
   */
  async create(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    return this.#lock.run('alloc', async () => {
      const name = req.Name ?? '';
      if (!name) throw new InvalidArgumentError('network name is required');
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name))
        throw new InvalidArgumentError(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const driver = req.Driver || 'bridge';
      if (driver === 'host' || driver === 'null')
        throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
      if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
      const ipamDriver = req.IPAM?.Driver || 'default';
      if (ipamDriver !== 'default') throw new NotFoundError(`plugin "${ipamDriver}" not found`);
      if (req.ConfigFrom?.Network || req.ConfigOnly || req.Ingress)
        throw new InvalidArgumentError('config-only, config-from and ingress networks are not supported');
      if (this.#records.byName(name)) throw new ConflictError(`network with name ${name} already exists`);
      const id = randomBytes(32).toString('hex');
      const spec = await networkSpec(
        req,
        id,
        this.#records.all().map((n) => n.spec),
        this.#d.config.pools,
      );
      if (!this.#records.put({ id, name, driver: 'bridge', created: Date.now(), spec }))
        throw new ConflictError(`network with name ${name} already exists`);
      this.#d.events.publish('network', 'create', id, { name, type: 'bridge' });
      return { Id: id, Warning: '' };
    });
  }

  /** `DELETE /networks/{id}`: refused for the predefined networks (403) and while containers run on it (409). */
  async remove(ref: string): Promise<void> {
    await phase('net.drain', '', () => this.sandboxes.drain());
    await this.#lock.run('alloc', async () => {
      const n = this.#find(ref);
      if (n.spec.predefined) throw new ForbiddenError(`${n.name} is a pre-defined network and cannot be removed`);
      if (this.#active(n).length > 0)
        throw new ConflictError(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
      this.#records.delete(n.id);
      this.#d.events.publish('network', 'destroy', n.id, { name: n.name, type: n.driver });
    });
  }

  /** `POST /networks/prune`: every user network without running containers; filters `label`, `label!`, `until`. */
  async prune(filters: NetworkFilters = new Map()): Promise<{ NetworksDeleted: string[] | null }> {
    const deleted: string[] = [];
    for (const n of this.#records.all()) {
      if (n.spec.predefined) continue;
      const f = new Map([...filters].filter(([k]) => k === 'label' || k === 'label!' || k === 'until'));
      if (!this.#matches(n, f)) continue;
      try {
        await this.remove(n.id);
        deleted.push(n.name);
      } catch (err) {
        if (!(err instanceof ConflictError) && !(err instanceof NotFoundError)) throw err;
      }
    }
    return { NetworksDeleted: deleted.length ? deleted : null };
  }

  #container(ref: string): ContainerLink {
    const c = this.#d.containers?.(ref);
    if (!c) throw new NotFoundError(`No such container: ${ref}`);
    return c;
  }

  /**
   * `POST /networks/{id}/connect`: records the endpoint; a running container gets the interface at once (the
   * backend's setup for that network alone, in its namespace).
   */
  async connect(
    ref: string,
    containerRef: string,
    cfg: EndpointSettings = {},
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const n = this.#find(ref);
    const c = this.#container(containerRef);
    if (n.spec.predefined === 'host' || n.spec.predefined === 'none')
      throw new InvalidArgumentError('container cannot be disconnected from host network or connected to host network');
    const mode = c.networkMode;
    if (mode === 'host' || mode.startsWith('container:'))
      throw new InvalidArgumentError(
        'container sharing network namespace with another container or host cannot be connected to any other network',
      );
    if (mode === 'none')
      throw new InvalidArgumentError(
        'container cannot be connected to multiple networks with one of the networks in private (none) mode',
      );
    await this.sandboxes.connect(c, n, cfg, opts);
  }

  /** `POST /networks/{id}/disconnect`: removes the endpoint (and, while running, the interface). */
  async disconnect(
    ref: string,
    containerRef: string,
    force = false,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const c = this.#d.containers?.(containerRef);
    if (!c) {
      const n = this.#find(ref);
      // `disconnect -f` of a container that is gone: drop its endpoint by name, as Docker's force does.
      if (force) {
        for (const e of this.#records.endpointsOn(n.id))
          if (e.containerId.startsWith(containerRef)) this.#records.deleteEndpoint(e.containerId, n.id);
        return;
      }
      throw new NotFoundError(`No such container: ${containerRef}`);
    }
    const n = lookupNetwork(this.#records, ref) ?? this.#gone(ref, c);
    if (!n) return;
    if (n.spec.predefined === 'host' || n.spec.predefined === 'none')
      throw new InvalidArgumentError('container cannot be disconnected from host network or connected to host network');
    await this.sandboxes.disconnect(c, n, force, opts);
  }

  /**
   * A network that is not there (removed while a stopped container still names it, say): as dockerd, a stopped
   * container's endpoint of that name (or ID) is dropped (undefined: done), and a stopped container without one is
   * "not connected" (dockerd's 500); a running container gets NotFound for the network.
   */
  #gone(ref: string, c: ContainerLink): NetRec | undefined {
    if (this.#records.sandbox(c.id)) return this.#find(ref);
    const ep = this.#records.endpointsOf(c.id).find((e) => e.networkName === ref || e.networkId.startsWith(ref));
    if (!ep) throw new BerthError(`container ${c.id} is not connected to the network ${ref}`);
    this.#records.deleteEndpoint(c.id, ep.networkId);
    return undefined;
  }

  /** The backend's name, the firewall chains it hooks and its warnings (for `info`). */
  backendInfo(): { backend: 'berth' | 'netavark'; chains: string[]; warnings: string[] } {
    const b = this.#d.backend;
    return { backend: b.name, ...(b.info?.() ?? { chains: [], warnings: [] }) };
  }

  /** Waits for the teardowns running in the background and the backend's own (daemon stop, tests). */
  drain(): Promise<void> {
    return this.sandboxes.drain();
  }
}
