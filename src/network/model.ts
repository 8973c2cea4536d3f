/**
 * What the network service stores per network and endpoint, what a container's sandbox is asked for and gives, and
 * the pure steps around them: a create request validated into a network's spec (Docker's messages), an endpoint
 * request checked against its network, a record into Docker's network JSON, small helpers.
 */
import { readFile } from 'node:fs/promises';
import type { EndpointRecord, NetworkRecord, NetworkRecords } from '../metadata/index.ts';
import { ConflictError, ForbiddenError, InvalidArgumentError } from '../util/errors.ts';
import { parseTimestamp } from '../util/timestamp.ts';
import {
  chooseSubnet,
  contains,
  firstHost,
  formatCidr,
  formatIP,
  overlaps,
  parseCidr,
  parseIP,
  type Cidr,
  type Pool,
} from './ipam.ts';
import type { PortMapping } from './ports.ts';
import type { EndpointSettings, Network, NetworkContainer, NetworkCreateRequest } from '../engine-api/networks.ts';

/** The network service's JSON per network (in the metadata DB). */
export interface NetSpec {
  internal: boolean;
  attachable: boolean;
  ipv6: boolean;
  /** The bridge device; '' for host/none. */
  bridge: string;
  subnets: { subnet: string; gateway: string; ipRange?: string }[];
  options: Record<string, string>;
  labels: Record<string, string>;
  ipamOptions: Record<string, string> | null;
  dns: boolean;
  /** `bridge`, `host` or `none` for the networks Docker predefines. */
  predefined?: 'bridge' | 'host' | 'none';
}

/** What a container asked for on one network. */
export interface EpConfig {
  aliases: string[];
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  links?: string[];
}

/** The network records as this folder types them. */
export type Records = NetworkRecords<NetSpec, EpConfig, PortMapping[]>;
export type NetRec = NetworkRecord<NetSpec>;
export type EpRec = EndpointRecord<EpConfig>;

/** What the network side needs to know of a container (the containers service answers, late-bound). */
export interface ContainerLink {
  id: string;
  name: string;
  running: boolean;
  /** The container's `HostConfig.NetworkMode` (`bridge`, `host`, `none`, `container:ID` or a network name). */
  networkMode: string;
}

/** Finds a container by ID, ID prefix or name; undefined when there is none. */
export type ContainerLookup = (ref: string) => ContainerLink | undefined;

/** A network namespace as the runtime takes it: the host's, a new empty one, or one at a path. */
export type NamespaceRef = 'host' | 'none' | { path: string };

/** What `setUp` needs of a starting container. */
export interface SandboxRequest {
  id: string;
  name: string;
  hostname: string;
  domainname?: string;
  /** `HostConfig.NetworkMode` as `prepare` normalised it (`bridge`, `host`, `none` or a network); see `peer`. */
  networkMode: string;
  portBindings?: Record<string, readonly { HostIp?: string; HostPort?: string }[] | null> | null;
  publishAll?: boolean;
  /** `Config.ExposedPorts` keys (`80/tcp`). */
  exposedPorts?: readonly string[];
  dns?: readonly string[] | null;
  dnsSearch?: readonly string[] | null;
  dnsOptions?: readonly string[] | null;
  extraHosts?: readonly string[] | null;
  /** The container's directory: its `hosts` and `resolv.conf` are written there. */
  dir: string;
  /**
   * `--network container:X`: the running container X whose namespace and files this one shares (as Docker, the
   * same /etc/hosts and /etc/resolv.conf files, not copies). `networkMode` is then ignored.
   */
  peer?: { id: string; pid: number; networkMode: string; dir: string };
  signal?: AbortSignal;
  /**
   * Return as soon as the namespace and files exist (addresses are chosen before the backend runs), with `ready`
   * settling when the backend has finished: the caller creates the runtime container meanwhile and awaits `ready`
   * before the process starts. On failure the sandbox has already undone its part.
   */
  early?: boolean;
}

/** What a container gets from `setUp`. */
export interface Sandbox {
  /** The namespace to join. */
  netns: NamespaceRef;
  /** Host paths of the files to bind at /etc/hosts and /etc/resolv.conf. */
  hosts: string;
  resolvConf: string;
  /** Settles when the backend has set up the interfaces and ports (already settled unless `early`). */
  ready: Promise<void>;
}

/** The networks Docker lists on every engine. */
export const PREDEFINED = ['bridge', 'host', 'none'] as const;
/** The bridge device's name (`docker network create -o com.docker.network.bridge.name=…`). */
export const BRIDGE_NAME_OPT = 'com.docker.network.bridge.name';
/** The MTU option, passed to netavark as its `mtu`. */
export const MTU_OPT = 'com.docker.network.driver.mtu';
/** Where `--ipv6` networks without an IPv6 subnet get a /64 (a ULA prefix of our own). */
export const V6_POOL: Pool = { base: 'fd7b:e47a:b3d0::/48', size: 64 };

/** Docker's `Created` of a network: RFC 3339 with nanoseconds. */
export function nowNano(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** Docker's MAC for an IPv4 endpoint: 02:42 then the four address bytes. */
export function macFor(ipv4: string): string {
  const v = parseIP(ipv4)!.value;
  const b = [24n, 16n, 8n, 0n].map((s) =>
    Number((v >> s) & 0xffn)
      .toString(16)
      .padStart(2, '0'),
  );
  return `02:42:${b.join(':')}`;
}

/** IPv4 routes of the host (`/proc/net/route`), so an automatic subnet avoids networks the host already reaches. */
export async function hostRoutes(): Promise<Cidr[]> {
  const out: Cidr[] = [];
  try {
    const lines = (await readFile('/proc/net/route', 'utf8')).split('\n').slice(1);
    for (const l of lines) {
      const f = l.trim().split(/\s+/);
      if (f.length < 8) continue;
      const le = (h: string) => BigInt(`0x${h.match(/../g)!.reverse().join('')}`);
      const dest = le(f[1]!);
      const mask = le(f[7]!);
      if (mask === 0n) continue; // the default route is not a subnet of the host
      let prefix = 0;
      for (let m = mask; m & 0x80000000n; m = (m << 1n) & 0xffffffffn) prefix++;
      out.push({ family: 4, base: dest, prefix });
    }
  } catch {
    // no /proc: only the DB's networks count
  }
  return out;
}

/**
 * Validates `POST /networks/create` into a bridge network's spec, against the specs of the networks that exist
 * (overlapping subnets, bridge names). A missing IPv4 subnet comes from `pools`, clear of the host's routes.
 * Throws InvalidArgumentError / ConflictError with Docker's messages; nothing is recorded here.
 */
export async function networkSpec(
  req: NetworkCreateRequest,
  id: string,
  existing: readonly NetSpec[],
  pools: readonly Pool[],
): Promise<NetSpec> {
  const options = { ...(req.Options ?? {}) };
  const bridge = options[BRIDGE_NAME_OPT] || `br-${id.slice(0, 12)}`;
  if (bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(bridge))
    throw new InvalidArgumentError(`invalid bridge name "${bridge}": at most 15 characters of [a-zA-Z0-9_.-]`);
  if (existing.some((n) => n.bridge === bridge))
    throw new ConflictError(`bridge name ${bridge} is used by another network`);
  if (options[MTU_OPT] !== undefined && !/^\d+$/.test(options[MTU_OPT]!))
    throw new InvalidArgumentError(`invalid mtu "${options[MTU_OPT]}"`);

  const taken = existing.flatMap((n) => n.subnets.map((s) => parseCidr(s.subnet)));
  const subnets: NetSpec['subnets'] = [];
  const mine: Cidr[] = [];
  for (const c of req.IPAM?.Config ?? []) {
    if (!c.Subnet) {
      if (c.Gateway || c.IPRange) throw new InvalidArgumentError('a gateway or ip-range needs a subnet (--subnet)');
      continue;
    }
    const subnet = parseCidr(c.Subnet, 'subnet');
    if ([...taken, ...mine].some((t) => overlaps(t, subnet)))
      throw new ForbiddenError('Pool overlaps with other one on this address space');
    let gateway: string;
    if (c.Gateway) {
      const gw = parseIP(c.Gateway);
      if (!gw) throw new InvalidArgumentError(`invalid gateway address ${c.Gateway} in Ipam configuration`);
      if (!contains(subnet, gw.family, gw.value))
        throw new InvalidArgumentError(`no matching subnet for gateway ${c.Gateway}`);
      gateway = formatIP(gw.family, gw.value);
    } else gateway = formatIP(subnet.family, firstHost(subnet));
    let ipRange: string | undefined;
    if (c.IPRange) {
      const r = parseCidr(c.IPRange, 'ip-range');
      if (r.family !== subnet.family || r.prefix < subnet.prefix || !contains(subnet, r.family, r.base))
        throw new InvalidArgumentError(`no matching subnet for range ${c.IPRange}`);
      ipRange = formatCidr(r);
    }
    mine.push(subnet);
    subnets.push({ subnet: formatCidr(subnet), gateway, ...(ipRange ? { ipRange } : {}) });
  }
  const ipv6 = Boolean(req.EnableIPv6) || mine.some((c) => c.family === 6);
  if (!mine.some((c) => c.family === 4)) {
    const c = chooseSubnet(pools, [...taken, ...(await hostRoutes())]);
    subnets.unshift({ subnet: formatCidr(c), gateway: formatIP(4, firstHost(c)) });
  }
  if (ipv6 && !mine.some((c) => c.family === 6)) {
    const c = chooseSubnet([V6_POOL], taken);
    subnets.push({ subnet: formatCidr(c), gateway: formatIP(6, firstHost(c)) });
  }
  const spec: NetSpec = {
    internal: Boolean(req.Internal),
    attachable: Boolean(req.Attachable),
    ipv6,
    bridge,
    subnets,
    options,
    labels: { ...(req.Labels ?? {}) },
    ipamOptions: req.IPAM?.Options && Object.keys(req.IPAM.Options).length ? { ...req.IPAM.Options } : null,
    dns: true,
  };
  return spec;
}

/** A network record in the Engine API's shape, with the given endpoints as `Containers`. */
export function networkJSON(n: NetworkRecord<NetSpec>, containers: Record<string, NetworkContainer>): Network {
  const s = n.spec;
  return {
    Name: n.name,
    Id: n.id,
    Created: nowNano(n.created),
    Scope: 'local',
    Driver: n.driver,
    EnableIPv4: true,
    EnableIPv6: s.ipv6,
    IPAM: {
      Driver: 'default',
      Options: s.ipamOptions,
      Config: s.subnets.map((x) => ({
        Subnet: x.subnet,
        ...(x.ipRange ? { IPRange: x.ipRange } : {}),
        Gateway: x.gateway,
      })),
    },
    Internal: s.internal,
    Attachable: s.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: s.options,
    Labels: s.labels,
  };
}

/** `until` filter values, as every prune of the Engine API takes them (`util/timestamp.ts`), in milliseconds. */
export function untilMs(u: string): number {
  return parseTimestamp(u) * 1000;
}

/** Finds a network by full ID, name, or unique ID prefix (Docker's order); undefined when there is none. */
export function lookupNetwork(records: Records, ref: string): NetRec | undefined {
  const byId = records.get(ref);
  if (byId) return byId;
  const byName = records.byName(ref);
  if (byName) return byName;
  const matches = /^[0-9a-f]+$/.test(ref) ? records.all().filter((n) => n.id.startsWith(ref)) : [];
  if (matches.length > 1)
    throw new InvalidArgumentError(`network ${ref} is ambiguous (${matches.length} matches found based on ID prefix)`);
  return matches[0];
}

/** Checks a connect/create endpoint config against the network (Docker's rules for the default bridge). */
export function endpointConfig(n: NetRec, cfg: EndpointSettings | null | undefined): EpConfig {
  const aliases = [...new Set((cfg?.Aliases ?? []).filter(Boolean))];
  const ipv4 = cfg?.IPAMConfig?.IPv4Address || undefined;
  const ipv6 = cfg?.IPAMConfig?.IPv6Address || undefined;
  if (n.spec.predefined === 'bridge') {
    if (ipv4 || ipv6)
      throw new InvalidArgumentError('user specified IP address is supported on user defined networks only');
    if (aliases.length)
      throw new InvalidArgumentError('network-scoped alias is supported only for containers in user defined networks');
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
