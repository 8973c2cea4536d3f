import { koffi, libcFunctions } from './koffi.ts';
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import { errnoError, type SystemError } from './libc.ts';

/**
 * rtnetlink (NETLINK_ROUTE) through koffi: the message encoding (pure functions, unit-tested byte by byte), a
 * blocking request/acknowledge socket, and the few link/address/route operations a bridge network needs
 * (bridge, veth pair with its peer created straight into another network namespace, address, default route,
 * link up, link delete). Also the namespace calls around it: a new network namespace bound at a file, and running
 * a synchronous function inside another network namespace. Everything is synchronous: each request is one short
 * exchange with the kernel, and a thread's namespace may only be switched while no other JS runs on it.
 */

const load = libcFunctions({
  socket: 'int socket(int domain, int type, int protocol)',
  bind: 'int bind(int fd, const void *addr, uint32_t len)',
  send: 'long send(int fd, const void *buf, size_t len, int flags)',
  recv: 'long recv(int fd, void *buf, size_t len, int flags)',
  close: 'int close(int fd)',
  unshare: 'int unshare(int flags)',
  setns: 'int setns(int fd, int nstype)',
  mount: 'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
});

// ------------------------------------------------------------------ constants (linux/netlink.h, rtnetlink.h, if_link.h)

export const AF_INET = 2;
export const AF_INET6 = 10;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const CLONE_NEWNET = 0x40000000;
const MS_BIND = 0x1000;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;

export const IFF_UP = 0x1;
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_MASTER = 10;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_FD = 28;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_INFO_SLAVE_KIND = 4;
export const IFLA_INFO_SLAVE_DATA = 5;
/** linux/if_link.h, the bridge port attributes (inside IFLA_INFO_SLAVE_DATA): `mode` is hairpin. */
export const IFLA_BRPORT_MODE = 4;
export const VETH_INFO_PEER = 1;
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_F_NODAD = 0x02;
export const RTA_GATEWAY = 5;
export const RTA_OIF = 4;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;
const NLA_F_NESTED = 0x8000;

// ------------------------------------------------------------------ encoding (pure)

const align4 = (n: number) => (n + 3) & ~3;

/** One netlink attribute (type, payload), padded to 4 bytes. */
export function attr(type: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(align4(4 + payload.length));
  b.writeUInt16LE(4 + payload.length, 0);
  b.writeUInt16LE(type, 2);
  b.set(payload, 4);
  return b;
}

/** A nested attribute holding `children`. */
export function nested(type: number, children: Uint8Array[]): Buffer {
  return attr(type | NLA_F_NESTED, Buffer.concat(children));
}

/** A NUL-terminated string attribute (interface names, link kinds). */
export function strAttr(type: number, s: string): Buffer {
  return attr(type, Buffer.from(`${s}\0`));
}

/** A native-endian u32 attribute (indexes, MTU, file descriptors). */
export function u32Attr(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return attr(type, b);
}

/** A u8 attribute (flags such as a bridge port's hairpin mode). */
export function u8Attr(type: number, v: number): Buffer {
  return attr(type, Buffer.from([v & 0xff]));
}

/** `struct ifinfomsg` (16 bytes). */
export function ifinfomsg(
  o: { family?: number; type?: number; index?: number; flags?: number; change?: number } = {},
): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(o.family ?? 0, 0);
  b.writeUInt16LE(o.type ?? 0, 2);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE((o.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((o.change ?? 0) >>> 0, 12);
  return b;
}

/** `struct ifaddrmsg` (8 bytes). */
export function ifaddrmsg(o: {
  family: number;
  prefixlen: number;
  flags?: number;
  scope?: number;
  index: number;
}): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(o.family, 0);
  b.writeUInt8(o.prefixlen, 1);
  b.writeUInt8(o.flags ?? 0, 2);
  b.writeUInt8(o.scope ?? 0, 3);
  b.writeUInt32LE(o.index, 4);
  return b;
}

/** `struct rtmsg` (12 bytes) for a unicast route in the main table. */
export function rtmsg(o: { family: number; dstLen: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(o.family, 0);
  b.writeUInt8(o.dstLen, 1);
  b.writeUInt8(RT_TABLE_MAIN, 4);
  b.writeUInt8(RTPROT_BOOT, 5);
  b.writeUInt8(0, 6); // RT_SCOPE_UNIVERSE
  b.writeUInt8(RTN_UNICAST, 7);
  return b;
}

/** A whole netlink message: `struct nlmsghdr` (16 bytes, pid 0) then the body. */
export function nlmsg(type: number, flags: number, seq: number, body: Uint8Array[]): Buffer {
  const payload = Buffer.concat(body);
  const b = Buffer.alloc(16 + payload.length);
  b.writeUInt32LE(16 + payload.length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b.writeUInt32LE(0, 12);
  payload.copy(b, 16);
  return b;
}

/** An IPv4 or IPv6 address in network byte order (4 or 16 bytes). Throws TypeError on anything else. */
export function ipBytes(ip: string): Buffer {
  if (ip.includes(':')) {
    const [head = '', tail = ''] = ip.split('::') as [string, string?];
    const h = head ? head.split(':') : [];
    const t = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
    const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g)))
      throw new TypeError(`not an IP address: ${ip}`);
    const b = Buffer.alloc(16);
    for (const [i, g] of groups.entries()) b.writeUInt16BE(parseInt(g, 16), i * 2);
    return b;
  }
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255))
    throw new TypeError(`not an IP address: ${ip}`);
  return Buffer.from(parts.map(Number));
}

/** A MAC address `02:42:0a:41:00:02` as 6 bytes. */
export function macBytes(mac: string): Buffer {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) throw new TypeError(`not a MAC address: ${mac}`);
  return Buffer.from(mac.split(':').map((x) => parseInt(x, 16)));
}

/** The body of RTM_NEWLINK for a bridge named `name`, up. */
export function bridgeLinkBody(name: string, mtu?: number): Buffer[] {
  return [
    ifinfomsg({ flags: IFF_UP, change: IFF_UP }),
    strAttr(IFLA_IFNAME, name),
    ...(mtu ? [u32Attr(IFLA_MTU, mtu)] : []),
    nested(IFLA_LINKINFO, [strAttr(IFLA_INFO_KIND, 'bridge')]),
  ];
}

/**
 * The body of RTM_NEWLINK for a veth pair: `host` (up, enslaved to `master`) here, and its peer `peer` (down, with
 * `mac`) created directly in the network namespace `nsFd` refers to.
 */
export function vethLinkBody(o: {
  host: string;
  master: number;
  peer: string;
  nsFd: number;
  mac?: string;
  mtu?: number;
}): Buffer[] {
  // The peer cannot be set up here (veth_open answers ENOTCONN until the pair is linked): set it up afterwards.
  const peer = [
    ifinfomsg(),
    strAttr(IFLA_IFNAME, o.peer),
    u32Attr(IFLA_NET_NS_FD, o.nsFd),
    ...(o.mac ? [attr(IFLA_ADDRESS, macBytes(o.mac))] : []),
    ...(o.mtu ? [u32Attr(IFLA_MTU, o.mtu)] : []),
  ];
  return [
    ifinfomsg({ flags: IFF_UP, change: IFF_UP }),
    strAttr(IFLA_IFNAME, o.host),
    u32Attr(IFLA_MASTER, o.master),
    ...(o.mtu ? [u32Attr(IFLA_MTU, o.mtu)] : []),
    nested(IFLA_LINKINFO, [
      strAttr(IFLA_INFO_KIND, 'veth'),
      nested(IFLA_INFO_DATA, [attr(VETH_INFO_PEER, Buffer.concat(peer))]),
    ]),
  ];
}

/**
 * The body of RTM_NEWLINK that turns hairpin mode on (or off) on bridge port `name` (what `ip link set NAME type
 * bridge_slave hairpin on` sends): the bridge may then send a frame back out of the port it came in on, which a
 * container reaching its own published port through the host needs when br_netfilter re-bridges the DNAT'd packet.
 */
export function hairpinBody(name: string, on: boolean): Buffer[] {
  return [
    ifinfomsg(),
    strAttr(IFLA_IFNAME, name),
    nested(IFLA_LINKINFO, [
      strAttr(IFLA_INFO_SLAVE_KIND, 'bridge'),
      nested(IFLA_INFO_SLAVE_DATA, [u8Attr(IFLA_BRPORT_MODE, on ? 1 : 0)]),
    ]),
  ];
}

/** The body of RTM_NEWADDR: `ip/prefix` on interface `index` (IPv6 without duplicate address detection). */
export function addrBody(index: number, ip: string, prefix: number): Buffer[] {
  const v6 = ip.includes(':');
  const a = ipBytes(ip);
  return [
    ifaddrmsg({ family: v6 ? AF_INET6 : AF_INET, prefixlen: prefix, flags: v6 ? IFA_F_NODAD : 0, index }),
    attr(IFA_LOCAL, a),
    attr(IFA_ADDRESS, a),
  ];
}

/** The body of RTM_NEWROUTE for a default route via `gateway` out of interface `index`. */
export function defaultRouteBody(index: number, gateway: string): Buffer[] {
  const v6 = gateway.includes(':');
  return [
    rtmsg({ family: v6 ? AF_INET6 : AF_INET, dstLen: 0 }),
    attr(RTA_GATEWAY, ipBytes(gateway)),
    u32Attr(RTA_OIF, index),
  ];
}

/** Reads the messages of one receive: type, sequence number, and for NLMSG_ERROR the (negative) error code. */
export function parseMessages(buf: Buffer): { type: number; seq: number; error?: number; body: Buffer }[] {
  const out: { type: number; seq: number; error?: number; body: Buffer }[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 4);
    const seq = buf.readUInt32LE(off + 8);
    const body = buf.subarray(off + 16, off + len);
    out.push(type === NLMSG_ERROR ? { type, seq, error: body.readInt32LE(0), body } : { type, seq, body });
    off += align4(len);
  }
  return out;
}

// ------------------------------------------------------------------ the socket

/**
 * A NETLINK_ROUTE socket in the network namespace of the thread that opened it (it stays there when the thread
 * moves). `request` sends one message with NLM_F_ACK and blocks for its answer (the kernel answers at once).
 */
export class RtNetlink {
  readonly #fd: number;
  #seq = 1;
  readonly #buf = Buffer.alloc(65536);

  constructor() {
    const c = load();
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) as number;
    if (fd < 0) throw errnoError(koffi().errno(), 'socket', 'NETLINK_ROUTE');
    const addr = Buffer.alloc(12);
    addr.writeUInt16LE(AF_NETLINK, 0);
    if (c.bind(fd, addr, addr.length) !== 0) {
      const e = errnoError(koffi().errno(), 'bind', 'NETLINK_ROUTE');
      c.close(fd);
      throw e;
    }
    this.#fd = fd;
  }

  /**
   * Sends one request and waits for its acknowledgement; answers that come before it (RTM_GETLINK's) are
   * returned. A kernel error is a SystemError naming `what`; `ok` lists error codes to take as success (EEXIST).
   */
  request(type: number, flags: number, body: Buffer[], what: string, ok: readonly string[] = []): Buffer[] {
    const c = load();
    const seq = this.#seq++;
    const msg = nlmsg(type, flags | NLM_F_REQUEST | NLM_F_ACK, seq, body);
    if (c.send(this.#fd, msg, msg.length, 0) < 0) throw errnoError(koffi().errno(), 'send', what);
    const answers: Buffer[] = [];
    for (;;) {
      const n = c.recv(this.#fd, this.#buf, this.#buf.length, 0) as number;
      if (n < 0) throw errnoError(koffi().errno(), 'recv', what);
      for (const m of parseMessages(Buffer.from(this.#buf.subarray(0, n)))) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          if (m.error === 0) return answers;
          const e = errnoError(-m.error!, 'netlink', what);
          if (ok.includes(e.code)) return answers;
          throw e;
        }
        if (m.type === NLMSG_DONE) return answers;
        answers.push(m.body);
      }
    }
  }

  /** The index of interface `name` in this socket's namespace; undefined when there is none. */
  linkIndex(name: string): number | undefined {
    try {
      const [body] = this.request(RTM_GETLINK, 0, [ifinfomsg(), strAttr(IFLA_IFNAME, name)], `link ${name}`);
      return body ? body.readInt32LE(4) : undefined;
    } catch (err) {
      if ((err as SystemError).code === 'ENODEV') return undefined;
      throw err;
    }
  }

  /** Creates a bridge (up); one that exists already is fine. Returns its index. */
  addBridge(name: string, mtu?: number): number {
    this.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, bridgeLinkBody(name, mtu), `add bridge ${name}`, ['EEXIST']);
    this.setUp(name);
    const index = this.linkIndex(name);
    if (index === undefined) throw errnoError(19, 'netlink', `bridge ${name} vanished`);
    return index;
  }

  /** Creates a veth pair, see `vethLinkBody`. */
  addVeth(o: Parameters<typeof vethLinkBody>[0]): void {
    this.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, vethLinkBody(o), `add veth ${o.host}`);
  }

  /** Sets interface `name` up. */
  setUp(name: string): void {
    this.request(
      RTM_NEWLINK,
      0,
      [ifinfomsg({ flags: IFF_UP, change: IFF_UP }), strAttr(IFLA_IFNAME, name)],
      `set ${name} up`,
    );
  }

  /** Sets hairpin mode of bridge port `name` (an interface enslaved to a bridge), see `hairpinBody`. */
  setHairpin(name: string, on = true): void {
    this.request(RTM_NEWLINK, 0, hairpinBody(name, on), `set hairpin ${on ? 'on' : 'off'} on ${name}`);
  }

  /** Adds `ip/prefix` to interface `index`; an address that is there already is fine. */
  addAddress(index: number, ip: string, prefix: number): void {
    this.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, addrBody(index, ip, prefix), `add address ${ip}/${prefix}`, [
      'EEXIST',
    ]);
  }

  /** Adds the default route via `gateway` out of interface `index`. */
  addDefaultRoute(index: number, gateway: string): void {
    this.request(
      RTM_NEWROUTE,
      NLM_F_CREATE | NLM_F_EXCL,
      defaultRouteBody(index, gateway),
      `add default route via ${gateway}`,
      ['EEXIST'],
    );
  }

  /** Deletes interface `name` (a veth takes its peer along); one that is gone is fine. Returns whether it existed. */
  deleteLink(name: string): boolean {
    let existed = true;
    try {
      this.request(RTM_DELLINK, 0, [ifinfomsg(), strAttr(IFLA_IFNAME, name)], `delete link ${name}`);
    } catch (err) {
      if ((err as SystemError).code !== 'ENODEV') throw err;
      existed = false;
    }
    return existed;
  }

  close(): void {
    load().close(this.#fd);
  }
}

// ------------------------------------------------------------------ namespaces

/**
 * Runs `fn` with the calling thread in the network namespace bound at `path`, and moves it back before returning
 * (also when `fn` throws). `fn` must be synchronous: nothing else may run on this thread meanwhile.
 */
export function inNetns<T>(path: string, fn: () => T): T {
  const c = load();
  const self = openSync('/proc/thread-self/ns/net', fsConstants.O_RDONLY);
  try {
    const target = openSync(path, fsConstants.O_RDONLY);
    try {
      if (c.setns(target, CLONE_NEWNET) !== 0) throw errnoError(koffi().errno(), 'setns', path);
    } finally {
      closeSync(target);
    }
    try {
      return fn();
    } finally {
      backToDaemonNetns(c, self);
    }
  } finally {
    closeSync(self);
  }
}

/**
 * Moves the thread back to the daemon's network namespace. Failing that, the process stops at once: a daemon
 * whose main thread stayed in a container's namespace would open every later socket there.
 */
function backToDaemonNetns(c: ReturnType<typeof load>, self: number): void {
  if (c.setns(self, CLONE_NEWNET) === 0) return;
  const err = errnoError(koffi().errno(), 'setns', 'back to the daemon namespace');
  process.stderr.write(`berthd: fatal: ${err.message}\n`);
  process.abort();
}

/**
 * Creates a new network namespace and binds it at `path` (an existing empty file), then runs `fn` inside it (for
 * example to open a netlink socket there) and moves the thread back. The same as `unshare --net=PATH` without a
 * child process.
 */
export function newNetns<T>(path: string, fn: () => T): T {
  const c = load();
  const self = openSync('/proc/thread-self/ns/net', fsConstants.O_RDONLY);
  try {
    if (c.unshare(CLONE_NEWNET) !== 0) throw errnoError(koffi().errno(), 'unshare', path);
    try {
      if (c.mount('/proc/thread-self/ns/net', path, null, MS_BIND, null) !== 0)
        throw errnoError(koffi().errno(), 'mount', path);
      return fn();
    } finally {
      backToDaemonNetns(c, self);
    }
  } finally {
    closeSync(self);
  }
}
