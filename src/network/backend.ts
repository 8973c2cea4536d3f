/**
 * The one interface a network backend implements: set up and tear down a container's endpoints on its networks
 * (interfaces, addresses, routes, firewall, published ports, DNS records) in a network namespace, from netavark's
 * `NetworkOptions` input, which both backends take. `netavark` runs netavark 1.4; `berth` does the same work
 * itself (bridge.ts: rtnetlink through src/sys, one iptables-restore per change, aardvark-dns driven directly).
 */
import type { NetavarkInput } from './netavark.ts';

/** A network backend (daemon option `network-backend`). */
export interface NetworkBackend {
  readonly name: 'berth' | 'netavark';
  /** Creates the endpoints of `input.networks` in the namespace bound at `netns`, and the published ports. */
  setup(netns: string, input: NetavarkInput, opts?: { signal?: AbortSignal }): Promise<unknown>;
  /**
   * Undoes what `setup` with the same input did; a network's bridge and rules go with its last endpoint.
   * `netnsGoing`: the caller removes the namespace right after (the kernel may then delete the interfaces).
   */
  teardown(netns: string, input: NetavarkInput, opts?: { signal?: AbortSignal; netnsGoing?: boolean }): Promise<void>;
  /** `docker rename` of a running container: its DNS records answer to the new name. */
  rename?(containerId: string, name: string): Promise<void>;
  /** Finishes background work now (removal of an idle default bridge): daemon stop, tests. */
  flush?(): Promise<void>;
  /** Where the backend keeps a network's firewall rules (`table/CHAIN` list), for inspect and info. */
  chains?(networkId: string): string[];
  /** What `info` shows: the shared chains and any warning (ip_forward switched on). */
  info?(): { chains: string[]; warnings: string[] };
}
