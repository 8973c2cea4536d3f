import { isIP } from 'node:net';
import type { EngineClient, Network, NetworkIPAMConfig } from '../../client/index.ts';
import { BerthError, CanceledError, NotFoundError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { describeError, ExitStatusError } from '../errors.ts';
import { inspectObjects } from '../image/inspect.ts';
import { headerLabel, renderRows, type ListLayout } from '../output.ts';
import { confirm, type LineSource } from '../prompt.ts';
import { truncateID } from '../text.ts';
import { NETWORK_SHAPE } from '../container/inspect.ts';
import { kvToMap } from '../container/values.ts';
import { naturalLess } from '../volume/volume.ts';

/**
 * `berth network create/ls/inspect/rm/prune/connect/disconnect` (docker/cli `command/network`): the same
 * request bodies, the same client-side checks of `--subnet`/`--gateway`/`--ip-range`, the same output.
 */

export interface NetworkCreateOptions {
  name: string;
  driver: string;
  opts: string[];
  labels: string[];
  internal: boolean;
  /** Set only when `--ipv4`/`--ipv6` were given, as docker sends them only then. */
  ipv4?: boolean;
  ipv6?: boolean;
  attachable: boolean;
  ingress: boolean;
  scope: string;
  configOnly: boolean;
  configFrom: string;
  ipamDriver: string;
  subnets: string[];
  ipRanges: string[];
  gateways: string[];
  auxAddresses: string[];
  ipamOpts: string[];
}

/** Splits pflag `StringSlice` values: each flag value is a comma-separated list. */
export function splitSlice(values: readonly string[]): string[] {
  return values.flatMap((v) => (v === '' ? [] : v.split(',')));
}

interface CIDR {
  family: 4 | 6;
  bits: bigint;
  prefix: number;
}

function ipBits(ip: string): { family: 4 | 6; bits: bigint } | undefined {
  const fam = isIP(ip);
  if (fam === 4) return { family: 4, bits: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (fam !== 6) return undefined;
  // An embedded dotted quad (`::ffff:1.2.3.4`) becomes two hex groups.
  const text = ip.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_m, a: string, b: string, c: string, d: string) =>
      `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const [head, rest] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const h = head === '' ? [] : head.split(':').map((x) => BigInt(`0x${x}`));
  const r = rest === undefined || rest === '' ? [] : rest.split(':').map((x) => BigInt(`0x${x}`));
  const groups = rest === undefined ? h : [...h, ...Array<bigint>(Math.max(8 - h.length - r.length, 0)).fill(0n), ...r];
  return { family: 6, bits: groups.reduce((acc, g) => (acc << 16n) | g, 0n) };
}

/** Go's `net.ParseCIDR`, with Go's error text. */
function parseCIDR(text: string): CIDR {
  const slash = text.indexOf('/');
  const ip = slash < 0 ? undefined : ipBits(text.slice(0, slash));
  const prefixText = slash < 0 ? '' : text.slice(slash + 1);
  const max = ip?.family === 6 ? 128 : 32;
  if (ip === undefined || !/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max)
    throw new BerthError(`invalid CIDR address: ${text}`);
  return { family: ip.family, bits: ip.bits, prefix: Number(prefixText) };
}

function contains(net: CIDR, ip: { family: 4 | 6; bits: bigint }): boolean {
  if (net.family !== ip.family) return false;
  const width = BigInt(net.family === 4 ? 32 : 128);
  const shift = width - BigInt(net.prefix);
  return net.bits >> shift === ip.bits >> shift;
}

/** docker/cli's `subnetMatches`: whether `data` (an address or a CIDR) lies in `subnet`. */
function subnetMatches(subnet: string, data: string): boolean {
  let s: CIDR;
  try {
    s = parseCIDR(subnet);
  } catch (err) {
    throw new BerthError(`invalid subnet: ${(err as Error).message}`);
  }
  const ip = data.includes('/') ? parseCIDR(data) : ipBits(data);
  return ip !== undefined && contains(s, ip);
}

/** docker/cli's `createIPAMConfig`: one config per subnet, each range, gateway and aux address matched to one. */
export function ipamConfig(
  o: Pick<NetworkCreateOptions, 'subnets' | 'ipRanges' | 'gateways' | 'auxAddresses'>,
): NetworkIPAMConfig[] {
  if (o.subnets.length < o.ipRanges.length || o.subnets.length < o.gateways.length) {
    throw new BerthError('every ip-range or gateway must have a corresponding subnet');
  }
  const data = new Map<string, NetworkIPAMConfig & { AuxiliaryAddresses: Record<string, string> }>();
  for (const s of o.subnets) {
    for (const k of data.keys()) {
      if (subnetMatches(s, k) || subnetMatches(k, s))
        throw new BerthError('multiple overlapping subnet configuration is not supported');
    }
    data.set(s, { Subnet: s, AuxiliaryAddresses: {} });
  }
  const assign = (
    value: string,
    what: 'IPRange' | 'Gateway',
    noMatch: string,
    multiple: (prev: string, s: string) => string,
  ): void => {
    let match = false;
    for (const s of o.subnets) {
      if (what === 'IPRange') parseCIDR(value);
      if (!subnetMatches(s, value)) continue;
      const d = data.get(s)!;
      const prev = d[what];
      if (prev !== undefined && prev !== '') throw new BerthError(multiple(prev, s));
      d[what] = value;
      match = true;
    }
    if (!match) throw new BerthError(noMatch);
  };
  for (const r of o.ipRanges)
    assign(
      r,
      'IPRange',
      `no matching subnet for range ${r}`,
      (prev, s) => `cannot configure multiple ranges (${r}, ${prev}) on the same subnet (${s})`,
    );
  for (const g of o.gateways)
    assign(
      g,
      'Gateway',
      `no matching subnet for gateway ${g}`,
      (prev, s) => `cannot configure multiple gateways (${g}, ${prev}) for the same subnet (${s})`,
    );
  for (const [key, aa] of Object.entries(kvToMap(o.auxAddresses))) {
    let match = false;
    for (const s of o.subnets) {
      if (!subnetMatches(s, aa)) continue;
      data.get(s)!.AuxiliaryAddresses[key] = aa;
      match = true;
    }
    if (!match) throw new BerthError(`no matching subnet for aux-address ${aa}`);
  }
  return [...data.values()];
}

export async function createNetwork(client: EngineClient, out: OutStream, o: NetworkCreateOptions): Promise<void> {
  const config = ipamConfig(o);
  const res = await client.networkCreate({
    Name: o.name,
    Driver: o.driver,
    Scope: o.scope,
    Internal: o.internal,
    ...(o.ipv4 !== undefined ? { EnableIPv4: o.ipv4 } : {}),
    ...(o.ipv6 !== undefined ? { EnableIPv6: o.ipv6 } : {}),
    Attachable: o.attachable,
    Ingress: o.ingress,
    ConfigOnly: o.configOnly,
    ...(o.configFrom !== '' ? { ConfigFrom: { Network: o.configFrom } } : {}),
    IPAM: { Driver: o.ipamDriver, Config: config, Options: kvToMap(o.ipamOpts) },
    Options: kvToMap(o.opts),
    Labels: kvToMap(o.labels),
  });
  out.write(`${res.Id}\n`);
}

const HEADERS: Record<string, string> = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};
Object.defineProperty(HEADERS, 'Label', { value: headerLabel, enumerable: false });

/** Go's `time.Time.String()` of an RFC 3339 timestamp, in the offset it was written with. */
export function goTimeString(rfc3339: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(rfc3339);
  if (m === null) return '0001-01-01 00:00:00 +0000 UTC';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const zone = m[4] === 'Z' ? '+0000 UTC' : `${(m[4] as string).replace(':', '')} ${(m[4] as string).replace(':', '')}`;
  return `${m[1]} ${m[2]}${frac === '' ? '' : `.${frac}`} ${zone}`;
}

/** One row of `network ls`: the fields of docker's `networkContext`. */
export function networkRow(n: Network, trunc: boolean): Record<string, string> {
  const labels = n.Labels ?? {};
  const row: Record<string, string> = {
    ID: trunc ? truncateID(n.Id) : n.Id,
    Name: n.Name,
    Driver: n.Driver,
    Scope: n.Scope,
    IPv4: String(n.EnableIPv4 ?? false),
    IPv6: String(n.EnableIPv6 ?? false),
    Internal: String(n.Internal ?? false),
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(','),
    CreatedAt: goTimeString(n.Created),
  };
  Object.defineProperty(row, 'Label', { value: (name: string) => labels[name] ?? '', enumerable: false });
  return row;
}

export async function listNetworks(
  client: EngineClient,
  out: OutStream,
  o: { quiet: boolean; noTrunc: boolean; format: string; filters: Record<string, string[]> },
): Promise<void> {
  const networks = [...(await client.networkList({ filters: o.filters }))].sort((a, b) =>
    naturalLess(a.Name, b.Name) ? -1 : naturalLess(b.Name, a.Name) ? 1 : 0,
  );
  let format = o.format === '' ? 'table' : o.format;
  if (format === 'table' && o.quiet) format = '{{.ID}}';
  else if (format === 'raw')
    format = o.quiet
      ? 'network_id: {{.ID}}'
      : 'network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n';
  const rows = networks.map((n) => networkRow(n, !o.noTrunc));
  if (format === '{{.ID}}') {
    out.write(rows.map((r) => `${r.ID ?? ''}\n`).join(''));
    return;
  }
  const layout: ListLayout = {
    defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
    headers: HEADERS,
    columns: ['ID', 'Name', 'Driver', 'Scope'],
    typeName: '*network.networkContext',
  };
  out.write(await renderRows(rows, format, layout));
}

export function inspectNetworks(
  client: EngineClient,
  out: OutStream,
  o: { names: string[]; format: string },
): Promise<void> {
  return inspectObjects(
    out,
    { refs: o.names, format: o.format },
    (name) => client.networkInspectRaw(name),
    NETWORK_SHAPE,
  );
}

/** `network rm`: each failure on its own stderr line, exit 1 if any failed; `-f` skips missing networks. */
export async function removeNetworks(
  client: EngineClient,
  out: OutStream,
  err: OutStream,
  o: { names: string[]; force: boolean },
): Promise<void> {
  let failed = false;
  for (const name of o.names) {
    try {
      await client.networkRemove(name);
      out.write(`${name}\n`);
    } catch (e) {
      if (o.force && e instanceof NotFoundError) continue;
      err.write(`${describeError(e)}\n`);
      failed = true;
    }
  }
  if (failed) throw new ExitStatusError('', 1);
}

const PRUNE_WARNING = `WARNING! This will remove all custom networks not used by at least one container.
Are you sure you want to continue?`;

export async function pruneNetworks(
  client: EngineClient,
  input: LineSource,
  out: OutStream,
  o: { force: boolean; filters: Record<string, string[]> },
): Promise<void> {
  if (!o.force && !(await confirm(input, out, PRUNE_WARNING)))
    throw new CanceledError('network prune has been cancelled');
  const report = await client.networkPrune(o.filters);
  const deleted = report.NetworksDeleted ?? [];
  if (deleted.length > 0) out.write(`Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}\n`);
}

export interface ConnectOptions {
  network: string;
  container: string;
  ip: string;
  ip6: string;
  links: string[];
  aliases: string[];
  linkLocalIPs: string[];
  driverOpts: string[];
  gwPriority: number;
}

/** docker/cli's `convertDriverOpt`. */
function driverOptMap(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const k = eq < 0 ? '' : v.slice(0, eq).trim();
    if (k === '') throw new BerthError('invalid key/value pair format in driver options');
    out[k] = v.slice(eq + 1).trim();
  }
  return out;
}

export async function connectNetwork(client: EngineClient, o: ConnectOptions): Promise<void> {
  await client.networkConnect(o.network, o.container, {
    IPAMConfig: { IPv4Address: o.ip, IPv6Address: o.ip6, LinkLocalIPs: o.linkLocalIPs },
    Links: o.links.length > 0 ? o.links : null,
    Aliases: o.aliases,
    DriverOpts: driverOptMap(o.driverOpts),
    GwPriority: o.gwPriority,
  });
}

export async function disconnectNetwork(
  client: EngineClient,
  o: { network: string; container: string; force: boolean },
): Promise<void> {
  await client.networkDisconnect(o.network, o.container, o.force);
}

/** Go's `net.JoinHostPort`. */
function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `berth port CONTAINER [PRIVATE_PORT[/PROTO]]` (docker/cli `container/port.go`). */
export async function showPorts(
  client: EngineClient,
  out: OutStream,
  o: { container: string; port: string },
): Promise<void> {
  const c = await client.containerInspect(o.container);
  const settings = c.NetworkSettings as
    | { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null }
    | null
    | undefined;
  const ports = settings?.Ports ?? {};
  const lines: string[] = [];
  if (o.port !== '') {
    const slash = o.port.indexOf('/');
    const port = slash < 0 ? o.port : o.port.slice(0, slash);
    const proto = slash < 0 || o.port.slice(slash + 1) === '' ? 'tcp' : o.port.slice(slash + 1);
    if (!/^\d+$/.test(port))
      throw new BerthError(
        `Error: invalid port (${port}): strconv.ParseUint: parsing ${JSON.stringify(port)}: invalid syntax`,
      );
    if (Number(port) > 65535)
      throw new BerthError(
        `Error: invalid port (${port}): strconv.ParseUint: parsing ${JSON.stringify(port)}: value out of range`,
      );
    const frontends = ports[`${port}/${proto}`] ?? [];
    if (frontends.length === 0) throw new BerthError(`Error: No public port '${o.port}' published for ${o.container}`);
    for (const f of frontends) lines.push(joinHostPort(f.HostIp, f.HostPort));
  } else {
    for (const [from, frontends] of Object.entries(ports)) {
      for (const f of frontends ?? []) lines.push(`${from} -> ${joinHostPort(f.HostIp, f.HostPort)}`);
    }
  }
  if (lines.length > 0) {
    lines.sort((a, b) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0));
    out.write(`${lines.join('\n')}\n`);
  }
}
