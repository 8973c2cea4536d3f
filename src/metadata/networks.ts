import type { MetadataDB } from './db.ts';

/** A network as the network service stores it; `spec` is that service's own JSON (subnets, options, labels...). */
export interface NetworkRecord<S = unknown> {
  id: string;
  name: string;
  driver: string;
  /** Milliseconds since the epoch. */
  created: number;
  spec: S;
}

/**
 * A container's membership of a network. `config` is what the container asked for (aliases, static address,
 * MAC); `ipv4`/`ipv6`/`mac`/`endpointId` are set while the endpoint exists (the container runs) and are unique per
 * network, so two containers can never be given one address.
 */
export interface EndpointRecord<C = unknown> {
  containerId: string;
  networkId: string;
  /** The network's name when attached: a container start names it in "network X not found". */
  networkName: string;
  /** Order of attachment: the first network is the container's primary one (gateway, ports). */
  position: number;
  config: C;
  ipv4: string | null;
  ipv6: string | null;
  mac: string | null;
  endpointId: string | null;
}

/** A running container's network namespace and published ports (`ports` is the service's own JSON). */
export interface SandboxRecord<P = unknown> {
  containerId: string;
  netns: string;
  ports: P;
  created: number;
}

interface NetRow {
  id: string;
  name: string;
  driver: string;
  created: number;
  spec: string;
}
interface EpRow {
  container_id: string;
  network_id: string;
  network_name: string;
  position: number;
  config: string;
  ipv4: string | null;
  ipv6: string | null;
  mac: string | null;
  endpoint_id: string | null;
}
interface SbRow {
  container_id: string;
  netns: string;
  ports: string;
  created: number;
}

const net = <S>(r: NetRow): NetworkRecord<S> => ({
  id: r.id,
  name: r.name,
  driver: r.driver,
  created: r.created,
  spec: JSON.parse(r.spec) as S,
});
const ep = <C>(r: EpRow): EndpointRecord<C> => ({
  containerId: r.container_id,
  networkId: r.network_id,
  networkName: r.network_name,
  position: r.position,
  config: JSON.parse(r.config) as C,
  ipv4: r.ipv4,
  ipv6: r.ipv6,
  mac: r.mac,
  endpointId: r.endpoint_id,
});
const sb = <P>(r: SbRow): SandboxRecord<P> => ({
  containerId: r.container_id,
  netns: r.netns,
  ports: JSON.parse(r.ports) as P,
  created: r.created,
});

/** Networks, endpoints and sandboxes: the network service's state, changed in transactions. */
export class NetworkRecords<S = unknown, C = unknown, P = unknown> {
  readonly #m: MetadataDB;
  constructor(m: MetadataDB) {
    this.#m = m;
  }

  transaction<T>(fn: () => T): T {
    return this.#m.transaction(fn);
  }

  get(id: string): NetworkRecord<S> | undefined {
    const r = this.#m.prepare('SELECT * FROM networks WHERE id = ?').get(id) as NetRow | undefined;
    return r ? net<S>(r) : undefined;
  }

  byName(name: string): NetworkRecord<S> | undefined {
    const r = this.#m.prepare('SELECT * FROM networks WHERE name = ?').get(name) as NetRow | undefined;
    return r ? net<S>(r) : undefined;
  }

  all(): NetworkRecord<S>[] {
    return (this.#m.prepare('SELECT * FROM networks ORDER BY created, name').all() as unknown as NetRow[]).map((r) =>
      net<S>(r),
    );
  }

  /** Inserts a network; false (nothing changed) when the name or ID exists. */
  put(n: NetworkRecord<S>): boolean {
    const res = this.#m
      .prepare('INSERT OR IGNORE INTO networks (id, name, driver, created, spec) VALUES (?, ?, ?, ?, ?)')
      .run(n.id, n.name, n.driver, n.created, JSON.stringify(n.spec));
    return Number(res.changes) > 0;
  }

  delete(id: string): void {
    this.#m.prepare('DELETE FROM networks WHERE id = ?').run(id);
  }

  /** A container's endpoints, primary first. */
  endpointsOf(containerId: string): EndpointRecord<C>[] {
    return (
      this.#m
        .prepare('SELECT * FROM network_endpoints WHERE container_id = ? ORDER BY position')
        .all(containerId) as unknown as EpRow[]
    ).map((r) => ep<C>(r));
  }

  endpointsOn(networkId: string): EndpointRecord<C>[] {
    return (
      this.#m
        .prepare('SELECT * FROM network_endpoints WHERE network_id = ? ORDER BY position')
        .all(networkId) as unknown as EpRow[]
    ).map((r) => ep<C>(r));
  }

  allEndpoints(): EndpointRecord<C>[] {
    return (this.#m.prepare('SELECT * FROM network_endpoints').all() as unknown as EpRow[]).map((r) => ep<C>(r));
  }

  /** Adds an endpoint (position after the container's last); false when the container is on that network already. */
  putEndpoint(e: Omit<EndpointRecord<C>, 'position'>): boolean {
    const row = this.#m
      .prepare('SELECT COALESCE(MAX(position), -1) + 1 AS p FROM network_endpoints WHERE container_id = ?')
      .get(e.containerId) as { p: number };
    const res = this.#m
      .prepare(
        'INSERT OR IGNORE INTO network_endpoints (container_id, network_id, network_name, position, config, ipv4, ipv6, mac, endpoint_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        e.containerId,
        e.networkId,
        e.networkName,
        row.p,
        JSON.stringify(e.config),
        e.ipv4,
        e.ipv6,
        e.mac,
        e.endpointId,
      );
    return Number(res.changes) > 0;
  }

  /** Sets (or with nulls clears) the live part of an endpoint. Throws on an address another endpoint of the network holds. */
  setLive(
    containerId: string,
    networkId: string,
    live: { ipv4: string | null; ipv6: string | null; mac: string | null; endpointId: string | null },
  ): void {
    this.#m
      .prepare(
        'UPDATE network_endpoints SET ipv4 = ?, ipv6 = ?, mac = ?, endpoint_id = ? WHERE container_id = ? AND network_id = ?',
      )
      .run(live.ipv4, live.ipv6, live.mac, live.endpointId, containerId, networkId);
  }

  deleteEndpoint(containerId: string, networkId: string): void {
    this.#m
      .prepare('DELETE FROM network_endpoints WHERE container_id = ? AND network_id = ?')
      .run(containerId, networkId);
  }

  deleteEndpointsOf(containerId: string): void {
    this.#m.prepare('DELETE FROM network_endpoints WHERE container_id = ?').run(containerId);
  }

  sandbox(containerId: string): SandboxRecord<P> | undefined {
    const r = this.#m.prepare('SELECT * FROM network_sandboxes WHERE container_id = ?').get(containerId) as
      | SbRow
      | undefined;
    return r ? sb<P>(r) : undefined;
  }

  sandboxes(): SandboxRecord<P>[] {
    return (this.#m.prepare('SELECT * FROM network_sandboxes').all() as unknown as SbRow[]).map((r) => sb<P>(r));
  }

  putSandbox(s: SandboxRecord<P>): void {
    this.#m
      .prepare('INSERT OR REPLACE INTO network_sandboxes (container_id, netns, ports, created) VALUES (?, ?, ?, ?)')
      .run(s.containerId, s.netns, JSON.stringify(s.ports), s.created);
  }

  deleteSandbox(containerId: string): void {
    this.#m.prepare('DELETE FROM network_sandboxes WHERE container_id = ?').run(containerId);
  }
}
