import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { umount2, MNT_DETACH } from './libc.ts';
import {
  RtNetlink,
  addrBody,
  attr,
  bridgeLinkBody,
  defaultRouteBody,
  hairpinBody,
  ifinfomsg,
  inNetns,
  ipBytes,
  macBytes,
  newNetns,
  nlmsg,
  parseMessages,
  strAttr,
  vethLinkBody,
  RTM_NEWLINK,
} from './netlink.ts';

const exec = promisify(execFile);

test('attributes are length-prefixed and padded to 4 bytes', () => {
  assert.deepEqual([...attr(3, Buffer.from('ab'))], [6, 0, 3, 0, 0x61, 0x62, 0, 0]);
  assert.deepEqual([...strAttr(3, 'eth0')], [9, 0, 3, 0, 0x65, 0x74, 0x68, 0x30, 0, 0, 0, 0]);
});

test('nlmsghdr: total length, type, flags, sequence', () => {
  const m = nlmsg(RTM_NEWLINK, 0x605, 7, [ifinfomsg({ index: 5, flags: 1, change: 1 })]);
  assert.equal(m.length, 32);
  assert.equal(m.readUInt32LE(0), 32);
  assert.equal(m.readUInt16LE(4), 16);
  assert.equal(m.readUInt16LE(6), 0x605);
  assert.equal(m.readUInt32LE(8), 7);
  assert.equal(m.readInt32LE(20), 5, 'ifi_index');
  assert.equal(m.readUInt32LE(24), 1, 'ifi_flags');
  assert.equal(m.readUInt32LE(28), 1, 'ifi_change');
});

test('addresses: IPv4, IPv6 with ::, MAC; garbage refused', () => {
  assert.deepEqual([...ipBytes('10.201.3.4')], [10, 201, 3, 4]);
  assert.equal(ipBytes('fd00::1').toString('hex'), 'fd000000000000000000000000000001');
  assert.equal(ipBytes('::').toString('hex'), '0'.repeat(32));
  assert.equal(ipBytes('2001:db8:0:0:0:0:0:2').toString('hex'), '20010db8000000000000000000000002');
  assert.equal(macBytes('02:42:0a:c9:00:02').toString('hex'), '02420ac90002');
  assert.throws(() => ipBytes('10.1.2'), TypeError);
  assert.throws(() => ipBytes('1.2.3.256'), TypeError);
  assert.throws(() => macBytes('02:42'), TypeError);
});

test('a veth body nests kind, data and the peer with its namespace fd; a bridge body its kind', () => {
  const body = Buffer.concat(
    vethLinkBody({ host: 'vbx', master: 9, peer: 'eth1', nsFd: 33, mac: '02:42:00:00:00:01' }),
  );
  const hex = body.toString('hex');
  assert.ok(hex.includes(Buffer.from('veth\0').toString('hex')), 'kind veth');
  assert.ok(hex.includes(Buffer.from('eth1\0').toString('hex')), 'peer name');
  assert.ok(hex.includes('08001c0021000000'), 'IFLA_NET_NS_FD = 33');
  assert.ok(hex.includes('08000a0009000000'), 'IFLA_MASTER = 9');
  assert.ok(hex.includes('0a000100024200000001'), 'peer IFLA_ADDRESS');
  // IFLA_LINKINFO carries NLA_F_NESTED.
  assert.ok(hex.includes('1280'), 'nested linkinfo');
  const br = Buffer.concat(bridgeLinkBody('btlx', 1400)).toString('hex');
  assert.ok(br.includes(Buffer.from('bridge\0').toString('hex')));
  assert.ok(br.includes('0800040078050000'), 'IFLA_MTU 1400');
});

test('a hairpin body: the port by name, then linkinfo { slave kind "bridge", slave data { IFLA_BRPORT_MODE u8 } }', () => {
  const b = Buffer.concat(hairpinBody('vb1', true));
  const want = [
    ...Array(16).fill(0), // ifinfomsg: any family, index 0 (the name picks the link)
    8,
    0,
    3,
    0,
    0x76,
    0x62,
    0x31,
    0, // IFLA_IFNAME "vb1\0"
    28,
    0,
    18,
    0x80, // IFLA_LINKINFO | NLA_F_NESTED: 4 + 12 + 12 bytes
    11,
    0,
    4,
    0,
    0x62,
    0x72,
    0x69,
    0x64,
    0x67,
    0x65,
    0,
    0, // IFLA_INFO_SLAVE_KIND "bridge\0", padded
    12,
    0,
    5,
    0x80, // IFLA_INFO_SLAVE_DATA | NLA_F_NESTED
    5,
    0,
    4,
    0,
    1,
    0,
    0,
    0, // IFLA_BRPORT_MODE = 1, padded
  ];
  assert.deepEqual([...b], want);
  const off = Buffer.concat(hairpinBody('vb1', false));
  assert.equal(off.length, b.length);
  assert.equal(off[off.length - 4], 0, 'mode 0 turns it off');
});

test('address and default route bodies', () => {
  const a = Buffer.concat(addrBody(4, '10.201.0.2', 24));
  assert.deepEqual([...a.subarray(0, 8)], [2, 24, 0, 0, 4, 0, 0, 0]);
  assert.deepEqual([...a.subarray(8)], [8, 0, 2, 0, 10, 201, 0, 2, 8, 0, 1, 0, 10, 201, 0, 2]);
  const a6 = Buffer.concat(addrBody(4, 'fd00::2', 64));
  assert.deepEqual([...a6.subarray(0, 4)], [10, 64, 2, 0], 'AF_INET6, /64, IFA_F_NODAD');
  const r = Buffer.concat(defaultRouteBody(3, '10.201.0.1'));
  assert.deepEqual([...r.subarray(0, 12)], [2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]);
  assert.deepEqual([...r.subarray(12)], [8, 0, 5, 0, 10, 201, 0, 1, 8, 0, 4, 0, 3, 0, 0, 0]);
});

test('answers parse: an error code, and several messages in one receive', () => {
  const err = Buffer.alloc(36);
  err.writeUInt32LE(36, 0);
  err.writeUInt16LE(2, 4);
  err.writeUInt32LE(9, 8);
  err.writeInt32LE(-17, 16);
  const done = nlmsg(3, 0, 10, [Buffer.alloc(4)]);
  const ms = parseMessages(Buffer.concat([err, done]));
  assert.deepEqual(
    ms.map((m) => [m.type, m.seq, m.error]),
    [
      [2, 9, -17],
      [3, 10, undefined],
    ],
  );
});

test('against the kernel: a namespace, a bridge, a veth into it, address and route; all removed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-nl-'));
  const ns = join(dir, 'ns');
  const tag = randomBytes(3).toString('hex');
  const br = `btlnl${tag}`;
  const veth = `btlnv${tag}`;
  const host = new RtNetlink();
  try {
    await writeFile(ns, '');
    const inner = newNetns(ns, () => new RtNetlink());
    try {
      inner.setUp('lo');
      const index = host.addBridge(br);
      assert.equal(host.addBridge(br), index, 'an existing bridge is fine');
      host.addAddress(index, '10.201.254.1', 24);
      host.addAddress(index, '10.201.254.1', 24);
      const fd = openSync(ns, 'r');
      try {
        host.addVeth({ host: veth, master: index, peer: 'eth0', nsFd: fd, mac: '02:42:0a:c9:fe:02' });
      } finally {
        closeSync(fd);
      }
      assert.equal(host.linkIndex(`btlno${tag}`), undefined, 'no such link');
      assert.equal(
        inNetns(ns, () => {
          const s = new RtNetlink();
          try {
            return s.linkIndex('eth0');
          } finally {
            s.close();
          }
        }),
        inner.linkIndex('eth0'),
        'a socket opened inside the namespace sees its eth0',
      );
      const idx = inner.linkIndex('eth0')!;
      inner.setUp('eth0');
      inner.addAddress(idx, '10.201.254.2', 24);
      inner.addDefaultRoute(idx, '10.201.254.1');
      const { stdout } = await exec('nsenter', [
        `--net=${ns}`,
        'sh',
        '-c',
        'ip -o addr show eth0; ip route; ip -o link show eth0; busybox ping -c1 -W2 10.201.254.1',
      ]);
      assert.match(stdout, /inet 10\.201\.254\.2\/24/);
      assert.match(stdout, /default via 10\.201\.254\.1 dev eth0/);
      assert.match(stdout, /link\/ether 02:42:0a:c9:fe:02/);
      assert.match(stdout, /1 packets received/);
      assert.match((await exec('ip', ['-o', 'link', 'show', 'master', br])).stdout, new RegExp(veth));
      const hairpin = () => readFileSync(`/sys/class/net/${veth}/brport/hairpin_mode`, 'utf8').trim();
      assert.equal(hairpin(), '0', 'a new bridge port has hairpin mode off');
      host.setHairpin(veth);
      assert.equal(hairpin(), '1', 'hairpin mode on through netlink');
      host.setHairpin(veth, false);
      assert.equal(hairpin(), '0', 'and off again');
    } finally {
      inner.close();
    }
    assert.equal(host.deleteLink(veth), true);
    assert.equal(host.deleteLink(veth), false, 'a link that is gone is fine');
    host.deleteLink(br);
    assert.equal(host.linkIndex(br), undefined);
  } finally {
    host.deleteLink(veth);
    host.deleteLink(br);
    host.close();
    try {
      umount2(ns, MNT_DETACH);
    } catch {
      // not mounted
    }
    await rm(dir, { recursive: true, force: true });
  }
  assert.doesNotMatch((await exec('ip', ['-o', 'link'])).stdout, new RegExp(tag));
});
