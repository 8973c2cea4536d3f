/**
 * Which requests go through a proxy: the rule dockerd follows for HTTP_PROXY, HTTPS_PROXY and NO_PROXY (Go's
 * net/http, golang.org/x/net/http/httpproxy). One function for the registry client's connections
 * (distribution/remote/transport.ts) and for the threads' own downloads, which take no proxy and leave a host that
 * would go through one to the registry client (util/blob-fetch.ts, distribution/remote/blob.ts).
 */
import { BlockList, isIP } from 'node:net';

/** Proxies, as the daemon reads them from HTTP_PROXY, HTTPS_PROXY and NO_PROXY. */
export interface ProxySettings {
  http?: string | undefined;
  https?: string | undefined;
  noProxy?: string | undefined;
}

/**
 * The proxy a request to `url` goes through (`https` for an https URL, `http` for an http one), or undefined when
 * it goes direct: always for loopback (localhost, 127.0.0.0/8, ::1), and for a host NO_PROXY names. NO_PROXY is a
 * comma list of: `*`, every host; an IP (`10.1.2.3`, `::1`, optionally `:port`, IPv6 in brackets then) or a CIDR
 * (`10.0.0.0/8`, `fd00::/8`), matching a host that is that IP; `name[:port]`, matching the name and every name under
 * it (`example.com`: `registry.example.com` too); `.name[:port]` or `*.name[:port]`, matching only the names under
 * it. With a port, only that port (a URL without one has its scheme's).
 */
export function proxyFor(url: URL, proxy: ProxySettings | undefined): string | undefined {
  const via = url.protocol === 'https:' ? proxy?.https : url.protocol === 'http:' ? proxy?.http : undefined;
  if (!via) return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (host === 'localhost' || isLoopback(host)) return undefined;
  for (const raw of (proxy?.noProxy ?? '').split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry !== '' && matches(entry, host, port)) return undefined;
  }
  return via;
}

function family(ip: string): 'ipv4' | 'ipv6' | undefined {
  const v = isIP(ip);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

function isLoopback(host: string): boolean {
  const f = family(host);
  if (f === 'ipv4') return host.startsWith('127.');
  return f === 'ipv6' && inSubnet(host, '::1', 128);
}

function inSubnet(ip: string, net: string, prefix: number): boolean {
  const f = family(ip);
  if (f === undefined || f !== family(net)) return false;
  const list = new BlockList();
  list.addSubnet(net, prefix, f);
  return list.check(ip, f);
}

/** Whether one NO_PROXY entry (trimmed, lower case) names `host` (brackets off, lower case) at `port`. */
function matches(entry: string, host: string, port: string): boolean {
  if (entry === '*') return true;
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(entry);
  if (cidr) {
    const f = family(cidr[1]!);
    const bits = Number(cidr[2]);
    return f !== undefined && bits <= (f === 'ipv4' ? 32 : 128) && inSubnet(host, cidr[1]!, bits);
  }
  // `[v6]:port`, `v4:port` or `name:port`; a bare IPv6 address has more than one colon and no port.
  let name = entry;
  let want = '';
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    name = bracketed[1]!;
    want = bracketed[2] ?? '';
  } else if (isIP(entry) !== 6) {
    const at = entry.lastIndexOf(':');
    if (at >= 0) {
      name = entry.slice(0, at);
      want = entry.slice(at + 1);
    }
  }
  if (name === '' || (want !== '' && want !== port)) return false;
  if (isIP(name)) return isIP(host) !== 0 && inSubnet(host, name, isIP(name) === 4 ? 32 : 128);
  if (name.startsWith('*.')) name = name.slice(1);
  if (name.startsWith('.')) return host.endsWith(name);
  return host === name || host.endsWith(`.${name}`);
}
