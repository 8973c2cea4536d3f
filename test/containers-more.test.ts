/**
 * More of issue 3 through the real docker CLI (and berth where the client matters) against berthd: `cp` into and out
 * of volumes and bind mounts, `exec --privileged`, `--security-opt seccomp=FILE`, and `stats` (block I/O, paused).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, berth, docker, run, startDaemon, waitFor, type Daemon } from './harness.ts';

async function ok(d: Daemon, args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(d, args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Mounts of this (the host's) mount namespace under `dir`. */
async function mountsUnder(dir: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(dir));
}

function capMask(status: string, field: string): string {
  const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
  assert.ok(m, `${field} in ${status}`);
  return m[1]!;
}

describe('more containers through the docker CLI', () => {
  let d: Daemon;
  let host: string;

  before(async () => {
    d = await startDaemon({ seed: true });
    host = await mkdtemp(join(tmpdir(), 'berth-more-'));
  });

  after(async () => {
    if (d) {
      const list = await api(d.socket, 'GET', '/containers/json?all=1').catch(() => undefined);
      for (const c of list && list.status === 200 ? (JSON.parse(list.body) as { Id: string }[]) : [])
        await api(d.socket, 'DELETE', `/containers/${c.Id}?force=1&v=1`);
      const left = await api(d.socket, 'GET', '/containers/json?all=1');
      const mounts = await mountsUnder(d.dataRoot);
      await d.cleanup();
      assert.equal(left.body.trim(), '[]', 'every container removed');
      assert.deepEqual(mounts, [], 'nothing left mounted under the data root');
    }
    if (host) await rm(host, { recursive: true, force: true });
  });

  describe('runtimes', () => {
    it('runs crun by default where it works (through runtime-ns on a hybrid host), runc when asked: both alike', async () => {
      const info = JSON.parse(await ok(d, ['info', '--format', '{{json .}}'])) as {
        DefaultRuntime: string;
        Runtimes: Record<string, { path: string; runtimeArgs?: string[] }>;
      };
      assert.ok(info.Runtimes.runc, 'runc works here');
      if (info.Runtimes.crun) assert.equal(info.DefaultRuntime, 'crun');
      const hybrid = existsSync('/sys/fs/cgroup/unified/cgroup.controllers');
      if (hybrid && info.Runtimes.crun) assert.match(info.Runtimes.crun.path, /runtime-ns$/);
      for (const rt of Object.keys(info.Runtimes)) {
        const id = (await ok(d, ['run', '-d', '--runtime', rt, '--network', 'none', 'busybox', 'sleep', '60'])).trim();
        const inspect = JSON.parse(await ok(d, ['inspect', id])) as { HostConfig: { Runtime: string } }[];
        assert.equal(inspect[0]!.HostConfig.Runtime, rt);
        // the container and what is exec'd in it, in its cgroup of each hierarchy, the unified one too
        const cg = await ok(d, ['exec', id, 'cat', '/proc/self/cgroup']);
        assert.match(cg, new RegExp(`^\\d+:pids:/berth/${id}$`, 'm'));
        if (hybrid) assert.match(cg, new RegExp(`^0::/berth/${id}$`, 'm'));
        const missing = await docker(d, ['exec', id, 'nosuchcmd']);
        assert.equal(missing.code, 127, `${rt}: ${missing.stderr}`);
        await ok(d, ['pause', id]);
        assert.equal((await docker(d, ['pause', id])).code, 1);
        await ok(d, ['unpause', id]);
        await ok(d, ['update', '--pids-limit', '33', id]);
        assert.equal(readFileSync(`/sys/fs/cgroup/pids/berth/${id}/pids.max`, 'utf8').trim(), '33');
        assert.match(await ok(d, ['top', id]), /sleep 60/);
        await ok(d, ['rm', '-f', id]);
        assert.equal(existsSync(`/sys/fs/cgroup/pids/berth/${id}`), false, `${rt}: v1 cgroup removed`);
        assert.equal(existsSync(`/sys/fs/cgroup/unified/berth/${id}`), false, `${rt}: unified cgroup removed`);
      }
    });
  });

  describe('cp with volumes and bind mounts', () => {
    it('copies into and out of a named volume and a bind mount of a running container, landing in the volume as Docker', async () => {
      const bind = join(host, 'bind');
      await mkdir(bind);
      await writeFile(join(host, 'a.txt'), 'into the volume\n');
      await ok(d, [
        'run',
        '-d',
        '--name',
        'cpv',
        '--network',
        'none',
        '-v',
        'cpvol:/data',
        '-v',
        `${bind}:/bind`,
        '-v',
        'cprovol:/ro:ro',
        'busybox',
        'sleep',
        '1000',
      ]);
      await ok(d, ['cp', join(host, 'a.txt'), 'cpv:/data/a.txt']);
      await ok(d, ['cp', join(host, 'a.txt'), 'cpv:/bind/b.txt']);
      assert.equal(
        await ok(d, ['exec', 'cpv', 'cat', '/data/a.txt', '/bind/b.txt']),
        'into the volume\ninto the volume\n',
        'the container sees both copies',
      );
      const volDir = (await ok(d, ['volume', 'inspect', '-f', '{{.Mountpoint}}', 'cpvol'])).trim();
      assert.equal(await readFile(join(volDir, 'a.txt'), 'utf8'), 'into the volume\n', 'the file is in the volume');
      assert.equal(await readFile(join(bind, 'b.txt'), 'utf8'), 'into the volume\n', 'the file is in the bind source');
      // Not beneath the mount, in the container's own layer: diff does not list it, another container sees it.
      assert.doesNotMatch(await ok(d, ['diff', 'cpv']), /a\.txt/);
      assert.equal(
        await ok(d, ['run', '--rm', '--network', 'none', '-v', 'cpvol:/v', 'busybox', 'cat', '/v/a.txt']),
        'into the volume\n',
      );

      // Out of the volume and the bind mount: files the container wrote there, and a whole directory.
      await ok(d, ['exec', 'cpv', 'sh', '-c', 'echo from inside > /data/in.txt; echo bound > /bind/in.txt']);
      await ok(d, ['cp', 'cpv:/data/in.txt', join(host, 'in.txt')]);
      assert.equal(await readFile(join(host, 'in.txt'), 'utf8'), 'from inside\n');
      await ok(d, ['cp', 'cpv:/data', join(host, 'data-out')]);
      assert.deepEqual((await readdir(join(host, 'data-out'))).sort(), ['a.txt', 'in.txt']);
      await ok(d, ['cp', 'cpv:/bind/in.txt', join(host, 'bound.txt')]);
      assert.equal(await readFile(join(host, 'bound.txt'), 'utf8'), 'bound\n');

      // A read-only volume takes nothing (Docker's message); the view the copy used is gone.
      const ro = await docker(d, ['cp', join(host, 'a.txt'), 'cpv:/ro/a.txt']);
      assert.notEqual(ro.code, 0);
      assert.match(ro.stderr, /mounted volume is marked read-only/);
      const id = (await ok(d, ['inspect', '-f', '{{.Id}}', 'cpv'])).trim();
      assert.deepEqual(
        (await readdir(join(d.dataRoot, 'containers', id))).filter((n) => n.startsWith('view-')),
        [],
      );
      assert.deepEqual(
        (await mountsUnder(join(d.dataRoot, 'containers', id))).filter((p) => p.includes('view-')),
        [],
        'no view left mounted',
      );
    });

    it('copies into the volume of a stopped container, and into a volume (only) of a read-only one', async () => {
      await writeFile(join(host, 's.txt'), 'stopped\n');
      await ok(d, [
        'create',
        '--name',
        'cps',
        '--network',
        'none',
        '-v',
        'cpsvol:/data',
        'busybox',
        'cat',
        '/data/s.txt',
      ]);
      await ok(d, ['cp', join(host, 's.txt'), 'cps:/data/']);
      const volDir = (await ok(d, ['volume', 'inspect', '-f', '{{.Mountpoint}}', 'cpsvol'])).trim();
      assert.equal(await readFile(join(volDir, 's.txt'), 'utf8'), 'stopped\n');
      assert.equal(await ok(d, ['start', '-a', 'cps']), 'stopped\n', 'the container reads it from its volume');
      const id = (await ok(d, ['inspect', '-f', '{{.Id}}', 'cps'])).trim();
      // `start -a` returns at the exit, as docker's does; the run's release (runc delete, the unmounts) follows it.
      await waitFor(
        'the stopped container unmounted again',
        async () => (await mountsUnder(join(d.dataRoot, 'containers', id))).length === 0,
        10_000,
      );

      await ok(d, [
        'run',
        '-d',
        '--name',
        'cpro',
        '--read-only',
        '--network',
        'none',
        '-v',
        'cprovol2:/w',
        'busybox',
        'sleep',
        '1000',
      ]);
      await ok(d, ['cp', join(host, 's.txt'), 'cpro:/w/']);
      assert.equal(await ok(d, ['exec', 'cpro', 'cat', '/w/s.txt']), 'stopped\n');
      const r = await docker(d, ['cp', join(host, 's.txt'), 'cpro:/tmp/']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /container rootfs is marked read-only/);
    });
  });

  describe('cp views left mounted', () => {
    it('rm of a container with a cp view still mounted (a crash mid-copy) detaches it and leaves the volume alone', async () => {
      await ok(d, [
        'run',
        '-d',
        '--name',
        'cpcrash',
        '--network',
        'none',
        '-v',
        'keepvol:/data',
        'busybox',
        'sleep',
        '1000',
      ]);
      await ok(d, ['exec', 'cpcrash', 'sh', '-c', 'echo precious > /data/keep.txt']);
      const id = (await ok(d, ['inspect', '-f', '{{.Id}}', 'cpcrash'])).trim();
      const volDir = (await ok(d, ['volume', 'inspect', '-f', '{{.Mountpoint}}', 'keepvol'])).trim();
      // What a daemon killed in the middle of a cp leaves: a view with the volume mounted in it.
      const view = join(d.dataRoot, 'containers', id, 'view-leftover');
      await mkdir(join(view, 'data'), { recursive: true });
      const m = await run('mount', ['--bind', volDir, join(view, 'data')]);
      assert.equal(m.code, 0, m.stderr);
      try {
        await ok(d, ['rm', '-f', 'cpcrash']);
        assert.equal(await readFile(join(volDir, 'keep.txt'), 'utf8'), 'precious\n', 'the volume keeps its files');
        assert.deepEqual(await mountsUnder(view), []);
      } finally {
        if ((await mountsUnder(view)).length > 0) await run('umount', ['-l', join(view, 'data')]);
      }
    });
  });

  describe('exec --privileged', () => {
    it("gives the exec'd process the full capability set, and a plain exec the container's", async () => {
      await ok(d, ['run', '-d', '--name', 'capc', '--network', 'none', 'busybox', 'sleep', '1000']);
      const plain = await ok(d, ['exec', 'capc', 'cat', '/proc/self/status']);
      const priv = await ok(d, ['exec', '--privileged', 'capc', 'cat', '/proc/self/status']);
      // Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
      assert.equal(capMask(plain, 'CapEff'), '00000000a80425fb');
      // Everything the runtime holds, which is what this (root) test process holds.
      const ours = capMask(readFileSync('/proc/self/status', 'utf8'), 'CapBnd');
      assert.equal(capMask(priv, 'CapEff'), ours);
      assert.equal(capMask(priv, 'CapBnd'), ours);
      assert.notEqual(ours, '00000000a80425fb');
    });
  });

  describe('--security-opt seccomp', () => {
    it('seccomp=FILE: a Docker-format profile denying mkdir makes mkdir fail (docker and berth CLIs); a bad profile creates nothing', async () => {
      const profile = join(host, 'deny-mkdir.json');
      await writeFile(
        profile,
        JSON.stringify(
          {
            defaultAction: 'SCMP_ACT_ALLOW',
            syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
          },
          null,
          2,
        ),
      );
      const denied = await docker(d, [
        'run',
        '--rm',
        '--network',
        'none',
        '--security-opt',
        `seccomp=${profile}`,
        'busybox',
        'mkdir',
        '/x',
      ]);
      assert.equal(denied.code, 1, denied.stderr);
      assert.match(denied.stderr, /can't create directory '\/x': Operation not permitted/);
      assert.equal(
        (
          await docker(d, [
            'run',
            '--rm',
            '--network',
            'none',
            '--security-opt',
            `seccomp=${profile}`,
            'busybox',
            'touch',
            '/x',
          ])
        ).code,
        0,
        'other calls are allowed',
      );
      assert.equal(
        (await docker(d, ['run', '--rm', '--network', 'none', 'busybox', 'mkdir', '/x'])).code,
        0,
        'mkdir works without the profile',
      );
      const viaBerth = await berth(d, [
        'run',
        '--rm',
        '--network',
        'none',
        '--security-opt',
        `seccomp=${profile}`,
        'busybox',
        'mkdir',
        '/x',
      ]);
      assert.equal(viaBerth.code, 1, viaBerth.stderr);
      assert.match(viaBerth.stderr, /Operation not permitted/);

      const ids = async () =>
        (JSON.parse((await api(d.socket, 'GET', '/containers/json?all=1')).body) as { Id: string }[])
          .map((c) => c.Id)
          .sort();
      const before = await ids();
      const bad = join(host, 'bad.json');
      await writeFile(bad, '{"defaultAction":"SCMP_ACT_NOPE"}');
      const r = await docker(d, [
        'run',
        '--rm',
        '--network',
        'none',
        '--security-opt',
        `seccomp=${bad}`,
        'busybox',
        'true',
      ]);
      assert.equal(r.code, 125);
      assert.match(r.stderr, /invalid seccomp profile: defaultAction "SCMP_ACT_NOPE"/);
      const name = await docker(d, [
        'create',
        '--network',
        'none',
        '--security-opt',
        'seccomp=/no/such/file.json',
        'busybox',
        'true',
      ]);
      assert.notEqual(name.code, 0);
      assert.match(name.stderr, /no such file or directory/);
      // A client that sends a file name instead of the profile is told so.
      const raw = await api(
        d.socket,
        'POST',
        '/containers/create',
        JSON.stringify({
          Image: 'busybox',
          HostConfig: { NetworkMode: 'none', SecurityOpt: ['seccomp=/etc/profile.json'] },
        }),
        { 'Content-Type': 'application/json' },
      );
      assert.equal(raw.status, 400);
      assert.match(raw.body, /send the profile JSON/);
      assert.deepEqual(await ids(), before, 'nothing was created');
    });

    it('seccomp=unconfined lifts the default profile (unshare of a user namespace), which blocks it otherwise', async () => {
      const confined = await docker(d, ['run', '--rm', '--network', 'none', 'busybox', 'unshare', '-U', 'true']);
      assert.equal(confined.code, 1);
      assert.match(confined.stderr, /Operation not permitted/);
      assert.equal(
        (
          await docker(d, [
            'run',
            '--rm',
            '--network',
            'none',
            '--security-opt',
            'seccomp=unconfined',
            'busybox',
            'unshare',
            '-U',
            'true',
          ])
        ).code,
        0,
      );
      assert.equal(
        (
          await docker(d, [
            'run',
            '--rm',
            '--network',
            'none',
            '--security-opt',
            'seccomp=builtin',
            'busybox',
            'unshare',
            '-U',
            'true',
          ])
        ).code,
        1,
      );
    });
  });

  describe('stats', () => {
    interface Stats {
      read: string;
      pids_stats: { current?: number };
      memory_stats: { usage?: number };
      blkio_stats: {
        io_service_bytes_recursive: { major: number; minor: number; op: string; value: number }[] | null;
        io_serviced_recursive: unknown[] | null;
      };
    }
    const sample = async (ref: string) =>
      JSON.parse((await api(d.socket, 'GET', `/containers/${ref}/stats?stream=0`)).body) as Stats;

    it('block I/O: bytes written by the container show in the API (v1 blkio) and in docker stats', async () => {
      const dataDev = await stat(d.dataRoot);
      const dev = `${Math.floor(Number(dataDev.dev) / 256) & 0xfff}:${(Number(dataDev.dev) & 0xff) | ((Number(dataDev.dev) >> 12) & 0xfff00)}`;
      await ok(d, [
        'run',
        '-d',
        '--name',
        'io',
        '--network',
        'none',
        'busybox',
        'sh',
        '-c',
        'while [ ! -e /go ]; do sleep 0.1; done; dd if=/dev/zero of=/big bs=1M count=8 oflag=direct; touch /done; sleep 1000',
      ]);
      const id = (await ok(d, ['inspect', '-f', '{{.Id}}', 'io'])).trim();
      // This kernel counts cgroup v1 blkio only on a queue with a throttle rule (blk-throttle keeps the counters);
      // a rule far above any real rate on the container's own group turns the counting on (the group goes with it).
      const blkio = `/sys/fs/cgroup/blkio/berth/${id}`;
      const v1 = await stat(blkio).then(
        () => true,
        () => false,
      );
      if (v1) await writeFile(join(blkio, 'blkio.throttle.write_bps_device'), `${dev} ${2 ** 40}`);
      await ok(d, ['exec', 'io', 'touch', '/go']);
      await waitFor(
        'the write to finish',
        async () => (await docker(d, ['exec', 'io', 'test', '-e', '/done'])).code === 0,
      );
      const s = await sample('io');
      const written = (s.blkio_stats.io_service_bytes_recursive ?? [])
        .filter((e) => e.op.toLowerCase() === 'write')
        .reduce((a, e) => a + e.value, 0);
      assert.ok(written >= 8 << 20, `at least 8 MiB written: ${JSON.stringify(s.blkio_stats)}`);
      assert.ok((s.blkio_stats.io_serviced_recursive ?? []).length > 0);
      const line = (await ok(d, ['stats', '--no-stream', '--format', '{{.Name}} {{.BlockIO}}', 'io'])).trim();
      assert.match(line, /^io \S+ \/ (8\.\d+|9\.\d+|1\d(\.\d+)?)MB$/, line);
    });

    it('a paused container has stats (memory, pids; CPU does not move), and a stopped one zeroes', async () => {
      await ok(d, ['run', '-d', '--name', 'pz', '--network', 'none', 'busybox', 'sh', '-c', 'while true; do :; done']);
      await ok(d, ['pause', 'pz']);
      const a = await sample('pz');
      assert.ok((a.memory_stats.usage ?? 0) > 0, JSON.stringify(a.memory_stats));
      assert.ok((a.pids_stats.current ?? 0) >= 1);
      assert.notEqual(a.read, '0001-01-01T00:00:00Z');
      const line = (await ok(d, ['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.PIDs}}', 'pz'])).trim();
      assert.match(line, /^pz 0\.00% [1-9]\d*$/, `a frozen busy loop uses no CPU: ${line}`);
      await ok(d, ['unpause', 'pz']);
      await ok(d, ['rm', '-f', 'pz']);
      await ok(d, ['create', '--name', 'pzs', '--network', 'none', 'busybox', 'true']);
      const z = await sample('pzs');
      assert.equal(z.read, '0001-01-01T00:00:00Z');
      assert.deepEqual(z.pids_stats, {});
      assert.equal(z.blkio_stats.io_service_bytes_recursive, null);
    });
  });
});
