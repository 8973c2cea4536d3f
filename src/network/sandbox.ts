/**
 * Each container's side of networking, its sandbox: endpoints recorded at create (`prepare`), the namespace,
 * interfaces, addresses and published ports made at start (`setUp`) through the backend, with the container's
 * /etc/hosts and /etc/resolv.conf written and, on `network connect`/`disconnect`, edited; torn down when it stops
 * (`tearDown`), forgotten when it is removed (`release`), and what a crash left removed at start (`repair`).
 *
 * State lives in the metadata DB (endpoints with their addresses, the running container's namespace and ports) and
 * changes in transactions; a running container's backend input is also written to
 * `<execRoot>/network/sandboxes/<id>.json` before the backend runs, so a teardown works after a crash.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, errorMessage, ForbiddenError, NotFoundError } from '../util/errors.ts';
import { phase } from '../util/trace.ts';
import type { EndpointSettings, NetworkSettings } from '../engine-api/networks.ts';
import type { EventLog } from '../util/events.ts';
import type { KeyedMutex } from '../util/lock.ts';
import type { ContainerNetworks, NetworkBackend } from './backend.ts';
import { allocateAddresses, backendInput, recordEndpoints } from './endpoints.ts';
import { addHostsEntries, buildHosts, buildResolvConf, hostNames, removeHostsEntries, splitExtraHost } from './etc.ts';
import { containerSettings } from './inspect.ts';
import { parseCidr } from './ipam.ts';
import {
  type ContainerLink,
  type ContainerLookup,
  type EpRec,
  endpointConfig,
  type NetRec,
  type Records,
  type Sandbox,
  type SandboxRequest,
} from './model.ts';
import { NetworkLocks } from './netlocks.ts';
import { createNetns, removeNetns } from './netns.ts';
import { contends, ephemeralRange, type PortMapping, resolvePorts, wantedPorts } from './ports.ts';
import { repairSandboxes } from './repair.ts';
import { SandboxFiles } from './sandboxfiles.ts';

export interface SandboxesDeps {
  records: Records;
  events: EventLog;
  backend: NetworkBackend;
  /** `<execRoot>/network`: namespaces and the per-container state files live below it. */
  root: string;
  /** Host address used when a published port names none (Docker's `--ip`). */
  defaultBindAddress: string;
  /** The network service's locks: `alloc` (addresses, shared with network create/remove) and `c:ID` per container. */
  lock: KeyedMutex;
  containers?: ContainerLookup | undefined;
  log?: { info(msg: string): void; warn(msg: string): void } | undefined;
}

/** The containers' network sandboxes. */
export class Sandboxes {
  readonly #d: SandboxesDeps;
  #portCursor = 0;
  /** Teardowns running in the background, by container. */
  readonly #pending = new Map<Promise<void>, string>();
  readonly #nets: NetworkLocks;
  readonly #files: SandboxFiles;

  constructor(deps: SandboxesDeps) {
    this.#d = deps;
    this.#nets = new NetworkLocks(deps.records);
    this.#files = new SandboxFiles(deps.root, deps.log);
  }

  // ---------------------------------------------------------------- create

  /**
   * Container create: validates the network mode and `EndpointsConfig` and records the container's endpoints; the
   * mode to store (see `recordEndpoints`).
   */
  prepare(
    containerId: string,
    networkMode: string | undefined,
    endpoints: Record<string, EndpointSettings | null> | null | undefined,
    mac?: string,
  ): string {
    return recordEndpoints(this.#d.records, containerId, networkMode, endpoints, mac);
  }

  // ---------------------------------------------------------------- start

  /**
   * Container start: makes the container's network namespace and has the backend set up its networks and published
   * ports, and writes its /etc/hosts and /etc/resolv.conf; for `host` and `none` only the files; for a `peer`, the
   * peer's namespace and files. A host port that is taken (by Berth or any process) is a ConflictError "Bind for
   * 0.0.0.0:8080 failed: port is already allocated"; on any failure everything made so far is undone.
   */
  async setUp(req: SandboxRequest): Promise<Sandbox> {
    const done = Promise.resolve();
    if (req.peer) {
      const p = req.peer;
      return {
        netns:
          p.networkMode === 'host' ? 'host' : { path: this.#d.records.sandbox(p.id)?.netns ?? `/proc/${p.pid}/ns/net` },
        hosts: join(p.dir, 'hosts'),
        resolvConf: join(p.dir, 'resolv.conf'),
        ready: done,
      };
    }
    const files = { hosts: join(req.dir, 'hosts'), resolvConf: join(req.dir, 'resolv.conf') };
    // The host's resolv.conf and hosts, and the container's two files, are a few hundred bytes each: read and
    // written with synchronous calls, one step of the event loop on the path of every start, where each
    // fs/promises call is three or four round trips through libuv's pool (see bench/README.md, "Start path").
    const hostResolv = readOr('/etc/resolv.conf', '');
    const extraHosts = (req.extraHosts ?? []).map((e) => this.#extraHost(e, req.id));
    const resolvOpts = {
      ...(req.dnsSearch?.length ? { search: req.dnsSearch } : {}),
      ...(req.dnsOptions?.length ? { options: req.dnsOptions } : {}),
    };
    const mode = req.networkMode;
    if (mode === 'host') {
      const hosts =
        readOr('/etc/hosts', undefined) ?? buildHosts({ hostname: req.hostname, addresses: [], extraHosts: [] });
      const extra = extraHosts.map((e) => `${splitExtraHost(e)[1]}\t${splitExtraHost(e)[0]}\n`).join('');
      writeFileSync(files.hosts, hosts + extra);
      writeFileSync(
        files.resolvConf,
        req.dns?.length || resolvOpts.search || resolvOpts.options
          ? buildResolvConf(hostResolv, { ...(req.dns?.length ? { nameservers: req.dns } : {}), ...resolvOpts })
          : hostResolv,
      );
      return { netns: 'host', ...files, ready: done };
    }
    if (mode === 'none') {
      writeFileSync(
        files.hosts,
        buildHosts({
          hostname: req.hostname,
          ...(req.domainname ? { domainname: req.domainname } : {}),
          addresses: [],
          extraHosts,
        }),
      );
      writeFileSync(
        files.resolvConf,
        buildResolvConf(hostResolv, { ...(req.dns?.length ? { nameservers: req.dns } : {}), ...resolvOpts }),
      );
      return { netns: 'none', ...files, ready: done };
    }
    const go = () =>
      this.#setUpNetns(req, files, (addresses, nameservers) => ({
        // A line for each network's addresses, as Docker's sandbox adds one per endpoint it joins.
        hosts: buildHosts({
          hostname: req.hostname,
          ...(req.domainname ? { domainname: req.domainname } : {}),
          addresses,
          extraHosts,
        }),
        resolvConf: buildResolvConf(hostResolv, { ...(nameservers ? { nameservers } : {}), ...resolvOpts }),
      }));
    if (!req.early)
      return this.#d.lock.run(`c:${req.id}`, async () => {
        const sb = await go();
        await sb.ready;
        return sb;
      });
    // Early: answer once the namespace and files exist; the lock is kept until the backend is done, so a tearDown
    // called meanwhile (a failed runtime create) waits for it.
    const release = await this.#d.lock.acquire(`c:${req.id}`);
    let sb: Sandbox;
    try {
      sb = await go();
    } catch (err) {
      release();
      throw err;
    }
    sb.ready.catch(() => {}).finally(release);
    return sb;
  }

  /** `host-gateway` in `--add-host` is the gateway of the container's first network (Docker: the default bridge's). */
  #extraHost(e: string, containerId: string): string {
    const [name, ip] = splitExtraHost(e);
    if (ip !== 'host-gateway') return `${name}:${ip}`;
    const records = this.#d.records;
    const first = records.endpointsOf(containerId)[0];
    const net = first ? records.get(first.networkId) : undefined;
    const gw =
      (net ?? records.byName('bridge'))?.spec.subnets.find((s) => parseCidr(s.subnet).family === 4)?.gateway ?? '';
    return `${name}:${gw}`;
  }

  async #setUpNetns(
    req: SandboxRequest,
    files: { hosts: string; resolvConf: string },
    etc: (addresses: string[], nameservers: string[] | undefined) => { hosts: string; resolvConf: string },
  ): Promise<Sandbox> {
    const records = this.#d.records;
    if (records.sandbox(req.id)) await this.#tearDownLocked(req.id);
    const eps = records.endpointsOf(req.id);
    if (eps.length === 0) throw new NotFoundError(`network ${req.networkMode} not found`);
    for (const e of eps) if (!records.get(e.networkId)) throw new NotFoundError(`network ${e.networkName} not found`);
    const netns = this.#files.netnsPath(req.id);
    const wanted = wantedPorts(
      req.portBindings ?? undefined,
      Boolean(req.publishAll),
      req.exposedPorts ?? [],
      this.#d.defaultBindAddress || '',
    );
    // Ports and addresses are chosen under one lock, and recorded before it is let go.
    let ports: PortMapping[] = [];
    let live: EpRec[] = [];
    // Until the backend has finished, this container's endpoints do not make their networks "warm" for others.
    this.#nets.unsettled.add(req.id);
    // A fixed host port may still be held by a container whose teardown runs in the background: wait for that one.
    await this.#settleHolders(wanted).catch(() => {});
    await this.#d.lock
      .run('ports', async () => {
        const inUse = records.sandboxes().flatMap((s) => s.ports);
        const range = await ephemeralRange();
        if (!this.#portCursor) this.#portCursor = range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1));
        ports = await resolvePorts(wanted, inUse, range, this.#portCursor);
        for (const p of ports)
          if (wanted.some((w) => w.hostPort === 0)) this.#portCursor = Math.max(this.#portCursor, p.hostPort + 1);
        if (this.#portCursor > range[1]) this.#portCursor = range[0];
        live = await this.#allocate(req.id, eps);
        records.putSandbox({ containerId: req.id, netns, ports, created: Date.now() });
      })
      .catch((err: unknown) => {
        this.#nets.unsettled.delete(req.id);
        throw err;
      });
    const input = backendInput(
      this.#d.records,
      req,
      live.map((ep, i) => ({ ep, ifname: `eth${i}` })),
      ports,
      req.dns,
    );
    const undo = async (err: unknown): Promise<never> => {
      this.#nets.unsettled.delete(req.id);
      await this.#tearDownLocked(req.id).catch((e) =>
        this.#d.log?.warn(`container ${req.id.slice(0, 12)}: undoing a failed network setup: ${errorMessage(e)}`),
      );
      throw err;
    };
    // aardvark-dns answers on the gateway of each DNS-enabled network (what netavark reports as the DNS server);
    // the default bridge has no name service.
    const servers = live.flatMap((e) => {
      const n = records.get(e.networkId)!;
      return n.spec.dns ? n.spec.subnets.map((s) => s.gateway).filter((ip) => !ip.includes(':')) : [];
    });
    const nameservers = servers.length ? [...new Set(servers)] : req.dns?.length ? [...req.dns] : undefined;
    try {
      const names = hostNames(req.hostname, req.domainname);
      await this.#files.write(req.id, { netns, input, hosts: { file: files.hosts, names } });
      const text = etc(
        live.flatMap((e) => [e.ipv4, e.ipv6].filter((a): a is string => Boolean(a))),
        nameservers,
      );
      await writeFile(files.hosts, text.hosts);
      await writeFile(files.resolvConf, text.resolvConf);
      await createNetns(netns);
    } catch (err) {
      return undo(err);
    }
    const ready = this.#nets
      .run(
        Object.keys(input.networks),
        () => this.#d.backend.setup(netns, input, req.signal ? { signal: req.signal } : {}),
        { containerId: req.id },
      )
      .then(() => {
        this.#nets.unsettled.delete(req.id);
        for (const e of live)
          this.#d.events.publish('network', 'connect', e.networkId, {
            container: req.id,
            name: e.networkName,
            type: 'bridge',
          });
      }, undo);
    ready.catch(() => {}); // awaited by the caller; a failure before that must not be an unhandled rejection
    return { netns: { path: netns }, ...files, ready };
  }

  /** Waits for the background teardowns of the containers holding a host port that `wanted` asks for. */
  async #settleHolders(wanted: Parameters<typeof contends>[0]): Promise<void> {
    if (!wanted.some((w) => w.hostPort !== 0) || this.#pending.size === 0) return;
    const holders = new Set(
      this.#d.records
        .sandboxes()
        .filter((s) => contends(wanted, s.ports))
        .map((s) => s.containerId),
    );
    await Promise.allSettled([...this.#pending].filter(([, id]) => holders.has(id)).map(([p]) => p));
  }

  // ---------------------------------------------------------------- connect, disconnect of a created container

  /**
   * `network connect`: records the endpoint; a running container gets the interface at once (the backend's setup
   * for that network alone, in its namespace) and a line for the new address in its /etc/hosts.
   */
  async connect(
    c: ContainerLink,
    n: NetRec,
    cfg: EndpointSettings,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const records = this.#d.records;
    await this.#d.lock.run(`c:${c.id}`, async () => {
      const config = endpointConfig(n, cfg);
      if (
        !records.putEndpoint({
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
        // As dockerd: connecting a container that does not run again is done already; a running one is refused.
        if (records.sandbox(c.id))
          throw new ForbiddenError(`endpoint with name ${c.name} already exists in network ${n.name}`);
        return;
      }
      const sb = records.sandbox(c.id);
      if (sb) {
        this.#nets.unsettled.add(c.id);
        try {
          await this.#connectLive(c, n, sb.netns, opts);
        } catch (err) {
          records.deleteEndpoint(c.id, n.id);
          throw err;
        } finally {
          this.#nets.unsettled.delete(c.id);
        }
        // As dockerd: a container that does not run is connected at its start, and the event comes then.
        this.#d.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
      }
    });
  }

  async #connectLive(c: ContainerLink, n: NetRec, netns: string, opts: { signal?: AbortSignal }): Promise<void> {
    const file = await this.#files.read(c.id);
    const used = new Set(Object.values(file?.input.networks ?? {}).map((x) => x.interface_name));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    const ep = await this.#allocate(c.id, [this.#d.records.endpointsOf(c.id).find((e) => e.networkId === n.id)!]);
    const one = backendInput(
      this.#d.records,
      c,
      ep.map((e) => ({ ep: e, ifname: `eth${i}` })),
      [],
    );
    const merged: ContainerNetworks = file
      ? {
          ...file.input,
          networks: { ...file.input.networks, ...one.networks },
          network_info: { ...file.input.network_info, ...one.network_info },
        }
      : one;
    await this.#files.write(c.id, { ...file, netns, input: merged });
    try {
      await this.#nets.run([n.name], () => this.#d.backend.setup(netns, one, opts), { containerId: c.id });
    } catch (err) {
      await this.#nets.run([n.name], () => this.#d.backend.teardown(netns, one)).catch(() => {});
      if (file) await this.#files.write(c.id, file);
      throw err;
    }
    await this.#files.editHosts(c.id, file?.hosts, (text, names) =>
      addHostsEntries(text, one.networks[n.name]!.static_ips, names),
    );
  }

  /** `network disconnect`: removes the endpoint (and, while running, the interface and its /etc/hosts line). */
  async disconnect(c: ContainerLink, n: NetRec, force: boolean, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const records = this.#d.records;
    await this.#d.lock.run(`c:${c.id}`, async () => {
      const ep = records.endpointsOf(c.id).find((e) => e.networkId === n.id);
      // dockerd's words (a 500), which differ by whether the container runs.
      if (!ep)
        throw new BerthError(
          records.sandbox(c.id)
            ? `container ${c.id} is not connected to network ${n.name}`
            : `container ${c.id} is not connected to the network ${n.name}`,
        );
      const sb = records.sandbox(c.id);
      const file = sb ? await this.#files.read(c.id) : undefined;
      if (sb && file?.input.networks[n.name]) {
        const one: ContainerNetworks = {
          container_id: c.id,
          container_name: file.input.container_name,
          networks: { [n.name]: file.input.networks[n.name]! },
          network_info: { [n.name]: file.input.network_info[n.name]! },
          ...(file.input.port_mappings && Object.keys(file.input.networks)[0] === n.name
            ? { port_mappings: file.input.port_mappings }
            : {}),
        };
        this.#nets.unsettled.add(c.id);
        try {
          await this.#nets.run([n.name], () => this.#d.backend.teardown(sb.netns, one, opts));
        } catch (err) {
          if (!force) {
            this.#nets.unsettled.delete(c.id);
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
        await this.#files.write(c.id, { ...file, netns: sb.netns, input: rest });
        await this.#files.editHosts(c.id, file.hosts, (text, names) =>
          removeHostsEntries(text, file.input.networks[n.name]!.static_ips, names),
        );
      }
      records.deleteEndpoint(c.id, n.id);
      this.#nets.unsettled.delete(c.id);
      this.#d.events.publish('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
    });
  }

  /** Gives each endpoint its addresses, under the allocation lock. */
  #allocate(containerId: string, eps: EpRec[]): Promise<EpRec[]> {
    return this.#d.lock.run('alloc', async () => allocateAddresses(this.#d.records, containerId, eps));
  }

  // ---------------------------------------------------------------- rename, stop, remove

  /**
   * `docker rename`: a running container's DNS records (Berth's backend) and its saved input take the new name.
   * With netavark the records keep the old name until the container restarts.
   */
  async rename(containerId: string, name: string): Promise<void> {
    const state = await this.#files.read(containerId);
    if (!state) return;
    state.input.container_name = name;
    await this.#files.write(containerId, state);
    await this.#d.backend.rename?.(containerId, name);
  }

  /**
   * Container stop/exit: the backend's teardown, namespace removed, addresses and ports freed. Nothing to do is fine.
   * With `{ background: true }` it returns at once and the work finishes behind it (a `run --rm` does not wait for
   * the backend): whatever depends on it waits — a later setUp of the container or on the same network (locks), a
   * setUp that wants one of its host ports, a network remove, `drain()`.
   */
  async tearDown(containerId: string, opts: { background?: boolean } = {}): Promise<void> {
    const p = this.#d.lock.run(`c:${containerId}`, () => this.#tearDownLocked(containerId));
    if (!opts.background) return p;
    this.#track(containerId, p, 'network teardown');
  }

  /** Container rm: tears down what still runs and forgets the container's endpoints (`background` as tearDown). */
  async release(containerId: string, opts: { background?: boolean } = {}): Promise<void> {
    const p = this.tearDown(containerId).then(() => this.#d.records.deleteEndpointsOf(containerId));
    if (!opts.background) return p;
    this.#track(containerId, p, 'network release');
  }

  #track(containerId: string, p: Promise<void>, what: string): void {
    const q = p.catch((err) =>
      this.#d.log?.warn(`container ${containerId.slice(0, 12)}: ${what}: ${errorMessage(err)}`),
    );
    this.#pending.set(q, containerId);
    void q.finally(() => this.#pending.delete(q));
  }

  /** Waits for the teardowns running in the background (network remove, daemon stop, tests). */
  async drain(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending.keys()]);
    await phase('net.flush', '', async () => this.#d.backend.flush?.());
  }

  async #tearDownLocked(containerId: string): Promise<void> {
    // While going, its endpoints do not keep their networks "warm" (the backend may remove the bridge).
    this.#nets.unsettled.add(containerId);
    try {
      await this.#tearDownUnsettled(containerId);
    } finally {
      this.#nets.unsettled.delete(containerId);
    }
  }

  async #tearDownUnsettled(containerId: string): Promise<void> {
    const records = this.#d.records;
    const sb = records.sandbox(containerId);
    const file = await this.#files.read(containerId);
    const netns = sb?.netns ?? file?.netns ?? this.#files.netnsPath(containerId);
    if (file && Object.keys(file.input.networks).length) {
      try {
        await phase('net.teardown', containerId, () =>
          this.#nets.run(Object.keys(file.input.networks), () =>
            this.#d.backend.teardown(netns, file.input, { netnsGoing: true }),
          ),
        );
      } catch (err) {
        this.#d.log?.warn(`container ${containerId.slice(0, 12)}: network teardown: ${errorMessage(err)}`);
      }
    }
    await phase('net.netns.remove', containerId, () => removeNetns(netns));
    await this.#files.remove(containerId);
    const eps = records.endpointsOf(containerId);
    records.transaction(() => {
      for (const e of eps)
        records.setLive(containerId, e.networkId, { ipv4: null, ipv6: null, mac: null, endpointId: null });
      records.deleteSandbox(containerId);
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

  // ---------------------------------------------------------------- what others read

  /** Container inspect's `NetworkSettings`. `exposed`: the image's and `--expose`'s ports. */
  settings(containerId: string, networkMode: string, exposed: readonly string[] = []): NetworkSettings {
    return containerSettings(this.#d.records, {
      id: containerId,
      name: this.#d.containers?.(containerId)?.name,
      networkMode,
      exposed,
    });
  }

  /**
   * The networks a container is on, by name and ID (`ps --filter network=`): its endpoints, or the `host` or `none`
   * network; none for `container:X`.
   */
  attachments(containerId: string, networkMode: string): { name: string; id: string }[] {
    if (networkMode.startsWith('container:')) return [];
    if (networkMode === 'host' || networkMode === 'none')
      return [{ name: networkMode, id: this.#d.records.byName(networkMode)?.id ?? '' }];
    return this.#d.records.endpointsOf(containerId).map((e) => ({ name: e.networkName, id: e.networkId }));
  }

  /** Published ports of a running container (for `ps` and `port`). */
  ports(containerId: string): PortMapping[] {
    return this.#d.records.sandbox(containerId)?.ports ?? [];
  }

  // ---------------------------------------------------------------- start-up repair

  /**
   * Startup repair, after the containers were reconciled: the networking of containers that no longer run goes,
   * that of running ones stays (see `repairSandboxes`).
   */
  repair(isRunning: (containerId: string) => boolean): Promise<{ tornDown: string[] }> {
    return repairSandboxes(
      {
        records: this.#d.records,
        files: this.#files,
        backend: this.#d.backend,
        containers: this.#d.containers,
        log: this.#d.log,
        tearDown: (id) => this.tearDown(id),
      },
      isRunning,
    );
  }
}

/** A small file's text, or `fallback` when it cannot be read. */
function readOr<T extends string | undefined>(path: string, fallback: T): string | T {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}
