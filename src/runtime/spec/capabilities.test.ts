import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../util/errors.ts';
import {
  ALL_CAPABILITIES,
  capabilitiesFromMask,
  DEFAULT_CAPABILITIES,
  normalizeCapability,
  resolveCapabilities,
} from './capabilities.ts';

const sorted = (caps: readonly string[]) => [...caps].sort();

test("Docker's default set is exactly these 14 capabilities", () => {
  assert.deepEqual(
    sorted(DEFAULT_CAPABILITIES),
    sorted([
      'CAP_CHOWN',
      'CAP_DAC_OVERRIDE',
      'CAP_FSETID',
      'CAP_FOWNER',
      'CAP_MKNOD',
      'CAP_NET_RAW',
      'CAP_SETGID',
      'CAP_SETUID',
      'CAP_SETFCAP',
      'CAP_SETPCAP',
      'CAP_NET_BIND_SERVICE',
      'CAP_SYS_CHROOT',
      'CAP_KILL',
      'CAP_AUDIT_WRITE',
    ]),
  );
  assert.deepEqual(sorted(resolveCapabilities({})), sorted(DEFAULT_CAPABILITIES));
});

test('names are accepted with or without CAP_, in any case; unknown names are refused', () => {
  assert.equal(normalizeCapability('net_admin'), 'CAP_NET_ADMIN');
  assert.equal(normalizeCapability('CAP_NET_ADMIN'), 'CAP_NET_ADMIN');
  assert.equal(normalizeCapability('cap_sys_admin'), 'CAP_SYS_ADMIN');
  assert.equal(normalizeCapability('all'), 'ALL');
  assert.throws(
    () => normalizeCapability('FLY'),
    (e: unknown) => e instanceof InvalidArgumentError && /"FLY"/.test(e.message),
  );
  assert.throws(() => resolveCapabilities({ capAdd: ['CAP_NOPE'] }), /"CAP_NOPE"/);
});

test('--cap-add adds to the defaults, --cap-drop removes from them', () => {
  const caps = resolveCapabilities({ capAdd: ['NET_ADMIN', 'SYS_TIME'], capDrop: ['MKNOD', 'cap_net_raw'] });
  assert.ok(caps.includes('CAP_NET_ADMIN') && caps.includes('CAP_SYS_TIME'));
  assert.ok(!caps.includes('CAP_MKNOD') && !caps.includes('CAP_NET_RAW'));
  assert.equal(caps.length, DEFAULT_CAPABILITIES.length);
  // adding what is already there does not duplicate it
  assert.equal(resolveCapabilities({ capAdd: ['CHOWN'] }).length, DEFAULT_CAPABILITIES.length);
});

test('--cap-add ALL gives all but the dropped; --cap-drop ALL gives only the added', () => {
  const all = resolveCapabilities({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] });
  assert.equal(all.length, ALL_CAPABILITIES.length - 1);
  assert.ok(!all.includes('CAP_SYS_ADMIN'));
  assert.deepEqual(resolveCapabilities({ capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE', 'chown'] }), [
    'CAP_CHOWN',
    'CAP_NET_BIND_SERVICE',
  ]);
  assert.deepEqual(resolveCapabilities({ capDrop: ['all'] }), []);
});

test('--privileged gives every capability, ignoring add and drop', () => {
  assert.deepEqual(resolveCapabilities({ privileged: true, capDrop: ['ALL'] }), [...ALL_CAPABILITIES]);
});

test('what the runtime does not hold is cut from ALL and privileged, and refused when asked for by name', () => {
  const available = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
  assert.ok(!resolveCapabilities({ privileged: true, available }).includes('CAP_SYS_RESOURCE'));
  assert.ok(!resolveCapabilities({ capAdd: ['ALL'], available }).includes('CAP_SYS_RESOURCE'));
  assert.equal(resolveCapabilities({ privileged: true, available }).length, ALL_CAPABILITIES.length - 1);
  assert.throws(
    () => resolveCapabilities({ capAdd: ['SYS_RESOURCE'], available }),
    (e: unknown) => e instanceof InvalidArgumentError && /CAP_SYS_RESOURCE/.test(e.message),
  );
});

test('capability masks from /proc/<pid>/status', () => {
  // this host's bounding set: everything up to CAP_CHECKPOINT_RESTORE but CAP_SYS_RESOURCE (bit 24)
  const caps = capabilitiesFromMask('000001fffeffffff');
  assert.equal(caps.length, ALL_CAPABILITIES.length - 1);
  assert.ok(!caps.includes('CAP_SYS_RESOURCE'));
  assert.deepEqual(capabilitiesFromMask('0000000000000001'), ['CAP_CHOWN']);
  assert.deepEqual(capabilitiesFromMask('0'), []);
  assert.throws(() => capabilitiesFromMask('xyz'), /"xyz"/);
});
