/**
 * What issue 16 found clients expecting of containers, each checked on its own against a real berthd (the differential
 * test compares with dockerd 20.10, but only where the reference can run the same thing): kill that returns once the
 * container is exited, legacy links, the namespace and cgroup options of `docker run`, and commit of a running
 * container.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, docker, startDaemon, type Daemon } from './harness.ts';

async function ok(d: Daemon, args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(d, args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const json = (body: unknown) => [JSON.stringify(body), { 'Content-Type': 'application/json' }] as const;

/** The parts of container inspect these tests read. */
interface Inspect {
  State: { Status: string; Running: boolean; Paused: boolean; ExitCode: number; Pid: number };
  Config: { Hostname: string };
  HostConfig: { Links: string[] | null; BlkioWeight: number; LogConfig: { Type: string } };
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
}

async function inspect(d: Daemon, ref: string): Promise<Inspect> {
  const r = await api(d.socket, 'GET', `/containers/${ref}/json`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Inspect;
}

describe('container fidelity (issue 16)', () => {
  let d: Daemon;

  before(async () => {
    d = await startDaemon({ seed: true });
  });

  after(async () => {
    if (!d) return;
    const list = await api(d.socket, 'GET', '/containers/json?all=1').catch(() => undefined);
    for (const c of list && list.status === 200 ? (JSON.parse(list.body) as { Id: string }[]) : [])
      await api(d.socket, 'DELETE', `/containers/${c.Id}?force=1&v=1`);
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((p) => p.startsWith(d.dataRoot));
    await d.cleanup();
    assert.deepEqual(mounts, [], 'nothing left mounted under the data root (a shareable /dev/shm neither)');
  });

  it('POST /kill (SIGKILL) returns once inspect shows the container exited with 137, paused ones too', async () => {
    for (const paused of [false, true]) {
      const id = (await ok(d, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).trim();
      if (paused) await ok(d, ['pause', id]);
      const k = await api(d.socket, 'POST', `/containers/${id}/kill`);
      assert.equal(k.status, 204, k.body);
      const s = (await inspect(d, id)).State;
      assert.deepEqual([s.Status, s.Running, s.Paused, s.ExitCode], ['exited', false, false, 137], `paused=${paused}`);
      await ok(d, ['rm', id]);
    }
    // Another signal returns at once: the container may still be running.
    const id = (await ok(d, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).trim();
    assert.equal((await api(d.socket, 'POST', `/containers/${id}/kill?signal=SIGWINCH`)).status, 204);
    assert.equal((await inspect(d, id)).State.Running, true);
    await ok(d, ['rm', '-f', id]);
  });

  it('--link on the default bridge: ALIAS_* variables and a hosts line; inspect, ps names and DELETE ?link=1', async () => {
    await ok(d, ['run', '-d', '--name', 'lk-db', '-e', 'PG=16', '--expose', '5432', 'busybox', 'sleep', '60']);
    const dbIp = (await inspect(d, 'lk-db')).NetworkSettings.Networks.bridge!.IPAddress;
    assert.match(dbIp, /^\d+\.\d+\.\d+\.\d+$/);
    const out = await ok(d, [
      'run',
      '--name',
      'lk-web',
      '--link',
      'lk-db:database',
      'busybox',
      'sh',
      '-c',
      'env | grep ^DATABASE_ | sort; grep database /etc/hosts',
    ]);
    const lines = out.trim().split('\n');
    for (const want of [
      `DATABASE_ENV_PG=16`,
      `DATABASE_NAME=/lk-web/database`,
      `DATABASE_PORT=tcp://${dbIp}:5432`,
      `DATABASE_PORT_5432_TCP_ADDR=${dbIp}`,
      `DATABASE_PORT_5432_TCP_PORT=5432`,
      `DATABASE_PORT_5432_TCP_PROTO=tcp`,
    ])
      assert.ok(lines.includes(want), `${want} in:\n${out}`);
    const hostsLine = lines.find((l) => l.startsWith(dbIp));
    assert.ok(hostsLine, out);
    assert.deepEqual(hostsLine.split(/\s+/).slice(1), [
      'database',
      (await inspect(d, 'lk-db')).Config.Hostname,
      'lk-db',
    ]);
    assert.deepEqual((await inspect(d, 'lk-web')).HostConfig.Links, ['/lk-db:/lk-web/database']);
    const ps = JSON.parse((await api(d.socket, 'GET', '/containers/json?filters={"name":["lk-db"]}')).body) as {
      Names: string[];
    }[];
    assert.deepEqual(ps[0]!.Names, ['/lk-db', '/lk-web/database']);

    const none = await api(d.socket, 'DELETE', '/containers/lk-web/nolink?link=1');
    assert.equal(none.status, 404);
    assert.equal(JSON.parse(none.body).message, 'No such container: lk-web/nolink');
    assert.equal((await api(d.socket, 'DELETE', '/containers/lk-web/database?link=1')).status, 204);
    assert.equal((await inspect(d, 'lk-web')).HostConfig.Links, null);
    assert.equal((await inspect(d, 'lk-db')).State.Running, true, 'removing the link leaves both containers');

    const missing = await docker(d, ['run', '--rm', '--link', 'lk-nosuch:x', 'busybox', 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /could not get container for lk-nosuch: No such container: lk-nosuch/);
    await ok(d, ['stop', '-t', '0', 'lk-db']);
    const stopped = await docker(d, ['run', '--rm', '--link', 'lk-db:database', 'busybox', 'true']);
    assert.notEqual(stopped.code, 0);
    assert.match(stopped.stderr, /Cannot link to a non running container: \/lk-db AS \/[a-z_0-9]+\/database/);
    await ok(d, ['rm', '-f', 'lk-db', 'lk-web']);
  });

  it('--ipc, --pid, --uts, --cgroupns, --userns, --isolation and --cidfile as dockerd takes them', async () => {
    const run = (args: string[]) => ok(d, ['run', '--rm', '--network', 'none', ...args]);
    assert.equal(await run(['--ipc', 'host', 'busybox', 'sh', '-c', 'test -d /dev/shm && echo ok']), 'ok\n');
    assert.equal(await run(['--uts', 'host', 'busybox', 'hostname']), `${hostname()}\n`);
    const conflict = await docker(d, ['run', '--rm', '--uts', 'host', '-h', 'x', 'busybox', 'true']);
    assert.equal(conflict.code, 125);
    assert.match(conflict.stderr, /conflicting options: hostname and the UTS mode/);
    // The host's PID namespace: PID 1 is the host's init, not the container's command.
    assert.notEqual((await run(['--pid', 'host', 'busybox', 'cat', '/proc/1/comm'])).trim(), 'cat');

    await ok(d, [
      'run',
      '-d',
      '--name',
      'ns-donor',
      '--network',
      'none',
      '--ipc',
      'shareable',
      'busybox',
      'sleep',
      '60',
    ]);
    await ok(d, ['exec', 'ns-donor', 'sh', '-c', 'echo shared > /dev/shm/mark']);
    const seen = await run([
      '--pid',
      'container:ns-donor',
      '--ipc',
      'container:ns-donor',
      'busybox',
      'sh',
      '-c',
      'ps -o comm; cat /dev/shm/mark',
    ]);
    assert.match(seen, /sleep/, "the donor's processes are visible");
    assert.match(seen, /shared/, "the donor's /dev/shm is shared");
    await ok(d, ['run', '-d', '--name', 'ns-private', '--network', 'none', 'busybox', 'sleep', '60']);
    const notShareable = await docker(d, ['run', '--rm', '--ipc', 'container:ns-private', 'busybox', 'true']);
    assert.notEqual(notShareable.code, 0);
    assert.match(notShareable.stderr, /non-shareable IPC/);
    await ok(d, ['rm', '-f', 'ns-donor', 'ns-private']);

    assert.equal((await run(['--ipc', 'none', 'busybox', 'sh', '-c', 'test -e /dev/shm || echo none'])).trim(), 'none');
    // --cgroupns host keeps the host's cgroup namespace (the default on cgroup v1), private gives a new one.
    const hostNs = await readlink('/proc/self/ns/cgroup');
    const ns = (mode: string) => run(['--cgroupns', mode, 'busybox', 'readlink', '/proc/self/ns/cgroup']);
    assert.equal((await ns('host')).trim(), hostNs);
    assert.notEqual((await ns('private')).trim(), hostNs);
    await run(['--userns', 'host', '--isolation', 'default', 'busybox', 'true']);
    // --cidfile: the CLI writes the ID the engine answered, and refuses a file that exists.
    const cidfile = join(d.dir, 'run.cid');
    const cid = (await ok(d, ['run', '-d', '--network', 'none', '--cidfile', cidfile, 'busybox', 'true'])).trim();
    assert.match(cid, /^[0-9a-f]{64}$/);
    assert.equal(await readFile(cidfile, 'utf8'), cid);
    const again = await docker(d, ['run', '--rm', '--cidfile', cidfile, 'busybox', 'true']);
    assert.equal(again.code, 125);
    assert.match(again.stderr, /container ID file found/);
    await ok(d, ['rm', '-f', cid]);
    for (const [flag, value, message] of [
      ['--isolation', 'hyperv', /invalid isolation \(hyperv\): linux only supports 'default'/],
      ['--ipc', 'bogus', /invalid IPC mode: bogus/],
    ] as const) {
      const r = await docker(d, ['run', '--rm', flag, value, 'busybox', 'true']);
      assert.equal(r.code, 125, `${flag} ${value}`);
      assert.match(r.stderr, message);
    }
    // The CLI checks --cgroupns itself; the API says it as dockerd.
    const bad = await api(
      d.socket,
      'POST',
      '/containers/create',
      ...json({ Image: 'busybox', HostConfig: { CgroupnsMode: 'bogus' } }),
    );
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).message, 'invalid cgroup namespace mode: bogus');
  });

  it('--device-cgroup-rule, --oom-kill-disable, --memory-reservation, --cpu-period/--cpu-quota reach the cgroup', async () => {
    const v2 = (await api(d.socket, 'GET', '/info').then((r) => JSON.parse(r.body).CgroupVersion)) === '2';
    const read = (args: string[], file: string) =>
      ok(d, ['run', '--rm', '--network', 'none', ...args, 'busybox', 'cat', `/sys/fs/cgroup/${file}`]);
    if (!v2) {
      assert.match(await read(['--device-cgroup-rule', 'c 7:128 rwm'], 'devices/devices.list'), /^c 7:128 rwm$/m);
      assert.match(await read(['-m', '64m', '--oom-kill-disable'], 'memory/memory.oom_control'), /oom_kill_disable 1/);
      assert.equal(
        (await read(['--memory-reservation', '32m'], 'memory/memory.soft_limit_in_bytes')).trim(),
        `${32 << 20}`,
      );
      assert.equal(
        (await read(['--cpu-period', '50000', '--cpu-quota', '25000'], 'cpu/cpu.cfs_quota_us')).trim(),
        '25000',
      );
      assert.equal((await read(['--cpu-period', '50000'], 'cpu/cpu.cfs_period_us')).trim(), '50000');
    } else {
      assert.equal((await read(['--memory-reservation', '32m'], 'memory.low')).trim(), `${32 << 20}`);
      assert.equal((await read(['--cpu-period', '50000', '--cpu-quota', '25000'], 'cpu.max')).trim(), '25000 50000');
    }
    // What the host cannot do is warned about and discarded, as dockerd does.
    const info = JSON.parse(
      (
        await api(
          d.socket,
          'POST',
          '/containers/create',
          ...json({ Image: 'busybox', HostConfig: { BlkioWeight: 300, NetworkMode: 'none' } }),
        )
      ).body,
    ) as { Id: string; Warnings: string[] };
    const weight = (await inspect(d, info.Id)).HostConfig.BlkioWeight;
    if (info.Warnings.length) {
      assert.deepEqual(info.Warnings, [
        'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
      ]);
      assert.equal(weight, 0);
    } else assert.equal(weight, 300);
    const noLimit = await docker(d, ['run', '--rm', '--network', 'none', '--oom-kill-disable', 'busybox', 'true']);
    assert.equal(noLimit.code, 0, noLimit.stderr);
    assert.match(
      noLimit.stderr,
      /WARNING: .*OOM killer is disabled for the container, but no memory limit is set|OomKillDisable discarded/,
    );
    await ok(d, ['rm', info.Id]);
  });

  it('log drivers: none (attached output, no logs), local, json-file rotated by max-size/max-file; others refused', async () => {
    assert.equal(await ok(d, ['run', '--name', 'lg-none', '--log-driver', 'none', 'busybox', 'echo', 'x']), 'x\n');
    const none = await docker(d, ['logs', 'lg-none']);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /configured logging driver does not support reading/);
    assert.equal((await api(d.socket, 'GET', '/containers/lg-none/logs?stdout=1')).status, 501);
    await ok(d, ['run', '--name', 'lg-local', '--log-driver', 'local', 'busybox', 'echo', 'kept']);
    assert.equal(await ok(d, ['logs', 'lg-local']), 'kept\n');
    assert.equal((await inspect(d, 'lg-local')).HostConfig.LogConfig.Type, 'local');

    // About eleven lines fill 1 KiB of conmon's log format: 60 lines rotate it several times; three files are kept.
    const script = 'for i in $(seq 1 60); do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; sleep 0.03; done';
    await ok(d, [
      'run',
      '--name',
      'lg-rot',
      '--log-opt',
      'max-size=1k',
      '--log-opt',
      'max-file=3',
      'busybox',
      'sh',
      '-c',
      script,
    ]);
    const shown = (await ok(d, ['logs', 'lg-rot']))
      .trim()
      .split('\n')
      .map((l) => Number(/^line-(\d+)-/.exec(l)?.[1]));
    assert.equal(shown.at(-1), 60, 'the newest line is there');
    assert.ok(shown[0]! > 1, `the oldest lines went with the oldest file: ${shown.join(',')}`);
    assert.ok(shown.length > 12, `more than the live file's lines: the rotated files are read too (${shown.length})`);
    for (const [i, n] of shown.entries()) assert.equal(n, shown[0]! + i, `consecutive: ${shown.join(',')}`);
    const tail = (await ok(d, ['logs', '--tail', '20', 'lg-rot'])).trim().split('\n');
    assert.equal(tail.length, 20, 'tail counts across the files');
    assert.match(tail[19]!, /^line-60-/);

    const unknown = await docker(d, ['run', '--rm', '--log-driver', 'df-nosuch', 'busybox', 'true']);
    assert.equal(unknown.code, 125);
    assert.match(unknown.stderr, /error looking up logging plugin df-nosuch: plugin "df-nosuch" not found/);
    const syslog = await docker(d, ['run', '--rm', '--log-driver', 'syslog', 'busybox', 'true']);
    assert.equal(syslog.code, 125);
    assert.match(syslog.stderr, /logging driver "syslog" is not available in Berth/);
    await ok(d, ['rm', 'lg-none', 'lg-local', 'lg-rot']);
  });

  it('sizes as dockerd counts them: inspect --size, ps -s, system df (containers, volumes, images in use)', async () => {
    await ok(d, [
      'run',
      '--name',
      'sz-a',
      '--network',
      'none',
      '-v',
      'sz-vol:/data',
      'busybox',
      'sh',
      '-c',
      'echo hello > /data/x; head -c 3000 /dev/zero > /big; ln -s /big /lnk; mkdir -p /d/e',
    ]);
    const image = (await api(d.socket, 'GET', '/images/busybox/json').then((r) => JSON.parse(r.body))) as {
      Size: number;
    };
    // 3000 bytes and a symlink of 4; the directory made and the mount points are not counted.
    const [rw, rootfs] = (
      await ok(d, ['container', 'inspect', '--size', '--format', '{{.SizeRw}} {{.SizeRootFs}}', 'sz-a'])
    )
      .trim()
      .split(' ')
      .map(Number);
    assert.deepEqual([rw, rootfs], [3004, image.Size + 3004]);
    const plain = JSON.parse((await api(d.socket, 'GET', '/containers/sz-a/json')).body) as Record<string, unknown>;
    assert.ok(!('SizeRw' in plain), 'sizes only when asked');
    assert.match(
      await ok(d, ['ps', '-a', '-s', '--filter', 'name=sz-a', '--format', '{{.Size}}']),
      /^3(\.0\d*)?kB \(virtual \d/,
    );
    const df = JSON.parse((await api(d.socket, 'GET', '/system/df')).body) as {
      Containers: { Names: string[]; SizeRw?: number; SizeRootFs?: number }[];
      Volumes: { Name: string; UsageData: { Size: number; RefCount: number } }[];
      Images: { RepoTags: string[]; Containers: number }[];
    };
    const c = df.Containers.find((x) => x.Names[0] === '/sz-a');
    assert.deepEqual([c?.SizeRw, c?.SizeRootFs], [3004, image.Size + 3004]);
    assert.deepEqual(df.Volumes.find((v) => v.Name === 'sz-vol')?.UsageData, { RefCount: 1, Size: 6 });
    assert.ok((df.Images.find((i) => i.RepoTags.includes('busybox:latest'))?.Containers ?? 0) >= 1);
    assert.match(await ok(d, ['system', 'df']), /Local Volumes\s+\d+\s+\d+\s+\d/);
    await ok(d, ['rm', 'sz-a']);
    await ok(d, ['volume', 'rm', 'sz-vol']);
  });

  it("masked and read-only paths: Docker's defaults listed in inspect and applied; systempaths=unconfined, privileged", async () => {
    const paths = async (args: string[]) => {
      const id = (
        await ok(d, ['create', '--network', 'none', ...args, 'busybox', 'wc', '-c', '/proc/timer_list'])
      ).trim();
      const hc = JSON.parse((await api(d.socket, 'GET', `/containers/${id}/json`)).body).HostConfig as {
        MaskedPaths: string[] | null;
        ReadonlyPaths: string[] | null;
      };
      const bytes = Number((await ok(d, ['start', '-a', id])).trim().split(/\s+/)[0]);
      await ok(d, ['rm', id]);
      return { masked: hc.MaskedPaths, readonly: hc.ReadonlyPaths, bytes };
    };
    const dflt = await paths([]);
    assert.ok(dflt.masked?.includes('/proc/timer_list') && dflt.masked.includes('/sys/firmware'), String(dflt.masked));
    assert.deepEqual(dflt.readonly, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    assert.equal(dflt.bytes, 0, '/proc/timer_list is masked');
    const unconfined = await paths(['--security-opt', 'systempaths=unconfined']);
    assert.deepEqual([unconfined.masked, unconfined.readonly], [[], []]);
    assert.ok(unconfined.bytes > 0, 'nothing masked with systempaths=unconfined');
    const privileged = await paths(['--privileged']);
    assert.deepEqual([privileged.masked, privileged.readonly], [null, null]);
  });

  it('deleting an image by ID: a running container is named first (cannot be forced), then the other references', async () => {
    await ok(d, ['tag', 'busybox', 'rmi-other/bb:x']);
    const image = JSON.parse((await api(d.socket, 'GET', '/images/busybox/json')).body).Id as string;
    const id = (await ok(d, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).trim();
    for (const q of ['', '?force=1']) {
      const r = await api(d.socket, 'DELETE', `/images/${image}${q}`);
      assert.equal(r.status, 409, r.body);
      assert.equal(
        JSON.parse(r.body).message,
        `conflict: unable to delete ${image.slice(7, 19)} (cannot be forced) - image is being used by running container ${id.slice(0, 12)}`,
      );
    }
    await ok(d, ['rm', '-f', id]);
    const r = await api(d.socket, 'DELETE', `/images/${image}`);
    assert.match(JSON.parse(r.body).message, /\(must be forced\) - image is referenced in multiple repositories$/);
    await ok(d, ['rmi', 'rmi-other/bb:x']);
  });

  it('network connect and disconnect of a stopped container, and create errors, with dockerd codes', async () => {
    const net = { Name: 'fid-net', IPAM: { Config: [{ Subnet: '10.231.77.0/24' }] } };
    assert.equal((await api(d.socket, 'POST', '/networks/create', ...json(net))).status, 201);
    const bad = await api(d.socket, 'POST', '/networks/create', ...json({ Name: 'fid-bad', Driver: 'fid-nosuch' }));
    assert.deepEqual([bad.status, JSON.parse(bad.body).message], [404, 'plugin "fid-nosuch" not found']);
    const overlap = await api(d.socket, 'POST', '/networks/create', ...json({ ...net, Name: 'fid-net2' }));
    assert.deepEqual(
      [overlap.status, JSON.parse(overlap.body).message],
      [403, 'Pool overlaps with other one on this address space'],
    );
    const id = (await ok(d, ['create', 'busybox', 'true'])).trim();
    const connect = () => api(d.socket, 'POST', '/networks/fid-net/connect', ...json({ Container: id }));
    assert.equal((await connect()).status, 200);
    assert.equal((await connect()).status, 200, 'again: a stopped container is connected already');
    // Removed while the stopped container names it: disconnecting by its name still works, once.
    assert.equal((await api(d.socket, 'DELETE', '/networks/fid-net')).status, 204);
    const disconnect = () => api(d.socket, 'POST', '/networks/fid-net/disconnect', ...json({ Container: id }));
    assert.equal((await disconnect()).status, 200);
    const again = await disconnect();
    assert.deepEqual(
      [again.status, JSON.parse(again.body).message],
      [500, `container ${id} is not connected to the network fid-net`],
    );
    await ok(d, ['rm', id]);
  });

  it("one-shot stats carry dockerd 20.10's cgroup v1 fields: every blkio list, percpu_usage, max_usage", async (t) => {
    if (!existsSync('/sys/fs/cgroup/cpuacct')) return t.skip('not a cgroup v1 host');
    const id = (await ok(d, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).trim();
    const s = JSON.parse((await api(d.socket, 'GET', `/containers/${id}/stats?stream=false`)).body) as {
      blkio_stats: Record<string, unknown>;
      cpu_stats: { cpu_usage: { percpu_usage?: number[] } };
      memory_stats: { max_usage?: number };
    };
    for (const [k, v] of Object.entries(s.blkio_stats)) assert.ok(Array.isArray(v), `${k} is a list`);
    assert.equal(Object.keys(s.blkio_stats).length, 8);
    assert.ok((s.cpu_stats.cpu_usage.percpu_usage?.length ?? 0) >= Math.min(1, cpus().length), 'percpu_usage');
    assert.equal(typeof s.memory_stats.max_usage, 'number');
    assert.ok(!('networks' in s), 'no networks with --network none, as dockerd');
    await ok(d, ['rm', '-f', id]);
  });

  it('stats carry networks: the counters of each interface of the container, lo left out', async () => {
    const id = (await ok(d, ['run', '-d', 'busybox', 'sleep', '60'])).trim();
    const s = JSON.parse((await api(d.socket, 'GET', `/containers/${id}/stats?stream=false`)).body) as {
      networks?: Record<string, Record<string, number>>;
    };
    assert.deepEqual(Object.keys(s.networks ?? {}), ['eth0']);
    const eth0 = s.networks?.eth0 ?? {};
    for (const k of [
      'rx_bytes',
      'rx_packets',
      'rx_errors',
      'rx_dropped',
      'tx_bytes',
      'tx_packets',
      'tx_errors',
      'tx_dropped',
    ])
      assert.equal(typeof eth0[k], 'number', k);
    // What the kernel counts in the container's namespace, read after: never less than what stats said.
    const net = await readFile(`/proc/${(await inspect(d, id)).State.Pid}/net/dev`, 'utf8');
    const later = /eth0:\s*(\d+)\s+(\d+)/.exec(net);
    assert.ok(later, net);
    assert.ok(Number(later[1]) >= (eth0.rx_bytes ?? Number.NaN), `${later[1]} >= ${eth0.rx_bytes}`);
    assert.ok(Number(later[2]) >= (eth0.rx_packets ?? Number.NaN));
    await ok(d, ['rm', '-f', id]);
  });

  it('commit of a running container: paused meanwhile, or not with pause=false; the container keeps running', async () => {
    const id = (
      await ok(d, ['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'echo x > /made; sleep 60'])
    ).trim();
    for (const pause of ['true', 'false']) {
      const r = await api(
        d.socket,
        'POST',
        `/commit?container=${id}&repo=fid-commit&tag=${pause}&pause=${pause}`,
        ...json({}),
      );
      assert.equal(r.status, 201, r.body);
      assert.equal(await ok(d, ['run', '--rm', '--network', 'none', `fid-commit:${pause}`, 'cat', '/made']), 'x\n');
    }
    assert.equal((await inspect(d, id)).State.Status, 'running');
    await ok(d, ['rm', '-f', id]);
    await ok(d, ['rmi', 'fid-commit:true', 'fid-commit:false']);
  });
});
