import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../util/errors.ts';
import { parseSecurityOpts } from './security.ts';

const bad = (opts: string[], message: RegExp) =>
  assert.throws(
    () => parseSecurityOpts(opts),
    (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message),
  );

test('defaults: privileges may be gained, the default seccomp profile', () => {
  assert.deepEqual(parseSecurityOpts([]), { noNewPrivileges: false, seccomp: 'default' });
});

test('no-new-privileges, alone or with a value, with = or :', () => {
  assert.equal(parseSecurityOpts(['no-new-privileges']).noNewPrivileges, true);
  assert.equal(parseSecurityOpts(['no-new-privileges=true']).noNewPrivileges, true);
  assert.equal(parseSecurityOpts(['no-new-privileges:true']).noNewPrivileges, true);
  assert.equal(parseSecurityOpts(['no-new-privileges=false']).noNewPrivileges, false);
  assert.equal(
    parseSecurityOpts(['no-new-privileges', 'no-new-privileges=false']).noNewPrivileges,
    false,
    'the last wins',
  );
});

test('seccomp: unconfined, builtin, empty, a profile as JSON', () => {
  assert.equal(parseSecurityOpts(['seccomp=unconfined']).seccomp, 'unconfined');
  assert.equal(parseSecurityOpts(['seccomp:unconfined']).seccomp, 'unconfined');
  assert.equal(parseSecurityOpts(['seccomp=builtin']).seccomp, 'default');
  assert.equal(parseSecurityOpts(['seccomp=']).seccomp, 'default');
  const profile = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };
  assert.deepEqual(parseSecurityOpts([`seccomp=${JSON.stringify(profile)}`]).seccomp, profile);
  assert.deepEqual(parseSecurityOpts([`seccomp=  ${JSON.stringify(profile)}`]).seccomp, profile, 'leading blanks');
});

test('seccomp: a file name, broken JSON and an invalid profile are refused, quoting what was wrong', () => {
  bad(['seccomp=/etc/p.json'], /not the file name \(seccomp=\/etc\/p\.json\)$/);
  bad(['seccomp={"defaultAction":'], /^Decoding seccomp profile failed: /);
  bad(['seccomp={"defaultAction":"SCMP_ACT_NOPE"}'], /invalid seccomp profile: defaultAction "SCMP_ACT_NOPE"/);
});

test('label and apparmor are accepted and change nothing; anything else is refused', () => {
  assert.deepEqual(parseSecurityOpts(['label=disable', 'label:type:x', 'apparmor=unconfined']), {
    noNewPrivileges: false,
    seccomp: 'default',
  });
  bad(['selinux=on'], /^Invalid --security-opt: "selinux=on"$/);
  bad(['privileged'], /^Invalid --security-opt: "privileged"$/);
});
