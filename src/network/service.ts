import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EndpointRecord, NetworkRecord, NetworkRecords } from '../metadata/index.ts';
import {
  ConflictError,
  ForbiddenError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  errorMessage,
  isErrno,
} from '../util/errors.ts';
import type { EventLog } from '../util/events.ts';
import { KeyedMutex, RWLock } from '../util/lock.ts';
import { addHostsEntries, buildHosts, buildResolvConf, hostNames, removeHostsEntries, splitExtraHost } from './etc.ts';
import {
  BRIDGE_NAME_OPT,
  MTU_OPT,
  PREDEFINED,
  macFor,
  networkJSON,
  networkSpec,
  untilMs,
  type EpConfig,
  type NetSpec,
} from './model.ts';
import { matchLabel } from '../util/labels.ts';
import { contains, firstHost, formatCidr, formatIP, nextFree, parseCidr, parseIP, type Pool } from './ipam.ts';
import { NetavarkDriver, findHelper, type NetavarkInput, type NetavarkNetwork } from './netavark.ts';
import type { NetworkBackend } from './backend.ts';
import { BridgeBackend } from './bridge.ts';
import { createNetns, removeNetns } from './netns.ts';
import { ephemeralRange, resolvePorts, wantedPorts, type PortMapping } from './ports.ts';
import type {
  CreateNetworkRequest,
  EndpointRequest,
  EndpointSettings,
  Network,
  NetworkContainer,
  NetworkSettings,
  PortBinding,
} from './types.ts';

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
  /** netavark and aardvark-dns binaries; found in podman's helper dirs or $PATH when not given. */
  netavark?: string;
  aardvark?: string;
  /** `berth` (default: Berth's own, bridge.ts) or `netavark` (netavark 1.4). */
  backend?: 'berth' | 'netavark';
}

/** What the network service needs to know of a container (the containers service answers, late-bound). */
export interface ContainerLink {
  id: string;
  name: string;
  running: boolean;
  /** The container's `HostConfig.NetworkMode` (`bridge`, `host`, `none`, `container:ID` or a network name). */
  networkMode: string;
}

/** Finds a container by ID, ID prefix or name; undefined when there is none. */
export type ContainerLookup = (ref: string) => ContainerLink | undefined;

export interface NetworkServiceDeps {
  records: NetworkRecords;
  events: EventLog;
  /** Namespaces, netavark/aardvark state and per-container netavark inputs live under `<execRoot>/network`. */
  execRoot: string;
  config: NetworkConfig;
  containers?: ContainerLookup;
  log?: { info(msg: string): void; warn(msg: string): void };
}

/** Filters of `GET /networks` and `POST /networks/prune` (`?filters=` decoded). */
export type NetworkFilters = Map<string, string[]>;

/** What `setUp` needs of a starting container. */
export interface SandboxRequest {
  id: string;
  name: string;
  hostname: string;
  domainname?: string;
  /** `HostConfig.NetworkMode` as `prepare` normalised it. */
  networkMode: string;
  portBindings?: Record<string, readonly { HostIp?: string; HostPort?: string }[] | null> | null;
  publishAll?: boolean;
  /** `Config.ExposedPorts` keys (`80/tcp`). */
  exposedPorts?: readonly string[];
  dns?: readonly string[] | null;
  dnsSearch?: readonly string[] | null;
  dnsOptions?: readonly string[] | null;
  extraHosts?: readonly string[] | null;
  /**
   * The container's own hosts file (bind-mounted as /etc/hosts): `network connect` and `disconnect` of the running
   * container add and remove the line of that network's address in it, as Docker.
   */
  hostsFile?: string;
  signal?: AbortSignal;
  /**
   * Return as soon as the namespace and files exist (addresses are chosen before netavark runs), with `ready`
   * settling when netavark has finished: the caller creates the runtime container meanwhile and awaits `ready`
   * before the process starts. On failure the service has already undone its part.
   */
  early?: boolean;
}

/** What a container gets from `setUp`: the namespace to join (none for `host`/`none`) and its etc files. */
export interface Sandbox {
  /** Path of the network namespace file; undefined for `host` (the host's) and `none` (the runtime makes an empty one). */
  netns?: string;
  hosts: string;
  resolvConf: string;
  /** Settles when netavark has set up the interfaces and ports (already settled unless `early`). */
  ready?: Promise<void>;
}

type NetRec = NetworkRecord<NetSpec>;
type EpRec = EndpointRecord<EpConfig>;

/** The state file of a running container's networking: enough to tear it down after a crash. */
interface SandboxFile {
  netns: string;
  input: NetavarkInput;
  /** The container's hosts file and the names on its own lines (kept for connect/disconnect). */
  hosts?: { file: string; names: string };
}

/**
 * Networks and container networking through netavark. State lives in the metadata DB (networks, each container's
 * endpoints with its allocated addresses, each running container's namespace and ports) and changes in
 * transactions; a running container's netavark input is also written to `<execRoot>/network/sandboxes/<id>.json`
 * before netavark runs, so `repair()` can undo what a crash left.
 *
 * The container service calls: `prepare` (create: validate NetworkMode and EndpointsConfig, record endpoints),
 * `setUp` (start, before the runtime creates the container), `tearDown` (stop/exit), `release` (rm),
 * `settings` (inspect's NetworkSettings) and `sandboxPath` (`--network container:X`).
 */
export class NetworkService {
  readonly #d: NetworkServiceDeps;
  readonly #records: NetworkRecords<NetSpec, EpConfig, PortMapping[]>;
  readonly #root: string;
  readonly #lock = new KeyedMutex();
  #driver: NetworkBackend | undefined;
  #portCursor = 0;
  readonly #pending = new Set<Promise<void>>();
  readonly #netLocks = new Map<string, RWLock>();
  readonly #unsettled = new Set<string>();

  constructor(deps: NetworkServiceDeps) {
    this.#d = deps;
    this.#records = deps.records as NetworkRecords<NetSpec, EpConfig, PortMapping[]>;
    this.#root = join(deps.execRoot, 'network');
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

  /** Finds a network by full ID, name, or unique ID prefix (Docker's order); undefined when there is none. */
  #lookup(ref: string): NetRec | undefined {
    const byId = this.#records.get(ref);
    if (byId) return byId;
    const byName = this.#records.byName(ref);
    if (byName) return byName;
    const matches = /^[0-9a-f]+$/.test(ref) ? this.#records.all().filter((n) => n.id.startsWith(ref)) : [];
    if (matches.length > 1)
      throw new InvalidArgumentError(
        `network ${ref} is ambiguous (${matches.length} matches found based on ID prefix)`,
      );
    return matches[0];
  }

  /** `#lookup`, NotFound (404) when there is no such network. */
  #find(ref: string): NetRec {
    const n = this.#lookup(ref);
    if (!n) throw new NotFoundError(`network ${ref} not found`);
    return n;
  }

  /**
   * A network a container create names. An unknown one is a bad request (400), not a 404: the docker CLI takes
   * any 404 from create for a missing image and would try to pull it.
   */
  #endpointNetwork(ref: string): NetRec {
    const n = this.#lookup(ref);
    if (!n) throw new InvalidArgumentError(`network ${ref} not found`);
    return n;
  }

  #toApi(n: NetRec, withContainers: boolean): Network {
    const s = n.spec;
    const containers: Record<string, NetworkContainer> = {};
    if (withContainers) {
      for (const e of this.#records.endpointsOn(n.id)) {
        if (!e.endpointId) continue;
        const prefix = (fam: 4 | 6) => s.subnets.map((x) => parseCidr(x.subnet)).find((c) => c.family === fam)?.prefix;
        containers[e.containerId] = {
          Name: this.#d.containers?.(e.containerId)?.name ?? e.containerId.slice(0, 12),
          EndpointID: e.endpointId,
          MacAddress: e.mac ?? '',
          IPv4Address: e.ipv4 ? `${e.ipv4}/${prefix(4)}` : '',
          IPv6Address: e.ipv6 ? `${e.ipv6}/${prefix(6)}` : '',
        };
      }
    }
    const json = networkJSON(n, containers);
    // Where Berth's own backend keeps this network's rules.
    if (n.driver === 'bridge' && (this.#d.config.backend ?? 'berth') === 'berth')
      json.Options = { ...json.Options, 'berth.firewall.chains': this.#netavark().chains?.(n.id).join(',') ?? '' };
    return json;
  }

  /** `GET /networks`: filters `name` (substring), `id` (prefix), `label`, `driver`, `type` (custom/builtin), `dangling`. */
  list(filters: NetworkFilters = new Map()): Network[] {
    const out: Network[] = [];
    for (const n of this.#records.all()) {
      if (!this.#matches(n, filters)) continue;
      out.push(this.#toApi(n, false));
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
    return this.#toApi(this.#find(ref), true);
  }

  /**
   * `POST /networks/create`. Validates everything before anything is recorded; the bridge device itself is made by
   * netavark when the first container joins (and removed when the last leaves).
   */
  async create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> {
    return this.#lock.run('alloc', async () => {
      const name = req.Name ?? '';
      if (!name) throw new InvalidArgumentError('network name is required');
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name))
        throw new InvalidArgumentError(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const driver = req.Driver || 'bridge';
      if (driver === 'host' || driver === 'null')
        throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
      if (driver !== 'bridge') throw new InvalidArgumentError(`plugin "${driver}" not found`);
      const ipamDriver = req.IPAM?.Driver || 'default';
      if (ipamDriver !== 'default') throw new InvalidArgumentError(`plugin "${ipamDriver}" not found`);
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
    await this.drain();
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
   * `POST /networks/{id}/connect`: records the endpoint; a running container gets the interface at once (netavark
   * setup for that network alone, in its namespace).
   */
  async connect(
    ref: string,
    containerRef: string,
    cfg: EndpointRequest = {},
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
    await this.#lock.run(`c:${c.id}`, async () => {
      const config = this.#endpointConfig(n, cfg);
      if (
        !this.#records.putEndpoint({
          containerId: c.id,
          networkId: n.id,
          networkName: n.name,
          config,
          ipv4: null,
          ipv6: null,
          mac: null,
          endpointId: null,
        })
      ) {
        throw new ConflictError(`endpoint with name ${c.name} already exists in network ${n.name}`);
      }
      const sb = this.#records.sandbox(c.id);
      if (!sb) {
        this.#d.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
        return;
      }
      this.#unsettled.add(c.id);
      try {
        const file = await this.#readState(c.id);
        const used = new Set(Object.values(file?.input.networks ?? {}).map((x) => x.interface_name));
        let i = 0;
        while (used.has(`eth${i}`)) i++;
        const ep = await this.#allocate(c.id, [this.#records.endpointsOf(c.id).find((e) => e.networkId === n.id)!]);
        const one = this.#input(
          c,
          ep.map((e) => ({ ep: e, ifname: `eth${i}` })),
          [],
        );
        const merged: NetavarkInput = file
          ? {
              ...file.input,
              networks: { ...file.input.networks, ...one.networks },
              network_info: { ...file.input.network_info, ...one.network_info },
            }
          : one;
        await this.#writeState(c.id, { ...file, netns: sb.netns, input: merged });
        try {
          await this.#withNetworks([n.name], () => this.#netavark().setup(sb.netns, one, opts), { containerId: c.id });
        } catch (err) {
          await this.#withNetworks([n.name], () => this.#netavark().teardown(sb.netns, one)).catch(() => {});
          if (file) await this.#writeState(c.id, file);
          throw err;
        }
        await this.#editHosts(c.id, file?.hosts, (text, names) =>
          addHostsEntries(text, one.networks[n.name]!.static_ips, names),
        );
      } catch (err) {
        this.#records.deleteEndpoint(c.id, n.id);
        throw err;
      } finally {
        this.#unsettled.delete(c.id);
      }
      this.#d.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
    });
  }

  /** `POST /networks/{id}/disconnect`: removes the endpoint (and, while running, the interface). */
  async disconnect(
    ref: string,
    containerRef: string,
    force = false,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const n = this.#find(ref);
    const c = this.#d.containers?.(containerRef);
    if (!c) {
      // `disconnect -f` of a container that is gone: drop its endpoint by name, as Docker's force does.
      if (force) {
        for (const e of this.#records.endpointsOn(n.id))
          if (e.containerId.startsWith(containerRef)) this.#records.deleteEndpoint(e.containerId, n.id);
        return;
      }
      throw new NotFoundError(`No such container: ${containerRef}`);
    }
    if (n.spec.predefined === 'host' || n.spec.predefined === 'none')
      throw new InvalidArgumentError('container cannot be disconnected from host network or connected to host network');
    await this.#lock.run(`c:${c.id}`, async () => {
      const ep = this.#records.endpointsOf(c.id).find((e) => e.networkId === n.id);
      if (!ep) throw new ConflictError(`container ${c.id} is not connected to network ${n.name}`);
      const sb = this.#records.sandbox(c.id);
      const file = sb ? await this.#readState(c.id) : undefined;
      if (sb && file?.input.networks[n.name]) {
        const one: NetavarkInput = {
          container_id: c.id,
          container_name: file.input.container_name,
          networks: { [n.name]: file.input.networks[n.name]! },
          network_info: { [n.name]: file.input.network_info[n.name]! },
          ...(file.input.port_mappings && Object.keys(file.input.networks)[0] === n.name
            ? { port_mappings: file.input.port_mappings }
            : {}),
        };
        this.#unsettled.add(c.id);
        try {
          await this.#withNetworks([n.name], () => this.#netavark().teardown(sb.netns, one, opts));
        } catch (err) {
          if (!force) {
            this.#unsettled.delete(c.id);
            throw err;
          }
          this.#d.log?.warn(`network ${n.name}: disconnect ${c.id.slice(0, 12)}: ${errorMessage(err)}`);
        }
        const rest = {
          ...file.input,
          networks: { ...file.input.networks },
          network_info: { ...file.input.network_info },
        };
        delete rest.networks[n.name];
        delete rest.network_info[n.name];
        await this.#writeState(c.id, { ...file, netns: sb.netns, input: rest });
        await this.#editHosts(c.id, file.hosts, (text, names) =>
          removeHostsEntries(text, file.input.networks[n.name]!.static_ips, names),
        );
      }
      this.#records.deleteEndpoint(c.id, n.id);
      this.#unsettled.delete(c.id);
      this.#d.events.publish('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
    });
  }

  // ---------------------------------------------------------------- the container side

  /** Checks a connect/create endpoint config against the network (Docker's rules for the default bridge). */
  #endpointConfig(n: NetRec, cfg: EndpointRequest | null | undefined): EpConfig {
    const aliases = [...new Set((cfg?.Aliases ?? []).filter(Boolean))];
    const ipv4 = cfg?.IPAMConfig?.IPv4Address || undefined;
    const ipv6 = cfg?.IPAMConfig?.IPv6Address || undefined;
    if (n.spec.predefined === 'bridge') {
      if (ipv4 || ipv6)
        throw new InvalidArgumentError('user specified IP address is supported on user defined networks only');
      if (aliases.length)
        throw new InvalidArgumentError(
          'network-scoped alias is supported only for containers in user defined networks',
        );
    }
    for (const [ip, fam] of [
      [ipv4, 4],
      [ipv6, 6],
    ] as const) {
      if (!ip) continue;
      const p = parseIP(ip);
      if (!p || p.family !== fam) throw new InvalidArgumentError(`invalid IPv${fam} address: ${ip}`);
      if (!n.spec.subnets.some((s) => contains(parseCidr(s.subnet), p.family, p.value))) {
        throw new InvalidArgumentError(`Invalid address ${ip}: It does not belong to any of this network's subnets`);
      }
    }
    const mac = typeof cfg?.MacAddress === 'string' && cfg.MacAddress ? cfg.MacAddress : undefined;
    if (mac && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac))
      throw new InvalidArgumentError(`invalid MAC address: ${mac}`);
    return {
      aliases,
      ...(ipv4 ? { ipv4 } : {}),
      ...(ipv6 ? { ipv6 } : {}),
      ...(mac ? { mac } : {}),
      ...(cfg?.Links?.length ? { links: [...cfg.Links] } : {}),
    };
  }

  /**
   * Container create: validates `NetworkMode` (`default`/`bridge`, `host`, `none`, `container:X`, a user network by
   * name or ID prefix) and `EndpointsConfig`, and records the container's endpoints. Returns the mode to store
   * (`default` becomes `bridge`; a network named by ID prefix keeps the name the user gave, as Docker).
   * `container:X` is resolved by the caller. `mac` is `--mac-address` (Config.MacAddress).
   */
  prepare(
    containerId: string,
    networkMode: string | undefined,
    endpoints: Record<string, EndpointRequest | null> | null | undefined,
    mac?: string,
  ): string {
    const mode = !networkMode || networkMode === 'default' ? 'bridge' : networkMode;
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return mode;
    const primary = this.#endpointNetwork(mode);
    if (primary.spec.predefined === 'host' || primary.spec.predefined === 'none') return primary.name;
    const cfgs = endpoints ?? {};
    const cfgFor = (n: NetRec): EndpointRequest | null | undefined =>
      cfgs[n.name] ??
      cfgs[n.id] ??
      (n === primary ? (cfgs[mode] ?? (n.spec.predefined === 'bridge' ? cfgs.default : undefined)) : undefined);
    const nets: NetRec[] = [primary];
    for (const key of Object.keys(cfgs)) {
      if (key === mode || key === 'default') continue;
      const n = this.#endpointNetwork(key);
      if (!nets.some((x) => x.id === n.id)) nets.push(n);
    }
    const records = nets.map((n) => {
      const c = this.#endpointConfig(n, cfgFor(n));
      if (n === primary && mac && !c.mac) c.mac = mac;
      return { n, c };
    });
    this.#records.transaction(() => {
      this.#records.deleteEndpointsOf(containerId);
      for (const { n, c } of records)
        this.#records.putEndpoint({
          containerId,
          networkId: n.id,
          networkName: n.name,
          config: c,
          ipv4: null,
          ipv6: null,
          mac: null,
          endpointId: null,
        });
    });
    return mode;
  }

  /** The network namespace of a running container (for `--network container:X`); undefined when it has none. */
  sandboxPath(containerId: string): string | undefined {
    return this.#records.sandbox(containerId)?.netns;
  }

  /**
   * The networks a container is on, by name and ID (`ps --filter network=`): its endpoints, or the `host` or `none`
   * network; none for `container:X`.
   */
  attachments(containerId: string, networkMode: string): { name: string; id: string }[] {
    if (networkMode.startsWith('container:')) return [];
    if (networkMode === 'host' || networkMode === 'none')
      return [{ name: networkMode, id: this.#records.byName(networkMode)?.id ?? '' }];
    return this.#records.endpointsOf(containerId).map((e) => ({ name: e.networkName, id: e.networkId }));
  }

  /**
   * Runs a netavark call holding each named network's lock, in a fixed order. netavark decides per network whether
   * a teardown is the last one (and removes the bridge and its rules), which must not interleave with a setup on
   * that network, and a network's first setup creates the bridge and rules, which must not run twice at once; so
   * teardowns and first setups hold a network alone. Setups on a network where another container's endpoint is
   * already up share it (its rules exist, netavark adds only per-container ones). Podman serialises every call.
   */
  async #withNetworks<T>(names: readonly string[], fn: () => Promise<T>, setup?: { containerId: string }): Promise<T> {
    const sorted = [...new Set(names)].sort();
    const go = async (i: number): Promise<T> => {
      if (i === sorted.length) return fn();
      const name = sorted[i]!;
      let lock = this.#netLocks.get(name);
      if (!lock) this.#netLocks.set(name, (lock = new RWLock()));
      if (!setup) return lock.write(() => go(i + 1));
      // A setup that waited for the network alone while another made it warm lets go and shares it instead.
      for (;;) {
        if (this.#warm(name, setup.containerId)) {
          const shared = await lock.read(async () =>
            this.#warm(name, setup.containerId) ? { value: await go(i + 1) } : undefined,
          );
          if (shared) return shared.value;
        }
        const alone = await lock.write(async () =>
          this.#warm(name, setup.containerId) ? undefined : { value: await go(i + 1) },
        );
        if (alone) return alone.value;
      }
    };
    return go(0);
  }

  /** Whether another container's endpoint on the network is up (its netavark setup finished): the bridge and rules exist. */
  #warm(networkName: string, containerId: string): boolean {
    const n = this.#records.byName(networkName);
    if (!n) return false;
    return this.#records
      .endpointsOn(n.id)
      .some((e) => e.endpointId !== null && e.containerId !== containerId && !this.#unsettled.has(e.containerId));
  }

  #netavark(): NetworkBackend {
    if (this.#driver) return this.#driver;
    if ((this.#d.config.backend ?? 'berth') === 'berth') {
      const aardvark = findHelper('aardvark-dns', this.#d.config.aardvark);
      this.#driver = new BridgeBackend({
        ...(aardvark ? { aardvark } : {}),
        dnsDir: join(this.#root, 'aardvark-dns'),
        keep: (name) => this.#records.byName(name)?.spec.predefined === 'bridge',
        ...(this.#d.log ? { log: this.#d.log } : {}),
      });
      return this.#driver;
    }
    const netavark = findHelper('netavark', this.#d.config.netavark);
    if (!netavark)
      throw new UnavailableError(
        'netavark not found: install it (Debian package netavark) or set the "netavark" daemon option',
      );
    const aardvark = findHelper('aardvark-dns', this.#d.config.aardvark);
    const driver = new NetavarkDriver({
      netavark,
      ...(aardvark ? { aardvark } : {}),
      configDir: join(this.#root, 'netavark'),
    });
    this.#driver = {
      name: 'netavark',
      setup: (ns, input, o) => driver.setup(ns, input, o),
      teardown: (ns, input, o) => driver.teardown(ns, input, o),
    };
    return this.#driver;
  }

  /** The backend's name, the firewall chains it hooks and its warnings (for `info`). */
  backendInfo(): { backend: 'berth' | 'netavark'; chains: string[]; warnings: string[] } {
    const backend = this.#d.config.backend ?? 'berth';
    if (backend !== 'berth') return { backend, chains: [], warnings: [] };
    const b = this.#netavark();
    return { backend, ...(b.info?.() ?? { chains: [], warnings: [] }) };
  }

  /** Gives each endpoint its addresses, MAC and endpoint ID, in one transaction; the allocation lock is held. */
  async #allocate(containerId: string, eps: EpRec[]): Promise<EpRec[]> {
    return this.#lock.run('alloc', async () =>
      this.#records.transaction(() => {
        const out: EpRec[] = [];
        for (const e of eps) {
          const n = this.#records.get(e.networkId);
          if (!n) throw new NotFoundError(`network ${e.networkName} not found`);
          const live = this.#records.endpointsOn(n.id).filter((x) => x.endpointId && x.containerId !== containerId);
          let ipv4: string | null = null;
          let ipv6: string | null = null;
          for (const s of n.spec.subnets) {
            const subnet = parseCidr(s.subnet);
            const want = subnet.family === 4 ? e.config.ipv4 : e.config.ipv6;
            const used = new Set<bigint>([parseIP(s.gateway)!.value]);
            for (const x of live) {
              const a = subnet.family === 4 ? x.ipv4 : x.ipv6;
              if (a) used.add(parseIP(a)!.value);
            }
            let addr: bigint | undefined;
            if (want) {
              const p = parseIP(want)!;
              if (!contains(subnet, p.family, p.value)) continue;
              if (used.has(p.value)) throw new ConflictError('Address already in use');
              addr = p.value;
            } else {
              addr = nextFree(subnet, used, s.ipRange ? parseCidr(s.ipRange) : undefined);
              if (addr === undefined)
                throw new UnavailableError(`no available IPv${subnet.family} addresses on network ${n.name}`);
            }
            if (subnet.family === 4 && !ipv4) ipv4 = formatIP(4, addr);
            if (subnet.family === 6 && !ipv6) ipv6 = formatIP(6, addr);
          }
          const mac =
            e.config.mac ?? (ipv4 ? macFor(ipv4) : `02:42:${randomBytes(4).toString('hex').match(/../g)!.join(':')}`);
          const live2 = { ipv4, ipv6, mac, endpointId: randomBytes(32).toString('hex') };
          this.#records.setLive(containerId, n.id, live2);
          out.push({ ...e, ...live2 });
        }
        return out;
      }),
    );
  }

  /** netavark's input for some of a container's endpoints (`ifname` per endpoint) and its published ports. */
  #input(
    c: { id: string; name: string },
    eps: { ep: EpRec; ifname: string }[],
    ports: PortMapping[],
    dns?: readonly string[] | null,
  ): NetavarkInput {
    const input: NetavarkInput = { container_id: c.id, container_name: c.name, networks: {}, network_info: {} };
    for (const { ep, ifname } of eps) {
      const n = this.#records.get(ep.networkId)!;
      const s = n.spec;
      const info: NetavarkNetwork = {
        name: n.name,
        id: n.id,
        driver: 'bridge',
        network_interface: s.bridge,
        subnets: s.subnets.map((x) => ({
          subnet: x.subnet,
          gateway: x.gateway,
        })),
        ipv6_enabled: s.ipv6,
        internal: s.internal,
        dns_enabled: s.dns,
        ipam_options: { driver: 'host-local' },
        ...(s.options[MTU_OPT] ? { options: { mtu: s.options[MTU_OPT]! } } : {}),
      };
      input.network_info[n.name] = info;
      const aliases = s.dns ? [...new Set([...ep.config.aliases, c.id.slice(0, 12)])] : [];
      input.networks[n.name] = {
        interface_name: ifname,
        static_ips: [ep.ipv4, ep.ipv6].filter((x): x is string => Boolean(x)),
        ...(aliases.length ? { aliases } : {}),
        ...(ep.mac ? { static_mac: ep.mac } : {}),
      };
    }
    if (ports.length)
      input.port_mappings = ports.map((p) => ({
        host_ip: p.hostIp,
        container_port: p.containerPort,
        host_port: p.hostPort,
        protocol: p.protocol,
        range: 1,
      }));
    if (dns?.length) input.dns_servers = [...dns];
    return input;
  }

  #stateFile(id: string): string {
    return join(this.#root, 'sandboxes', `${id}.json`);
  }

  #netnsPath(id: string): string {
    return join(this.#root, 'netns', id);
  }

  async #writeState(id: string, s: SandboxFile): Promise<void> {
    const p = this.#stateFile(id);
    await mkdir(join(this.#root, 'sandboxes'), { recursive: true, mode: 0o700 });
    await writeFile(`${p}.tmp`, JSON.stringify(s));
    await rename(`${p}.tmp`, p);
  }

  async #readState(id: string): Promise<SandboxFile | undefined> {
    try {
      return JSON.parse(await readFile(this.#stateFile(id), 'utf8')) as SandboxFile;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  /**
   * Rewrites a running container's hosts file in place (same inode: the bind mount pins it, so no rename) with
   * `edit`. A file that is gone (the container is stopping) is fine; a failure is logged, not the caller's error.
   */
  async #editHosts(
    containerId: string,
    hosts: SandboxFile['hosts'],
    edit: (text: string, names: string) => string,
  ): Promise<void> {
    if (!hosts) return;
    try {
      const fh = await open(hosts.file, 'r+');
      try {
        const text = await fh.readFile('utf8');
        const next = edit(text, hosts.names);
        if (next === text) return;
        await fh.truncate(0);
        await fh.write(next, 0, 'utf8');
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (!isErrno(err, 'ENOENT'))
        this.#d.log?.warn(`container ${containerId.slice(0, 12)}: updating /etc/hosts: ${errorMessage(err)}`);
    }
  }

  /**
   * Container start: makes the container's network namespace and runs netavark for its networks and published
   * ports, then returns the namespace and the /etc/hosts and /etc/resolv.conf to mount. For `host` and `none`
   * only the files. A host port that is taken (by Berth or any process) is a ConflictError "Bind for
   * 0.0.0.0:8080 failed: port is already allocated"; on any failure everything made so far is undone.
   */
  async setUp(req: SandboxRequest): Promise<Sandbox> {
    const mode = req.networkMode;
    const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    const extraHosts = (req.extraHosts ?? []).map((e) => this.#extraHost(e, req.id));
    const dnsOpts = {
      ...(req.dnsSearch?.length ? { search: req.dnsSearch } : {}),
      ...(req.dnsOptions?.length ? { options: req.dnsOptions } : {}),
    };
    if (mode === 'host') {
      const hosts = await readFile('/etc/hosts', 'utf8').catch(() =>
        buildHosts({ hostname: req.hostname, addresses: [], extraHosts: [] }),
      );
      const extra = extraHosts.map((e) => `${splitExtraHost(e)[1]}\t${splitExtraHost(e)[0]}\n`).join('');
      const resolvConf =
        req.dns?.length || dnsOpts.search || dnsOpts.options
          ? buildResolvConf(hostResolv, { ...(req.dns?.length ? { nameservers: req.dns } : {}), ...dnsOpts })
          : hostResolv;
      return { hosts: hosts + extra, resolvConf };
    }
    if (mode === 'none' || mode.startsWith('container:')) {
      return {
        hosts: buildHosts({
          hostname: req.hostname,
          ...(req.domainname ? { domainname: req.domainname } : {}),
          addresses: [],
          extraHosts,
        }),
        resolvConf: buildResolvConf(hostResolv, { ...(req.dns?.length ? { nameservers: req.dns } : {}), ...dnsOpts }),
      };
    }
    if (!req.early)
      return this.#lock.run(`c:${req.id}`, async () => {
        const sb = await this.#setUpNetns(req, hostResolv, extraHosts, dnsOpts);
        await sb.ready;
        return sb;
      });
    // Early: answer once the namespace and files exist; the lock is kept until netavark is done, so a tearDown
    // called meanwhile (a failed runtime create) waits for it.
    const release = await this.#lock.acquire(`c:${req.id}`);
    let sb: Sandbox;
    try {
      sb = await this.#setUpNetns(req, hostResolv, extraHosts, dnsOpts);
    } catch (err) {
      release();
      throw err;
    }
    void Promise.resolve(sb.ready)
      .catch(() => {})
      .finally(release);
    return sb;
  }

  /** `host-gateway` in `--add-host` is the gateway of the container's first network (Docker: the default bridge's). */
  #extraHost(e: string, containerId: string): string {
    const [name, ip] = splitExtraHost(e);
    if (ip !== 'host-gateway') return `${name}:${ip}`;
    const first = this.#records.endpointsOf(containerId)[0];
    const net = first ? this.#records.get(first.networkId) : undefined;
    const gw =
      (net ?? this.#records.byName('bridge'))?.spec.subnets.find((s) => parseCidr(s.subnet).family === 4)?.gateway ??
      '';
    return `${name}:${gw}`;
  }

  async #setUpNetns(
    req: SandboxRequest,
    hostResolv: string,
    extraHosts: string[],
    dnsOpts: { search?: readonly string[]; options?: readonly string[] },
  ): Promise<Sandbox> {
    if (this.#records.sandbox(req.id)) await this.#tearDownLocked(req.id);
    const eps = this.#records.endpointsOf(req.id);
    if (eps.length === 0) throw new NotFoundError(`network ${req.networkMode} not found`);
    for (const e of eps)
      if (!this.#records.get(e.networkId)) throw new NotFoundError(`network ${e.networkName} not found`);
    const netns = this.#netnsPath(req.id);
    const wanted = wantedPorts(
      req.portBindings ?? undefined,
      Boolean(req.publishAll),
      req.exposedPorts ?? [],
      this.#d.config.defaultBindAddress || '',
    );
    // Ports and addresses are chosen under one lock, and recorded before it is let go.
    let ports: PortMapping[] = [];
    let live: EpRec[] = [];
    // Until netavark has finished, this container's endpoints do not make their networks "warm" for others.
    this.#unsettled.add(req.id);
    // A fixed host port may still be held by a container whose teardown runs in the background.
    if (wanted.some((w) => w.hostPort !== 0)) await this.drain().catch(() => {});
    await this.#lock
      .run('ports', async () => {
        const inUse = this.#records.sandboxes().flatMap((s) => s.ports);
        const range = await ephemeralRange();
        if (!this.#portCursor) this.#portCursor = range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1));
        ports = await resolvePorts(wanted, inUse, range, this.#portCursor);
        for (const p of ports)
          if (wanted.some((w) => w.hostPort === 0)) this.#portCursor = Math.max(this.#portCursor, p.hostPort + 1);
        if (this.#portCursor > range[1]) this.#portCursor = range[0];
        live = await this.#allocate(req.id, eps);
        this.#records.putSandbox({ containerId: req.id, netns, ports, created: Date.now() });
      })
      .catch((err: unknown) => {
        this.#unsettled.delete(req.id);
        throw err;
      });
    const input = this.#input(
      req,
      live.map((ep, i) => ({ ep, ifname: `eth${i}` })),
      ports,
      req.dns,
    );
    const undo = async (err: unknown): Promise<never> => {
      this.#unsettled.delete(req.id);
      await this.#tearDownLocked(req.id).catch((e) =>
        this.#d.log?.warn(`container ${req.id.slice(0, 12)}: undoing a failed network setup: ${errorMessage(e)}`),
      );
      throw err;
    };
    try {
      const names = hostNames(req.hostname, req.domainname);
      await this.#writeState(req.id, {
        netns,
        input,
        ...(req.hostsFile ? { hosts: { file: req.hostsFile, names } } : {}),
      });
      await createNetns(netns);
    } catch (err) {
      return undo(err);
    }
    const ready = this.#withNetworks(
      Object.keys(input.networks),
      () => this.#netavark().setup(netns, input, req.signal ? { signal: req.signal } : {}),
      { containerId: req.id },
    ).then(() => {
      this.#unsettled.delete(req.id);
      for (const e of live)
        this.#d.events.publish('network', 'connect', e.networkId, {
          container: req.id,
          name: e.networkName,
          type: 'bridge',
        });
    }, undo);
    // aardvark-dns answers on the gateway of each DNS-enabled network (what netavark reports as the DNS server);
    // the default bridge has no name service.
    const servers = live.flatMap((e) => {
      const n = this.#records.get(e.networkId)!;
      return n.spec.dns ? n.spec.subnets.map((s) => s.gateway).filter((ip) => !ip.includes(':')) : [];
    });
    const nameservers = servers.length ? [...new Set(servers)] : req.dns?.length ? [...req.dns] : undefined;
    return {
      netns,
      // A line for each network's addresses, as Docker's sandbox adds one per endpoint it joins.
      hosts: buildHosts({
        hostname: req.hostname,
        ...(req.domainname ? { domainname: req.domainname } : {}),
        addresses: live.flatMap((e) => [e.ipv4, e.ipv6].filter((a): a is string => Boolean(a))),
        extraHosts,
      }),
      resolvConf: buildResolvConf(hostResolv, { ...(nameservers ? { nameservers } : {}), ...dnsOpts }),
      ready,
    };
  }

  /**
   * Container stop/exit: netavark teardown, namespace removed, addresses and ports freed. Nothing to do is fine.
   * With `{ background: true }` it returns at once and the work finishes behind it (a `run --rm` does not wait
   * for netavark): whatever depends on it waits — a later setUp of the container or on the same network (locks),
   * a fixed host port, a network remove, `drain()`.
   */
  /**
   * `docker rename`: a running container's DNS records (Berth's backend) and its saved input take the new name.
   * With netavark the records keep the old name until the container restarts.
   */
  async rename(containerId: string, name: string): Promise<void> {
    const state = await this.#readState(containerId);
    if (!state) return;
    state.input.container_name = name;
    await this.#writeState(containerId, state);
    await this.#netavark().rename?.(containerId, name);
  }

  async tearDown(containerId: string, opts: { background?: boolean } = {}): Promise<void> {
    const p = this.#lock.run(`c:${containerId}`, () => this.#tearDownLocked(containerId));
    if (!opts.background) return p;
    this.#track(
      p.catch((err) =>
        this.#d.log?.warn(`container ${containerId.slice(0, 12)}: network teardown: ${errorMessage(err)}`),
      ),
    );
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Waits for the teardowns running in the background (daemon stop, tests). */
  async drain(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
    await this.#driver?.flush?.();
  }

  async #tearDownLocked(containerId: string): Promise<void> {
    // While going, its endpoints do not keep their networks "warm" (netavark may remove the bridge).
    this.#unsettled.add(containerId);
    try {
      await this.#tearDownUnsettled(containerId);
    } finally {
      this.#unsettled.delete(containerId);
    }
  }

  async #tearDownUnsettled(containerId: string): Promise<void> {
    const sb = this.#records.sandbox(containerId);
    const file = await this.#readState(containerId);
    const netns = sb?.netns ?? file?.netns ?? this.#netnsPath(containerId);
    if (file && Object.keys(file.input.networks).length) {
      try {
        await this.#withNetworks(Object.keys(file.input.networks), () =>
          this.#netavark().teardown(netns, file.input, { netnsGoing: true }),
        );
      } catch (err) {
        this.#d.log?.warn(`container ${containerId.slice(0, 12)}: network teardown: ${errorMessage(err)}`);
      }
    }
    await removeNetns(netns);
    await rm(this.#stateFile(containerId), { force: true });
    const eps = this.#records.endpointsOf(containerId);
    this.#records.transaction(() => {
      for (const e of eps)
        this.#records.setLive(containerId, e.networkId, { ipv4: null, ipv6: null, mac: null, endpointId: null });
      this.#records.deleteSandbox(containerId);
    });
    if (sb)
      for (const e of eps)
        if (e.endpointId)
          this.#d.events.publish('network', 'disconnect', e.networkId, {
            container: containerId,
            name: e.networkName,
            type: 'bridge',
          });
  }

  /** Container rm: tears down what still runs and forgets the container's endpoints (`background` as tearDown). */
  async release(containerId: string, opts: { background?: boolean } = {}): Promise<void> {
    const p = this.tearDown(containerId).then(() => this.#records.deleteEndpointsOf(containerId));
    if (!opts.background) return p;
    this.#track(
      p.catch((err) =>
        this.#d.log?.warn(`container ${containerId.slice(0, 12)}: network release: ${errorMessage(err)}`),
      ),
    );
  }

  /**
   * Container inspect's `NetworkSettings`. `exposed` are the image's and `--expose`'s ports (shown as `null` when
   * not published, as Docker, while the container runs).
   */
  settings(containerId: string, networkMode: string, exposed: readonly string[] = []): NetworkSettings {
    const sb = this.#records.sandbox(containerId);
    const networks: Record<string, EndpointSettings> = {};
    const eps = this.#records.endpointsOf(containerId);
    const blank = (netId: string): EndpointSettings => ({
      IPAMConfig: null,
      Links: null,
      Aliases: null,
      MacAddress: '',
      DriverOpts: null,
      NetworkID: netId,
      EndpointID: '',
      Gateway: '',
      IPAddress: '',
      IPPrefixLen: 0,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      DNSNames: null,
    });
    if (networkMode === 'host' || networkMode === 'none') {
      const n = this.#records.byName(networkMode);
      networks[networkMode] = blank(n?.id ?? '');
    }
    for (const e of eps) {
      const n = this.#records.get(e.networkId);
      const s = blank(n?.id ?? e.networkId);
      const ipam = {
        ...(e.config.ipv4 ? { IPv4Address: e.config.ipv4 } : {}),
        ...(e.config.ipv6 ? { IPv6Address: e.config.ipv6 } : {}),
      };
      s.IPAMConfig = Object.keys(ipam).length ? ipam : null;
      s.Aliases = e.config.aliases.length ? [...e.config.aliases] : null;
      s.Links = e.config.links?.length ? [...e.config.links] : null;
      s.MacAddress = e.mac ?? e.config.mac ?? '';
      if (e.endpointId && n) {
        s.EndpointID = e.endpointId;
        for (const sub of n.spec.subnets) {
          const c = parseCidr(sub.subnet);
          if (c.family === 4 && e.ipv4) {
            s.IPAddress = e.ipv4;
            s.IPPrefixLen = c.prefix;
            if (!n.spec.internal) s.Gateway = sub.gateway;
          }
          if (c.family === 6 && e.ipv6) {
            s.GlobalIPv6Address = e.ipv6;
            s.GlobalIPv6PrefixLen = c.prefix;
            if (!n.spec.internal) s.IPv6Gateway = sub.gateway;
          }
        }
        if (n.spec.dns)
          s.DNSNames = [
            ...new Set(
              [this.#d.containers?.(containerId)?.name ?? '', ...e.config.aliases, containerId.slice(0, 12)].filter(
                Boolean,
              ),
            ),
          ];
      }
      networks[e.networkName] = s;
    }
    const ports: Record<string, PortBinding[] | null> = {};
    if (sb) {
      for (const k of exposed) ports[k.includes('/') ? k : `${k}/tcp`] = null;
      for (const p of sb.ports) {
        const key = `${p.containerPort}/${p.protocol}`;
        (ports[key] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
      }
    }
    const primary = eps[0] ? networks[eps[0].networkName] : undefined;
    const bridgeNet = eps[0] ? this.#records.get(eps[0].networkId) : undefined;
    return {
      Bridge: '',
      SandboxID: sb ? containerId : '',
      SandboxKey: sb?.netns ?? '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: ports,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      // The top-level fields are the default bridge's, as Docker (empty for user networks).
      EndpointID: bridgeNet?.spec.predefined === 'bridge' ? (primary?.EndpointID ?? '') : '',
      Gateway: bridgeNet?.spec.predefined === 'bridge' ? (primary?.Gateway ?? '') : '',
      GlobalIPv6Address: bridgeNet?.spec.predefined === 'bridge' ? (primary?.GlobalIPv6Address ?? '') : '',
      GlobalIPv6PrefixLen: bridgeNet?.spec.predefined === 'bridge' ? (primary?.GlobalIPv6PrefixLen ?? 0) : 0,
      IPAddress: bridgeNet?.spec.predefined === 'bridge' ? (primary?.IPAddress ?? '') : '',
      IPPrefixLen: bridgeNet?.spec.predefined === 'bridge' ? (primary?.IPPrefixLen ?? 0) : 0,
      IPv6Gateway: bridgeNet?.spec.predefined === 'bridge' ? (primary?.IPv6Gateway ?? '') : '',
      MacAddress: bridgeNet?.spec.predefined === 'bridge' ? (primary?.MacAddress ?? '') : '',
      Networks: networks,
    };
  }

  /** Published ports of a running container (for `ps` and `port`). */
  ports(containerId: string): PortMapping[] {
    return this.#records.sandbox(containerId)?.ports ?? [];
  }

  /**
   * Startup repair, after the containers were reconciled: tears down the networking of containers that no longer
   * run (sandbox records, state files and namespace files a crash left) and keeps that of running ones.
   */
  async repair(isRunning: (containerId: string) => boolean): Promise<{ tornDown: string[] }> {
    const tornDown = new Set<string>();
    for (const sb of this.#records.sandboxes()) {
      if (isRunning(sb.containerId)) continue;
      await this.tearDown(sb.containerId);
      tornDown.add(sb.containerId);
    }
    const list = async (dir: string) =>
      readdir(join(this.#root, dir)).catch((err: unknown) => (isErrno(err, 'ENOENT') ? [] : Promise.reject(err)));
    for (const f of await list('sandboxes')) {
      const id = f.replace(/\.json(\.tmp)?$/, '');
      if (f.endsWith('.tmp')) await rm(join(this.#root, 'sandboxes', f), { force: true });
      else if (!this.#records.sandbox(id) && !isRunning(id)) {
        await this.tearDown(id);
        tornDown.add(id);
      }
    }
    for (const id of await list('netns')) {
      if (this.#records.sandbox(id) && isRunning(id)) continue;
      await removeNetns(this.#netnsPath(id));
      tornDown.add(id);
    }
    // Endpoints that kept addresses without a sandbox (a crash between the two writes), and endpoints of containers
    // that no longer exist (a crash during create or rm).
    this.#records.transaction(() => {
      for (const e of this.#records.allEndpoints()) {
        if (this.#d.containers && !this.#d.containers(e.containerId)) {
          this.#records.deleteEndpoint(e.containerId, e.networkId);
          continue;
        }
        if (e.endpointId && !this.#records.sandbox(e.containerId))
          this.#records.setLive(e.containerId, e.networkId, { ipv4: null, ipv6: null, mac: null, endpointId: null });
      }
    });
    const driver = this.#driver ?? ((this.#d.config.backend ?? 'berth') === 'berth' ? this.#netavark() : undefined);
    if (driver instanceof BridgeBackend) {
      // Rules and bridges a crash left mid-setup: this daemon's networks without a live endpoint lose theirs.
      const nets = this.#records.all().filter((n) => n.driver === 'bridge' && n.spec.bridge);
      const live = new Set(
        this.#records
          .allEndpoints()
          .filter((e) => e.endpointId)
          .map((e) => e.networkId),
      );
      await driver.repair({
        ownNetworks: nets.map((n) => ({ name: n.name, id: n.id, network_interface: n.spec.bridge }) as NetavarkNetwork),
        liveNetworks: live,
        ownContainers: [...new Set([...tornDown, ...this.#records.allEndpoints().map((e) => e.containerId)])],
        liveContainers: new Set(this.#records.sandboxes().map((sb) => sb.containerId)),
      });
    }
    if (tornDown.size)
      this.#d.log?.info(`startup repair: removed the networking of ${tornDown.size} container(s) that no longer run`);
    return { tornDown: [...tornDown] };
  }
}
