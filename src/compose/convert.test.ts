import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  containerCreateRequest,
  containerLabels,
  fileTarget,
  networksByPriority,
  type CreateInput,
} from './convert.ts';
import { serviceHash } from './hash.ts';
import type { Project } from './model.ts';
import { normalizeService } from './normalize.ts';

const ctx = { workingDir: '/srv/app', home: '/h', error: (_: unknown, r: string) => new Error(r) };
const svc = (raw: Record<string, unknown>) => normalizeService('web', { image: 'busybox', ...raw }, ctx);

function project(extra: Partial<Project> = {}): Project {
  return {
    name: 'demo',
    workingDir: '/srv/app',
    configFiles: ['/srv/app/compose.yaml', '/srv/app/compose.override.yaml'],
    environment: {},
    envFiles: [],
    services: {},
    disabledServices: {},
    networks: {
      default: { name: 'demo_default', driver_opts: {}, labels: {} },
      front: { name: 'demo_front', driver_opts: {}, labels: {} },
      back: { name: 'demo_back', driver_opts: {}, labels: {} },
    },
    volumes: { data: { name: 'demo_data', driver_opts: {}, labels: {} } },
    secrets: { token: { name: 'demo_token', file: '/srv/app/token.txt', labels: {} } },
    configs: {},
    extensions: {},
    ...extra,
  };
}
const input = (raw: Record<string, unknown>, more: Partial<CreateInput> = {}): CreateInput => ({
  project: project(),
  service: svc(raw),
  number: 2,
  name: 'demo-web-2',
  apiVersion: '1.47',
  ...more,
});

test("labels: Docker Compose's project, service, number, oneoff, hash, working dir, files, depends_on, version", () => {
  const s = svc({ labels: { mine: 'x' }, depends_on: { db: { condition: 'service_healthy', restart: true } } });
  const labels = containerLabels({ ...input({}), service: s, imageId: 'sha256:abc' });
  assert.deepEqual(labels, {
    mine: 'x',
    'com.docker.compose.project': 'demo',
    'com.docker.compose.service': 'web',
    'com.docker.compose.oneoff': 'False',
    'com.docker.compose.config-hash': serviceHash(s),
    'com.docker.compose.container-number': '2',
    'com.docker.compose.project.working_dir': '/srv/app',
    'com.docker.compose.project.config_files': '/srv/app/compose.yaml,/srv/app/compose.override.yaml',
    'com.docker.compose.depends_on': 'db:service_healthy:true',
    'com.docker.compose.version': '2.40.3',
    'com.docker.compose.image': 'sha256:abc',
  });
  assert.equal(
    containerLabels({ ...input({}), oneoff: true, number: undefined as unknown as number })[
      'com.docker.compose.oneoff'
    ],
    'True',
  );
});

test('config: image, command, entrypoint, environment (unset ones left out), user, workdir, tty, stop settings', () => {
  const { body } = containerCreateRequest(
    input({
      command: ['sh', '-c', 'echo hi'],
      entrypoint: ['/init'],
      environment: { A: '1', B: null },
      user: '1000:1000',
      working_dir: '/app',
      tty: true,
      stdin_open: true,
      hostname: 'h1',
      domainname: 'example.org',
      stop_signal: 'SIGUSR1',
      stop_grace_period: '1m30s',
    }),
  );
  assert.equal(body.Image, 'busybox');
  assert.deepEqual(body.Cmd, ['sh', '-c', 'echo hi']);
  assert.deepEqual(body.Entrypoint, ['/init']);
  assert.deepEqual(body.Env, ['A=1']);
  assert.equal(body.User, '1000:1000');
  assert.equal(body.WorkingDir, '/app');
  assert.equal(body.Tty, true);
  assert.equal(body.OpenStdin, true);
  assert.equal(body.Hostname, 'h1');
  assert.equal(body.Domainname, 'example.org');
  assert.equal(body.StopSignal, 'SIGUSR1');
  assert.equal(body.StopTimeout, 90);
  assert.equal(containerCreateRequest(input({})).body.Cmd, undefined);
});

test('ports and expose: ExposedPorts and PortBindings with host IP and ranges', () => {
  const { body } = containerCreateRequest(
    input({ ports: ['127.0.0.1:8080:80', '53:53/udp', '9000'], expose: ['3000', '4000/udp'] }),
  );
  assert.deepEqual(body.ExposedPorts, { '3000/tcp': {}, '4000/udp': {}, '80/tcp': {}, '53/udp': {}, '9000/tcp': {} });
  assert.deepEqual(body.HostConfig!.PortBindings, {
    '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
    '53/udp': [{ HostIp: '', HostPort: '53' }],
    '9000/tcp': [{ HostIp: '', HostPort: '' }],
  });
});

test('volumes: short binds as Binds (host path created), named as project volumes, anonymous reused, tmpfs, secrets', () => {
  const { body } = containerCreateRequest(
    input(
      {
        volumes: [
          './html:/www:ro',
          'data:/data',
          '/cache',
          { type: 'bind', source: '/etc/x', target: '/x', bind: { create_host_path: false, propagation: 'rshared' } },
          { type: 'tmpfs', target: '/run', tmpfs: { size: 1024 } },
          { type: 'volume', source: 'data', target: '/sub', volume: { nocopy: true, subpath: 'a' } },
        ],
        secrets: ['token'],
      },
      { anonymousVolumes: { '/cache': 'abc123' } },
    ),
  );
  assert.deepEqual(body.HostConfig!.Binds, ['/srv/app/html:/www:ro', '/srv/app/token.txt:/run/secrets/token:ro']);
  assert.deepEqual(body.HostConfig!.Mounts, [
    { Type: 'volume', Target: '/data', Source: 'demo_data' },
    { Type: 'volume', Target: '/cache', Source: 'abc123' },
    { Type: 'bind', Source: '/etc/x', Target: '/x', BindOptions: { Propagation: 'rshared' } },
    { Type: 'tmpfs', Target: '/run', TmpfsOptions: { SizeBytes: 1024 } },
    { Type: 'volume', Target: '/sub', Source: 'demo_data', VolumeOptions: { NoCopy: true, Subpath: 'a' } },
  ]);
  assert.equal(fileTarget('secrets', 'token', undefined), '/run/secrets/token');
  assert.equal(fileTarget('secrets', 'token', 'tk'), '/run/secrets/tk');
  assert.equal(fileTarget('configs', 'conf', undefined), '/conf');
  assert.equal(fileTarget('configs', 'conf', '/etc/app.conf'), '/etc/app.conf');
});

test('host config: restart, resources, security, devices, ulimits, sysctls, dns, extra_hosts, init, logging', () => {
  const h = containerCreateRequest(
    input({
      restart: 'on-failure:3',
      privileged: true,
      read_only: true,
      init: true,
      cap_add: ['NET_ADMIN'],
      cap_drop: ['ALL'],
      security_opt: ['no-new-privileges:true'],
      deploy: { resources: { limits: { cpus: '0.5', memory: '64m', pids: 50 }, reservations: { memory: '32m' } } },
      shm_size: '128m',
      ulimits: { nofile: { soft: 1024, hard: 2048 } },
      sysctls: { 'net.core.somaxconn': 1024 },
      devices: ['/dev/fuse'],
      dns: ['1.1.1.1'],
      dns_search: ['example.org'],
      extra_hosts: ['db=10.0.0.2'],
      tmpfs: ['/tmp:size=64k'],
      logging: { driver: 'json-file', options: { 'max-size': '1m' } },
      pid: 'host',
      ipc: 'shareable',
    }),
  ).body.HostConfig!;
  assert.deepEqual(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.equal(h.Privileged, true);
  assert.equal(h.ReadonlyRootfs, true);
  assert.equal(h.Init, true);
  assert.deepEqual(h.CapAdd, ['NET_ADMIN']);
  assert.deepEqual(h.CapDrop, ['ALL']);
  assert.deepEqual(h.SecurityOpt, ['no-new-privileges:true']);
  assert.equal(h.NanoCpus, 500_000_000);
  assert.equal(h.Memory, 64 * 1024 ** 2);
  assert.equal(h.PidsLimit, 50);
  assert.equal(h.MemoryReservation, 32 * 1024 ** 2);
  assert.equal(h.ShmSize, 128 * 1024 ** 2);
  assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
  assert.deepEqual(h.Sysctls, { 'net.core.somaxconn': '1024' });
  assert.deepEqual(h.Devices, [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }]);
  assert.deepEqual(h.Dns, ['1.1.1.1']);
  assert.deepEqual(h.DnsSearch, ['example.org']);
  assert.deepEqual(h.ExtraHosts, ['db:10.0.0.2']);
  assert.deepEqual(h.Tmpfs, { '/tmp': 'size=64k' });
  assert.deepEqual(h.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
  assert.equal(h.PidMode, 'host');
  assert.equal(h.IpcMode, 'shareable');
  assert.deepEqual(
    containerCreateRequest(input({ deploy: { restart_policy: { condition: 'any' } } })).body.HostConfig!.RestartPolicy,
    { Name: 'always', MaximumRetryCount: 0 },
  );
});

test('healthcheck durations in nanoseconds', () => {
  const { body } = containerCreateRequest(
    input({ healthcheck: { test: ['CMD', 'true'], interval: '2s', timeout: '500ms', start_period: '1m', retries: 5 } }),
  );
  assert.deepEqual(body.Healthcheck, {
    Test: ['CMD', 'true'],
    Interval: 2e9,
    Timeout: 5e8,
    StartPeriod: 6e10,
    Retries: 5,
  });
});

test('networks: the default one with the service and container names as aliases; priority orders them', () => {
  const plan = containerCreateRequest(input({}));
  assert.equal(plan.body.HostConfig!.NetworkMode, 'demo_default');
  assert.deepEqual(plan.body.NetworkingConfig, {
    EndpointsConfig: { demo_default: { Aliases: ['demo-web-2', 'web'] } },
  });
  const s = svc({ networks: { back: { aliases: ['api'] }, front: { priority: 10, ipv4_address: '10.1.0.5' } } });
  assert.deepEqual(networksByPriority(s), ['front', 'back']);
  const many = containerCreateRequest({ ...input({}), service: s });
  assert.equal(many.body.HostConfig!.NetworkMode, 'demo_front');
  assert.deepEqual(Object.keys(many.body.NetworkingConfig!.EndpointsConfig!), ['demo_front', 'demo_back']);
  assert.deepEqual(many.body.NetworkingConfig!.EndpointsConfig!.demo_front!.IPAMConfig, { IPv4Address: '10.1.0.5' });
  assert.deepEqual(many.extraNetworks, []);
  // Before API 1.44 only one network goes in the create request; the others are connected after.
  const old = containerCreateRequest({ ...input({}), service: s, apiVersion: '1.41' });
  assert.deepEqual(Object.keys(old.body.NetworkingConfig!.EndpointsConfig!), ['demo_front']);
  assert.deepEqual(old.extraNetworks, [{ network: 'demo_back', endpoint: { Aliases: ['demo-web-2', 'web', 'api'] } }]);
  const host = containerCreateRequest(input({ network_mode: 'host' }));
  assert.equal(host.body.HostConfig!.NetworkMode, 'host');
  assert.equal(host.body.NetworkingConfig, undefined);
});

test('a service that only builds runs the image <project>-<service>', () => {
  const s = normalizeService('api', { build: '.' }, ctx);
  assert.equal(containerCreateRequest({ ...input({}), service: s }).body.Image, 'demo-api');
});
