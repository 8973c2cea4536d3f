import { readFileSync, existsSync } from 'node:fs';
import { cpus, release } from 'node:os';
import {
  capabilitiesFromMask,
  ConmonRuntime,
  parseProcLimits,
  probeRuntimes,
  type HostFacts,
  type ProbeResult,
  type RuntimeDriver,
} from '../runtime/index.ts';
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
 * Probes each OCI runtime by running a trivial container (crun 1.8 refuses this host's hybrid cgroups: it is
 * reported and skipped, and the host is never changed to please it); the configured default falls back to one
 * that works.
 */
export async function setUpRuntimes(execRoot: string, wanted: string, log: Logger): Promise<Runtimes> {
  const candidates = CANDIDATES.map((c) => ({ name: c.name, path: which(c.name, c.path) })).filter((c) =>
    existsSync(c.path),
  );
  const probes = candidates.length ? await probeRuntimes(candidates, { execRoot }) : [];
  const drivers = new Map<string, RuntimeDriver>();
  for (const p of probes) {
    if (p.ok)
      drivers.set(
        p.name,
        new ConmonRuntime({
          execRoot,
          runtime: { name: p.name, path: p.path },
          warn: (m) => log.warn(m),
        }),
      );
    else log.warn(`runtime ${p.name} (${p.path}) does not work on this host: ${p.error ?? 'unknown error'}`);
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

export function initBinary(): string | undefined {
  for (const p of ['/usr/bin/catatonit', '/usr/libexec/podman/catatonit', '/usr/bin/tini-static', '/usr/bin/tini'])
    if (existsSync(p)) return p;
  return undefined;
}
