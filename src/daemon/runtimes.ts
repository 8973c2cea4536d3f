import { readFileSync, existsSync } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  capabilitiesFromMask,
  ConmonRuntime,
  parseProcLimits,
  probeRuntimes,
  type HostFacts,
  type ProbeResult,
  type RuntimeDriver,
  UNIFIED_ROOT,
} from '../runtime/index.ts';
import { findExecutable } from '../util/which.ts';
import type { Logger } from './log.ts';

const CANDIDATES = [
  { name: 'crun', path: '/usr/bin/crun' },
  { name: 'runc', path: '/usr/sbin/runc' },
];

/** runtime-ns, as scripts/setup.sh builds it (src/runtime/runtime-ns.c). */
export const NS_HELPER = fileURLToPath(new URL('../../build/runtime-ns', import.meta.url));

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
  nsHelper: string = NS_HELPER,
): Promise<Runtimes> {
  const candidates = CANDIDATES.map((c) => ({ name: c.name, path: which(c.name, c.path) })).filter((c) =>
    existsSync(c.path),
  );
  const probes = candidates.length ? await probeRuntimes(candidates, { execRoot, nsHelper }) : [];
  const drivers = new Map<string, RuntimeDriver>();
  for (const p of probes) {
    if (p.ok) {
      drivers.set(
        p.name,
        new ConmonRuntime({
          execRoot,
          runtime: { name: p.name, path: p.path, ...(p.wrapper ? { wrapper: p.wrapper } : {}) },
          warn: (m) => log.warn(m),
        }),
      );
      if (p.wrapper) {
        log.info(`runtime ${p.name} (${p.path}) refuses this host's hybrid cgroups: it runs through ${p.wrapper}`);
        await sweepUnified(drivers.get(p.name)!);
      }
    } else log.warn(`runtime ${p.name} (${p.path}) does not work on this host: ${p.error ?? 'unknown error'}`);
  }
  let defaultRuntime = wanted;
  if (!drivers.has(wanted)) {
    const fallback = ['runc', 'crun'].find((n) => drivers.has(n)) ?? [...drivers.keys()][0];
    if (fallback) {
      if (probes.some((p) => p.name === wanted))
        log.warn(`default runtime ${wanted} does not work here: using ${fallback}`);
      defaultRuntime = fallback;
    } else log.warn('no OCI runtime works on this host: containers cannot run (install runc)');
  }
  return { drivers, probes, defaultRuntime };
}

/**
 * The unified-hierarchy cgroups runtime-ns made for containers that are gone (a daemon killed between a container's
 * end and its delete): removed at start. An rmdir, which the kernel refuses for a cgroup with a process in it, so a
 * live container (another daemon's too: they share /sys/fs/cgroup) keeps its own.
 */
async function sweepUnified(driver: RuntimeDriver): Promise<void> {
  const known = new Set(await driver.list());
  const dirs = [
    ...(await readdir(join(UNIFIED_ROOT, 'berth')).catch(() => [] as string[])).map((n) => join('berth', n)),
    ...(await readdir(UNIFIED_ROOT).catch(() => [] as string[])).filter((n) => n.startsWith('berth-probe-')),
  ];
  for (const d of dirs) if (!known.has(basename(d))) await rmdir(join(UNIFIED_ROOT, d)).catch(() => {});
}

export function initBinary(): string | undefined {
  for (const p of ['/usr/bin/catatonit', '/usr/libexec/podman/catatonit', '/usr/bin/tini-static', '/usr/bin/tini'])
    if (existsSync(p)) return p;
  return undefined;
}
