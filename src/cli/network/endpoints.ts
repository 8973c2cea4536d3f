import type { EndpointSettings } from '../../client/index.ts';
import { csvRecord } from '../../util/csv.ts';

/**
 * `run`/`create`'s network flags → `HostConfig.NetworkMode` and `NetworkingConfig.EndpointsConfig`, as docker/cli
 * (`opts/network.go` NetworkOpt, `container/opts.go` parseNetworkOpts): `--network NAME` or the long form
 * `--network name=N,alias=A,ip=…,ip6=…,mac-address=…,link-local-ip=…,driver-opt=k=v,gw-priority=N`; the container-level
 * `--network-alias`, `--ip`, `--ip6`, `--mac-address`, `--link-local-ip` (and `--link` on a user network) apply to
 * the first network.
 */

/** One `--network` value. */
export interface NetworkAttachment {
  target: string;
  aliases: string[];
  ipv4: string;
  ipv6: string;
  mac: string;
  linkLocalIPs: string[];
  links: string[];
  driverOpts: Record<string, string>;
  gwPriority: number;
}

/** The container-level flags that apply to the first network. */
export interface ContainerNetworkFlags {
  aliases: string[];
  links: string[];
  ipv4: string;
  ipv6: string;
  mac: string;
  linkLocalIPs: string[];
}

/** docker's `NetworkMode.IsUserDefined`. */
export function isUserDefined(mode: string): boolean {
  return !['default', 'bridge', 'host', 'none'].includes(mode) && !mode.startsWith('container:');
}

/** docker's `NetworkOpt.Set`. */
export function parseNetworkOpt(value: string): NetworkAttachment {
  const n: NetworkAttachment = {
    target: '',
    aliases: [],
    ipv4: '',
    ipv6: '',
    mac: '',
    linkLocalIPs: [],
    links: [],
    driverOpts: {},
    gwPriority: 0,
  };
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) {
    n.target = value;
    return n;
  }
  for (const field of csvRecord(value)) {
    const lower = field.toLowerCase();
    const eq = lower.indexOf('=');
    const key = eq < 0 ? '' : lower.slice(0, eq).trim();
    const val = eq < 0 ? '' : lower.slice(eq + 1).trim();
    if (eq < 0 || key === '') throw new RangeError(`invalid field ${field}`);
    switch (key) {
      case 'name':
        n.target = val;
        break;
      case 'alias':
        n.aliases.push(val);
        break;
      case 'ip':
        n.ipv4 = val;
        break;
      case 'ip6':
        n.ipv6 = val;
        break;
      case 'mac-address':
        n.mac = val;
        break;
      case 'link-local-ip':
        n.linkLocalIPs.push(val);
        break;
      case 'driver-opt': {
        const deq = val.indexOf('=');
        if (deq < 0) throw new RangeError('invalid key value pair format in driver options');
        n.driverOpts[val.slice(0, deq).trim()] = val.slice(deq + 1).trim();
        break;
      }
      case 'gw-priority':
        if (!/^[+-]?\d+$/.test(val)) throw new RangeError(`invalid gw-priority (${val}): invalid syntax`);
        n.gwPriority = Number(val);
        break;
      default:
        throw new RangeError(`invalid field key ${key}`);
    }
  }
  if (n.target === '') throw new RangeError('network name/id is not specified');
  return n;
}

function applyContainerOptions(n: NetworkAttachment, c: ContainerNetworkFlags): void {
  if (n.aliases.length > 0 && c.aliases.length > 0)
    throw new RangeError('conflicting options: cannot specify both --network-alias and per-network alias');
  if (n.links.length > 0 && c.links.length > 0)
    throw new RangeError('conflicting options: cannot specify both --link and per-network links');
  if (n.ipv4 !== '' && c.ipv4 !== '')
    throw new RangeError('conflicting options: cannot specify both --ip and per-network IPv4 address');
  if (n.ipv6 !== '' && c.ipv6 !== '')
    throw new RangeError('conflicting options: cannot specify both --ip6 and per-network IPv6 address');
  if (n.mac !== '' && c.mac !== '')
    throw new RangeError('conflicting options: cannot specify both --mac-address and per-network MAC address');
  if (n.linkLocalIPs.length > 0 && c.linkLocalIPs.length > 0) {
    throw new RangeError(
      'conflicting options: cannot specify both --link-local-ip and per-network link-local IP addresses',
    );
  }
  if (c.aliases.length > 0) n.aliases = [...c.aliases];
  if (isUserDefined(n.target) && c.links.length > 0) n.links = [...c.links];
  if (c.ipv4 !== '') n.ipv4 = c.ipv4;
  if (c.ipv6 !== '') n.ipv6 = c.ipv6;
  if (c.mac !== '') n.mac = c.mac;
  if (c.linkLocalIPs.length > 0) n.linkLocalIPs = [...c.linkLocalIPs];
}

/** docker's `parseNetworkAttachmentOpt`; `undefined` for an endpoint with nothing set. */
function endpoint(n: NetworkAttachment): EndpointSettings | undefined {
  if (n.target.trim() === '') throw new RangeError('no name set for network');
  if (!isUserDefined(n.target)) {
    if (n.aliases.length > 0)
      throw new RangeError('network-scoped aliases are only supported for user-defined networks');
    if (n.links.length > 0) throw new RangeError('links are only supported for user-defined networks');
  }
  const ep: EndpointSettings = {};
  if (n.aliases.length > 0) ep.Aliases = [...n.aliases];
  if (Object.keys(n.driverOpts).length > 0) ep.DriverOpts = n.driverOpts;
  if (n.links.length > 0) ep.Links = n.links;
  if (n.ipv4 !== '' || n.ipv6 !== '' || n.linkLocalIPs.length > 0) {
    ep.IPAMConfig = {
      IPv4Address: n.ipv4,
      IPv6Address: n.ipv6,
      ...(n.linkLocalIPs.length > 0 ? { LinkLocalIPs: n.linkLocalIPs } : {}),
    };
  }
  if (n.mac !== '') {
    if (!/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i.test(n.mac.trim()))
      throw new RangeError(`${n.mac} is not a valid mac address`);
    ep.MacAddress = n.mac;
  }
  if (n.gwPriority !== 0) ep.GwPriority = n.gwPriority;
  return Object.keys(ep).length === 0 ? undefined : ep;
}

/** The network mode and the endpoints to send, from the `--network` values and the container-level flags. */
export function networkingFromFlags(
  values: readonly string[],
  c: ContainerNetworkFlags,
): { mode: string; endpoints: Record<string, EndpointSettings> } {
  const attachments = values.map(parseNetworkOpt);
  const endpoints: Record<string, EndpointSettings> = {};
  if (attachments.length === 0) {
    const n = parseNetworkOpt('default');
    applyContainerOptions(n, c);
    endpoints.default = endpoint(n) ?? {};
    return { mode: 'default', endpoints };
  }
  let userDefined = false;
  let builtin = false;
  attachments.forEach((n, i) => {
    if (isUserDefined(n.target)) userDefined = true;
    else builtin = true;
    if (i === 0) applyContainerOptions(n, c);
    const ep = endpoint(n);
    if (Object.hasOwn(endpoints, n.target))
      throw new RangeError(`network ${JSON.stringify(n.target)} is specified multiple times`);
    if (i === 0 && attachments.length === 1 && ep === undefined) return;
    endpoints[n.target] = ep ?? {};
  });
  if (userDefined && builtin)
    throw new RangeError('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  return { mode: attachments[0]!.target, endpoints };
}
