import assert from 'node:assert/strict';
import { test } from 'node:test';
import { macFor, networkJSON, networkSpec, type NetSpec } from './model.ts';

const pools = [{ base: '10.201.200.0/22', size: 24 }];

test('networkSpec: gateway and range from the request, bridge name from the option, DNS on', async () => {
  const s = await networkSpec(
    {
      Name: 'n',
      IPAM: { Config: [{ Subnet: '10.201.100.0/24', IPRange: '10.201.100.128/25' }] },
      Options: { 'com.docker.network.bridge.name': 'btlx' },
      Internal: true,
      Labels: { a: 'b' },
    },
    'f'.repeat(64),
    [],
    pools,
  );
  assert.deepEqual(s.subnets, [{ subnet: '10.201.100.0/24', gateway: '10.201.100.1', ipRange: '10.201.100.128/25' }]);
  assert.equal(s.bridge, 'btlx');
  assert.equal(s.internal, true);
  assert.equal(s.dns, true);
  assert.deepEqual(s.labels, { a: 'b' });
});

test('networkSpec: subnet from the pool clear of existing networks; br-<id> bridge; IPv6 gets a ULA /64', async () => {
  const existing = [{ subnets: [{ subnet: '10.201.200.0/24', gateway: '10.201.200.1' }], bridge: 'br-x' } as NetSpec];
  const s = await networkSpec({ Name: 'n', EnableIPv6: true }, 'abcdef0123456789'.repeat(4), existing, pools);
  assert.equal(s.subnets[0]!.subnet, '10.201.201.0/24');
  assert.match(s.subnets[1]!.subnet, /^fd7b:e47a:b3d0:\w*::\/64$|^fd7b:e47a:b3d0::\/64$/);
  assert.equal(s.bridge, 'br-abcdef012345');
  await assert.rejects(
    networkSpec({ Name: 'm', Options: { 'com.docker.network.bridge.name': 'br-x' } }, 'a'.repeat(64), existing, pools),
    /bridge name br-x is used by another network/,
  );
  await assert.rejects(
    networkSpec({ Name: 'm', IPAM: { Config: [{ Subnet: '10.201.200.128/25' }] } }, 'a'.repeat(64), existing, pools),
    /^ForbiddenError: Pool overlaps/,
  );
});

test("networkJSON: Docker's field set and order of IPAM config keys", () => {
  const j = networkJSON(
    {
      id: 'i',
      name: 'n',
      driver: 'bridge',
      created: Date.UTC(2024, 0, 2, 3, 4, 5, 6),
      spec: {
        internal: false,
        attachable: false,
        ipv6: false,
        bridge: 'b',
        subnets: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.1' }],
        options: {},
        labels: {},
        ipamOptions: null,
        dns: true,
      },
    },
    {},
  );
  assert.equal(j.Created, '2024-01-02T03:04:05.006000000Z');
  assert.deepEqual(Object.keys(j), [
    'Name',
    'Id',
    'Created',
    'Scope',
    'Driver',
    'EnableIPv4',
    'EnableIPv6',
    'IPAM',
    'Internal',
    'Attachable',
    'Ingress',
    'ConfigFrom',
    'ConfigOnly',
    'Containers',
    'Options',
    'Labels',
  ]);
  assert.deepEqual(j.IPAM, {
    Driver: 'default',
    Options: null,
    Config: [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }],
  });
});

test('macFor: 02:42 and the IPv4 bytes, as Docker', () => {
  assert.equal(macFor('172.17.0.2'), '02:42:ac:11:00:02');
});
