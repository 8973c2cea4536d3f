/**
 * The runtime's floor: runc alone, with no engine and no monitor, on a busybox bundle whose config.json is
 * written by Berth's own spec builder with the inputs berthd gives it for `run --network none busybox true`
 * (default seccomp profile, capabilities, masked paths, its own network namespace, a cgroup), so the only
 * differences from berthd's container are the ones an engine adds: conmon, the overlay root, the bookkeeping.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostFacts } from '../../src/daemon/runtimes.ts';
import { buildSpec, serializeSpec } from '../../src/runtime/index.ts';
import { busyboxRootfs, RUNC } from '../../src/runtime/testkit.ts';
import { epochMs } from './api.ts';
import { cpuMs, machineBusy } from './proc.ts';

export interface RuncBed {
  runc: string;
  /** runc's --root (its state dir). */
  root: string;
  bundle: string;
  /** The argv of `runc run` of the bundle (the container deletes itself when `true` exits). */
  runArgv: string[];
  cleanup(): Promise<void>;
}

/** A busybox bundle under `dir` and a runc state dir, for container ids `<prefix>-N`. */
export async function runcBed(dir: string): Promise<RuncBed> {
  const rootfs = await busyboxRootfs(dir);
  const bundle = join(dir, 'bundle');
  const root = join(dir, 'runc-root');
  await mkdir(bundle, { recursive: true });
  await mkdir(root, { recursive: true });
  const files = { hosts: '127.0.0.1\tlocalhost\n', hostname: 'benchfloor\n', 'resolv.conf': 'nameserver 127.0.0.1\n' };
  for (const [name, text] of Object.entries(files)) await writeFile(join(bundle, name), text);
  const spec = buildSpec({
    id: 'benchfloor',
    rootfs,
    process: {
      args: ['true'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'],
      cwd: '/',
      terminal: false,
      user: { uid: 0, gid: 0, additionalGids: [] },
    },
    hostname: 'benchfloor',
    mounts: [
      { type: 'bind', source: join(bundle, 'hosts'), destination: '/etc/hosts' },
      { type: 'bind', source: join(bundle, 'hostname'), destination: '/etc/hostname' },
      { type: 'bind', source: join(bundle, 'resolv.conf'), destination: '/etc/resolv.conf' },
    ],
    seccomp: 'default',
    namespaces: { network: 'none' },
    cgroupsPath: '/berth-bench-floor/benchfloor',
    host: hostFacts(),
  });
  await writeFile(join(bundle, 'config.json'), serializeSpec(spec));
  return {
    runc: RUNC.path,
    root,
    bundle,
    runArgv: [RUNC.path, '--root', root, 'run', '--bundle', bundle, 'benchfloor'],
    async cleanup() {
      await runcStep([RUNC.path, '--root', root, 'delete', '--force', 'benchfloor']).catch(() => {});
      for (const ctrl of await readdir('/sys/fs/cgroup').catch(() => [] as string[]))
        await rmdir(join('/sys/fs/cgroup', ctrl, 'berth-bench-floor')).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one runc command (stdio on /dev/null), rejecting on a non-zero exit; resolves with its wall time, ms. */
export function runcStep(argv: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = epochMs();
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    c.once('error', reject);
    c.once('exit', (code) =>
      code === 0 ? resolve(epochMs() - t0) : reject(new Error(`${argv.join(' ')} exited ${code}: ${err.slice(-500)}`)),
    );
  });
}

/** `runc create`, `start` and `delete` of the bundle as three commands, timed each (ms). */
export async function runcSteps(bed: RuncBed): Promise<{ create: number; start: number; delete: number }> {
  const base = [bed.runc, '--root', bed.root];
  const create = await runcStep([...base, 'create', '--bundle', bed.bundle, 'benchfloor']);
  const start = await runcStep([...base, 'start', 'benchfloor']);
  // `true` exits at once; delete refuses a container that is still running, so wait for it to stop.
  for (let i = 0; i < 200; i++) {
    try {
      return { create, start, delete: await runcStep([...base, 'delete', 'benchfloor']) };
    } catch (err) {
      if (i === 199) throw err;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  throw new Error('unreachable');
}

/** What `runcParallel` measured: the wall time and the CPU it took (ms). */
export interface RuncBurst {
  wall: number;
  /** `runc create` and `runc start` themselves (the benchmark's reaped children; 0 when `cpu` was not asked for). */
  runtimeCpu: number;
  /** The containers' processes: runc init until the exec, then `sleep` (read from /proc before the delete). */
  containerCpu: number;
  /** The whole machine's, every CPU, over the wall time (other load included). */
  machineCpu: number;
  /** This process's own (Node spawning and reaping the 40 commands). */
  benchCpu: number;
}

/**
 * `n` containers of `sleep 1000` created and started at once with runc alone (each its own bundle and cgroup, the
 * same root), as 20 `run -d` do through an engine: wall time in ms until every `runc start` returned, and the CPU
 * of the runc commands (from this process's reaped children: nothing else may run beside it) and of the containers.
 * They are deleted afterwards (untimed).
 */
export async function runcParallel(bed: RuncBed, n: number): Promise<RuncBurst> {
  const base = [bed.runc, '--root', bed.root];
  const spec = JSON.parse(await readFile(join(bed.bundle, 'config.json'), 'utf8')) as {
    process: { args: string[] };
    root: { path: string };
    linux: { cgroupsPath: string };
  };
  const ids = Array.from({ length: n }, (_, i) => `benchpar${i}`);
  for (const id of ids) {
    const dir = join(bed.bundle, '..', id);
    await mkdir(dir, { recursive: true });
    spec.process.args = ['sleep', '1000'];
    spec.linux.cgroupsPath = `/berth-bench-floor/${id}`;
    await writeFile(join(dir, 'config.json'), JSON.stringify(spec));
  }
  const reaped0 = cpuMs('self').reaped;
  const machine0 = machineBusy();
  const self0 = process.cpuUsage();
  const t0 = epochMs();
  try {
    await Promise.all(
      ids.map(async (id) => {
        const dir = join(bed.bundle, '..', id);
        await runcStep([...base, 'create', '--bundle', dir, '--pid-file', join(dir, 'pid'), id]);
        await runcStep([...base, 'start', id]);
      }),
    );
    const wall = epochMs() - t0;
    const machineCpu = machineBusy() - machine0;
    const self = process.cpuUsage(self0);
    const benchCpu = (self.user + self.system) / 1000;
    const runtimeCpu = cpuMs('self').reaped - reaped0;
    let containerCpu = 0;
    for (const id of ids) {
      const pid = Number((await readFile(join(bed.bundle, '..', id, 'pid'), 'utf8').catch(() => '0')).trim());
      if (pid > 0) containerCpu += cpuMs(pid).own;
    }
    return { wall, runtimeCpu, containerCpu, machineCpu, benchCpu };
  } finally {
    for (const id of ids) {
      await runcStep([...base, 'delete', '--force', id]).catch(() => {});
      await rm(join(bed.bundle, '..', id), { recursive: true, force: true });
    }
  }
}
