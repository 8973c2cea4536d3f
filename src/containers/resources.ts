/** A container's cgroup limits and the byte sizes of its options, from the host config. Pure. */
import { type HostFacts, type ResourcesInput, resolveResources, type SpecResources } from '../runtime/index.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import { ramInBytes } from '../util/units.ts';
import type { HostConfig } from '../engine-api/containers.ts';

/** The cgroup limits of a host config, as the spec builder takes them (at start, and for `update`). */
export function resourcesInput(hc: HostConfig): ResourcesInput {
  return {
    ...(hc.Memory ? { memory: hc.Memory } : {}),
    ...(hc.MemorySwap ? { memorySwap: hc.MemorySwap } : {}),
    ...(hc.MemoryReservation ? { memoryReservation: hc.MemoryReservation } : {}),
    ...(hc.CpuShares ? { cpuShares: hc.CpuShares } : {}),
    ...(hc.NanoCpus ? { cpus: hc.NanoCpus / 1e9 } : {}),
    ...(hc.CpuPeriod ? { cpuPeriod: hc.CpuPeriod } : {}),
    ...(hc.CpuQuota ? { cpuQuota: hc.CpuQuota } : {}),
    ...(hc.CpusetCpus ? { cpusetCpus: hc.CpusetCpus } : {}),
    ...(hc.CpusetMems ? { cpusetMems: hc.CpusetMems } : {}),
    ...(hc.PidsLimit && hc.PidsLimit > 0 ? { pidsLimit: hc.PidsLimit } : {}),
    ...(hc.BlkioWeight ? { blkioWeight: hc.BlkioWeight } : {}),
    ...(hc.DeviceCgroupRules?.length ? { deviceCgroupRules: hc.DeviceCgroupRules } : {}),
    ...(hc.OomKillDisable ? { oomKillDisable: true } : {}),
  };
}

/**
 * What dockerd warns about at create (the docker CLI prints each as `WARNING: …`), with the options this host's
 * cgroups cannot honour discarded from `hc`, as dockerd stores them (inspect then shows 0 / false).
 */
export function hostConfigWarnings(hc: HostConfig, host: HostFacts): string[] {
  const out: string[] = [];
  if (hc.BlkioWeight && host.blkioWeight === false) {
    out.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    hc.BlkioWeight = 0;
  }
  if (hc.OomKillDisable && host.oomKillDisable === false) {
    out.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    hc.OomKillDisable = false;
  }
  if (hc.OomKillDisable && !hc.Memory)
    out.push(
      'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.',
    );
  return out;
}

/** The host config keys `docker update` may change. */
export const UPDATABLE = [
  'Memory',
  'MemorySwap',
  'MemoryReservation',
  'CpuShares',
  'NanoCpus',
  'CpuPeriod',
  'CpuQuota',
  'CpusetCpus',
  'CpusetMems',
  'PidsLimit',
  'BlkioWeight',
  'RestartPolicy',
] as const;

/**
 * `docker update`: the host config with the update's keys applied (a quota or period given replaces `--cpus`).
 * Checks nothing: the caller validates the result as a whole.
 */
export function applyUpdate(hc: HostConfig, u: Partial<HostConfig>): HostConfig {
  const out: HostConfig = { ...hc };
  for (const k of UPDATABLE) if (u[k] !== undefined && u[k] !== null) (out as Record<string, unknown>)[k] = u[k];
  if (out.NanoCpus && (u.CpuQuota || u.CpuPeriod)) delete out.NanoCpus;
  return out;
}

/** The limits a running container gets through the runtime's `update` (no device rules: those stay as started). */
export function liveLimits(hc: HostConfig, host: HostFacts): Omit<SpecResources, 'devices'> {
  const { devices: _, ...limits } = resolveResources(resourcesInput(hc), {
    swapAccounting: host.swapAccounting ?? true,
    ...(host.cpuCount ? { cpuCount: host.cpuCount } : {}),
  });
  return limits;
}

/**
 * A size as log options write it (`10m`, `1.5g`, `512k`, `100`, `2MiB`): go-units' `RAMInBytes` (binary units), spaces
 * around it ignored, a negative size refused; undefined when empty. `what` names the option in the error.
 */
export function parseSize(s: string | undefined, what = 'max-size'): number | undefined {
  if (!s) return undefined;
  try {
    return ramInBytes(s.trim());
  } catch (err) {
    throw new InvalidArgumentError(`invalid ${what} "${s}"`, { cause: err });
  }
}
