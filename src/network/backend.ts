/**
 * The one interface a network backend implements, and what it is given: set up and tear down a container's
 * endpoints on its networks (interfaces, addresses, routes, firewall, published ports, DNS records) in a network
 * namespace. `berth` (bridge.ts: rtnetlink through src/sys, one iptables-restore per change, aardvark-dns driven
 * directly) is the default; `netavark` (netavark.ts) runs netavark 1.4. The daemon builds one and hands it to the
 * network service.
 *
 * The input is shaped (and its JSON named) as netavark's `NetworkOptions`, which the netavark backend passes
 * through unchanged; the per-container state files under the exec root keep it in that form.
 */

/** A network as a backend sets it up (netavark's `Network`). */
export interface NetworkDefinition {
  name: string;
  id: string;
  driver: 'bridge';
  /** The bridge device. */
  network_interface: string;
  subnets: { subnet: string; gateway?: string; lease_range?: { start_ip?: string; end_ip?: string } }[];
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
  /** `mtu`. */
  options?: Record<string, string>;
  ipam_options: { driver: 'host-local' };
}

/** One container's endpoint on one network (netavark's `PerNetworkOptions`). */
export interface EndpointOptions {
  /** The interface in the container's namespace, `eth0`. */
  interface_name: string;
  static_ips: string[];
  /** Names the container answers to on a DNS-enabled network, besides its own. */
  aliases?: string[];
  static_mac?: string;
}

/** A published port range, forwarded from the host to the container (netavark's `PortMapping`). */
export interface PortForward {
  host_ip: string;
  container_port: number;
  host_port: number;
  protocol: string;
  /** How many consecutive ports from `host_port` and `container_port`. */
  range: number;
}

/**
 * A container's endpoints on some of its networks and its published ports: what one `setup` or `teardown` call
 * works on. Ports are published on the first network.
 */
export interface ContainerNetworks {
  container_id: string;
  container_name: string;
  /** By network name. */
  networks: Record<string, EndpointOptions>;
  network_info: Record<string, NetworkDefinition>;
  port_mappings?: PortForward[];
  /** `--dns` servers (netavark passes them to aardvark-dns as upstream servers). */
  dns_servers?: string[];
}

/** What start-up repair tells a backend: which of its networks and containers are still in use. */
export interface BackendRepair {
  /** Every bridge network of this daemon. */
  ownNetworks: NetworkDefinition[];
  /** IDs of the networks that have a live endpoint. */
  liveNetworks: Set<string>;
  /** Containers of this daemon that had networking. */
  ownContainers: string[];
  /** IDs of the containers whose networking is live. */
  liveContainers: Set<string>;
}

/** A network backend (daemon option `network-backend`). */
export interface NetworkBackend {
  readonly name: 'berth' | 'netavark';
  /** Creates the endpoints of `input.networks` in the namespace bound at `netns`, and the published ports. */
  setup(netns: string, input: ContainerNetworks, opts?: { signal?: AbortSignal }): Promise<unknown>;
  /**
   * Undoes what `setup` with the same input did; a network's bridge and rules go with its last endpoint.
   * `netnsGoing`: the caller removes the namespace right after (the kernel may then delete the interfaces).
   */
  teardown(
    netns: string,
    input: ContainerNetworks,
    opts?: { signal?: AbortSignal; netnsGoing?: boolean },
  ): Promise<void>;
  /** `docker rename` of a running container: its DNS records answer to the new name. */
  rename?(containerId: string, name: string): Promise<void>;
  /** Finishes background work now (removal of an idle default bridge): daemon stop, tests. */
  flush?(): Promise<void>;
  /** Where the backend keeps a network's firewall rules (`table/CHAIN` list), for inspect and info. */
  chains?(networkId: string): string[];
  /** What `info` shows: the shared chains and any warning (ip_forward switched on). */
  info?(): { chains: string[]; warnings: string[] };
  /** Start-up repair: removes rules and bridges a crash left for networks and containers no longer in use. */
  repair?(o: BackendRepair): Promise<void>;
}
