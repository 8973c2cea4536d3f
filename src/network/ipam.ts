/**
 * Address arithmetic for IPAM: parsing CIDRs (IPv4 and IPv6) into bigint ranges, overlap tests, choosing a free
 * subnet from a pool and the next free address of a subnet. Pure: callers pass in what is taken.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ConflictError, InvalidArgumentError } from '../util/errors.ts';

/** A parsed CIDR: the network address (host bits cleared), its prefix length and family. */
export interface Cidr {
  family: 4 | 6;
  /** Network address as a number (host bits zero). */
  base: bigint;
  prefix: number;
}

const bits = (family: 4 | 6): number => (family === 4 ? 32 : 128);

/** Parses one address, or undefined when it is none. */
export function parseIP(s: string): { family: 4 | 6; value: bigint } | undefined {
  if (isIPv4(s)) return { family: 4, value: s.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n) };
  if (isIPv6(s)) {
    let text = s;
    // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const n = parseIP(v4[1]!)!.value;
      text = `${text.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
    }
    const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
  }
  return undefined;
}

/** The text form of an address (IPv6 compressed as RFC 5952). */
export function formatIP(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // Longest run of zero groups (length ≥ 2) becomes '::'.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Parses `a.b.c.d/n` (or IPv6); host bits are cleared as Docker does. Throws InvalidArgumentError with `what` in the message. */
export function parseCidr(s: string, what = 'subnet'): Cidr {
  const slash = s.indexOf('/');
  const ip = slash > 0 ? parseIP(s.slice(0, slash)) : undefined;
  const prefixText = slash > 0 ? s.slice(slash + 1) : '';
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!ip || !(prefix >= 0 && prefix <= bits(ip.family)))
    throw new InvalidArgumentError(`invalid ${what} ${s} : invalid CIDR address: ${s}`);
  return { family: ip.family, base: ip.value & mask(ip.family, prefix), prefix };
}

function mask(family: 4 | 6, prefix: number): bigint {
  const total = BigInt(bits(family));
  const all = (1n << total) - 1n;
  return all ^ ((1n << (total - BigInt(prefix))) - 1n);
}

/** `base/prefix` text. */
export function formatCidr(c: Cidr): string {
  return `${formatIP(c.family, c.base)}/${c.prefix}`;
}

/** Number of addresses in the CIDR. */
export function size(c: Cidr): bigint {
  return 1n << BigInt(bits(c.family) - c.prefix);
}

/** Whether the address lies inside the CIDR. */
export function contains(c: Cidr, family: 4 | 6, value: bigint): boolean {
  return family === c.family && value >= c.base && value < c.base + size(c);
}

/** Whether two CIDRs share an address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** One address pool: carve subnets of `size` bits of prefix out of `base` (Docker's `default-address-pools`). */
export interface Pool {
  base: string;
  size: number;
}

/**
 * The first subnet of a pool that overlaps none of `taken` (existing networks, host routes). Throws ConflictError
 * "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
 * (Docker's message) when every pool is full.
 */
export function chooseSubnet(pools: readonly Pool[], taken: readonly Cidr[]): Cidr {
  for (const p of pools) {
    const base = parseCidr(p.base, 'address pool');
    if (p.size < base.prefix || p.size > bits(base.family)) continue;
    const step = 1n << BigInt(bits(base.family) - p.size);
    for (let v = base.base; v < base.base + size(base); v += step) {
      const cand: Cidr = { family: base.family, base: v, prefix: p.size };
      if (!taken.some((t) => overlaps(t, cand))) return cand;
    }
  }
  throw new ConflictError(
    'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
  );
}

/**
 * The next free address for an endpoint in `subnet`, restricted to `range` when given: skips the network address,
 * the IPv4 broadcast address and everything in `used` (gateway included by the caller). Returns undefined when full.
 */
export function nextFree(subnet: Cidr, used: ReadonlySet<bigint>, range?: Cidr): bigint | undefined {
  const lo = range ? range.base : subnet.base;
  const hi = range ? range.base + size(range) : subnet.base + size(subnet);
  const first = subnet.base;
  const last = subnet.base + size(subnet) - 1n;
  for (let v = lo; v < hi; v++) {
    if (v === first && subnet.prefix < bits(subnet.family) - 1) continue;
    if (subnet.family === 4 && v === last && subnet.prefix < 31) continue;
    if (!used.has(v)) return v;
  }
  return undefined;
}

/** The first usable address of a subnet: Docker's default gateway. */
export function firstHost(c: Cidr): bigint {
  return c.prefix >= bits(c.family) - 1 ? c.base : c.base + 1n;
}
