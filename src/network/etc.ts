/**
 * A container's /etc/hosts and /etc/resolv.conf, as Docker writes them. Pure: the caller reads the host's files
 * and writes the results into the container's directory.
 */

const DEFAULT_HOSTS = [
  ['127.0.0.1', 'localhost'],
  ['::1', 'localhost ip6-localhost ip6-loopback'],
  ['fe00::0', 'ip6-localnet'],
  ['ff00::0', 'ip6-mcastprefix'],
  ['ff02::1', 'ip6-allnodes'],
  ['ff02::2', 'ip6-allrouters'],
] as const;

/**
 * /etc/hosts: Docker's default lines, then each `--add-host name:ip` (`host-gateway` already replaced by the
 * caller), then the container's own addresses with its hostname (and `hostname.domainname` first when set).
 */
export function buildHosts(opts: {
  hostname: string;
  domainname?: string;
  addresses: readonly string[];
  extraHosts: readonly string[];
}): string {
  let out = DEFAULT_HOSTS.map(([ip, names]) => `${ip}\t${names}\n`).join('');
  for (const e of opts.extraHosts) {
    const [name, ip] = splitExtraHost(e);
    out += `${ip}\t${name}\n`;
  }
  return addHostsEntries(out, opts.addresses, hostNames(opts.hostname, opts.domainname));
}

/** The names on a container's own /etc/hosts lines: `hostname.domainname hostname`, or the hostname alone. */
export function hostNames(hostname: string, domainname?: string): string {
  return domainname ? `${hostname}.${domainname} ${hostname}` : hostname;
}

/**
 * Appends a line `ADDRESS\tNAMES` for each address that has none yet (Docker's /etc/hosts gets one for each
 * network a container joins, at start and at `network connect`). Lines already there, the user's too, are kept.
 */
export function addHostsEntries(text: string, addresses: readonly string[], names: string): string {
  let out = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  const have = new Set(out.split('\n').map(entryKey));
  for (const a of addresses) {
    const line = `${a}\t${names}`;
    if (have.has(entryKey(line))) continue;
    have.add(entryKey(line));
    out += `${line}\n`;
  }
  return out;
}

/**
 * Removes the lines `addHostsEntries` added for `addresses` (the same address with the same names; other lines for
 * that address, such as an `--add-host`, stay): `network disconnect` takes the network's address away.
 */
export function removeHostsEntries(text: string, addresses: readonly string[], names: string): string {
  const gone = new Set(addresses.map((a) => entryKey(`${a}\t${names}`)));
  const lines = text.split('\n');
  const last = lines.pop();
  const kept = lines.filter((l) => !gone.has(entryKey(l)));
  return kept.map((l) => `${l}\n`).join('') + (last ?? '');
}

/** A hosts line compared by its fields (tabs or spaces alike); comments and blank lines never match an entry. */
function entryKey(line: string): string {
  const t = line.trim();
  return t === '' || t.startsWith('#') ? `#${line}` : t.split(/\s+/).join(' ');
}

/** Splits `name:ip` (or `name=ip`, docker 28); the IP may hold colons (IPv6) and may be bracketed. */
export function splitExtraHost(e: string): [string, string] {
  const eq = e.indexOf('=');
  const colon = e.indexOf(':');
  const i = eq > 0 && (colon < 0 || eq < colon) ? eq : colon;
  if (i <= 0) return [e, ''];
  return [e.slice(0, i), e.slice(i + 1).replace(/^\[(.*)\]$/, '$1')];
}

/**
 * /etc/resolv.conf. With `nameservers` given (the network's DNS server, aardvark-dns on the gateway, or
 * `--dns`), those replace the host's; otherwise the host's are kept minus loopback ones (unreachable from a
 * container's namespace) — if none remain, there is none. `--dns-search` and `--dns-option` replace the host's
 * `search`/`options` lines; other lines of the host file are kept.
 */
export function buildResolvConf(
  host: string,
  opts: { nameservers?: readonly string[]; search?: readonly string[]; options?: readonly string[] },
): string {
  const lines = host.split('\n');
  const kept: string[] = [];
  const hostServers: string[] = [];
  let search: string[] = [];
  let options: string[] = [];
  for (const l of lines) {
    const t = l.trim();
    const m = /^(nameserver|search|domain|options)\s+(.*)$/.exec(t);
    if (!m) {
      if (t !== '' && !t.startsWith('#') && !t.startsWith(';')) kept.push(t);
      continue;
    }
    const value = m[2]!.trim();
    if (m[1] === 'nameserver') {
      if (!/^(127\.|::1$|0:0:0:0:0:0:0:1$)/.test(value)) hostServers.push(value);
    } else if (m[1] === 'search' || m[1] === 'domain') search = value.split(/\s+/);
    else options = value.split(/\s+/);
  }
  const servers = opts.nameservers?.length ? [...opts.nameservers] : hostServers;
  if (opts.search?.length) search = opts.search.filter((s) => s !== '.');
  if (opts.options?.length) options = [...opts.options];
  let out = '';
  if (search.length) out += `search ${search.join(' ')}\n`;
  for (const s of servers) out += `nameserver ${s}\n`;
  if (options.length) out += `options ${options.join(' ')}\n`;
  for (const k of kept) out += `${k}\n`;
  return out;
}
