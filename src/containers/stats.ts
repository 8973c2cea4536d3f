import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';

/** One sample of a container's cgroup counters, in the Engine API's `stats` shape (the fields the CLI reads). */
export interface StatsSample {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; limit?: number; stats?: Record<string, number> };
  blkio_stats: BlkioStats;
  num_procs: number;
  storage_stats: Record<string, never>;
  name: string;
  id: string;
  /** Per interface of the container's network namespace (not `lo`); absent when it has none, as dockerd. */
  networks?: Record<string, NetworkCounters>;
}

/** One interface's counters in `networks`, as dockerd names them. */
export interface NetworkCounters {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/**
 * The interfaces of `/proc/<pid>/net/dev` (the counters of that process's network namespace), `lo` left out as
 * dockerd leaves it out; undefined when no other interface is there.
 */
export function parseNetDev(text: string): Record<string, NetworkCounters> | undefined {
  const out: Record<string, NetworkCounters> = {};
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const n = (m[2] ?? '').trim().split(/\s+/).map(Number);
    if (n.length < 16 || n.some((x) => !Number.isFinite(x))) continue;
    const v = (i: number) => n[i] ?? 0;
    out[m[1] as string] = {
      rx_bytes: v(0),
      rx_packets: v(1),
      rx_errors: v(2),
      rx_dropped: v(3),
      tx_bytes: v(8),
      tx_packets: v(9),
      tx_errors: v(10),
      tx_dropped: v(11),
    };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** One device's counter in `blkio_stats` (`op` is Read/Write/Sync/Async/Discard/Total on v1, read/write on v2). */
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/**
 * The Engine API's `blkio_stats`: on cgroup v1 every list (empty where the kernel counts nothing, as dockerd 20.10
 * gives them), on v2 the two it has and null for the others.
 */
export interface BlkioStats {
  io_service_bytes_recursive: BlkioEntry[] | null;
  io_serviced_recursive: BlkioEntry[] | null;
  io_queue_recursive: BlkioEntry[] | null;
  io_service_time_recursive: BlkioEntry[] | null;
  io_wait_time_recursive: BlkioEntry[] | null;
  io_merged_recursive: BlkioEntry[] | null;
  io_time_recursive: BlkioEntry[] | null;
  sectors_recursive: BlkioEntry[] | null;
}

/** `blkio_stats` with no figures (a stopped container, or no blkio/io controller). */
export function emptyBlkio(): BlkioStats {
  return {
    io_service_bytes_recursive: null,
    io_serviced_recursive: null,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

/**
 * A cgroup v1 blkio file (`blkio.throttle.io_service_bytes_recursive`): lines `MAJ:MIN Op value`; the device-less
 * `Total` line is left out, as runc's reader does.
 */
export function parseBlkioV1(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

/**
 * cgroup v2 `io.stat` (`MAJ:MIN rbytes=… wbytes=… rios=… wios=… dbytes=… dios=…`) as dockerd converts it: bytes
 * read and written per device (`read`/`write`), and the same for operations.
 */
export function parseIoStat(text: string): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const [dev, ...pairs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const kv = Object.fromEntries(
      pairs
        .map((p) => p.split('='))
        .filter((p) => p.length === 2)
        .map(([k, v]) => [k!, Number(v)]),
    );
    const major = Number(m[1]);
    const minor = Number(m[2]);
    bytes.push(
      { major, minor, op: 'read', value: kv.rbytes ?? 0 },
      { major, minor, op: 'write', value: kv.wbytes ?? 0 },
    );
    ios.push({ major, minor, op: 'read', value: kv.rios ?? 0 }, { major, minor, op: 'write', value: kv.wios ?? 0 });
  }
  return { bytes, ios };
}

/**
 * A v1 blkio counter of a group, from the first of the files that has figures, in runc's order: the CFQ
 * scheduler's, BFQ's, then the throttle layer's (which counts I/O whatever the scheduler).
 */
async function blkioV1(dir: string, what: string): Promise<BlkioEntry[]> {
  for (const f of [`blkio.${what}`, `blkio.bfq.${what}`, `blkio.throttle.${what}`]) {
    const text = await readFile(join(dir, f), 'utf8').catch(() => '');
    const entries = parseBlkioV1(text);
    if (entries.length > 0) return entries;
  }
  return [];
}

interface CpuStats {
  /** `percpu_usage` on cgroup v1 only (cpuacct.usage_percpu), as dockerd. */
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

const CGROOT = '/sys/fs/cgroup';
const UNLIMITED = 2n ** 63n - 4096n;

async function num(path: string): Promise<number | undefined> {
  try {
    const t = (await readFile(path, 'utf8')).trim();
    if (t === 'max') return undefined;
    const n = BigInt(t);
    return n >= UNLIMITED ? undefined : Number(n);
  } catch {
    return undefined;
  }
}

async function keyed(path: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    for (const line of (await readFile(path, 'utf8')).split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) out[k] = Number(v);
    }
  } catch {
    // absent on this host
  }
  return out;
}

/** Host CPU time in nanoseconds, as docker computes system_cpu_usage (sum of /proc/stat's cpu line, in ticks of 1/100 s). */
async function systemCpu(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const ticks = line
    .split(/\s+/)
    .slice(1, 8)
    .reduce((a, b) => a + Number(b || 0), 0);
  return ticks * 1e7;
}

/**
 * Reads a container's counters from its cgroup `<group>` (e.g. `berth/<id>`): cgroup v1 controllers when
 * they are mounted (this kind of host), else the unified v2 hierarchy.
 */
export async function readCgroupStats(
  group: string,
): Promise<{ cpu: CpuStats; memory: StatsSample['memory_stats']; pids: StatsSample['pids_stats']; blkio: BlkioStats }> {
  const v1 = existsSync(join(CGROOT, 'memory', group)) || existsSync(join(CGROOT, 'cpuacct', group));
  const online = cpus().length;
  if (v1) {
    const acct = await keyed(join(CGROOT, 'cpuacct', group, 'cpuacct.stat'));
    const mem = await keyed(join(CGROOT, 'memory', group, 'memory.stat'));
    const thr = await keyed(join(CGROOT, 'cpu', group, 'cpu.stat'));
    const limit = await num(join(CGROOT, 'memory', group, 'memory.limit_in_bytes'));
    const percpu = await readFile(join(CGROOT, 'cpuacct', group, 'cpuacct.usage_percpu'), 'utf8').then(
      (t) => t.trim().split(/\s+/).filter(Boolean).map(Number),
      () => undefined,
    );
    const maxUsage = await num(join(CGROOT, 'memory', group, 'memory.max_usage_in_bytes'));
    return {
      cpu: {
        cpu_usage: {
          total_usage: (await num(join(CGROOT, 'cpuacct', group, 'cpuacct.usage'))) ?? 0,
          ...(percpu ? { percpu_usage: percpu } : {}),
          usage_in_kernelmode: (acct.system ?? 0) * 1e7,
          usage_in_usermode: (acct.user ?? 0) * 1e7,
        },
        system_cpu_usage: await systemCpu(),
        online_cpus: online,
        throttling_data: {
          periods: thr.nr_periods ?? 0,
          throttled_periods: thr.nr_throttled ?? 0,
          throttled_time: thr.throttled_time ?? 0,
        },
      },
      memory: {
        usage: (await num(join(CGROOT, 'memory', group, 'memory.usage_in_bytes'))) ?? 0,
        ...(maxUsage !== undefined ? { max_usage: maxUsage } : {}),
        limit: limit ?? (await hostMemory()),
        stats: mem,
      },
      pids: {
        current: (await num(join(CGROOT, 'pids', group, 'pids.current'))) ?? 0,
        ...optional('limit', await num(join(CGROOT, 'pids', group, 'pids.max'))),
      },
      blkio: {
        io_service_bytes_recursive: await blkioV1(join(CGROOT, 'blkio', group), 'io_service_bytes_recursive'),
        io_serviced_recursive: await blkioV1(join(CGROOT, 'blkio', group), 'io_serviced_recursive'),
        io_queue_recursive: await blkioV1(join(CGROOT, 'blkio', group), 'io_queued_recursive'),
        io_service_time_recursive: await blkioV1(join(CGROOT, 'blkio', group), 'io_service_time_recursive'),
        io_wait_time_recursive: await blkioV1(join(CGROOT, 'blkio', group), 'io_wait_time_recursive'),
        io_merged_recursive: await blkioV1(join(CGROOT, 'blkio', group), 'io_merged_recursive'),
        io_time_recursive: await blkioV1(join(CGROOT, 'blkio', group), 'time_recursive'),
        sectors_recursive: await blkioV1(join(CGROOT, 'blkio', group), 'sectors_recursive'),
      },
    };
  }
  const io = parseIoStat(await readFile(join(CGROOT, group, 'io.stat'), 'utf8').catch(() => ''));
  const cpu = await keyed(join(CGROOT, group, 'cpu.stat'));
  const limit = await num(join(CGROOT, group, 'memory.max'));
  return {
    cpu: {
      cpu_usage: {
        total_usage: (cpu.usage_usec ?? 0) * 1000,
        usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000,
        usage_in_usermode: (cpu.user_usec ?? 0) * 1000,
      },
      system_cpu_usage: await systemCpu(),
      online_cpus: online,
      throttling_data: {
        periods: cpu.nr_periods ?? 0,
        throttled_periods: cpu.nr_throttled ?? 0,
        throttled_time: (cpu.throttled_usec ?? 0) * 1000,
      },
    },
    memory: {
      usage: (await num(join(CGROOT, group, 'memory.current'))) ?? 0,
      limit: limit ?? (await hostMemory()),
      stats: await keyed(join(CGROOT, group, 'memory.stat')),
    },
    pids: {
      current: (await num(join(CGROOT, group, 'pids.current'))) ?? 0,
      ...optional('limit', await num(join(CGROOT, group, 'pids.max'))),
    },
    blkio: { ...emptyBlkio(), io_service_bytes_recursive: io.bytes, io_serviced_recursive: io.ios },
  };
}

function optional<K extends string>(k: K, v: number | undefined): Partial<Record<K, number>> {
  return v === undefined ? {} : ({ [k]: v } as Record<K, number>);
}

async function hostMemory(): Promise<number> {
  const m = /MemTotal:\s+(\d+) kB/.exec(await readFile('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export function emptyCpu(): CpuStats {
  return {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

const ZERO = '0001-01-01T00:00:00Z';

/**
 * One stats sample of a container (`docker stats`): its cgroup's counters while it runs, zeros otherwise, with
 * `precpu_stats` from `previous` so that the CLI can compute CPU %.
 */
export async function statsSample(
  c: { id: string; name: string; running: boolean; pid?: number; ownNetwork?: boolean },
  previous?: StatsSample,
): Promise<StatsSample> {
  const s = c.running ? await readCgroupStats(`berth/${c.id}`) : undefined;
  // The interfaces of the container's own network namespace (not the host's, nor another container's).
  const networks =
    c.running && c.ownNetwork && c.pid
      ? parseNetDev(await readFile(`/proc/${c.pid}/net/dev`, 'utf8').catch(() => ''))
      : undefined;
  return {
    read: c.running ? new Date().toISOString() : ZERO,
    preread: previous?.read ?? ZERO,
    pids_stats: s?.pids ?? {},
    cpu_stats: s?.cpu ?? emptyCpu(),
    precpu_stats: previous?.cpu_stats ?? emptyCpu(),
    memory_stats: s?.memory ?? {},
    blkio_stats: s?.blkio ?? emptyBlkio(),
    num_procs: 0,
    storage_stats: {},
    name: `/${c.name}`,
    id: c.id,
    ...(networks ? { networks } : {}),
  };
}
