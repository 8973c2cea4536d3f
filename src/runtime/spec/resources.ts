/** cgroup limits (--memory, --memory-swap, --cpus, --cpu-shares, --cpuset-*, --pids-limit, --blkio-weight). */
import { InvalidArgumentError } from '../../util/errors.ts';
import type { SpecDeviceCgroup, SpecResources } from './oci.ts';

export interface ResourcesInput {
  /** Bytes; 0 or absent = no limit. At least 6 MiB, as in Docker. */
  memory?: number;
  /**
   * Memory plus swap, in bytes, Docker's meaning: -1 = unlimited swap; absent or 0 with a memory limit = twice
   * the memory limit. Needs a memory limit when positive, and is at least the memory limit.
   */
  memorySwap?: number;
  /** Soft limit in bytes (--memory-reservation); at most the memory limit. */
  memoryReservation?: number;
  /** Relative CPU weight (--cpu-shares); 0 or absent = the kernel's default. */
  cpuShares?: number;
  /** --cpus: becomes a CFS quota over Docker's 100 ms period. Not with cpuPeriod/cpuQuota. */
  cpus?: number;
  /** CFS period in µs (--cpu-period), 1000 to 1000000. */
  cpuPeriod?: number;
  /** CFS quota in µs (--cpu-quota), ≥ 1000, or -1 for none. */
  cpuQuota?: number;
  /** CPUs the container may run on, `0-3,6` (--cpuset-cpus). */
  cpusetCpus?: string;
  /** Memory nodes, same format (--cpuset-mems). */
  cpusetMems?: string;
  /** Maximum number of tasks; 0, -1 or absent = no limit. */
  pidsLimit?: number;
  /** Block IO weight, 10 to 1000; 0 or absent = the kernel's default. */
  blkioWeight?: number;
  /** Extra device cgroup rules in Docker's text form (`c 1:3 rwm`, `b 8:* r`, `a *:* m`), after the defaults. */
  deviceCgroupRules?: string[];
  /** --oom-kill-disable: the kernel's OOM killer spares the container (cgroup v1 only). */
  oomKillDisable?: boolean;
}

export interface ResourceHost {
  /** Whether the memory controller accounts swap (memory.memsw.* on v1, memory.swap.max on v2). */
  swapAccounting: boolean;
  /** Online CPUs, to bound --cpus as Docker does. */
  cpuCount?: number;
}

/** Docker's minimum --memory and --memory-reservation: 6 MiB. */
export const MIN_MEMORY = 6 * 1024 * 1024;
/** The CFS period --cpus is expressed over, in µs (Docker's). */
export const CPU_PERIOD = 100_000;

/** `linux.resources` minus the device rules, with Docker's validation and defaults. */
export function resolveResources(r: ResourcesInput, host: ResourceHost): SpecResources {
  const out: SpecResources = {};
  const memory = nonNegative(r.memory ?? 0, 'memory');
  const reservation = nonNegative(r.memoryReservation ?? 0, 'memory reservation');
  const swap = r.memorySwap ?? 0;
  if (!Number.isSafeInteger(swap) || swap < -1) throw new InvalidArgumentError(`invalid memory swap limit ${swap}`);
  if (memory > 0 && memory < MIN_MEMORY) {
    throw new InvalidArgumentError(`memory limit ${memory} is below the minimum allowed, 6MB`);
  }
  if (reservation > 0 && reservation < MIN_MEMORY) {
    throw new InvalidArgumentError(`memory reservation ${reservation} is below the minimum allowed, 6MB`);
  }
  if (swap > 0 && memory === 0) {
    throw new InvalidArgumentError(`memory swap limit ${swap} needs a memory limit: set the memory limit too`);
  }
  if (swap > 0 && swap < memory) {
    throw new InvalidArgumentError(
      `memory swap limit ${swap} is below the memory limit ${memory}: it counts memory plus swap`,
    );
  }
  if (reservation > 0 && memory > 0 && reservation > memory) {
    throw new InvalidArgumentError(`memory reservation ${reservation} is above the memory limit ${memory}`);
  }
  const mem: NonNullable<SpecResources['memory']> = {};
  if (memory > 0) mem.limit = memory;
  if (reservation > 0) mem.reservation = reservation;
  if (r.oomKillDisable) mem.disableOOMKiller = true;
  if (host.swapAccounting) {
    if (swap === -1) mem.swap = -1;
    else if (swap > 0) mem.swap = swap;
    else if (memory > 0) mem.swap = memory * 2;
  }
  if (Object.keys(mem).length > 0) out.memory = mem;

  const cpu: NonNullable<SpecResources['cpu']> = {};
  const shares = nonNegative(r.cpuShares ?? 0, 'CPU shares');
  if (shares > 0) cpu.shares = shares;
  if (r.cpus !== undefined && r.cpus !== 0) {
    if (r.cpuPeriod !== undefined || r.cpuQuota !== undefined) {
      throw new InvalidArgumentError('conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set');
    }
    const max = host.cpuCount;
    if (!Number.isFinite(r.cpus) || r.cpus < 0.01 || (max !== undefined && r.cpus > max)) {
      throw new InvalidArgumentError(
        `invalid --cpus ${r.cpus}: the range is 0.01 to ${max === undefined ? 'the number of CPUs' : max.toFixed(2)}`,
      );
    }
    cpu.period = CPU_PERIOD;
    cpu.quota = Math.round(r.cpus * CPU_PERIOD);
  } else {
    if (r.cpuPeriod !== undefined && r.cpuPeriod !== 0) {
      if (!Number.isSafeInteger(r.cpuPeriod) || r.cpuPeriod < 1000 || r.cpuPeriod > 1_000_000) {
        throw new InvalidArgumentError(`invalid CPU period ${r.cpuPeriod}: it is 1000 to 1000000 µs`);
      }
      cpu.period = r.cpuPeriod;
    }
    if (r.cpuQuota !== undefined && r.cpuQuota !== 0) {
      if (!Number.isSafeInteger(r.cpuQuota) || (r.cpuQuota !== -1 && r.cpuQuota < 1000)) {
        throw new InvalidArgumentError(`invalid CPU quota ${r.cpuQuota}: it is at least 1000 µs, or -1`);
      }
      cpu.quota = r.cpuQuota;
    }
  }
  if (r.cpusetCpus !== undefined && r.cpusetCpus !== '') cpu.cpus = cpuList(r.cpusetCpus, 'cpuset CPUs');
  if (r.cpusetMems !== undefined && r.cpusetMems !== '') cpu.mems = cpuList(r.cpusetMems, 'cpuset memory nodes');
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  if (r.pidsLimit !== undefined) {
    if (!Number.isSafeInteger(r.pidsLimit) || r.pidsLimit < -1) {
      throw new InvalidArgumentError(`invalid pids limit ${r.pidsLimit}`);
    }
    if (r.pidsLimit > 0) out.pids = { limit: r.pidsLimit };
  }
  if (r.blkioWeight !== undefined && r.blkioWeight !== 0) {
    if (!Number.isInteger(r.blkioWeight) || r.blkioWeight < 10 || r.blkioWeight > 1000) {
      throw new InvalidArgumentError(`invalid blkio weight ${r.blkioWeight}: it is 10 to 1000`);
    }
    out.blockIO = { weight: r.blkioWeight };
  }
  return out;
}

/** Parses a device cgroup rule in Docker's text form: `TYPE MAJOR:MINOR ACCESS`, `*` for any number. */
export function parseDeviceCgroupRule(text: string): SpecDeviceCgroup {
  const m = /^([acb]) (\*|\d+):(\*|\d+) ([rwm]{1,3})$/.exec(text.trim());
  if (!m || new Set(m[4]).size !== m[4]!.length) {
    throw new InvalidArgumentError(
      `invalid device cgroup rule "${text}": expected "TYPE MAJOR:MINOR ACCESS" like "c 1:3 rwm"`,
    );
  }
  const rule: SpecDeviceCgroup = { allow: true, type: m[1] as 'a' | 'c' | 'b' };
  if (m[2] !== '*') rule.major = Number(m[2]);
  if (m[3] !== '*') rule.minor = Number(m[3]);
  rule.access = m[4]!;
  return rule;
}

function nonNegative(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`invalid ${what} ${n}`);
  return n;
}

function cpuList(text: string, what: string): string {
  const t = text.trim();
  const ok =
    /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(t) &&
    t.split(',').every((part) => {
      const [a, b] = part.split('-').map(Number);
      return b === undefined || a! <= b;
    });
  if (!ok) throw new InvalidArgumentError(`invalid ${what} "${text}": expected a list like "0-3,6"`);
  return t;
}
