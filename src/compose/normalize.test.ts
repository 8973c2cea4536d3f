import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KeyPath } from './errors.ts';
import { normalizeService, parsePortShort, parseVolumeShort, type NormalizeContext } from './normalize.ts';

const ctx: NormalizeContext = {
  workingDir: '/srv/app',
  home: '/home/u',
  error: (path: KeyPath, reason: string) => new Error(`${path.join('.')}: ${reason}`),
};
const svc = (raw: Record<string, unknown>) => normalizeService('web', { image: 'busybox', ...raw }, ctx);

test('ports, short syntax: container only, host:container, IP, ranges, protocol, IPv6', () => {
  assert.deepEqual(parsePortShort('80', [], ctx), [{ mode: 'ingress', target: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePortShort(80, [], ctx), [{ mode: 'ingress', target: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePortShort('8080:80', [], ctx), [
    { mode: 'ingress', target: 80, protocol: 'tcp', published: '8080' },
  ]);
  assert.deepEqual(parsePortShort('127.0.0.1:53:53/udp', [], ctx), [
    { mode: 'ingress', target: 53, protocol: 'udp', host_ip: '127.0.0.1', published: '53' },
  ]);
  assert.deepEqual(
    parsePortShort('9090-9091:8080-8081', [], ctx).map((p) => [p.published, p.target]),
    [
      ['9090', 8080],
      ['9091', 8081],
    ],
  );
  assert.deepEqual(parsePortShort('8000-8005:80', [], ctx), [
    { mode: 'ingress', target: 80, protocol: 'tcp', published: '8000-8005' },
  ]);
  assert.deepEqual(parsePortShort('[::1]:6001:6001', [], ctx), [
    { mode: 'ingress', target: 6001, protocol: 'tcp', host_ip: '::1', published: '6001' },
  ]);
  assert.equal(parsePortShort('3000-3002', [], ctx).length, 3);
  assert.equal(parsePortShort(':80', [], ctx)[0]!.published, undefined);
});

test('ports: bad ones are errors that name the key', () => {
  assert.throws(() => svc({ ports: ['80800:80'] }), /services\.web\.ports\.0: invalid port range "80800"/);
  assert.throws(() => svc({ ports: ['http'] }), /invalid port "http"/);
  assert.throws(() => svc({ ports: ['1-3:4-5'] }), /invalid port range/);
});

test('ports, long syntax: target as a string, published as a number', () => {
  assert.deepEqual(svc({ ports: [{ target: '80', published: 8080, host_ip: '127.0.0.1', protocol: 'udp' }] }).ports, [
    { mode: 'ingress', target: 80, protocol: 'udp', host_ip: '127.0.0.1', published: '8080' },
  ]);
});

test('volumes, short syntax: anonymous, named, bind (relative, home), modes', () => {
  assert.deepEqual(parseVolumeShort('/data', [], ctx), { type: 'volume', target: '/data' });
  assert.deepEqual(parseVolumeShort('db:/var/lib/db', [], ctx), {
    type: 'volume',
    source: 'db',
    target: '/var/lib/db',
  });
  assert.deepEqual(parseVolumeShort('./html:/www:ro', [], ctx), {
    type: 'bind',
    source: '/srv/app/html',
    target: '/www',
    read_only: true,
    bind: { create_host_path: true },
  });
  assert.equal(parseVolumeShort('~/x:/x', [], ctx).source, '/home/u/x');
  assert.deepEqual(parseVolumeShort('db:/d:nocopy', [], ctx).volume, { nocopy: true });
  assert.deepEqual(parseVolumeShort('/h:/c:rshared,Z', [], ctx).bind, {
    create_host_path: true,
    propagation: 'rshared',
    selinux: 'Z',
  });
  assert.throws(() => parseVolumeShort('/h:/c:bogus', ['v'], ctx), /invalid mode "bogus"/);
});

test('volumes, long syntax: read_only, bind.create_host_path, volume.nocopy, tmpfs size', () => {
  const v = svc({
    volumes: [
      { type: 'bind', source: './conf', target: '/etc/conf', read_only: 'true', bind: { create_host_path: false } },
      { type: 'volume', source: 'data', target: '/data', volume: { nocopy: true } },
      { type: 'tmpfs', target: '/run', tmpfs: { size: '64m', mode: '1777' } },
    ],
  }).volumes;
  assert.deepEqual(v, [
    { type: 'bind', source: '/srv/app/conf', target: '/etc/conf', read_only: true, bind: { create_host_path: false } },
    { type: 'volume', source: 'data', target: '/data', volume: { nocopy: true } },
    { type: 'tmpfs', target: '/run', tmpfs: { size: 64 * 1024 * 1024, mode: 0o1777 } },
  ]);
});

test('depends_on: list and mapping, with restart and required', () => {
  assert.deepEqual(svc({ depends_on: ['db'] }).depends_on, {
    db: { condition: 'service_started', restart: false, required: true },
  });
  assert.deepEqual(
    svc({ depends_on: { db: { condition: 'service_healthy', restart: true, required: false } } }).depends_on,
    { db: { condition: 'service_healthy', restart: true, required: false } },
  );
});

test('networks: default when none; list and mapping with aliases, ipv4_address, priority; none with network_mode', () => {
  assert.deepEqual(svc({}).networks, { default: null });
  assert.deepEqual(svc({ networks: ['front', 'back'] }).networks, { front: null, back: null });
  assert.deepEqual(
    svc({ networks: { front: { aliases: ['www'], ipv4_address: '10.5.0.5', priority: '100' } } }).networks,
    { front: { aliases: ['www'], ipv4_address: '10.5.0.5', priority: 100 } },
  );
  const host = svc({ network_mode: 'host' });
  assert.deepEqual(host.networks, {});
  assert.equal(host.network_mode, 'host');
});

test('environment and labels: list or mapping, values as strings, bare keys null', () => {
  const s = svc({ environment: ['A=1', 'B', 'C=x=y'], labels: { n: 1, b: true } });
  assert.deepEqual(s.environment, { A: '1', B: null, C: 'x=y' });
  assert.deepEqual(s.labels, { n: '1', b: 'true' });
  assert.deepEqual(svc({ environment: { A: 1, B: null } }).environment, { A: '1', B: null });
});

test('command and entrypoint: a string is split as a shell would, a list is kept', () => {
  assert.deepEqual(svc({ command: 'sh -c "echo hi; sleep 1"' }).command, ['sh', '-c', 'echo hi; sleep 1']);
  assert.deepEqual(svc({ entrypoint: ['/bin/sh', '-c'] }).entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(svc({ command: [] }).command, []);
  assert.equal(svc({}).command, undefined);
});

test('healthcheck: a string test is CMD-SHELL, disable is NONE, durations checked', () => {
  assert.deepEqual(svc({ healthcheck: { test: 'true', interval: '2s', retries: '3' } }).healthcheck, {
    test: ['CMD-SHELL', 'true'],
    interval: '2s',
    retries: 3,
  });
  assert.deepEqual(svc({ healthcheck: { disable: true } }).healthcheck, { test: ['NONE'] });
  assert.throws(() => svc({ healthcheck: { interval: '2 parsecs' } }), /healthcheck\.interval: invalid duration/);
});

test('build: a string is the context; defaults; args list; relative context made absolute', () => {
  assert.deepEqual(svc({ build: '.' }).build, {
    context: '/srv/app',
    dockerfile: 'Dockerfile',
    args: {},
    labels: {},
    cache_from: [],
    secrets: [],
    extra_hosts: [],
    tags: [],
    platforms: [],
  });
  const b = svc({ build: { context: 'web', dockerfile_inline: 'FROM busybox', args: ['V=1', 'W'], target: 't' } })
    .build!;
  assert.equal(b.context, '/srv/app/web');
  assert.equal(b.dockerfile, undefined);
  assert.equal(b.dockerfile_inline, 'FROM busybox');
  assert.deepEqual(b.args, { V: '1', W: null });
  assert.equal(b.target, 't');
});

test('deploy: replicas and resources with sizes and cpus as numbers', () => {
  const d = svc({
    deploy: {
      replicas: '3',
      resources: { limits: { cpus: '0.5', memory: '64M', pids: 10 }, reservations: { memory: '1g' } },
    },
  }).deploy!;
  assert.equal(d.replicas, 3);
  assert.deepEqual(d.resources, {
    limits: { cpus: 0.5, memory: 64 * 1024 ** 2, pids: 10 },
    reservations: { memory: 1024 ** 3 },
  });
});

test('scalars: booleans and integers written as strings, sizes, durations, x- extensions', () => {
  const s = svc({
    privileged: 'true',
    read_only: false,
    init: 'yes',
    scale: '2',
    shm_size: '128m',
    stop_grace_period: '1m30s',
    ulimits: { nofile: { soft: 1024, hard: '2048' }, nproc: 512 },
    sysctls: ['net.core.somaxconn=1024'],
    extra_hosts: ['somehost=10.0.0.1', 'other:10.0.0.2'],
    dns: '8.8.8.8',
    tmpfs: '/run',
    'x-berth-ready': { tcp: 80 },
  });
  assert.equal(s.privileged, true);
  assert.equal(s.read_only, false);
  assert.equal(s.init, true);
  assert.equal(s.scale, 2);
  assert.equal(s.shm_size, 128 * 1024 ** 2);
  assert.equal(s.stop_grace_period, '1m30s');
  assert.deepEqual(s.ulimits, { nofile: { soft: 1024, hard: 2048 }, nproc: { soft: 512, hard: 512 } });
  assert.deepEqual(s.sysctls, { 'net.core.somaxconn': '1024' });
  assert.deepEqual(s.extra_hosts, ['somehost:10.0.0.1', 'other:10.0.0.2']);
  assert.deepEqual(s.dns, ['8.8.8.8']);
  assert.deepEqual(s.tmpfs, ['/run']);
  assert.deepEqual(s.extensions, { 'x-berth-ready': { tcp: 80 } });
  assert.throws(() => svc({ privileged: 'maybe' }), /services\.web\.privileged: invalid boolean "maybe"/);
  assert.throws(() => svc({ scale: 'two' }), /services\.web\.scale: invalid integer "two"/);
});

test('secrets, configs, devices, hooks', () => {
  const s = svc({
    secrets: ['token', { source: 'key', target: '/k', mode: '0400' }],
    devices: ['/dev/fuse', '/dev/a:/dev/b:r'],
    post_start: [{ command: 'echo started', user: 'root' }],
  });
  assert.deepEqual(s.secrets, [{ source: 'token' }, { source: 'key', target: '/k', mode: 0o400 }]);
  assert.deepEqual(s.devices, [
    { source: '/dev/fuse', target: '/dev/fuse', permissions: 'rwm' },
    { source: '/dev/a', target: '/dev/b', permissions: 'r' },
  ]);
  assert.deepEqual(s.post_start, [{ command: ['echo', 'started'], user: 'root' }]);
});

test('develop.watch: paths made absolute, initial_sync kept as written', () => {
  const s = svc({
    develop: {
      watch: [
        { action: 'sync', path: './src', target: '/app', initial_sync: true, ignore: ['tmp/'] },
        { action: 'rebuild', path: 'pkg.json' },
      ],
    },
  });
  assert.deepEqual(s.develop?.watch, [
    { path: '/srv/app/src', action: 'sync', ignore: ['tmp/'], target: '/app', initial_sync: true },
    { path: '/srv/app/pkg.json', action: 'rebuild', ignore: [] },
  ]);
});
