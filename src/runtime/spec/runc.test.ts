/**
 * The real check: specs from buildSpec run under runc on this host, and the default seccomp profile refuses
 * what it should inside a running container. Self-cleaning: temp bundle, runc state under the temp dir,
 * the container deleted and its cgroups removed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  copyFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, release } from 'node:os';
import { join } from 'node:path';
import { capabilitiesFromMask } from './capabilities.ts';
import { serializeSpec } from './oci.ts';
import { parseProcLimits } from './rlimits.ts';
import { buildSpec, type HostFacts, type SpecInput } from './spec.ts';

const RUNC = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'].find((p) =>
  existsSync(p),
);
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const skip = !RUNC
  ? 'runc is not installed'
  : !BUSYBOX
    ? 'busybox is not installed'
    : process.getuid?.() !== 0
      ? 'running containers needs root'
      : false;

const CGROUP_PARENT = `berth-spec-test-${process.pid}`;
let dir = '';
let rootfs = '';
let host: HostFacts;
let seq = 0;

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'berth-spec-runc-'));
  rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'mnt'));
  copyFileSync(BUSYBOX!, join(rootfs, 'bin', 'busybox'));
  for (const name of execFileSync(BUSYBOX!, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    if (name !== 'busybox') symlinkSync('busybox', join(rootfs, 'bin', name));
  }
  const status = readFileSync('/proc/self/status', 'utf8');
  host = {
    arch: process.arch,
    kernel: release(),
    cgroupV2: existsSync('/sys/fs/cgroup/cgroup.controllers'),
    limits: parseProcLimits(readFileSync('/proc/self/limits', 'utf8')),
    capabilities: capabilitiesFromMask(/^CapBnd:\s*(\S+)/m.exec(status)![1]!),
    swapAccounting:
      existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') || existsSync('/sys/fs/cgroup/memory.swap.max'),
  };
});

after(() => {
  if (skip || !dir) return;
  removeCgroups(CGROUP_PARENT);
  rmSync(dir, { recursive: true, force: true });
});

/** Removes `<parent>/…` below every cgroup hierarchy, deepest first (runc leaves the parent behind). */
function removeCgroups(parent: string): void {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers')
    ? ['/sys/fs/cgroup']
    : readdirSync('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d));
  for (const root of roots) {
    const p = join(root, parent);
    if (!existsSync(p)) continue;
    for (const child of readdirSync(p, { withFileTypes: true })) {
      if (child.isDirectory()) rmdirSync(join(p, child.name));
    }
    rmdirSync(p);
  }
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Writes a bundle for `over` and runs it to completion with `runc run`, then deletes the container. */
async function run(over: Partial<SpecInput>): Promise<RunResult> {
  const id = `berth-spec-${process.pid}-${++seq}`;
  const bundle = join(dir, id);
  mkdirSync(bundle);
  const spec = buildSpec({
    id,
    rootfs,
    hostname: 'spectest',
    process: { args: ['/bin/sh', '-c', 'echo ok'] },
    cgroupsPath: `/${CGROUP_PARENT}/${id}`,
    host,
    ...over,
  });
  writeFileSync(join(bundle, 'config.json'), serializeSpec(spec));
  const state = join(dir, 'state');
  try {
    return await new Promise<RunResult>((resolve) => {
      execFile(RUNC!, ['--root', state, 'run', '--bundle', bundle, id], { timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  } finally {
    await new Promise<void>((resolve) => execFile(RUNC!, ['--root', state, 'delete', '--force', id], () => resolve()));
  }
}

test('runc runs a default spec: echo ok', { skip }, async () => {
  const r = await run({});
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ok\n');
});

test('inside: hostname, clamped NOFILE, default capabilities, seccomp on, masked and read-only paths', {
  skip,
}, async () => {
  const script = [
    'hostname',
    'ulimit -Hn',
    'grep -E "^(CapEff|Seccomp):" /proc/self/status',
    'wc -c < /proc/timer_list',
    'echo 1 > /proc/sys/kernel/panic 2>/dev/null && echo sys-writable || echo sys-readonly',
    'grep " /dev/shm " /proc/mounts',
  ].join('; ');
  const r = await run({ process: { args: ['/bin/sh', '-c', script] } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'spectest');
  assert.equal(lines[1], String(Math.min(1048576, host.limits.nofile ?? Infinity)));
  assert.equal(lines[2], 'CapEff:\t00000000a80425fb', 'exactly the 14 default capabilities');
  assert.equal(lines[3], 'Seccomp:\t2');
  assert.equal(lines[4], '0', '/proc/timer_list is masked');
  assert.equal(lines[5], 'sys-readonly');
  assert.match(lines[6]!, /size=65536k/, '/dev/shm is 64 MiB');
});

test('the default profile refuses a new user namespace and mount; unconfined, unshare -U works', { skip }, async () => {
  const script = 'unshare -U true; echo unshare=$?; mount -t tmpfs t /mnt; echo mount=$?';
  const confined = await run({ process: { args: ['/bin/sh', '-c', script] } });
  assert.equal(confined.code, 0, confined.stderr);
  assert.match(confined.stdout, /unshare=[1-9]/);
  assert.match(confined.stdout, /mount=[1-9]/);
  assert.match(confined.stderr, /unshare\(0x10000000\): Operation not permitted/);

  const unconfined = await run({ seccomp: 'unconfined', process: { args: ['/bin/sh', '-c', script] } });
  assert.match(unconfined.stdout, /unshare=0/, unconfined.stderr);
});

test('with --cap-add SYS_ADMIN the profile lets mount through', { skip }, async () => {
  const r = await run({
    capAdd: ['SYS_ADMIN'],
    process: { args: ['/bin/sh', '-c', 'mount -t tmpfs t /mnt && echo mounted'] },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'mounted\n');
});

test('read-only rootfs, a tmpfs, a --ulimit and cgroup limits take effect under runc', { skip }, async () => {
  // the container sees its own cgroup at /sys/fs/cgroup (v1: one directory per controller)
  const limits = host.cgroupV2
    ? 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; cat /sys/fs/cgroup/cpu.max'
    : 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; ' +
      'echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)';
  const r = await run({
    readonlyRootfs: true,
    mounts: [{ type: 'tmpfs', destination: '/mnt', size: 1024 * 1024 }],
    ulimits: [{ name: 'nofile', soft: 256, hard: 512 }],
    resources: { memory: 64 * 1024 * 1024, pidsLimit: 20, cpus: 0.5 },
    process: {
      args: [
        '/bin/sh',
        '-c',
        `touch /x 2>/dev/null && echo rw || echo ro; touch /mnt/y && echo tmpfs-ok; ulimit -Sn; ulimit -Hn; ${limits}`,
      ],
    },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'ro',
    'tmpfs-ok',
    '256',
    '512',
    String(64 * 1024 * 1024),
    '20',
    '50000 100000',
  ]);
});

const STATIC_INITS = ['/usr/bin/catatonit', '/usr/bin/tini-static'].filter((p) => existsSync(p));

test('--init: a static catatonit or tini runs as pid 1 and passes the exit code through', {
  skip: skip || (STATIC_INITS.length === 0 && 'no static init (catatonit, tini-static) installed'),
}, async () => {
  for (const init of STATIC_INITS) {
    const r = await run({
      init,
      process: { args: ['/bin/sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; echo; echo $$; exit 3'] },
    });
    assert.equal(r.code, 3, `${init}: ${r.stderr}`);
    const [cmdline, pid] = r.stdout.trim().split('\n');
    assert.match(cmdline!, /^\/sbin\/docker-init -- \/bin\/sh -c /, init);
    assert.notEqual(pid, '1', `${init}: the command is not pid 1`);
  }
});
