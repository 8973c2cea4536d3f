import { readFileSync, existsSync } from 'node:fs';
import { readdir, rmdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { cpus, release } from 'node:os';
import {
  capabilitiesFromMask,
  ConmonRuntime,
  parseProcLimits,
  probeRuntimes,
  type HostFacts,
  type ProbeResult,
  type RuntimeDriver,
  RUNTIME_NS,
  RUNTIME_NS_SOURCE,
  runtimeNsStale,
  UNIFIED_ROOT,
} from '../runtime/index.ts';
import { errorMessage, isErrno } from '../util/errors.ts';
import { findExecutable } from '../util/which.ts';
import type { Logger } from './log.ts';

const CANDIDATES = [
  { name: 'crun', path: '/usr/bin/crun' },
  { name: 'runc', path: '/usr/sbin/runc' },
];

function which(name: string, fallback: string): string {
  return findExecutable(name) ?? fallback;
}

/** What the spec builder needs to know of this host, read once at start. */
export function hostFacts(): HostFacts {
  const status = readFileSync('/proc/self/status', 'utf8');
  const capBnd = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1];
  return {
    arch: process.arch,
    kernel: release(),
    cgroupV2: existsSync('/sys/fs/cgroup/cgroup.controllers'),
    limits: parseProcLimits(readFileSync('/proc/self/limits', 'utf8')),
    ...(capBnd ? { capabilities: capabilitiesFromMask(capBnd) } : {}),
    swapAccounting:
      existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') ||
      existsSync('/sys/fs/cgroup/cgroup.controllers'),
    cpuCount: cpus().length,
    blkioWeight:
      ['blkio/blkio.weight', 'blkio/blkio.bfq.weight'].some((f) => existsSync(`/sys/fs/cgroup/${f}`)) ||
      controllers().includes('io'),
    oomKillDisable: existsSync('/sys/fs/cgroup/memory/memory.oom_control'),
  };
}

/** The controllers of a cgroup v2 root (none on v1). */
function controllers(): string[] {
  try {
    return readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim().split(/\s+/);
  } catch {
    return [];
  }
}

export interface Runtimes {
  drivers: Map<string, RuntimeDriver>;
  probes: ProbeResult[];
  defaultRuntime: string;
}

/**
 * Probes each OCI runtime by running a trivial container (crun 1.8 refuses a hybrid cgroup host: it is then tried
 * through runtime-ns, and reported and skipped when that is missing or fails; the host is never changed to please
 * it); the configured default falls back to one that works.
 */
export async function setUpRuntimes(
  execRoot: string,
  wanted: string,
  log: Logger,
  nsHelper: string = RUNTIME_NS,
): Promise<Runtimes> {
  const candidates = CANDIDATES.map((c) => ({ name: c.name, path: which(c.name, c.path) })).filter((c) =>
    existsSync(c.path),
  );
  const probes = candidates.length ? await probeRuntimes(candidates, { execRoot, nsHelper }) : [];
  // A runtime that fails its probe gets a driver all the same, which creates nothing: the containers it runs (a
  // restarted daemon's: crun's when runtime-ns has gone missing, any runtime's probe timing out under load) are
  // still followed, stopped and removed, rather than reported exited while they run on, out of reach.
  const drivers = new Map<string, RuntimeDriver>();
  const working = new Set<string>();
  for (const p of probes) {
    const unusable = p.ok ? undefined : probeFailure(p);
    const driver = new ConmonRuntime({
      execRoot,
      runtime: { name: p.name, path: p.path, ...(p.wrapper ? { wrapper: p.wrapper } : {}) },
      warn: (m) => log.warn(m),
      ...(unusable !== undefined ? { unusable } : {}),
    });
    drivers.set(p.name, driver);
    if (unusable !== undefined) {
      log.warn(`${unusable} (${p.path})`);
      continue;
    }
    working.add(p.name);
    if (p.wrapper) {
      log.info(`runtime ${p.name} (${p.path}) refuses this host's hybrid cgroups: it runs through ${p.wrapper}`);
      if (runtimeNsStale(p.wrapper))
        log.warn(`${p.wrapper} is older than ${RUNTIME_NS_SOURCE}: run scripts/setup.sh to build it again`);
      // Leftovers of a killed daemon, removed beside the start rather than before it: nothing waits for them, and a
      // create meanwhile is safe (its cgroup is new, which the sweep leaves alone).
      const warn = (m: string) => log.warn(m);
      void driver
        .list()
        .then((ids) => sweepUnified(new Set(ids), warn))
        .catch((e: unknown) => warn(`cannot sweep the unified cgroups: ${errorMessage(e)}`));
    }
  }
  let defaultRuntime = wanted;
  if (!working.has(wanted)) {
    const fallback = ['runc', 'crun'].find((n) => working.has(n)) ?? [...working][0];
    if (fallback) {
      if (probes.some((p) => p.name === wanted))
        log.warn(`default runtime ${wanted} does not work here: using ${fallback}`);
      defaultRuntime = fallback;
    } else log.warn('no OCI runtime works on this host: containers cannot run (install runc)');
  }
  return { drivers, probes, defaultRuntime };
}

/**
 * How long an empty unified cgroup is left alone by the start-up sweep after it was made (its mtime): one that was
 * just made is being joined by a create of another daemon of the host (runtime-ns's mkdir, then its write to
 * `cgroup.procs`; runc's the same on a hybrid host, with no second try), not left behind.
 */
export const SWEEP_MIN_AGE_MS = 10_000;

/**
 * The unified-hierarchy cgroups runtime-ns made for containers that are gone (a daemon killed between a container's
 * end and its delete): removed at start. Only empty ones (the kernel refuses an rmdir of a cgroup with a process in
 * it, so a live container, another daemon's too, keeps its own: they share /sys/fs/cgroup), none of `known` (this
 * daemon's containers, which their delete cleans up), and none made in the last SWEEP_MIN_AGE_MS (being joined).
 * A failure is told, not fatal: the daemon starts all the same.
 */
export async function sweepUnified(known: ReadonlySet<string>, warn: (m: string) => void): Promise<void> {
  // The child cgroups (directories: a cgroup's own files are beside them)
  const children = (dir: string) =>
    readdir(join(UNIFIED_ROOT, dir), { withFileTypes: true }).then(
      (es) => es.filter((e) => e.isDirectory()).map((e) => join(dir, e.name)),
      () => [] as string[],
    );
  const dirs = [...(await children('berth')), ...(await children('')).filter((n) => n.startsWith('berth-probe-'))];
  const before = Date.now() - SWEEP_MIN_AGE_MS;
  for (const d of dirs) {
    if (known.has(basename(d))) continue;
    const path = join(UNIFIED_ROOT, d);
    try {
      if ((await stat(path)).mtimeMs > before) continue;
      await rmdir(path);
    } catch (e) {
      // EBUSY: a process in it, or a child cgroup; ENOENT: removed meanwhile
      if (!isErrno(e, 'EBUSY') && !isErrno(e, 'ENOENT') && !isErrno(e, 'ENOTEMPTY'))
        warn(`cannot remove cgroup ${path}: ${errorMessage(e)}`);
    }
  }
}

/** Why a runtime that failed its start-up probe is not used (the daemon's log, its drivers, `docker info`). */
export function probeFailure(p: ProbeResult): string {
  return `runtime ${p.name} does not work on this host: ${p.error ?? 'unknown error'}`;
}

export function initBinary(): string | undefined {
  for (const p of ['/usr/bin/catatonit', '/usr/libexec/podman/catatonit', '/usr/bin/tini-static', '/usr/bin/tini'])
    if (existsSync(p)) return p;
  return undefined;
}
