import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  afterPurge,
  hooksChange,
  merge,
  networkChange,
  parseSave,
  portsChange,
  purgeChange,
  removeNetworkChange,
  removePortsChange,
  restoreText,
  unhookChange,
} from './firewall.ts';
import { dnsFile, dnsQuery, parseDnsFile } from './dns.ts';

const ID = 'abcdef0123456789'.repeat(4);
const CID = '0123456789abcdef'.repeat(4);
const net = { id: ID, bridge: 'btl0', subnets: ['10.201.5.0/24'], internal: false };

test('restore text: only the tables touched, each committed', () => {
  assert.equal(restoreText({ filter: [], nat: ['-A X -j Y'] }), '*nat\n-A X -j Y\nCOMMIT\n');
  assert.equal(
    restoreText(merge({ filter: ['-N A'], nat: [] }, { filter: ['-N B'], nat: ['-N C'] })),
    '*filter\n-N A\n-N B\nCOMMIT\n*nat\n-N C\nCOMMIT\n',
  );
  assert.equal(restoreText({ filter: [], nat: [] }), '');
});

test('a network: its own chains, masquerade, forward, isolation, hairpin, 127.0.0.1; and exactly undone', () => {
  const c = networkChange(net, 4);
  assert.deepEqual(c.filter, [
    ':BERTH-F-abcdef012345 - [0:0]',
    '-A BERTH-F-abcdef012345 -o btl0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A BERTH-F-abcdef012345 -i btl0 -o btl0 -j ACCEPT',
    '-A BERTH-F-abcdef012345 -i btl0 ! -o btl0 -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT -j BERTH-ISOLATION',
    '-A BERTH-F-abcdef012345 -i btl0 ! -o btl0 -j ACCEPT',
    '-A BERTH-F-abcdef012345 -o btl0 -m conntrack --ctstate DNAT -j ACCEPT',
    '-A BERTH-ISOLATION -o btl0 -j DROP',
    '-A BERTH-FORWARD -j BERTH-F-abcdef012345',
  ]);
  assert.deepEqual(c.nat, [
    ':BERTH-N-abcdef012345 - [0:0]',
    '-A BERTH-N-abcdef012345 -s 10.201.5.0/24 ! -d 10.201.5.0/24 -j MASQUERADE',
    '-A BERTH-N-abcdef012345 -s 127.0.0.0/8 -o btl0 -j MASQUERADE',
    '-A BERTH-N-abcdef012345 -s 10.201.5.0/24 -o btl0 -m conntrack --ctstate DNAT -j MASQUERADE',
    '-A BERTH-POSTROUTING -j BERTH-N-abcdef012345',
  ]);
  const internal = networkChange({ ...net, internal: true }, 4);
  assert.ok(internal.filter.includes('-A BERTH-F-abcdef012345 -i btl0 -j DROP'));
  assert.deepEqual(
    internal.nat,
    [':BERTH-N-abcdef012345 - [0:0]', '-A BERTH-POSTROUTING -j BERTH-N-abcdef012345'],
    'no masquerade for --internal',
  );
  assert.ok(!networkChange({ ...net, subnets: ['fd00::/64'] }, 6).nat.some((l) => l.includes('127.0.0.0/8')));
  const undo = removeNetworkChange(net);
  assert.deepEqual(undo.filter, [
    '-D BERTH-FORWARD -j BERTH-F-abcdef012345',
    '-D BERTH-ISOLATION -o btl0 -j DROP',
    '-F BERTH-F-abcdef012345',
    '-X BERTH-F-abcdef012345',
  ]);
  assert.deepEqual(undo.nat, [
    '-D BERTH-POSTROUTING -j BERTH-N-abcdef012345',
    '-F BERTH-N-abcdef012345',
    '-X BERTH-N-abcdef012345',
  ]);
});

test('published ports: one DNAT chain per container, jumped to from BERTH-DNAT', () => {
  const c = portsChange(CID, [
    { hostIp: '', hostPort: 8080, protocol: 'tcp', containerIp: '10.201.5.2', containerPort: 80 },
    { hostIp: '127.0.0.1', hostPort: 5353, protocol: 'udp', containerIp: '10.201.5.2', containerPort: 53 },
  ]);
  assert.deepEqual(c.nat, [
    ':BERTH-D-0123456789ab - [0:0]',
    '-A BERTH-D-0123456789ab -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.201.5.2:80',
    '-A BERTH-D-0123456789ab -d 127.0.0.1 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.201.5.2:53',
    '-A BERTH-DNAT -j BERTH-D-0123456789ab',
  ]);
  assert.match(
    portsChange(CID, [{ hostIp: '', hostPort: 1, protocol: 'tcp', containerIp: 'fd00::2', containerPort: 2 }]).nat[1]!,
    /--to-destination \[fd00::2\]:2$/,
  );
  assert.deepEqual(portsChange(CID, []), { filter: [], nat: [] });
  assert.deepEqual(removePortsChange(CID).nat, [
    '-D BERTH-DNAT -j BERTH-D-0123456789ab',
    '-F BERTH-D-0123456789ab',
    '-X BERTH-D-0123456789ab',
  ]);
});

test('hooks: only what is missing is added (shared chains with -N, never flushed); unhook undoes them', () => {
  const none = hooksChange({ chains: new Set(), rules: new Set() });
  assert.deepEqual(none.filter, ['-N BERTH-FORWARD', '-N BERTH-ISOLATION', '-I FORWARD 1 -j BERTH-FORWARD']);
  assert.deepEqual(none.nat, [
    '-N BERTH-POSTROUTING',
    '-N BERTH-DNAT',
    '-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT',
    '-A OUTPUT -m addrtype --dst-type LOCAL -j BERTH-DNAT',
    '-A POSTROUTING -j BERTH-POSTROUTING',
  ]);
  const saved = parseSave(
    restoreText(none)
      .replace(/-N (\S+)/g, ':$1 - [0:0]')
      .replace('-I FORWARD 1', '-A FORWARD'),
  );
  const present = {
    chains: new Set([...saved.filter.chains, ...saved.nat.chains]),
    rules: new Set([...saved.filter.rules, ...saved.nat.rules]),
  };
  assert.deepEqual(hooksChange(present), { filter: [], nat: [] });
  assert.deepEqual(unhookChange().filter, ['-D FORWARD -j BERTH-FORWARD', '-X BERTH-FORWARD', '-X BERTH-ISOLATION']);
});

test('purge: from iptables-save, every jump to the chains and the chains themselves', () => {
  const save = [
    '*filter',
    ':FORWARD ACCEPT [0:0]',
    ':BERTH-FORWARD - [0:0]',
    ':BERTH-ISOLATION - [0:0]',
    ':BERTH-F-abcdef012345 - [0:0]',
    '-A FORWARD -j BERTH-FORWARD',
    '-A BERTH-FORWARD -j BERTH-F-abcdef012345',
    '-A BERTH-FORWARD -j BERTH-F-ffffffffffff',
    '-A BERTH-ISOLATION -o btl0 -j DROP',
    '-A BERTH-F-abcdef012345 -i btl0 -o btl0 -j ACCEPT',
    'COMMIT',
    '*nat',
    ':BERTH-D-0123456789ab - [0:0]',
    '-A BERTH-DNAT -j BERTH-D-0123456789ab',
    'COMMIT',
  ].join('\n');
  const c = purgeChange(
    parseSave(save),
    new Set(['BERTH-F-abcdef012345', 'BERTH-D-0123456789ab', 'BERTH-N-abcdef012345']),
    new Set(['-A BERTH-ISOLATION -o btl0 -j DROP']),
  );
  assert.deepEqual(c.filter, [
    '-D BERTH-FORWARD -j BERTH-F-abcdef012345',
    '-D BERTH-ISOLATION -o btl0 -j DROP',
    '-F BERTH-F-abcdef012345',
    '-X BERTH-F-abcdef012345',
  ]);
  assert.deepEqual(c.nat, [
    '-D BERTH-DNAT -j BERTH-D-0123456789ab',
    '-F BERTH-D-0123456789ab',
    '-X BERTH-D-0123456789ab',
  ]);
  // What iptables-save would show after the purge, known without running it again (start-up repair's unhook).
  const after = afterPurge(
    parseSave(save),
    new Set(['BERTH-F-abcdef012345', 'BERTH-D-0123456789ab', 'BERTH-N-abcdef012345']),
    new Set(['-A BERTH-ISOLATION -o btl0 -j DROP']),
  );
  assert.deepEqual([...after.filter.chains], ['FORWARD', 'BERTH-FORWARD', 'BERTH-ISOLATION']);
  assert.deepEqual(after.filter.rules, ['-A FORWARD -j BERTH-FORWARD', '-A BERTH-FORWARD -j BERTH-F-ffffffffffff']);
  assert.deepEqual([...after.nat.chains], []);
  assert.deepEqual(after.nat.rules, []);
});

test("aardvark-dns's file: listen line, then ID IPV4S IPV6S NAMES; read back", () => {
  const text = dnsFile(
    ['10.201.5.1'],
    [
      { id: CID, ipv4: ['10.201.5.2'], ipv6: [], names: ['web', 'www', CID.slice(0, 12)] },
      { id: ID, ipv4: ['10.201.5.3'], ipv6: ['fd00::3'], names: ['db'] },
    ],
  );
  assert.equal(text, `10.201.5.1\n${CID} 10.201.5.2  web,www,${CID.slice(0, 12)}\n${ID} 10.201.5.3 fd00::3 db\n`);
  assert.deepEqual(
    parseDnsFile(text).entries.map((e) => [e.id, e.ipv4, e.ipv6, e.names]),
    [
      [CID, ['10.201.5.2'], [], ['web', 'www', CID.slice(0, 12)]],
      [ID, ['10.201.5.3'], ['fd00::3'], ['db']],
    ],
  );
  assert.deepEqual(parseDnsFile(text).listen, ['10.201.5.1']);
});

test('the readiness probe is a well-formed DNS query: one question, type A, class IN', () => {
  const q = dnsQuery('web.app', 0x0102);
  assert.equal(q.toString('hex'), '010201000001000000000000' + '03776562' + '03617070' + '00' + '0001' + '0001');
});
