/**
 * The two engines the benchmarks compare, each started in its own temp dir under /tmp and reachable only on a
 * unix socket: berthd (bin/berthd) and Debian's docker.io dockerd (which starts its own containerd). Each is
 * stopped by its PID; dockerd's changes to the host's forwarding state are undone on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AFTER_START_MS, childrenOf, comm, hasUnpackThreads, ping, run, sleep, stopPid } from './proc.ts';

/** This checkout. */
export const ROOT = resolve(import.meta.dirname, '..', '..');
/**
 * The Berth tree under test: this checkout, or another one (a patched copy) given by `useTree`. Its bin/berth,
 * bin/berthd and src/ are what the benchmarks run.
 */
export let TREE = ROOT;
export let BERTH = join(ROOT, 'bin', 'berth');
export let BERTHD = join(ROOT, 'bin', 'berthd');
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');

export function useTree(dir: string): void {
  const root = resolve(dir);
  for (const f of ['bin/berth', 'bin/berthd', 'src/daemon/main.ts']) {
    if (!existsSync(join(root, f))) throw new Error(`${root} is not a Berth tree: it has no ${f}`);
  }
  TREE = root;
  BERTH = join(root, 'bin', 'berth');
  BERTHD = join(root, 'bin', 'berthd');
}
/** The docker CLI used as the client of both engines (the same binary for both, so only the engine differs). */
export const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker';

export interface Engine {
  name: string;
  dir: string;
  socket: string;
  host: string;
  /** The daemon's PID. */
  pid: number;
  /** PIDs whose memory counts as the engine's (berthd; dockerd and its containerd). */
  pids(): number[];
  /** Directory entries that hold unpacked layers; empty once every image is gone. */
  layerDirs(): Promise<string[]>;
  stop(): Promise<void>;
}

async function waitReady(
  name: string,
  socket: string,
  proc: ChildProcess,
  log: () => string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}):\n${log().slice(-3000)}`);
    if (existsSync(socket) && (await ping(socket))) return;
    await sleep(20);
  }
  throw new Error(`${name} did not answer on ${socket} within ${timeoutMs / 1000}s:\n${log().slice(-3000)}`);
}

async function listOr(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** Unmounts whatever is mounted under `dir` (deepest first), then removes it. */
export async function removeDir(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m], { allowFail: true });
  await rm(dir, { recursive: true, force: true });
}

/**
 * Starts berthd with `--no-seed` (unless `seed`: then busybox is created from busybox-static) on a fresh data root
 * (or on the roots in `dir`, left by an earlier `stopKeeping()`); `startSeconds` is the time from spawn to its first
 * answer. `bin` runs another tree's bin/berthd. With `nodeArgs` (e.g. `--cpu-prof`), Node runs src/daemon/main.ts directly with those flags instead of
 * bin/berthd; `env` is added to its environment.
 */
export async function startBerthd(
  opts: {
    nodeArgs?: string[];
    seed?: boolean;
    env?: Record<string, string>;
    dir?: string;
    args?: string[];
    /** Another tree's bin/berthd. */
    bin?: string;
  } = {},
): Promise<Berthd> {
  const dir = opts.dir ?? (await mkdtemp('/tmp/berth-bench-'));
  const socket = join(dir, 'berth.sock');
  const dataRoot = join(dir, 'data');
  let out = '';
  const t0 = process.hrtime.bigint();
  const args = [
    '--data-root',
    dataRoot,
    '--exec-root',
    join(dir, 'exec'),
    '-H',
    `unix://${socket}`,
    ...(opts.seed ? [] : ['--no-seed']),
    '--log-level',
    'warn',
    ...(opts.args ?? []),
  ];
  const proc = opts.nodeArgs
    ? spawn(NODE, [...opts.nodeArgs, join(TREE, 'src', 'daemon', 'main.ts'), ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_COMPILE_CACHE: join(TREE, 'node_modules', '.cache', 'node-compile'), ...opts.env },
      })
    : spawn(opts.bin ?? BERTHD, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitReady('berthd', socket, proc, () => out);
  } catch (err) {
    if (proc.pid) await stopPid(proc.pid);
    await removeDir(dir);
    throw err;
  }
  const startSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const pid = proc.pid!;
  return {
    name: 'berthd',
    dir,
    socket,
    host: `unix://${socket}`,
    pid,
    startSeconds,
    pids: () => [pid],
    // Not the removed snapshots' empty directories, kept aside a while (src/snapshots/removed.ts).
    layerDirs: async () => (await listOr(join(dataRoot, 'snapshots'))).filter((n) => !n.startsWith('.removed-')),
    async stop() {
      await stopPid(pid);
      await removeDir(dir);
    },
    /** Stops the daemon and keeps its directory, for another `startBerthd({ dir })` on the same roots. */
    async stopKeeping() {
      await stopPid(pid);
    },
  };
}

/** A berthd started by `startBerthd`. */
export type Berthd = Engine & { startSeconds: number; stopKeeping(): Promise<void> };

/** A berthd's start options, kept for `restartBerthd`. */
export type BerthdOptions = Parameters<typeof startBerthd>[0];

/**
 * Stops berthd `e` and starts it again on the same roots (`opts` as it was started with, e.g. another tree's `bin`),
 * then waits AFTER_START_MS (bench/lib/proc.ts) and checks that it runs no unpack thread: its next pull is the first
 * after a daemon start. A new pid, the same socket and data root.
 */
export async function restartBerthd(e: Berthd, opts: BerthdOptions = {}): Promise<Berthd> {
  await e.stopKeeping();
  const again = await startBerthd({ ...opts, dir: e.dir });
  await sleep(AFTER_START_MS);
  if (hasUnpackThreads(again.pid)) throw new Error(`berthd ${again.pid}: unpack threads running after its start`);
  return again;
}

/** The host's forwarding state, which a dockerd may change: `net.ipv4.ip_forward` and the FORWARD policy. */
interface ForwardState {
  ipForward: string;
  policy: string | undefined;
}

async function readForwardState(): Promise<ForwardState> {
  const ipForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const r = await run('iptables', ['-S', 'FORWARD'], { allowFail: true });
  const m = /^-P FORWARD (\w+)/m.exec(r.stdout);
  return { ipForward, policy: m?.[1] };
}

async function restoreForwardState(s: ForwardState): Promise<void> {
  const now = await readForwardState();
  if (now.ipForward !== s.ipForward) await writeFile('/proc/sys/net/ipv4/ip_forward', `${s.ipForward}\n`);
  if (s.policy !== undefined && now.policy !== s.policy) await run('iptables', ['-P', 'FORWARD', s.policy]);
}

/**
 * Starts Debian's dockerd on its own data root, exec root, socket and pidfile, with no bridge and no iptables
 * or forwarding changes. It starts its own containerd (a child process), whose memory counts as the engine's.
 */
export async function startDockerd(): Promise<Engine & { startSeconds: number; containerd: number | undefined }> {
  const dir = await mkdtemp('/tmp/dockerd-bench-');
  const socket = join(dir, 'd.sock');
  const before = await readForwardState();
  let out = '';
  const t0 = process.hrtime.bigint();
  const proc = spawn(
    'dockerd',
    [
      '--data-root',
      join(dir, 'dd'),
      '--exec-root',
      join(dir, 'dx'),
      '-H',
      `unix://${socket}`,
      '--pidfile',
      join(dir, 'd.pid'),
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
      '--ip-forward=false',
      '--log-level=error',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const pid = proc.pid!;
  const containerd = (): number | undefined => childrenOf(pid).find((c) => comm(c) === 'containerd');
  const stop = async () => {
    const cd = containerd();
    try {
      await stopPid(pid, 30_000);
      if (cd !== undefined) await stopPid(cd, 15_000);
    } finally {
      await restoreForwardState(before);
      await removeDir(dir);
    }
  };
  try {
    await waitReady('dockerd', socket, proc, () => out);
  } catch (err) {
    await stop();
    throw err;
  }
  const startSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  // containerd is started before the API answers; look a little longer in case it is not listed yet.
  for (let i = 0; i < 50 && containerd() === undefined; i++) await sleep(20);
  const cd = containerd();
  return {
    name: 'dockerd',
    dir,
    socket,
    host: `unix://${socket}`,
    pid,
    startSeconds,
    containerd: cd,
    pids: () => [pid, ...(cd !== undefined ? [cd] : [])],
    layerDirs: async () => (await listOr(join(dir, 'dd', 'overlay2'))).filter((n) => n !== 'l'),
    stop,
  };
}

/** `docker`'s environment aimed at an engine (DOCKER_HOST, and no config dir of the user's). */
export function dockerEnv(e: Engine): Record<string, string> {
  return { DOCKER_HOST: e.host, DOCKER_CONFIG: join(e.dir, 'docker-config') };
}

/** Waits (up to about 30 s) until the engine `env` aims at lists busybox: berthd seeds it after it first answers. */
export async function waitForBusybox(env: Record<string, string>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await run(DOCKER, ['image', 'inspect', 'busybox'], { env, allowFail: true })).code === 0) return;
    await sleep(100);
  }
}

/**
 * A root podman on its own storage, run root and network config dir (nothing of the host's podman touched):
 * runc (crun 1.8 refuses this host's hybrid cgroups), cgroupfs, file events, and default ulimits within the
 * host's hard limits (podman's nofile 1048576 exceeds them). `base` goes before every podman subcommand.
 */
export async function podmanSetup(
  prefix: string,
  opts: { defaultSubnet?: string } = {},
): Promise<{ dir: string; base: string[]; env: Record<string, string> }> {
  const dir = await mkdtemp(prefix);
  const conf = join(dir, 'containers.conf');
  await mkdir(join(dir, 'networks'));
  await writeFile(
    conf,
    [
      '[network]',
      `network_config_dir = "${join(dir, 'networks')}"`,
      ...(opts.defaultSubnet ? [`default_subnet = "${opts.defaultSubnet}"`] : []),
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      'runtime = "runc"',
      `tmp_dir = "${join(dir, 'tmp')}"`,
      '[containers]',
      'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
      '',
    ].join('\n'),
  );
  const base = [
    '--root',
    join(dir, 'root'),
    '--runroot',
    join(dir, 'run'),
    '--network-config-dir',
    join(dir, 'networks'),
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'file',
  ];
  return { dir, base, env: { CONTAINERS_CONF: conf } };
}

/**
 * A berthd named on a bench's command line as `LABEL=BIN[,ARG…]`: BIN a tree's bin/berthd or `.` for this tree's;
 * an ARG `NAME:VALUE` is an environment variable for that berthd, an ARG `@flag` is the bench's own (in `flags`),
 * any other ARG is passed to berthd.
 */
export function berthdSpec(s: string): { label: string; opts: BerthdOptions; flags: Set<string> } {
  const eq = s.indexOf('=');
  const [label, rest] = eq < 0 ? [s, ''] : [s.slice(0, eq), s.slice(eq + 1)];
  const [bin, ...more] = rest.split(',');
  const env = Object.fromEntries(
    more.filter((a) => /^[A-Z_]+:/.test(a)).map((a) => [a.slice(0, a.indexOf(':')), a.slice(a.indexOf(':') + 1)]),
  );
  const args = more.filter((a) => !/^[A-Z_]+:/.test(a) && !a.startsWith('@'));
  const flags = new Set(more.filter((a) => a.startsWith('@')));
  return { label, opts: { ...(bin === '.' ? {} : { bin }), args, env }, flags };
}
