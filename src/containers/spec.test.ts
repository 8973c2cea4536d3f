/** The container's spec input, field by field: what each part of the record becomes, as `runtime/spec` is tested. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSpec } from '../runtime/index.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import type { HostConfig } from '../engine-api/containers.ts';
import type { MountPoint, Row } from './model.ts';
import { type Resolved, runtimeOptions, specInput, validateSpec } from './spec.ts';
import { initialState } from './state.ts';

const host = { arch: 'x64', cgroupV2: false, limits: { nofile: 20000 } } as const;

function row(over: { config?: Partial<Row['config']['Config']>; hc?: HostConfig; mounts?: MountPoint[] } = {}): Row {
  return {
    id: 'c0ffee',
    name: 'web',
    imageId: 'sha256:img',
    imageRef: 'busybox:latest',
    created: 0,
    config: {
      Config: { Env: ['PATH=/bin'], ...over.config },
      Path: 'sh',
      Args: ['-c', 'true'],
      Mounts: over.mounts ?? [],
    },
    hostConfig: over.hc ?? {},
    state: initialState(),
    runtime: 'runc',
    snapshot: 'c0ffee',
  };
}

function resolved(over: Partial<Resolved> = {}): Resolved {
  return {
    rootfs: '/data/containers/c0ffee/bundle/rootfs',
    user: { uid: 1000, gid: 100, additionalGids: [10], home: '/home/app' },
    volumes: new Map([['data', '/data/volumes/data/_data']]),
    etc: { hosts: '/c/hosts', hostname: '/c/hostname', resolvConf: '/c/resolv.conf' },
    network: { path: '/run/berth/network/netns/c0ffee' },
    devices: [],
    host,
    ...over,
  };
}

const input = (r: Row, res: Resolved = resolved()) => specInput(r, res);

test('id, root, cgroup and annotations come from the record and the resolved root', () => {
  const s = input(row());
  assert.equal(s.id, 'c0ffee');
  assert.equal(s.rootfs, '/data/containers/c0ffee/bundle/rootfs');
  assert.equal(s.readonlyRootfs, false);
  assert.equal(input(row({ hc: { ReadonlyRootfs: true } })).readonlyRootfs, true);
  assert.equal(s.cgroupsPath, '/berth/c0ffee');
  assert.deepEqual(s.annotations, {
    'org.opencontainers.image.ref.name': 'busybox:latest',
    'berth.container.name': 'web',
  });
  assert.equal(s.host, host);
});

test('process: the command, the env with HOME of the resolved user unless set, cwd, terminal and console size', () => {
  const p = input(row()).process;
  assert.deepEqual(p.args, ['sh', '-c', 'true']);
  assert.deepEqual(p.env, ['PATH=/bin', 'HOME=/home/app']);
  assert.equal(p.cwd, '/');
  assert.equal(p.terminal, false);
  assert.equal(p.consoleSize, undefined);
  assert.deepEqual(p.user, { uid: 1000, gid: 100, additionalGids: [10] });
  assert.equal(p.noNewPrivileges, false);
  assert.equal(p.oomScoreAdj, undefined);
  const q = input(
    row({
      config: { Env: ['HOME=/srv'], WorkingDir: '/app', Tty: true },
      hc: { ConsoleSize: [24, 80], OomScoreAdj: 500 },
    }),
  ).process;
  assert.deepEqual(q.env, ['HOME=/srv']);
  assert.equal(q.cwd, '/app');
  assert.equal(q.terminal, true);
  assert.deepEqual(q.consoleSize, { height: 24, width: 80 });
  assert.equal(q.oomScoreAdj, 500);
  assert.equal(input(row({ hc: { ConsoleSize: [0, 0] } })).process.consoleSize, undefined);
});

test('hostname and domain name; none with the host network', () => {
  assert.equal(input(row({ config: { Hostname: 'box' } })).hostname, 'box');
  assert.equal(input(row({ config: { Hostname: 'box', Domainname: 'lan' } })).domainname, 'lan');
  assert.equal(input(row()).domainname, undefined);
  assert.equal(input(row({ config: { Hostname: 'box' }, hc: { NetworkMode: 'host' } })).hostname, '');
});

test('security options: no-new-privileges and seccomp; a bad one is refused', () => {
  assert.equal(input(row()).seccomp, 'default');
  const s = input(row({ hc: { SecurityOpt: ['no-new-privileges', 'seccomp=unconfined', 'label=disable'] } }));
  assert.equal(s.process.noNewPrivileges, true);
  assert.equal(s.seccomp, 'unconfined');
  const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] };
  assert.deepEqual(input(row({ hc: { SecurityOpt: [`seccomp=${JSON.stringify(profile)}`] } })).seccomp, profile);
  assert.throws(() => input(row({ hc: { SecurityOpt: ['magic'] } })), InvalidArgumentError);
});

test('mounts: the record order, volumes at their acquired directories, then /etc files unless mounted over', () => {
  const mounts: MountPoint[] = [
    { Type: 'bind', Source: '/srv', Destination: '/srv', Mode: 'ro', RW: false, Propagation: 'rprivate' },
    { Type: 'volume', Name: 'data', Source: '/old', Destination: '/data', Mode: 'z', RW: true, Propagation: '' },
    { Type: 'bind', Source: '/shared', Destination: '/sh', Mode: '', RW: true, Propagation: 'rshared' },
    { Type: 'tmpfs', Source: '', Destination: '/tmp', Mode: '', RW: true, Propagation: '', TmpfsOptions: ['size=1m'] },
    { Type: 'bind', Source: '/my/hosts', Destination: '/etc/hosts', Mode: '', RW: false, Propagation: 'rprivate' },
  ];
  assert.deepEqual(input(row({ mounts })).mounts, [
    { type: 'bind', source: '/srv', destination: '/srv', readonly: true },
    { type: 'bind', source: '/data/volumes/data/_data', destination: '/data' },
    { type: 'bind', source: '/shared', destination: '/sh', propagation: 'rshared' },
    { type: 'tmpfs', destination: '/tmp', options: ['size=1m'] },
    { type: 'bind', source: '/my/hosts', destination: '/etc/hosts', readonly: true },
    { type: 'bind', source: '/c/hostname', destination: '/etc/hostname' },
    { type: 'bind', source: '/c/resolv.conf', destination: '/etc/resolv.conf' },
  ]);
  const ro = input(row({ hc: { ReadonlyRootfs: true } })).mounts!;
  assert.ok(
    ro.every((m) => m.type === 'bind' && m.readonly),
    'the /etc files are read-only on a read-only root',
  );
  assert.throws(() => input(row({ mounts: [mounts[1]!] }), resolved({ volumes: new Map() })), TypeError);
});

test('resources, capabilities, privilege, shm, sysctls, ulimits and devices', () => {
  const s = input(
    row({
      hc: {
        Memory: 64 * 2 ** 20,
        NanoCpus: 1.5e9,
        PidsLimit: 100,
        CapAdd: ['NET_ADMIN'],
        CapDrop: ['MKNOD'],
        Privileged: true,
        ShmSize: 2 ** 20,
        Sysctls: { 'net.ipv4.ip_forward': '1' },
        Ulimits: [{ Name: 'nofile', Soft: 100, Hard: 200 }],
      },
    }),
    resolved({ devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }] }),
  );
  assert.deepEqual(s.resources, { memory: 64 * 2 ** 20, cpus: 1.5, pidsLimit: 100 });
  assert.deepEqual(s.capAdd, ['NET_ADMIN']);
  assert.deepEqual(s.capDrop, ['MKNOD']);
  assert.equal(s.privileged, true);
  assert.equal(s.shmSize, 2 ** 20);
  assert.deepEqual(s.sysctls, { 'net.ipv4.ip_forward': '1' });
  assert.deepEqual(s.ulimits, [{ name: 'nofile', soft: 100, hard: 200 }]);
  assert.deepEqual(s.devices, [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }]);
  const plain = input(row());
  assert.deepEqual([plain.resources, plain.capAdd, plain.capDrop, plain.privileged], [{}, [], [], false]);
  assert.equal(plain.shmSize, undefined);
});

test('namespaces: the resolved network, the host pid, ipc and uts when asked', () => {
  assert.deepEqual(input(row()).namespaces, { network: { path: '/run/berth/network/netns/c0ffee' } });
  assert.deepEqual(
    input(row({ hc: { PidMode: 'host', IpcMode: 'host', UTSMode: 'host' } }), resolved({ network: 'host' })).namespaces,
    { network: 'host', pid: 'host', ipc: 'host', uts: 'host' },
  );
});

test('--init: the host binary when one is installed', () => {
  assert.equal(input(row({ hc: { Init: true } }), resolved({ init: '/usr/bin/catatonit' })).init, '/usr/bin/catatonit');
  assert.equal(input(row({ hc: { Init: true } })).init, undefined);
  assert.equal(input(row(), resolved({ init: '/usr/bin/catatonit' })).init, undefined);
});

test('the input builds a spec', () => {
  const spec = buildSpec(input(row({ hc: { CapAdd: ['NET_ADMIN'] } })));
  assert.deepEqual(spec.process.args, ['sh', '-c', 'true']);
  assert.ok(spec.process.capabilities!.bounding.includes('CAP_NET_ADMIN'));
  assert.ok(spec.mounts.some((m) => m.destination === '/etc/resolv.conf' && m.source === '/c/resolv.conf'));
});

test('runtime options: terminal, stdin, stdin once, the log file and its size limit', () => {
  assert.deepEqual(runtimeOptions(row(), '/c/ctr.log'), {
    terminal: false,
    stdin: false,
    stdinOnce: true,
    logPath: '/c/ctr.log',
  });
  assert.deepEqual(
    runtimeOptions(
      row({
        config: { Tty: true, OpenStdin: true, StdinOnce: false },
        hc: { LogConfig: { Type: 'json-file', Config: { 'max-size': '10m' } } },
      }),
      '/c/ctr.log',
    ),
    { terminal: true, stdin: true, stdinOnce: false, logPath: '/c/ctr.log', logSizeMax: 10 * 2 ** 20 },
  );
  const none = runtimeOptions(row({ hc: { LogConfig: { Type: 'none' } } }), '/c/ctr.log');
  assert.equal(none.logPath, undefined, 'the none driver: no log file');
  const local = runtimeOptions(row({ hc: { LogConfig: { Type: 'local' } } }), '/c/ctr.log');
  assert.equal(local.logSizeMax, 20 * 2 ** 20, "local's default: 20 MB files");
});

test("create's check refuses what start would refuse, before anything exists", () => {
  validateSpec(row({ hc: { SecurityOpt: ['no-new-privileges'] } }), host);
  const volume: MountPoint = {
    Type: 'volume',
    Name: 'v',
    Source: '/v',
    Destination: '/v',
    Mode: '',
    RW: true,
    Propagation: '',
  };
  validateSpec(row({ mounts: [volume] }), host);
  assert.throws(
    () => validateSpec(row({ hc: { SecurityOpt: ['seccomp=/etc/p.json'] } }), host),
    /send the profile JSON in SecurityOpt/,
  );
  assert.throws(
    () => validateSpec(row({ hc: { LogConfig: { Type: 'json-file', Config: { 'max-size': 'ten' } } } }), host),
    (e: unknown) => e instanceof InvalidArgumentError && e.message === 'invalid max-size "ten"',
  );
});
