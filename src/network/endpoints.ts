/**
 * A container's endpoints in the records: recorded at create from its network mode and `EndpointsConfig`, given
 * addresses when it starts, and turned into what the backend sets up. Work on the records only (the caller holds
 * the locks): no I/O of their own.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError, InvalidArgumentError, NotFoundError, UnavailableError } from '../util/errors.ts';
import type { ContainerNetworks, NetworkDefinition } from './backend.ts';
import { contains, formatIP, nextFree, parseCidr, parseIP } from './ipam.ts';
import { type EpRec, endpointConfig, lookupNetwork, MTU_OPT, macFor, type NetRec, type Records } from './model.ts';
import type { PortMapping } from './ports.ts';
import type { EndpointSettings } from '../engine-api/networks.ts';

/**
 * Container create: validates `NetworkMode` (`default`/`bridge`, `host`, `none`, `container:X`, a user network by
 * name or ID prefix) and `EndpointsConfig`, and records the container's endpoints (replacing any it had). Returns
 * the mode to store (`default` becomes `bridge`; a network named by ID prefix keeps the name the user gave, as
 * Docker). `container:X` is resolved by the caller. `mac` is `--mac-address` (Config.MacAddress). An unknown
 * network is a bad request (400), not a 404: the docker CLI takes any 404 from create for a missing image and
 * would try to pull it.
 */
export function recordEndpoints(
  records: Records,
  containerId: string,
  networkMode: string | undefined,
  endpoints: Record<string, EndpointSettings | null> | null | undefined,
  mac?: string,
): string {
  const find = (ref: string): NetRec => {
    const n = lookupNetwork(records, ref);
    if (!n) throw new InvalidArgumentError(`network ${ref} not found`);
    return n;
  };
  const mode = !networkMode || networkMode === 'default' ? 'bridge' : networkMode;
  if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return mode;
  const primary = find(mode);
  if (primary.spec.predefined === 'host' || primary.spec.predefined === 'none') return primary.name;
  const cfgs = endpoints ?? {};
  const cfgFor = (n: NetRec): EndpointSettings | null | undefined =>
    cfgs[n.name] ??
    cfgs[n.id] ??
    (n === primary ? (cfgs[mode] ?? (n.spec.predefined === 'bridge' ? cfgs.default : undefined)) : undefined);
  const nets: NetRec[] = [primary];
  for (const key of Object.keys(cfgs)) {
    if (key === mode || key === 'default') continue;
    const n = find(key);
    if (!nets.some((x) => x.id === n.id)) nets.push(n);
  }
  const eps = nets.map((n) => {
    const c = endpointConfig(n, cfgFor(n));
    if (n === primary && mac && !c.mac) c.mac = mac;
    return { n, c };
  });
  records.transaction(() => {
    records.deleteEndpointsOf(containerId);
    for (const { n, c } of eps)
      records.putEndpoint({
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

/**
 * Gives each endpoint its addresses (the asked-for ones, else the next free in the subnet or its ip-range), MAC and
 * endpoint ID, in one transaction. The caller holds the allocation lock.
 */
export function allocateAddresses(records: Records, containerId: string, eps: readonly EpRec[]): EpRec[] {
  return records.transaction(() => {
    const out: EpRec[] = [];
    for (const e of eps) {
      const n = records.get(e.networkId);
      if (!n) throw new NotFoundError(`network ${e.networkName} not found`);
      const live = records.endpointsOn(n.id).filter((x) => x.endpointId && x.containerId !== containerId);
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
      const addresses = { ipv4, ipv6, mac, endpointId: randomBytes(32).toString('hex') };
      records.setLive(containerId, n.id, addresses);
      out.push({ ...e, ...addresses });
    }
    return out;
  });
}

/** The backend's input for some of a container's endpoints (`ifname` per endpoint) and its published ports. */
export function backendInput(
  records: Records,
  c: { id: string; name: string },
  eps: readonly { ep: EpRec; ifname: string }[],
  ports: readonly PortMapping[],
  dns?: readonly string[] | null,
): ContainerNetworks {
  const input: ContainerNetworks = { container_id: c.id, container_name: c.name, networks: {}, network_info: {} };
  for (const { ep, ifname } of eps) {
    const n = records.get(ep.networkId)!;
    const s = n.spec;
    const info: NetworkDefinition = {
      name: n.name,
      id: n.id,
      driver: 'bridge',
      network_interface: s.bridge,
      subnets: s.subnets.map((x) => ({ subnet: x.subnet, gateway: x.gateway })),
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
