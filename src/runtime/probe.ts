import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { lstat, mkdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../util/errors.ts';
import type { SeqpacketDialer } from './attach.ts';
import { ConmonRuntime } from './driver.ts';

export interface ProbeResult {
  name: string;
  path: string;
  /** The first line of `--version`, when the program runs at all. */
  version?: string;
  /** A trivial container was created, started, exited 0 and was deleted. */
  ok: boolean;
  /** Why not, in the runtime's words (e.g. crun 1.8's "cgroups in hybrid mode not supported"). */
  error?: string;
  /** How long the create+start+wait+delete cycle took. */
  elapsedMs: number;
  /** runtime-ns, when the runtime works only through it (crun 1.8 on a hybrid cgroup host). */
  wrapper?: string;
  /** The ids of the probe containers run (their cgroups are named after them): one, or two through runtime-ns. */
  containers: string[];
}

export interface ProbeDeps {
  execRoot: string;
  conmonPath?: string;
  env?: Record<string, string>;
  dial?: SeqpacketDialer;
  /** Per runtime (default 15 s). */
  timeoutMs?: number;
  /**
   * runtime-ns (runtime-ns.c, built by scripts/setup.sh), tried for a runtime that refuses a hybrid cgroup host;
   * a path that does not exist is named in the error instead.
   */
  nsHelper?: string;
}

/** runtime-ns as scripts/setup.sh builds it, and its source. */
export const RUNTIME_NS = join(import.meta.dirname, '..', '..', 'build', 'runtime-ns');
export const RUNTIME_NS_SOURCE = join(import.meta.dirname, 'runtime-ns.c');

/**
 * Whether `program` (default RUNTIME_NS) is missing or older than its source: scripts/setup.sh's rule for building
 * it again (a checkout updated since runs the older program).
 */
export function runtimeNsStale(program: string = RUNTIME_NS): boolean {
  const mtime = (p: string) => {
    try {
      return statSync(p).mtimeMs;
    } catch {
      return undefined;
    }
  };
  const built = mtime(program);
  return built === undefined || built < (mtime(RUNTIME_NS_SOURCE) ?? 0);
}

/** crun's refusal of a host with both cgroup hierarchies (1.8: "cgroups in hybrid mode not supported, ..."). */
export const HYBRID_REFUSAL = /hybrid mode not supported/;

/**
 * Tries each runtime for real: creates, starts, waits for and deletes a container running the host's `true`
 * (the host's /usr, /bin, /lib... bound read-only into an empty root), all under conmon as every container is.
 * Changes nothing on the host. A runtime that refuses a hybrid cgroup host is tried again through runtime-ns
 * (`deps.nsHelper`), which hides the cgroup v2 mount from it in a mount namespace of its own; what still fails is
 * reported.
 */
export async function probeRuntimes(
  candidates: readonly { name: string; path: string }[],
  deps: ProbeDeps,
): Promise<ProbeResult[]> {
  // All at once: each probe is its own container, bundle and driver, and the probes are most of a daemon's start
  // (crun plain then through runtime-ns ~85-115 ms, runc ~60: ~150-175 ms one after the other, ~70-120 at once).
  return Promise.all(
    candidates.map(async (c) => {
      const r = await probeOne(c, deps);
      if (r.ok || !HYBRID_REFUSAL.test(r.error ?? '') || !deps.nsHelper) return r;
      if (!existsSync(deps.nsHelper)) {
        r.error = `${r.error} (and ${deps.nsHelper}, which runs it without them, is missing: run scripts/setup.sh)`;
        return r;
      }
      const wrapped = await probeOne({ ...c, wrapper: deps.nsHelper }, deps);
      wrapped.elapsedMs += r.elapsedMs;
      wrapped.containers.unshift(...r.containers);
      return wrapped;
    }),
  );
}

async function probeOne(c: { name: string; path: string; wrapper?: string }, deps: ProbeDeps): Promise<ProbeResult> {
  const t0 = performance.now();
  const driver = new ConmonRuntime({
    execRoot: deps.execRoot,
    runtime: c,
    ...(deps.conmonPath ? { conmonPath: deps.conmonPath } : {}),
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.dial ? { dial: deps.dial } : {}),
    exitPollMs: 100,
    monitorCheckMs: 100,
    forkConmon: true,
  });
  const result: ProbeResult = {
    name: c.name,
    path: c.path,
    ok: false,
    elapsedMs: 0,
    containers: [],
    ...(c.wrapper ? { wrapper: c.wrapper } : {}),
  };
  try {
    result.version = await driver.cli.version();
  } catch (e) {
    result.error = errorMessage(e);
    result.elapsedMs = performance.now() - t0;
    return result;
  }
  const suffix = randomBytes(6).toString('hex');
  const id = `berth-probe-${c.name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${suffix}`;
  const bundle = join(deps.execRoot, 'probe', id);
  result.containers.push(id);
  const signal = AbortSignal.timeout(deps.timeoutMs ?? 15_000);
  let created = false;
  try {
    await writeProbeBundle(bundle, `/${id}`);
    await driver.create(id, { bundle, signal });
    created = true;
    await driver.start(id, { signal });
    const exit = await driver.waitExit(id, { signal });
    if (exit.exitCode !== 0) throw new Error(`the probe container exited with code ${exit.exitCode}`);
    await driver.delete(id, { signal });
    created = false;
    result.ok = true;
  } catch (e) {
    result.error = errorMessage(e);
  } finally {
    if (created) await driver.delete(id, { force: true }).catch(() => {});
    await rm(bundle, { recursive: true, force: true });
    result.elapsedMs = performance.now() - t0;
  }
  return result;
}

/** A bundle whose root is empty but for the host's program directories, bound read-only. */
async function writeProbeBundle(bundle: string, cgroupsPath: string): Promise<void> {
  const rootfs = join(bundle, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  const mounts: object[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=64k'] },
  ];
  for (const d of ['proc', 'dev']) await mkdir(join(rootfs, d));
  for (const d of ['usr', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const host = `/${d}`;
    let st;
    try {
      st = await lstat(host);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) {
      await symlink(await readlink(host), join(rootfs, d));
    } else if (st.isDirectory()) {
      await mkdir(join(rootfs, d));
      mounts.push({ destination: host, type: 'bind', source: host, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
    }
  }
  const spec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['true'],
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'probe',
    mounts,
    linux: {
      cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
    },
  };
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
}
