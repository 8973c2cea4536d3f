import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkingFromFlags, parseNetworkOpt } from './endpoints.ts';

const none = { aliases: [], links: [], ipv4: '', ipv6: '', mac: '', linkLocalIPs: [] };

test('no --network: the default endpoint carries the container-level options', () => {
  assert.deepEqual(networkingFromFlags([], none), { mode: 'default', endpoints: { default: {} } });
  assert.deepEqual(networkingFromFlags([], { ...none, ipv4: '10.0.0.5' }).endpoints, {
    default: { IPAMConfig: { IPv4Address: '10.0.0.5', IPv6Address: '' } },
  });
});

test('one plain network without options sends no endpoint; aliases and --ip go to the first network', () => {
  assert.deepEqual(networkingFromFlags(['app'], none), { mode: 'app', endpoints: {} });
  assert.deepEqual(networkingFromFlags(['app'], { ...none, aliases: ['db', 'pg'], ipv4: '10.202.0.9' }).endpoints, {
    app: { Aliases: ['db', 'pg'], IPAMConfig: { IPv4Address: '10.202.0.9', IPv6Address: '' } },
  });
  assert.deepEqual(networkingFromFlags(['a', 'b'], none).endpoints, { a: {}, b: {} });
});

test('long syntax, and docker errors', () => {
  assert.deepEqual(parseNetworkOpt('name=app,alias=x,alias=y,ip=10.1.0.2').aliases, ['x', 'y']);
  assert.throws(() => parseNetworkOpt('alias=x'), /network name\/id is not specified/);
  assert.throws(
    () => networkingFromFlags(['bridge'], { ...none, aliases: ['x'] }),
    /network-scoped aliases are only supported for user-defined networks/,
  );
  assert.throws(
    () => networkingFromFlags(['app', 'bridge'], none),
    /cannot attach both user-defined and non-user-defined/,
  );
  assert.throws(() => networkingFromFlags(['app', 'app'], none), /network "app" is specified multiple times/);
  assert.throws(() => networkingFromFlags(['app'], { ...none, mac: 'zz' }), /zz is not a valid mac address/);
  assert.equal(
    networkingFromFlags(['app'], { ...none, mac: '92:d0:c6:0a:29:33' }).endpoints.app?.MacAddress,
    '92:d0:c6:0a:29:33',
  );
});
