import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../util/errors.ts';
import { toOciSeccomp, validateProfile, type SeccompProfile } from './seccomp.ts';

const ctx = { capabilities: ['CAP_CHOWN', 'CAP_KILL'], arch: 'x64', kernel: '5.10.0-21-amd64' };

test('a Docker-format profile keeps the rules whose includes hold and whose excludes do not', () => {
  const profile: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: null },
    ],
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { name: 'write', action: 'SCMP_ACT_ALLOW' },
      { names: ['kill_cap'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_KILL'] } },
      { names: ['admin_cap'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['two_caps'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_KILL', 'CAP_SYS_ADMIN'] } },
      { names: ['not_admin'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['not_kill'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_KILL'] } },
      { names: ['amd64_only'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
      { names: ['arm_only'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
      { names: ['not_amd64'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
      { names: ['from_4_8'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
      { names: ['from_6_2'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '6.2' } },
      { names: ['before_6_2'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '6.2' } },
      { names: ['before_5_4'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.4' } },
      {
        names: ['with_args'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 38,
        args: [{ index: 0, value: 0x10, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
        comment: 'dropped from the output',
      },
    ],
  };
  const out = toOciSeccomp(profile, ctx);
  assert.equal(out.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(out.defaultErrnoRet, 1);
  assert.deepEqual(out.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  assert.deepEqual(
    out.syscalls!.map((r) => r.names[0]),
    ['read', 'write', 'kill_cap', 'not_admin', 'amd64_only', 'from_4_8', 'before_6_2', 'with_args'],
  );
  const withArgs = out.syscalls!.at(-1)!;
  assert.deepEqual(withArgs, {
    names: ['with_args'],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: 38,
    args: [{ index: 0, value: 0x10, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
  });
  // the architecture comes from the host
  const arm = toOciSeccomp(profile, { ...ctx, arch: 'arm64' });
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64']);
  assert.ok(arm.syscalls!.some((r) => r.names[0] === 'arm_only'));
});

test('an OCI-style profile with an explicit architecture list passes through', () => {
  const out = toOciSeccomp(
    {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_KILL' }],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
    },
    ctx,
  );
  assert.deepEqual(out, {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_KILL' }],
  });
});

test('malformed profiles are refused with the reason', () => {
  const cases: [unknown, RegExp][] = [
    [null, /not a JSON object/],
    [[], /not a JSON object/],
    [{}, /defaultAction/],
    [{ defaultAction: 'SCMP_ACT_NOPE' }, /"SCMP_ACT_NOPE" is not a seccomp action/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: {} }, /syscalls must be a list/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }, /names no syscall/],
    [
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] },
      /both name and names/,
    ],
    [
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'ALLOW' }] },
      /"ALLOW" is not a seccomp action/,
    ],
    [
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW', args: [{ index: 9, value: 1, op: 'SCMP_CMP_EQ' }] }],
      },
      /malformed condition/,
    ],
    [
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'EQ' }] }],
      },
      /malformed condition/,
    ],
    [
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: [] }],
      },
      /both architectures and archMap/,
    ],
  ];
  for (const [profile, message] of cases) {
    assert.throws(
      () => validateProfile(profile),
      (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message),
      JSON.stringify(profile),
    );
  }
});

test('an unsupported host architecture or a bad kernel version is refused', () => {
  assert.throws(() => toOciSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, { ...ctx, arch: 'pdp11' }), /"pdp11"/);
  assert.throws(
    () =>
      toOciSeccomp(
        {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'new' } }],
        },
        ctx,
      ),
    /minKernel "new"/,
  );
});

test('without a kernel version every minKernel rule is taken as satisfied', () => {
  const out = toOciSeccomp(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
        { names: ['old'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '4.8' } },
      ],
    },
    { capabilities: [], arch: 'x64' },
  );
  assert.deepEqual(
    out.syscalls!.map((r) => r.names[0]),
    ['ptrace'],
  );
});

test("on x86_64 a rule's names go from the highest system call number down; elsewhere they stay as written", () => {
  // read 0, write 1, openat 257, clone3 435; mmap2 and ugetrlimit have no x86_64 number (i386 only): last, by name.
  const names = ['read', 'mmap2', 'clone3', 'write', 'ugetrlimit', 'openat'];
  const profile: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names, action: 'SCMP_ACT_ALLOW' },
      { name: 'personality', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
    ],
  };
  const out = toOciSeccomp(profile, ctx);
  assert.deepEqual(out.syscalls![0]!.names, ['clone3', 'openat', 'write', 'read', 'mmap2', 'ugetrlimit']);
  assert.deepEqual(out.syscalls![1]!.names, ['personality']);
  assert.deepEqual(profile.syscalls![0]!.names, names, 'the profile itself is left as it was');
  assert.deepEqual(toOciSeccomp(profile, { ...ctx, arch: 'arm64' }).syscalls![0]!.names, names);
});

test("the default profile's converted rules are in descending order whatever order the profile lists them in", async () => {
  const { defaultSeccompProfile } = await import('./seccomp-default.ts');
  const { x86_64Syscall } = await import('./syscalls-x86_64.ts');
  const profile = defaultSeccompProfile();
  const c = { ...ctx, capabilities: ['CAP_CHOWN', 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_KILL'] };
  const out = toOciSeccomp(profile, c);
  assert.ok(out.syscalls!.length > 5);
  for (const r of out.syscalls!) {
    const nrs = r.names.map((n) => x86_64Syscall(n) ?? -1);
    assert.deepEqual(
      nrs,
      [...nrs].sort((a, b) => b - a),
    );
  }
  const reversed = {
    ...profile,
    syscalls: profile.syscalls!.map((r) => ({ ...r, names: [...(r.names ?? [])].reverse() })),
  };
  assert.deepEqual(toOciSeccomp(reversed, c), out);
  // Every name the profile allows on x86_64 is still there.
  const all = new Set(out.syscalls!.flatMap((r) => r.names));
  for (const n of ['read', 'openat', 'clone3', 'mmap2', 'futex_requeue', 'mseal']) assert.ok(all.has(n), n);
});
