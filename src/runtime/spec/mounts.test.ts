import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../util/errors.ts';
import { buildMounts, defaultMounts, mergeTmpfsOptions, toSpecMount } from './mounts.ts';

const base = { privileged: false, shmSize: 64 * 1024 * 1024, hostIpc: false };

test("Docker's default mounts, in order", () => {
  assert.deepEqual(defaultMounts(base), [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'],
    },
  ]);
});

test('privileged: /sys and /sys/fs/cgroup are writable', () => {
  const m = defaultMounts({ ...base, privileged: true });
  assert.ok(m.find((x) => x.destination === '/sys')!.options!.includes('rw'));
  assert.ok(m.find((x) => x.destination === '/sys/fs/cgroup')!.options!.includes('rw'));
  assert.ok(!m.some((x) => x.options!.includes('ro')));
});

test("host IPC: the host's /dev/shm is bound in; mqueue is mounted (in the host's IPC namespace), not bound", () => {
  const m = defaultMounts({ ...base, hostIpc: true });
  assert.deepEqual(
    m.find((x) => x.destination === '/dev/shm'),
    { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] },
  );
  assert.equal(m.find((x) => x.destination === '/dev/mqueue')!.type, 'mqueue');
});

test('--ipc none: no /dev/shm', () => {
  assert.equal(
    defaultMounts({ ...base, noShm: true }).some((x) => x.destination === '/dev/shm'),
    false,
  );
});

test('binds: rbind and rprivate by default, ro, propagation, plain bind, extra options', () => {
  assert.deepEqual(toSpecMount({ type: 'bind', source: '/srv/data/', destination: '/data' }), {
    destination: '/data',
    type: 'bind',
    source: '/srv/data',
    options: ['rbind', 'rprivate'],
  });
  assert.deepEqual(
    toSpecMount({
      type: 'bind',
      source: '/srv',
      destination: '/srv',
      readonly: true,
      propagation: 'rslave',
      recursive: false,
      options: ['nosuid'],
    }),
    { destination: '/srv', type: 'bind', source: '/srv', options: ['bind', 'rslave', 'ro', 'nosuid'] },
  );
  assert.throws(
    () => toSpecMount({ type: 'bind', source: 'relative', destination: '/x' }),
    (e: unknown) => e instanceof InvalidArgumentError && /"relative"/.test(e.message),
  );
  assert.throws(() => toSpecMount({ type: 'bind', source: '/x', destination: 'x' }), /mount destination "x"/);
});

test('tmpfs: noexec,nosuid,nodev by default; size, mode and user options override', () => {
  assert.deepEqual(toSpecMount({ type: 'tmpfs', destination: '/run' }), {
    destination: '/run',
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['noexec', 'nosuid', 'nodev', 'rprivate'],
  });
  assert.deepEqual(toSpecMount({ type: 'tmpfs', destination: '/run', size: 1048576, mode: 0o1777 }).options, [
    'noexec',
    'nosuid',
    'nodev',
    'rprivate',
    'size=1048576',
    'mode=1777',
  ]);
  assert.deepEqual(
    toSpecMount({ type: 'tmpfs', destination: '/run', size: 1, options: ['exec', 'size=64m', 'uid=1000', 'ro'] })
      .options,
    ['exec', 'nosuid', 'nodev', 'rprivate', 'size=64m', 'uid=1000', 'ro'],
  );
  assert.throws(() => toSpecMount({ type: 'tmpfs', destination: '/run', options: ['bogus'] }), /"bogus"/);
  assert.throws(() => toSpecMount({ type: 'tmpfs', destination: '/run', options: ['colour=red'] }), /"colour=red"/);
  assert.throws(() => toSpecMount({ type: 'tmpfs', destination: '/run', mode: 0o17777 }), /tmpfs mode/);
});

test('mergeTmpfsOptions: later flags beat their opposites, later keys beat earlier ones', () => {
  assert.deepEqual(mergeTmpfsOptions(['rw', 'noexec', 'size=1', 'ro', 'exec', 'size=2', 'rprivate', 'rshared']), [
    'ro',
    'exec',
    'size=2',
    'rshared',
  ]);
});

test('caller mounts replace the defaults at the same place, /dev replaces all of /dev, parents come first', () => {
  const mounts = buildMounts(defaultMounts(base), [
    { type: 'bind', source: '/v/b', destination: '/data/b' },
    { type: 'bind', source: '/v', destination: '/data' },
    { type: 'tmpfs', destination: '/dev/shm', size: 1024 },
    { type: 'bind', source: '/h/hosts', destination: '/etc/hosts' },
    { type: 'bind', source: '/h/resolv.conf', destination: '/etc/resolv.conf', readonly: true },
  ]);
  assert.deepEqual(
    mounts.map((m) => m.destination),
    [
      '/proc',
      '/dev',
      '/dev/pts',
      '/sys',
      '/sys/fs/cgroup',
      '/dev/mqueue',
      '/data',
      '/data/b',
      '/dev/shm',
      '/etc/hosts',
      '/etc/resolv.conf',
    ],
  );
  assert.equal(mounts.find((m) => m.destination === '/dev/shm')!.source, 'tmpfs');
  const overDev = buildMounts(defaultMounts(base), [{ type: 'bind', source: '/dev', destination: '/dev' }]);
  assert.deepEqual(
    overDev.map((m) => m.destination),
    ['/proc', '/sys', '/sys/fs/cgroup', '/dev'],
  );
  assert.throws(
    () =>
      buildMounts(
        [],
        [
          { type: 'tmpfs', destination: '/a' },
          { type: 'tmpfs', destination: '/a/' },
        ],
      ),
    /duplicate mount point "\/a"/,
  );
});
