import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chooseSubnet,
  contains,
  firstHost,
  formatCidr,
  formatIP,
  nextFree,
  overlaps,
  parseCidr,
  parseIP,
} from './ipam.ts';
import { ConflictError, InvalidArgumentError } from '../util/errors.ts';

test('parseCidr clears host bits and refuses bad text with Docker-like messages', () => {
  assert.equal(formatCidr(parseCidr('10.201.3.77/24')), '10.201.3.0/24');
  assert.equal(formatCidr(parseCidr('fd00:1:2::5/64')), 'fd00:1:2::/64');
  for (const bad of ['10.0.0.0/33', '10.0.0.0', 'foo', '10.0.0/8', '300.1.1.1/8', '10.0.0.0/x']) {
    assert.throws(
      () => parseCidr(bad),
      (e: unknown) =>
        e instanceof InvalidArgumentError && e.message === `invalid subnet ${bad} : invalid CIDR address: ${bad}`,
    );
  }
});

test('IPv4 and IPv6 addresses round-trip through numbers', () => {
  for (const s of ['0.0.0.0', '10.201.0.1', '255.255.255.255']) assert.equal(formatIP(4, parseIP(s)!.value), s);
  for (const s of ['::', '::1', 'fd00::1', '2001:db8::ff00:42:8329', 'fe80::1:0:0:1'])
    assert.equal(formatIP(6, parseIP(s)!.value), s);
  assert.equal(formatIP(6, parseIP('2001:0db8:0000:0000:0000:0000:0000:0001')!.value), '2001:db8::1');
  assert.equal(formatIP(6, parseIP('::ffff:10.0.0.1')!.value), '::ffff:a00:1');
  assert.equal(parseIP('nope'), undefined);
});

test('overlaps and contains', () => {
  const a = parseCidr('10.201.0.0/16');
  assert.ok(overlaps(a, parseCidr('10.201.7.0/24')));
  assert.ok(overlaps(parseCidr('10.201.7.0/24'), a));
  assert.ok(!overlaps(a, parseCidr('10.202.0.0/16')));
  assert.ok(!overlaps(a, parseCidr('fd00::/8')));
  assert.ok(contains(a, 4, parseIP('10.201.255.255')!.value));
  assert.ok(!contains(a, 4, parseIP('10.202.0.0')!.value));
});

test("chooseSubnet takes the first pool subnet clear of everything taken, then fails with Docker's message", () => {
  const pools = [{ base: '10.201.40.0/22', size: 24 }];
  assert.equal(formatCidr(chooseSubnet(pools, [])), '10.201.40.0/24');
  assert.equal(
    formatCidr(chooseSubnet(pools, [parseCidr('10.201.40.0/24'), parseCidr('10.201.41.128/25')])),
    '10.201.42.0/24',
  );
  assert.throws(
    () => chooseSubnet(pools, [parseCidr('10.201.40.0/22')]),
    (e: unknown) => e instanceof ConflictError && /non-overlapping IPv4 address pool/.test(e.message),
  );
});

test('nextFree skips the network address, the broadcast, used addresses, and honours an ip-range', () => {
  const s = parseCidr('10.201.5.0/29');
  const gw = firstHost(s);
  assert.equal(formatIP(4, gw), '10.201.5.1');
  const used = new Set([gw]);
  const got: string[] = [];
  for (let v = nextFree(s, used); v !== undefined; v = nextFree(s, used)) {
    used.add(v);
    got.push(formatIP(4, v));
  }
  assert.deepEqual(got, ['10.201.5.2', '10.201.5.3', '10.201.5.4', '10.201.5.5', '10.201.5.6']);
  const big = parseCidr('10.201.6.0/24');
  assert.equal(formatIP(4, nextFree(big, new Set([firstHost(big)]), parseCidr('10.201.6.128/25'))!), '10.201.6.128');
});
