/**
 * The network JSON clients read: a container's `NetworkSettings` (container inspect, `ps`), and a network with its
 * containers' endpoints (network inspect). Read from the records; nothing is changed here.
 */
import { parseCidr } from './ipam.ts';
import { type NetRec, networkJSON, type Records } from './model.ts';
import type {
  EndpointSettings,
  Network,
  NetworkContainer,
  NetworkSettings,
  PortBinding,
} from '../engine-api/networks.ts';

/** An endpoint as inspect shows it before (or without) its addresses. */
function blank(networkId: string): EndpointSettings {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    MacAddress: '',
    DriverOpts: null,
    NetworkID: networkId,
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

/**
 * Container inspect's `NetworkSettings`: each endpoint (addresses while it runs), the published ports, and at the
 * top level the default bridge's endpoint, as Docker. `exposed` are the image's and `--expose`'s ports (shown as
 * `null` when not published, as Docker, while the container runs); `name` is the container's, for `DNSNames`.
 */
export function containerSettings(
  records: Records,
  c: { id: string; name: string | undefined; networkMode: string; exposed: readonly string[] },
): NetworkSettings {
  const sb = records.sandbox(c.id);
  const networks: Record<string, EndpointSettings> = {};
  const eps = records.endpointsOf(c.id);
  if (c.networkMode === 'host' || c.networkMode === 'none') {
    const n = records.byName(c.networkMode);
    networks[c.networkMode] = blank(n?.id ?? '');
  }
  for (const e of eps) {
    const n = records.get(e.networkId);
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
        const cidr = parseCidr(sub.subnet);
        if (cidr.family === 4 && e.ipv4) {
          s.IPAddress = e.ipv4;
          s.IPPrefixLen = cidr.prefix;
          if (!n.spec.internal) s.Gateway = sub.gateway;
        }
        if (cidr.family === 6 && e.ipv6) {
          s.GlobalIPv6Address = e.ipv6;
          s.GlobalIPv6PrefixLen = cidr.prefix;
          if (!n.spec.internal) s.IPv6Gateway = sub.gateway;
        }
      }
      if (n.spec.dns) s.DNSNames = [...new Set([c.name ?? '', ...e.config.aliases, c.id.slice(0, 12)].filter(Boolean))];
    }
    networks[e.networkName] = s;
  }
  const ports: Record<string, PortBinding[] | null> = {};
  if (sb) {
    for (const k of c.exposed) ports[k.includes('/') ? k : `${k}/tcp`] = null;
    for (const p of sb.ports) {
      const key = `${p.containerPort}/${p.protocol}`;
      (ports[key] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
    }
  }
  // The top-level fields are the default bridge's, as Docker (empty for user networks).
  const onBridge = eps[0] ? records.get(eps[0].networkId)?.spec.predefined === 'bridge' : false;
  const primary = onBridge ? networks[eps[0]!.networkName] : undefined;
  return {
    Bridge: '',
    SandboxID: sb ? c.id : '',
    SandboxKey: sb?.netns ?? '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: ports,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: primary?.EndpointID ?? '',
    Gateway: primary?.Gateway ?? '',
    GlobalIPv6Address: primary?.GlobalIPv6Address ?? '',
    GlobalIPv6PrefixLen: primary?.GlobalIPv6PrefixLen ?? 0,
    IPAddress: primary?.IPAddress ?? '',
    IPPrefixLen: primary?.IPPrefixLen ?? 0,
    IPv6Gateway: primary?.IPv6Gateway ?? '',
    MacAddress: primary?.MacAddress ?? '',
    Networks: networks,
  };
}

/**
 * A network in the Engine API's shape; with `withContainers`, its running containers' endpoints (`nameOf` gives a
 * container's name). `chains`: where the backend keeps the network's firewall rules, shown as an option.
 */
export function networkInspect(
  records: Records,
  n: NetRec,
  o: { withContainers: boolean; nameOf(id: string): string | undefined; chains?: string[] | undefined },
): Network {
  const containers: Record<string, NetworkContainer> = {};
  if (o.withContainers) {
    const prefix = (fam: 4 | 6) => n.spec.subnets.map((x) => parseCidr(x.subnet)).find((c) => c.family === fam)?.prefix;
    for (const e of records.endpointsOn(n.id)) {
      if (!e.endpointId) continue;
      containers[e.containerId] = {
        Name: o.nameOf(e.containerId) ?? e.containerId.slice(0, 12),
        EndpointID: e.endpointId,
        MacAddress: e.mac ?? '',
        IPv4Address: e.ipv4 ? `${e.ipv4}/${prefix(4)}` : '',
        IPv6Address: e.ipv6 ? `${e.ipv6}/${prefix(6)}` : '',
      };
    }
  }
  const json = networkJSON(n, containers);
  if (n.driver === 'bridge' && o.chains)
    json.Options = { ...json.Options, 'berth.firewall.chains': o.chains.join(',') };
  return json;
}
