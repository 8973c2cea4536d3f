/**
 * Published ports: from Docker's `HostConfig.PortBindings` / `PublishAllPorts` + `ExposedPorts` to concrete
 * mappings (random host ports resolved from the kernel's ephemeral range), and the check that a host port is free
 * (by binding it: a port taken by any process, not only by Berth, is refused).
 */
import { createServer } from 'node:net';
import { createSocket as createUdpSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { ConflictError, InvalidArgumentError } from '../util/errors.ts';
import { parseIP } from './ipam.ts';

/** One published port, resolved: what netavark gets (one entry per port; ranges are split). */
export interface PortMapping {
  /** `''` for every address (Docker shows `0.0.0.0`). */
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/** Splits `80/tcp` into its number and protocol (tcp when none is given). Throws InvalidArgumentError on others. */
export function parsePortKey(key: string): { port: number; protocol: 'tcp' | 'udp' | 'sctp' } {
  const [num, proto = 'tcp'] = key.split('/') as [string, string | undefined];
  const port = /^\d+$/.test(num) ? Number(num) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new InvalidArgumentError(`invalid port specification: "${key}"`);
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new InvalidArgumentError(`invalid proto: ${proto}`);
  return { port, protocol: proto };
}

/** A wanted binding before random ports are chosen: hostPort 0 means "any free port". */
export interface WantedPort {
  hostIp: string;
  hostPort: number;
  /** With a host range (`8000-8010:80`), its last port: the first free port of the range is taken. */
  hostPortEnd?: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/**
 * The bindings a container asks for: every `PortBindings` entry (a `HostPort` range `8000-8001` is spread over the
 * same number of container ports, as the CLI splits `-p 8000-8001:80-81`), and with `publishAll` every exposed port
 * not bound yet on a random host port. `defaultIp` stands for an empty `HostIp` (the daemon's `default-bind-address`).
 */
export function wantedPorts(
  bindings: Record<string, readonly { HostIp?: string; HostPort?: string }[] | null> | undefined,
  publishAll: boolean,
  exposed: readonly string[],
  defaultIp: string,
): WantedPort[] {
  const out: WantedPort[] = [];
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, protocol } = parsePortKey(key);
    for (const b of list?.length ? list : [{}]) {
      const hostIp = b.HostIp || defaultIp;
      if (hostIp && hostIp !== '0.0.0.0' && hostIp !== '::' && !parseIP(hostIp))
        throw new InvalidArgumentError(`invalid IP address: ${hostIp}`);
      const hp = b.HostPort ?? '';
      let hostPort = 0;
      let hostPortEnd: number | undefined;
      if (hp !== '') {
        const m = /^(\d+)(?:-(\d+))?$/.exec(hp);
        if (!m) throw new InvalidArgumentError(`invalid hostPort: ${hp}`);
        hostPort = Number(m[1]);
        if (m[2] !== undefined) hostPortEnd = Number(m[2]);
        if (
          !(hostPort >= 0 && hostPort <= 65535) ||
          (hostPortEnd !== undefined && !(hostPortEnd >= hostPort && hostPortEnd <= 65535))
        )
          throw new InvalidArgumentError(`invalid hostPort: ${hp}`);
      }
      out.push({
        hostIp: hostIp === '0.0.0.0' ? '' : hostIp,
        hostPort,
        ...(hostPortEnd !== undefined && hostPortEnd !== hostPort ? { hostPortEnd } : {}),
        containerPort: port,
        protocol,
      });
    }
  }
  if (publishAll) {
    for (const key of exposed) {
      if (bindings && key in bindings) continue;
      const { port, protocol } = parsePortKey(key);
      out.push({ hostIp: defaultIp === '0.0.0.0' ? '' : defaultIp, hostPort: 0, containerPort: port, protocol });
    }
  }
  return out;
}

/** The kernel's ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`), where random host ports come from. */
export async function ephemeralRange(): Promise<[number, number]> {
  try {
    const [lo, hi] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    if (lo && hi && lo <= hi) return [lo, hi];
  } catch {
    // fall through to Linux's default
  }
  return [32768, 60999];
}

/** Docker's message for a host port that is taken. */
export function portTaken(p: { hostIp: string; hostPort: number }): ConflictError {
  return new ConflictError(`Bind for ${p.hostIp || '0.0.0.0'}:${p.hostPort} failed: port is already allocated`);
}

/** Whether a host port can be bound right now (tries to bind it and lets go). */
export async function canBind(hostIp: string, port: number, protocol: 'tcp' | 'udp' | 'sctp'): Promise<boolean> {
  if (protocol === 'sctp') return true;
  const host = hostIp || '0.0.0.0';
  if (protocol === 'udp') {
    const sock = createUdpSocket(host.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve) => {
      sock.once('error', () => {
        sock.close();
        resolve(false);
      });
      sock.bind({ port, address: host, exclusive: true }, () => sock.close(() => resolve(true)));
    });
  }
  const srv = createServer();
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true, ipv6Only: host.includes(':') }, () => srv.close(() => resolve(true)));
  });
}

/** Whether two bindings would claim the same host socket (same port and protocol, and one address covers the other). */
export function clash(
  a: { hostIp: string; hostPort: number; protocol: string },
  b: { hostIp: string; hostPort: number; protocol: string },
): boolean {
  return (
    a.hostPort === b.hostPort &&
    a.protocol === b.protocol &&
    (a.hostIp === '' || b.hostIp === '' || a.hostIp === b.hostIp)
  );
}

/** Whether a fixed host port (or range) of `wanted` would claim a host socket that `held` has. */
export function contends(wanted: readonly WantedPort[], held: readonly PortMapping[]): boolean {
  return wanted.some(
    (w) =>
      w.hostPort !== 0 &&
      held.some(
        (p) =>
          p.hostPort >= w.hostPort &&
          p.hostPort <= (w.hostPortEnd ?? w.hostPort) &&
          clash({ ...w, hostPort: p.hostPort }, p),
      ),
  );
}

/**
 * Turns wanted bindings into mappings: a fixed port is refused when Berth holds it (`inUse`) or the kernel will not
 * bind it; a random port is the first free one of the ephemeral range from a rotating start.
 */
export async function resolvePorts(
  wanted: readonly WantedPort[],
  inUse: readonly PortMapping[],
  range: [number, number],
  start: number,
): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  const taken = (p: { hostIp: string; hostPort: number; protocol: string }) =>
    [...inUse, ...out].some((q) => clash(p, q));
  for (const w of wanted) {
    const { hostPortEnd, ...plain } = w;
    if (w.hostPort !== 0 && hostPortEnd !== undefined) {
      let found: PortMapping | undefined;
      for (let port = w.hostPort; port <= hostPortEnd && !found; port++) {
        const p = { ...plain, hostPort: port };
        if (!taken(p) && (await canBind(p.hostIp, port, p.protocol))) found = p;
      }
      if (!found) throw portTaken({ hostIp: w.hostIp, hostPort: hostPortEnd });
      out.push(found);
      continue;
    }
    if (w.hostPort !== 0) {
      const p = { ...plain };
      if (taken(p) || !(await canBind(p.hostIp, p.hostPort, p.protocol))) throw portTaken(p);
      out.push(p);
      continue;
    }
    const [lo, hi] = range;
    const n = hi - lo + 1;
    let found: PortMapping | undefined;
    for (let i = 0; i < n && !found; i++) {
      const port = lo + ((((start - lo + i) % n) + n) % n);
      const p = { ...plain, hostPort: port };
      if (!taken(p) && (await canBind(p.hostIp, port, p.protocol))) found = p;
    }
    if (!found) throw new ConflictError(`no free host port for ${w.containerPort}/${w.protocol} in ${lo}-${hi}`);
    out.push(found);
  }
  return out;
}
