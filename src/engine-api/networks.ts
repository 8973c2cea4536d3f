/**
 * The Docker Engine API's network shapes, as moby's `api/swagger.yaml` (v1.50) names them: `/networks/…` requests
 * and answers, and a container's `NetworkSettings`. Types only, imported with `import type`.
 */

/** One subnet of a network's `IPAM.Config`; in create requests the aux addresses are `AuxiliaryAddresses`. */
export interface NetworkIPAMConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string> | null;
}

/** A network's address management: driver, options and subnets. */
export interface NetworkIPAM {
  Driver?: string;
  Options?: Record<string, string> | null;
  Config?: NetworkIPAMConfig[] | null;
}

/** One endpoint in a network's `Containers` map (keyed by container ID). */
export interface NetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

/** `GET /networks/{id}` and the entries of `GET /networks`. */
export interface Network {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv4?: boolean;
  EnableIPv6: boolean;
  IPAM: NetworkIPAM;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom?: { Network: string };
  ConfigOnly: boolean;
  Containers?: Record<string, NetworkContainer> | null;
  Options: Record<string, string> | null;
  Labels: Record<string, string> | null;
  [key: string]: unknown;
}

/** The body of `POST /networks/create` (docker's `network.CreateRequest`). */
export interface NetworkCreateRequest {
  Name: string;
  /** Before API 1.44 (always checked since). */
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network: string } | null;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  IPAM?: NetworkIPAM | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export interface NetworkCreateResponse {
  Id: string;
  Warning: string;
}

/** A container's endpoint on one network: what create and connect ask for, and what inspect reports. */
export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  DriverOpts?: Record<string, string> | null;
  GwPriority?: number;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  DNSNames?: string[] | null;
}

/** The body of `POST /networks/{id}/connect`. */
export interface NetworkConnectRequest {
  Container: string;
  EndpointConfig?: EndpointSettings | null;
}

/** The body of `POST /networks/{id}/disconnect`. */
export interface NetworkDisconnectRequest {
  Container: string;
  Force?: boolean;
}

export interface NetworkPruneReport {
  NetworksDeleted: string[] | null;
}

/** One published port in a container's `NetworkSettings.Ports` (`"80/tcp": [{HostIp, HostPort}]`). */
export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** Container inspect's `NetworkSettings`. */
export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  SandboxKey: string;
  HairpinMode: boolean;
  LinkLocalIPv6Address: string;
  LinkLocalIPv6PrefixLen: number;
  /** `"80/tcp": [{HostIp, HostPort}]`, or null for an exposed port that is not published. */
  Ports: Record<string, PortBinding[] | null>;
  SecondaryIPAddresses: null;
  SecondaryIPv6Addresses: null;
  /** The top-level fields are the default bridge's endpoint (empty on other networks), as Docker. */
  EndpointID: string;
  Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  MacAddress: string;
  Networks: Record<string, EndpointSettings>;
}
