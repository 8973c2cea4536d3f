import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../util/errors.ts';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from './capabilities.ts';
import { RLIM_INFINITY, serializeSpec } from './oci.ts';
import { buildEnv, buildSpec, DEFAULT_PATH, INIT_PATH, MASKED_PATHS, READONLY_PATHS, type SpecInput } from './spec.ts';
import { ALLOW, EPERM_VERDICT, evaluateSeccomp, testHost, testInput } from './testkit.ts';

const MiB = 1024 * 1024;
const sorted = (a: readonly string[]) => [...a].sort();
const invalid = (input: SpecInput, message: RegExp) =>
  assert.throws(
    () => buildSpec(input),
    (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message),
  );

test('a minimal container: Docker defaults throughout', () => {
  const spec = buildSpec(testInput());
  assert.equal(spec.ociVersion, '1.0.2-dev');
  assert.deepEqual(spec.root, { path: '/var/lib/berth/c1/rootfs', readonly: false });
  assert.deepEqual(spec.process.args, ['/bin/sh']);
  assert.equal(spec.process.cwd, '/');
  assert.equal(spec.process.terminal, false);
  assert.deepEqual(spec.process.user, { uid: 0, gid: 0 });
  assert.deepEqual(spec.process.env, [`PATH=${DEFAULT_PATH}`]);
  assert.equal(spec.process.noNewPrivileges, false);
  assert.equal(spec.process.apparmorProfile, undefined);
  assert.equal(spec.hostname, undefined);
  assert.equal(spec.linux.cgroupsPath, '/berth/c1');
  assert.deepEqual(spec.linux.resources!.memory, undefined);
  assert.equal(spec.linux.sysctl, undefined);
  assert.equal(spec.annotations, undefined);
  assert.equal(spec.linux.rootfsPropagation, undefined);
  // survives the trip to config.json
  assert.deepEqual(JSON.parse(serializeSpec(spec)).process.args, ['/bin/sh']);
});

test("capabilities: Docker's default set in bounding, effective and permitted; none inheritable or ambient", () => {
  const caps = buildSpec(testInput()).process.capabilities!;
  assert.deepEqual(sorted(caps.bounding), sorted(DEFAULT_CAPABILITIES));
  assert.deepEqual(caps.effective, caps.bounding);
  assert.deepEqual(caps.permitted, caps.bounding);
  assert.equal(caps.inheritable, undefined);
  assert.equal(caps.ambient, undefined);
});

test('capabilities: add, drop, ALL', () => {
  const added = buildSpec(testInput({ capAdd: ['NET_ADMIN'], capDrop: ['CAP_MKNOD'] })).process.capabilities!;
  assert.ok(added.bounding.includes('CAP_NET_ADMIN') && !added.bounding.includes('CAP_MKNOD'));
  assert.ok(added.effective.includes('CAP_NET_ADMIN') && added.permitted.includes('CAP_NET_ADMIN'));
  assert.deepEqual(buildSpec(testInput({ capDrop: ['ALL'], capAdd: ['chown'] })).process.capabilities!.bounding, [
    'CAP_CHOWN',
  ]);
  assert.equal(
    buildSpec(testInput({ capAdd: ['ALL'] })).process.capabilities!.bounding.length,
    ALL_CAPABILITIES.length,
  );
  invalid(testInput({ capAdd: ['MAGIC'] }), /"MAGIC"/);
});

test('capabilities the runtime lacks are kept out, even for --privileged', () => {
  const host = testHost({ capabilities: ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE') });
  const spec = buildSpec(testInput({ host, privileged: true }));
  assert.equal(spec.process.capabilities!.bounding.length, ALL_CAPABILITIES.length - 1);
  invalid(testInput({ host, capAdd: ['SYS_RESOURCE'] }), /CAP_SYS_RESOURCE/);
});

test('privileged: all capabilities, all devices, no seccomp, nothing masked, /sys writable', () => {
  const spec = buildSpec(
    testInput({
      privileged: true,
      devices: [{ path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o660, gid: 6 }],
    }),
  );
  assert.deepEqual(spec.process.capabilities!.bounding, [...ALL_CAPABILITIES]);
  assert.equal(spec.linux.seccomp, undefined);
  assert.equal(spec.linux.maskedPaths, undefined);
  assert.equal(spec.linux.readonlyPaths, undefined);
  assert.deepEqual(spec.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
  assert.ok(spec.linux.devices!.some((d) => d.path === '/dev/sda' && d.gid === 6));
  assert.ok(spec.mounts.find((m) => m.destination === '/sys')!.options!.includes('rw'));
  assert.ok(spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options!.includes('rw'));
});

test("masked and read-only paths: Docker's lists, exactly", () => {
  const spec = buildSpec(testInput());
  assert.deepEqual(spec.linux.maskedPaths, [
    '/proc/asound',
    '/proc/acpi',
    '/proc/kcore',
    '/proc/keys',
    '/proc/latency_stats',
    '/proc/timer_list',
    '/proc/timer_stats',
    '/proc/sched_debug',
    '/proc/scsi',
    '/sys/firmware',
    '/sys/devices/virtual/powercap',
  ]);
  assert.deepEqual(spec.linux.readonlyPaths, [
    '/proc/bus',
    '/proc/fs',
    '/proc/irq',
    '/proc/sys',
    '/proc/sysrq-trigger',
  ]);
  assert.deepEqual(spec.linux.maskedPaths, [...MASKED_PATHS]);
  assert.deepEqual(spec.linux.readonlyPaths, [...READONLY_PATHS]);
});

test('read-only rootfs', () => {
  assert.equal(buildSpec(testInput({ readonlyRootfs: true })).root.readonly, true);
  assert.equal(buildSpec(testInput({ rootfs: 'rootfs' })).root.path, 'rootfs');
});

test('mounts: defaults, then the caller binds, tmpfs and network files, parents first', () => {
  const spec = buildSpec(
    testInput({
      mounts: [
        { type: 'bind', source: '/var/lib/berth/volumes/v/_data/sub', destination: '/data/sub' },
        { type: 'bind', source: '/var/lib/berth/volumes/v/_data', destination: '/data' },
        { type: 'tmpfs', destination: '/run', size: 8 * MiB, options: ['exec'] },
        { type: 'bind', source: '/var/lib/berth/containers/c1/hosts', destination: '/etc/hosts' },
        { type: 'bind', source: '/var/lib/berth/containers/c1/hostname', destination: '/etc/hostname' },
        {
          type: 'bind',
          source: '/var/lib/berth/containers/c1/resolv.conf',
          destination: '/etc/resolv.conf',
          readonly: true,
        },
      ],
    }),
  );
  assert.deepEqual(
    spec.mounts.map((m) => m.destination),
    [
      '/proc',
      '/dev',
      '/dev/pts',
      '/sys',
      '/sys/fs/cgroup',
      '/dev/mqueue',
      '/dev/shm',
      '/data',
      '/run',
      '/data/sub',
      '/etc/hosts',
      '/etc/hostname',
      '/etc/resolv.conf',
    ],
  );
  assert.deepEqual(spec.mounts.find((m) => m.destination === '/run')!.options, [
    'exec',
    'nosuid',
    'nodev',
    'rprivate',
    `size=${8 * MiB}`,
  ]);
  assert.deepEqual(spec.mounts.find((m) => m.destination === '/etc/resolv.conf')!.options, ['rbind', 'rprivate', 'ro']);
});

test('mounts: /dev/shm size from --shm-size, 64m by default; a caller /dev/shm replaces it', () => {
  const shm = (i: SpecInput) => buildSpec(i).mounts.filter((m) => m.destination === '/dev/shm');
  assert.deepEqual(shm(testInput())[0]!.options, ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864']);
  assert.deepEqual(shm(testInput({ shmSize: 128 * MiB }))[0]!.options, [
    'nosuid',
    'noexec',
    'nodev',
    'mode=1777',
    `size=${128 * MiB}`,
  ]);
  const replaced = shm(testInput({ mounts: [{ type: 'tmpfs', destination: '/dev/shm', size: MiB }] }));
  assert.equal(replaced.length, 1);
  assert.ok(replaced[0]!.options!.includes(`size=${MiB}`));
  invalid(testInput({ shmSize: 0 }), /shm size 0/);
});

test('mounts: shared or slave bind propagation makes the root rshared or rslave', () => {
  const prop = (p: 'rshared' | 'slave' | 'private') =>
    buildSpec(testInput({ mounts: [{ type: 'bind', source: '/mnt', destination: '/mnt', propagation: p }] })).linux
      .rootfsPropagation;
  assert.equal(prop('rshared'), 'rshared');
  assert.equal(prop('slave'), 'rslave');
  assert.equal(prop('private'), undefined);
});

test('process: user, groups, umask, cwd, terminal, console size, no-new-privileges, apparmor, oom score', () => {
  const spec = buildSpec(
    testInput({
      groupAdd: [20, 27],
      process: {
        args: ['/usr/bin/env'],
        cwd: '/home/app',
        terminal: true,
        consoleSize: { height: 40, width: 120 },
        user: { uid: 1000, gid: 1000, additionalGids: [1000, 20], umask: 0o022 },
        noNewPrivileges: true,
        apparmorProfile: 'docker-default',
        oomScoreAdj: 500,
      },
    }),
  );
  assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [1000, 20, 27], umask: 0o022 });
  assert.equal(spec.process.cwd, '/home/app');
  assert.equal(spec.process.terminal, true);
  assert.deepEqual(spec.process.consoleSize, { height: 40, width: 120 });
  assert.equal(spec.process.noNewPrivileges, true);
  assert.equal(spec.process.apparmorProfile, 'docker-default');
  assert.equal(spec.process.oomScoreAdj, 500);
  assert.ok(spec.process.env.includes('TERM=xterm'));
});

test('process: bad values are refused', () => {
  invalid(testInput({ process: { args: [] } }), /no command/);
  invalid(testInput({ process: { args: ['sh'], cwd: 'relative' } }), /"relative"/);
  invalid(testInput({ process: { args: ['sh'], user: { uid: -1, gid: 0 } } }), /uid -1/);
  invalid(testInput({ process: { args: ['sh'], oomScoreAdj: 1001 } }), /1001/);
  invalid(testInput({ groupAdd: [1.5] }), /group id 1.5/);
  invalid(testInput({ id: '' }), /id is empty/);
});

test('env: PATH, HOSTNAME and TERM like Docker; later entries replace earlier ones in place', () => {
  assert.deepEqual(buildEnv(['A=1', 'PATH=/bin', 'A=2'], 'web', true), [
    'PATH=/bin',
    'HOSTNAME=web',
    'TERM=xterm',
    'A=2',
  ]);
  assert.deepEqual(buildEnv(['TERM=dumb', 'B'], undefined, true), [`PATH=${DEFAULT_PATH}`, 'TERM=dumb']);
  assert.deepEqual(buildEnv(['X=a=b'], undefined, false), [`PATH=${DEFAULT_PATH}`, 'X=a=b']);
  assert.throws(() => buildEnv(['=1'], undefined, false), /"=1"/);
  const spec = buildSpec(testInput({ hostname: 'web', process: { args: ['sh'], env: ['FOO=bar'] } }));
  assert.deepEqual(spec.process.env, [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=web', 'FOO=bar']);
});

test('hostname and domainname need a private UTS namespace', () => {
  const spec = buildSpec(testInput({ hostname: 'web', domainname: 'example.org' }));
  assert.equal(spec.hostname, 'web');
  assert.equal(spec.domainname, 'example.org');
  invalid(testInput({ hostname: 'web', namespaces: { uts: 'host' } }), /"web"/);
  assert.equal(buildSpec(testInput({ namespaces: { uts: 'host' } })).hostname, undefined);
});

test("namespaces: Docker's defaults, per network mode, joined by path, cgroup on v2 only", () => {
  const types = (i: SpecInput) => buildSpec(i).linux.namespaces;
  assert.deepEqual(types(testInput()), [
    { type: 'pid' },
    { type: 'network' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ]);
  assert.deepEqual(types(testInput({ namespaces: { network: 'host' } })), [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ]);
  assert.deepEqual(types(testInput({ namespaces: { network: { path: '/run/netns/berth-c1' } } }))[1], {
    type: 'network',
    path: '/run/netns/berth-c1',
  });
  assert.deepEqual(types(testInput({ namespaces: { pid: 'host', ipc: { path: '/proc/42/ns/ipc' }, uts: 'host' } })), [
    { type: 'network' },
    { type: 'ipc', path: '/proc/42/ns/ipc' },
    { type: 'mount' },
  ]);
  assert.deepEqual(types(testInput({ host: testHost({ cgroupV2: true }) })).at(-1), { type: 'cgroup' });
  assert.ok(
    !types(testInput({ host: testHost({ cgroupV2: true }), namespaces: { cgroup: 'host' } })).some(
      (n) => n.type === 'cgroup',
    ),
  );
  assert.ok(!types(testInput()).some((n) => n.type === 'user'));
  invalid(testInput({ namespaces: { network: { path: 'netns' } } }), /"netns"/);
});

test('host IPC binds the host /dev/shm; --ipc none has none', () => {
  const spec = buildSpec(testInput({ namespaces: { ipc: 'host' } }));
  assert.equal(spec.mounts.find((m) => m.destination === '/dev/shm')!.source, '/dev/shm');
  assert.equal(spec.mounts.find((m) => m.destination === '/dev/mqueue')!.type, 'mqueue');
  const none = buildSpec(testInput({ noShm: true }));
  assert.equal(
    none.mounts.some((m) => m.destination === '/dev/shm'),
    false,
  );
  assert.ok(none.linux.namespaces.some((n) => n.type === 'ipc' && !n.path));
});

test('cgroups path: /berth/<id> by default, or as given', () => {
  assert.equal(buildSpec(testInput({ id: 'abc' })).linux.cgroupsPath, '/berth/abc');
  assert.equal(
    buildSpec(testInput({ cgroupsPath: 'system.slice:berth:abc' })).linux.cgroupsPath,
    'system.slice:berth:abc',
  );
});

test('resources reach linux.resources', () => {
  const r = buildSpec(
    testInput({
      resources: {
        memory: 64 * MiB,
        cpus: 0.5,
        cpuShares: 256,
        cpusetCpus: '0',
        cpusetMems: '0',
        pidsLimit: 50,
        blkioWeight: 300,
      },
    }),
  ).linux.resources!;
  assert.deepEqual(r.memory, { limit: 64 * MiB, swap: 128 * MiB });
  assert.deepEqual(r.cpu, { shares: 256, period: 100000, quota: 50000, cpus: '0', mems: '0' });
  assert.deepEqual(r.pids, { limit: 50 });
  assert.deepEqual(r.blockIO, { weight: 300 });
  invalid(testInput({ resources: { cpus: -1 } }), /--cpus -1/);
  invalid(testInput({ resources: { memory: 1024 } }), /6MB/);
  const noSwap = buildSpec(testInput({ host: testHost({ swapAccounting: false }), resources: { memory: 64 * MiB } }))
    .linux.resources!;
  assert.deepEqual(noSwap.memory, { limit: 64 * MiB });
});

test('devices: the defaults, the device cgroup allow list, and --device', () => {
  const spec = buildSpec(testInput());
  assert.deepEqual(
    spec.linux.devices!.map((d) => [d.path, d.type, d.major, d.minor, d.fileMode]),
    [
      ['/dev/null', 'c', 1, 3, 0o666],
      ['/dev/zero', 'c', 1, 5, 0o666],
      ['/dev/full', 'c', 1, 7, 0o666],
      ['/dev/random', 'c', 1, 8, 0o666],
      ['/dev/urandom', 'c', 1, 9, 0o666],
      ['/dev/tty', 'c', 5, 0, 0o666],
    ],
  );
  const rules = spec.linux.resources!.devices!;
  assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
  const text = rules
    .slice(1)
    .map((r) => `${r.allow ? 'allow' : 'deny'} ${r.type} ${r.major ?? '*'}:${r.minor ?? '*'} ${r.access}`);
  assert.deepEqual(text, [
    'allow c *:* m',
    'allow b *:* m',
    'allow c 1:3 rwm',
    'allow c 1:5 rwm',
    'allow c 1:7 rwm',
    'allow c 5:0 rwm',
    'allow c 1:8 rwm',
    'allow c 1:9 rwm',
    'allow c 136:* rwm',
    'allow c 5:2 rwm',
    'allow c 10:200 rwm',
  ]);

  const withDevice = buildSpec(
    testInput({
      devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, permissions: 'rw', fileMode: 0o666 }],
      resources: { deviceCgroupRules: ['b 7:* rwm'] },
    }),
  );
  assert.deepEqual(withDevice.linux.devices!.at(-1), {
    path: '/dev/fuse',
    type: 'c',
    major: 10,
    minor: 229,
    fileMode: 0o666,
    uid: 0,
    gid: 0,
  });
  assert.deepEqual(withDevice.linux.resources!.devices!.slice(-2), [
    { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
    { allow: true, type: 'b', major: 7, access: 'rwm' },
  ]);
  invalid(testInput({ devices: [{ path: '/dev/x', type: 'c', major: 1, minor: 1, permissions: 'rwx' }] }), /"rwx"/);
  invalid(testInput({ devices: [{ path: '/tmp/x', type: 'c', major: 1, minor: 1 }] }), /"\/tmp\/x"/);
});

test('sysctls: namespaced ones accepted, host-wide and host-network ones refused', () => {
  assert.deepEqual(
    buildSpec(testInput({ sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1' } })).linux.sysctl,
    {
      'net.ipv4.ip_forward': '1',
      'kernel.shmmax': '1',
    },
  );
  invalid(testInput({ sysctls: { 'vm.swappiness': '1' } }), /"vm.swappiness"/);
  invalid(
    testInput({ sysctls: { 'net.ipv4.ip_forward': '1' }, namespaces: { network: 'host' } }),
    /host's network namespace/,
  );
  invalid(testInput({ sysctls: { 'kernel.sem': '1 1 1 1' }, namespaces: { ipc: 'host' } }), /host's IPC namespace/);
  assert.deepEqual(
    buildSpec(testInput({ sysctls: { 'net.core.somaxconn': '1' }, namespaces: { network: { path: '/run/netns/x' } } }))
      .linux.sysctl,
    { 'net.core.somaxconn': '1' },
  );
});

test('rlimits: the default NOFILE is clamped to the host hard limit; a --ulimit above it is refused', () => {
  assert.deepEqual(buildSpec(testInput()).process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
  assert.deepEqual(
    buildSpec(
      testInput({
        ulimits: [
          { name: 'nofile', soft: 512, hard: 1024 },
          { name: 'core', soft: -1, hard: -1 },
        ],
      }),
    ).process.rlimits,
    [
      { type: 'RLIMIT_NOFILE', hard: 1024, soft: 512 },
      { type: 'RLIMIT_CORE', hard: RLIM_INFINITY, soft: RLIM_INFINITY },
    ],
  );
  invalid(testInput({ ulimits: [{ name: 'nofile', soft: 65536, hard: 65536 }] }), /nofile=65536:65536.*20000/);
});

test('config.json writes RLIM_INFINITY as its exact digits', () => {
  const text = serializeSpec(buildSpec(testInput({ ulimits: [{ name: 'core', soft: -1, hard: -1 }] })));
  assert.match(text, /"hard":18446744073709551615/);
  assert.match(text, /"soft":18446744073709551615/);
  assert.deepEqual(JSON.parse(text).process.rlimits, [
    { type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 },
    { type: 'RLIMIT_CORE', hard: Number(RLIM_INFINITY), soft: Number(RLIM_INFINITY) },
  ]);
});

test(`--init: the init is bound read-only at ${INIT_PATH} and runs the command after --`, () => {
  const spec = buildSpec(testInput({ init: '/usr/bin/catatonit', process: { args: ['sleep', '10'] } }));
  assert.deepEqual(spec.process.args, [INIT_PATH, '--', 'sleep', '10']);
  assert.deepEqual(
    spec.mounts.find((m) => m.destination === INIT_PATH),
    {
      destination: INIT_PATH,
      type: 'bind',
      source: '/usr/bin/catatonit',
      options: ['bind', 'rprivate', 'ro'],
    },
  );
  assert.equal(
    buildSpec(testInput()).mounts.some((m) => m.destination === INIT_PATH),
    false,
  );
});

test('annotations pass through', () => {
  assert.deepEqual(
    buildSpec(testInput({ annotations: { 'org.opencontainers.image.ref.name': 'busybox' } })).annotations,
    {
      'org.opencontainers.image.ref.name': 'busybox',
    },
  );
});

test('seccomp: the default profile, unconfined, or a given profile; caps added open their syscalls', () => {
  const def = buildSpec(testInput()).linux.seccomp!;
  assert.equal(def.defaultAction, 'SCMP_ACT_ERRNO');
  assert.deepEqual(evaluateSeccomp(def, 'mount'), EPERM_VERDICT);
  assert.deepEqual(evaluateSeccomp(buildSpec(testInput({ capAdd: ['SYS_ADMIN'] })).linux.seccomp!, 'mount'), ALLOW);
  assert.equal(buildSpec(testInput({ seccomp: 'unconfined' })).linux.seccomp, undefined);
  const custom = buildSpec(
    testInput({
      seccomp: {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_FOWNER'] } }],
      },
    }),
  ).linux.seccomp!;
  assert.deepEqual(custom.syscalls, [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }]);
  assert.deepEqual(custom.architectures, undefined);
  invalid(testInput({ seccomp: { defaultAction: 'NOPE' } as never }), /"NOPE"/);
  assert.deepEqual(buildSpec(testInput({ host: testHost({ arch: 'arm64' }) })).linux.seccomp!.architectures, [
    'SCMP_ARCH_AARCH64',
    'SCMP_ARCH_ARM',
  ]);
});

test('the builder does not keep or mutate its input', () => {
  const input = testInput({
    mounts: [{ type: 'tmpfs', destination: '/run' }],
    process: { args: ['sh'], env: ['A=1'] },
    init: '/usr/bin/tini',
  });
  const before = JSON.stringify(input);
  const a = buildSpec(input);
  a.process.args.push('x');
  a.mounts.length = 0;
  assert.equal(JSON.stringify(input), before);
  assert.deepEqual(buildSpec(input).process.args, [INIT_PATH, '--', 'sh']);
});
