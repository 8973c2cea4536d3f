/**
 * Helpers for this folder's tests: busybox bundles with hand-written minimal OCI specs, and a driver in a temp
 * exec root that deletes every container it made, their cgroups and their dirs afterwards.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ConmonRuntime } from './driver.ts';
import { RUNTIME_NS, runtimeNsStale } from './probe.ts';

export const RUNC = { name: 'runc', path: '/usr/sbin/runc' };
/** runtime-ns as scripts/setup.sh builds it. */
export const NS_HELPER = RUNTIME_NS;

/** The build of runtime-ns that scripts/setup.sh runs. */
const BUILD_NS_HELPER = join(import.meta.dirname, '..', '..', 'scripts', 'build-runtime-ns.sh');

/**
 * Builds runtime-ns as scripts/setup.sh does (its rule: missing or older than its source) when a checkout has not run
 * it since (a worktree), so the tests of crun through it run rather than fail on a missing build; the build itself
 * failing fails them, with the compiler's words.
 */
export function ensureNsHelper(): string {
  if (!runtimeNsStale()) return NS_HELPER;
  execFileSync('bash', [BUILD_NS_HELPER, NS_HELPER], { stdio: ['ignore', 'ignore', 'pipe'] });
  return NS_HELPER;
}
/** crun through runtime-ns, as berthd runs it on a hybrid cgroup host (probe.ts). */
export const CRUN_NS = { name: 'crun', path: '/usr/bin/crun', wrapper: NS_HELPER };
export const BUSYBOX = '/bin/busybox';

/** A read-only busybox root file system: /bin/busybox and a link per applet, mount points for the spec. */
export async function busyboxRootfs(dir: string): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  for (const d of ['proc', 'dev', 'sys', 'tmp']) await mkdir(join(rootfs, d));
  await copyFile(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  await Promise.all(applets.map((a) => symlink('busybox', join(rootfs, 'bin', a))));
  return rootfs;
}

export interface BundleOptions {
  args: string[];
  terminal?: boolean;
  env?: string[];
  /** Absolute cgroup path; the tests' are all /berth-test-* so cleanup can find them. */
  cgroupsPath: string;
  /** Merged into linux.resources (memory, pids...). */
  resources?: object;
}

/** A minimal OCI spec in the shape `runc spec` writes, adjusted: busybox root, no rlimit above the host's. */
export function minimalSpec(rootfs: string, o: BundleOptions): object {
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID'];
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: o.terminal ?? false,
      user: { uid: 0, gid: 0 },
      args: o.args,
      env: ['PATH=/bin', 'TERM=xterm', ...(o.env ?? [])],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: true },
    hostname: 'berth-test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
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
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m'] },
    ],
    linux: {
      cgroupsPath: o.cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }], ...o.resources },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** A temp exec root, a shared busybox rootfs and a driver; `cleanup()` removes everything they made. */
export class RuntimeTestbed {
  readonly dir: string;
  readonly execRoot: string;
  readonly rootfs: string;
  readonly prefix: string;
  readonly ids = new Set<string>();
  driver: ConmonRuntime;

  readonly runtime: { name: string; path: string; wrapper?: string };

  private constructor(dir: string, rootfs: string, runtime: { name: string; path: string; wrapper?: string }) {
    this.runtime = runtime;
    this.dir = dir;
    this.execRoot = join(dir, 'run');
    this.rootfs = rootfs;
    this.prefix = `berth-test-${randomBytes(3).toString('hex')}`;
    this.driver = this.newDriver();
  }

  static async create(runtime: { name: string; path: string; wrapper?: string } = RUNC): Promise<RuntimeTestbed> {
    const dir = await mkdtemp(join(tmpdir(), 'berth-runtime-'));
    const rootfs = await busyboxRootfs(dir);
    return new RuntimeTestbed(dir, rootfs, runtime);
  }

  /** A driver on the same directories, with no memory of this one's: what berthd has after a restart. */
  newDriver(): ConmonRuntime {
    return new ConmonRuntime({ execRoot: this.execRoot, runtime: this.runtime, exitPollMs: 100, monitorCheckMs: 200 });
  }

  /** A fresh container id (remembered for cleanup) and a bundle for it. */
  async bundle(o: Omit<BundleOptions, 'cgroupsPath'>): Promise<{ id: string; bundle: string; logPath: string }> {
    const id = `${this.prefix}-${this.ids.size}`;
    this.ids.add(id);
    const bundle = join(this.dir, 'bundles', id);
    await mkdir(bundle, { recursive: true });
    await writeFile(
      join(bundle, 'config.json'),
      JSON.stringify(minimalSpec(this.rootfs, { ...o, cgroupsPath: `/${id}` })),
    );
    return { id, bundle, logPath: join(bundle, 'ctr.log') };
  }

  async cleanup(): Promise<void> {
    const d = this.newDriver();
    for (const id of this.ids) {
      await d.delete(id, { force: true }).catch(() => {});
      // a container that never reached the driver's records (a failed create) may still be in runc
      await d.cli.delete(id, true).catch(() => {});
    }
    for (const ctrl of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      const base = join('/sys/fs/cgroup', ctrl);
      for (const name of await readdir(base).catch(() => [] as string[])) {
        if (name.startsWith(this.prefix)) await rmdir(join(base, name)).catch(() => {});
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Gathers an attach session's output as it comes, stdout and stderr apart. */
export class OutputCollector {
  stdout = '';
  stderr = '';
  readonly ended: Promise<void>;
  #onData: (() => void) | undefined;

  constructor(output: Readable) {
    output.on('data', (f: { stream: 'stdout' | 'stderr'; data: Buffer }) => {
      if (f.stream === 'stdout') this.stdout += f.data.toString();
      else this.stderr += f.data.toString();
      this.#onData?.();
    });
    this.ended = new Promise((resolve, reject) => {
      output.once('end', () => resolve());
      output.once('close', () => resolve());
      output.once('error', reject);
    });
  }

  /** Resolves once stdout matches `re`; rejects after `ms` or when the output ends first. */
  async waitFor(re: RegExp, ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    let ended = false;
    void this.ended.then(
      () => (ended = true),
      () => (ended = true),
    );
    while (!re.test(this.stdout)) {
      if (ended || Date.now() > deadline) throw new Error(`stdout ${JSON.stringify(this.stdout)} never matched ${re}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.#onData = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return this.stdout;
  }
}
