import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goTimeString, ipamConfig, networkRow, splitSlice } from './network.ts';
import type { Network } from '../../client/index.ts';

const none = { subnets: [], ipRanges: [], gateways: [], auxAddresses: [] };

test('ipamConfig matches ranges and gateways to subnets as docker/cli does', () => {
  assert.deepEqual(
    ipamConfig({ ...none, subnets: ['10.202.1.0/24'], gateways: ['10.202.1.1'], ipRanges: ['10.202.1.128/25'] }),
    [{ Subnet: '10.202.1.0/24', Gateway: '10.202.1.1', IPRange: '10.202.1.128/25', AuxiliaryAddresses: {} }],
  );
  assert.deepEqual(ipamConfig(none), []);
  assert.equal(ipamConfig({ ...none, subnets: ['fd00:1::/64'], gateways: ['fd00:1::1'] })[0]?.Gateway, 'fd00:1::1');
  assert.throws(
    () => ipamConfig({ ...none, gateways: ['10.0.0.1'] }),
    /every ip-range or gateway must have a corresponding subnet/,
  );
  assert.throws(
    () => ipamConfig({ ...none, subnets: ['10.202.0.0/16', '10.202.3.0/24'] }),
    /multiple overlapping subnet configuration is not supported/,
  );
  assert.throws(
    () => ipamConfig({ ...none, subnets: ['10.202.1.0/24'], gateways: ['10.9.9.1'] }),
    /no matching subnet for gateway 10.9.9.1/,
  );
  // A lone bad subnet is the daemon's to refuse; a second one is compared client-side.
  assert.equal(ipamConfig({ ...none, subnets: ['nonsense'] })[0]?.Subnet, 'nonsense');
  assert.throws(
    () => ipamConfig({ ...none, subnets: ['10.202.1.0/24', '10.202.1.0/33'] }),
    /invalid subnet: invalid CIDR address: 10.202.1.0\/33/,
  );
});

test('splitSlice splits comma lists as pflag StringSlice', () => {
  assert.deepEqual(splitSlice(['a,b', 'c']), ['a', 'b', 'c']);
});

test('rows: truncated IDs, sorted labels, Go time text', () => {
  const n: Network = {
    Name: 'app',
    Id: 'a'.repeat(64),
    Created: '2026-11-22T13:05:01.123450000Z',
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigOnly: false,
    Options: {},
    Labels: { z: '1', a: '2' },
  };
  const row = networkRow(n, true);
  assert.equal(row.ID, 'a'.repeat(12));
  assert.equal(row.Labels, 'a=2,z=1');
  assert.equal(row.IPv4, 'true');
  assert.equal(row.CreatedAt, '2026-11-22 13:05:01.12345 +0000 UTC');
  assert.equal(goTimeString('2026-11-22T13:05:01Z'), '2026-11-22 13:05:01 +0000 UTC');
});
