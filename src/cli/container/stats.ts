import type { EngineClient, StatsResponse } from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { MultiError } from '../errors.ts';
import { renderRows, type ListLayout } from '../output.ts';
import { truncateID } from '../text.ts';
import { bytesSize, humanSizeWithPrecision } from '../units.ts';

/**
 * `berth stats` (docker/cli `container/stats.go`, `stats_helpers.go`, `formatter_stats.go`): one collector
 * per container reading the engine's stats stream, a table redrawn every 500 ms (in place, with ANSI
 * cursor moves, when streaming), or printed once with `--no-stream`.
 */

/** What one container's line shows; docker's `StatsEntry`. */
export interface StatsEntry {
  container: string;
  name: string;
  id: string;
  cpuPercentage: number;
  memory: number;
  memoryLimit: number;
  memoryPercentage: number;
  networkRx: number;
  networkTx: number;
  blockRead: number;
  blockWrite: number;
  pidsCurrent: number;
  isInvalid: boolean;
}

export function emptyEntry(container: string): StatsEntry {
  return {
    container,
    name: '',
    id: '',
    cpuPercentage: 0,
    memory: 0,
    memoryLimit: 0,
    memoryPercentage: 0,
    networkRx: 0,
    networkTx: 0,
    blockRead: 0,
    blockWrite: 0,
    pidsCurrent: 0,
    isInvalid: false,
  };
}

/** docker's `calculateCPUPercentUnix`, from the sample's own `precpu_stats`. */
export function cpuPercentUnix(v: StatsResponse): number {
  const cpuDelta = (v.cpu_stats?.cpu_usage?.total_usage ?? 0) - (v.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (v.cpu_stats?.system_cpu_usage ?? 0) - (v.precpu_stats?.system_cpu_usage ?? 0);
  let online = v.cpu_stats?.online_cpus ?? 0;
  if (online === 0) online = v.cpu_stats?.cpu_usage?.percpu_usage?.length ?? 0;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
}

/** Memory without the page cache: cgroup v1's `total_inactive_file`, else v2's `inactive_file`. */
export function memUsageNoCache(mem: StatsResponse['memory_stats']): number {
  const usage = mem?.usage ?? 0;
  const stats = mem?.stats ?? {};
  const v1 = stats.total_inactive_file;
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = stats.inactive_file ?? 0;
  if (v2 < usage) return usage - v2;
  return usage;
}

/** One sample as a table entry (Linux engines; Windows ones report differently). */
export function entryFromSample(container: string, v: StatsResponse, osType: string): StatsEntry {
  const e = emptyEntry(container);
  e.name = v.name ?? '';
  e.id = v.id ?? '';
  if (osType !== 'windows') {
    e.cpuPercentage = cpuPercentUnix(v);
    for (const b of v.blkio_stats?.io_service_bytes_recursive ?? []) {
      const op = (b.op ?? '')[0];
      if (op === 'r' || op === 'R') e.blockRead += b.value;
      else if (op === 'w' || op === 'W') e.blockWrite += b.value;
    }
    e.memory = memUsageNoCache(v.memory_stats);
    e.memoryLimit = v.memory_stats?.limit ?? 0;
    e.memoryPercentage = e.memoryLimit !== 0 ? (e.memory / e.memoryLimit) * 100 : 0;
    e.pidsCurrent = v.pids_stats?.current ?? 0;
  } else {
    e.memory = v.memory_stats?.privateworkingset ?? 0;
  }
  for (const n of Object.values(v.networks ?? {})) {
    e.networkRx += n.rx_bytes;
    e.networkTx += n.tx_bytes;
  }
  return e;
}

const HEADERS: Record<string, string> = {
  Container: 'CONTAINER',
  Name: 'NAME',
  ID: 'CONTAINER ID',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};
const DEFAULT_TABLE =
  'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
const WINDOWS_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.NetIO}}\t{{.BlockIO}}';

const pct = (v: number): string => `${v.toFixed(2)}%`;

/** The fields of docker's `statsContext`, as text. */
export function statsRow(s: StatsEntry, osType: string, trunc: boolean): Record<string, string> {
  const windows = osType === 'windows';
  return {
    Container: s.container,
    Name: s.name.length > 1 ? s.name.slice(1) : '--',
    ID: trunc ? truncateID(s.id) : s.id,
    CPUPerc: s.isInvalid ? '--' : pct(s.cpuPercentage),
    MemUsage: s.isInvalid
      ? '-- / --'
      : windows
        ? bytesSize(s.memory)
        : `${bytesSize(s.memory)} / ${bytesSize(s.memoryLimit)}`,
    MemPerc: s.isInvalid || windows ? '--' : pct(s.memoryPercentage),
    NetIO: s.isInvalid ? '--' : `${humanSizeWithPrecision(s.networkRx, 3)} / ${humanSizeWithPrecision(s.networkTx, 3)}`,
    BlockIO: s.isInvalid
      ? '--'
      : `${humanSizeWithPrecision(s.blockRead, 3)} / ${humanSizeWithPrecision(s.blockWrite, 3)}`,
    PIDs: s.isInvalid || windows ? '--' : String(s.pidsCurrent),
  };
}

/** Renders the table (or template) for the entries, as `statsFormatWrite` does. */
export async function renderStats(
  entries: readonly StatsEntry[],
  format: string,
  osType: string,
  trunc: boolean,
): Promise<string> {
  const windows = osType === 'windows';
  const table = windows ? WINDOWS_TABLE : DEFAULT_TABLE;
  const headers = windows ? { ...HEADERS, MemUsage: 'PRIV WORKING SET' } : HEADERS;
  const columns = windows
    ? ['ID', 'Name', 'CPUPerc', 'MemUsage', 'NetIO', 'BlockIO']
    : ['ID', 'Name', 'CPUPerc', 'MemUsage', 'MemPerc', 'NetIO', 'BlockIO', 'PIDs'];
  const layout: ListLayout = { defaultTable: table, headers, columns, typeName: '*container.statsContext' };
  return renderRows(
    entries.map((e) => statsRow(e, osType, trunc)),
    format === 'table' ? '' : format,
    layout,
  );
}

/**
 * docker's streaming redraw: cursor home, the table, then each of those lines again followed by
 * ` \x1b[K` (erase the rest of the line), then `\x1b[J` (erase below). docker 28 writes the table twice
 * this way; the screen shows it once.
 */
export function streamFrame(table: string): string {
  let buf = `\x1b[H${table}`;
  for (const line of buf.split('\n')) buf += `${line} \x1b[K\n`;
  return `${buf}\x1b[J`;
}

class Collector {
  entry: StatsEntry;
  error: unknown;
  readonly first: Promise<void>;
  #firstDone!: () => void;
  #gotFirst = false;
  constructor(container: string) {
    this.entry = emptyEntry(container);
    this.first = new Promise<void>((resolve) => {
      this.#firstDone = resolve;
    });
  }
  markFirst(): void {
    if (this.#gotFirst) return;
    this.#gotFirst = true;
    this.#firstDone();
  }
}

export interface StatsOptions {
  containers: string[];
  all: boolean;
  noStream: boolean;
  noTrunc: boolean;
  format: string;
}

export interface StatsTiming {
  /** Redraw period (500 ms in docker). */
  tickMs?: number;
  /** How long without a sample before a line shows `--` (2 s in docker). */
  staleMs?: number;
}

async function collect(
  client: EngineClient,
  c: Collector,
  stream: boolean,
  signal: AbortSignal,
  timing: Required<StatsTiming>,
  setOsType: (os: string) => void,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      c.entry = { ...emptyEntry(c.entry.container), isInvalid: true };
      c.error = new Error('timeout waiting for stats');
      c.markFirst();
      if (stream) arm();
    }, timing.staleMs);
  };
  arm();
  try {
    const res = await client.containerStats(c.entry.container, { stream, signal });
    setOsType(res.osType);
    for await (const sample of res.samples) {
      c.entry = entryFromSample(c.entry.container, sample, res.osType);
      c.error = undefined;
      c.markFirst();
      if (!stream) break;
      arm();
    }
  } catch (err) {
    if (!signal.aborted) {
      c.error = err;
      c.entry.isInvalid = true;
    }
  } finally {
    if (!stream || signal.aborted) clearTimeout(timer);
    c.markFirst();
  }
}

/** `berth stats`. */
export async function showStats(
  client: EngineClient,
  out: OutStream,
  opts: StatsOptions,
  signal: AbortSignal,
  timing: StatsTiming = {},
): Promise<void> {
  const t = { tickMs: timing.tickMs ?? 500, staleMs: timing.staleMs ?? 2000 };
  const local = new AbortController();
  const onAbort = (): void => local.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const collectors = new Map<string, Collector>();
  let osType = client.lastPing?.osType ?? '';
  const setOs = (os: string): void => {
    if (os !== '') osType = os;
  };
  const add = (container: string): Collector | undefined => {
    if (collectors.has(container)) return undefined;
    const c = new Collector(container);
    collectors.set(container, c);
    void collect(client, c, !opts.noStream, local.signal, t, setOs);
    return c;
  };
  const showAll = opts.containers.length === 0;
  try {
    if (showAll) {
      if (!opts.noStream) {
        const events = await client.events({ filters: { type: ['container'] }, signal: local.signal });
        void (async () => {
          try {
            for await (const e of events) {
              const id = (e.Actor?.ID ?? e.id ?? '').slice(0, 12);
              if (id === '') continue;
              if (e.Action === 'start' || (opts.all && e.Action === 'create')) add(id);
              else if (!opts.all && e.Action === 'die') collectors.delete(id);
            }
          } catch {
            // The stream ends with the command.
          }
        })();
      }
      const list = await client.containerList({ all: opts.all, signal: local.signal });
      await Promise.all(list.map((c) => add(c.Id.slice(0, 12))?.first));
    } else {
      await Promise.all(opts.containers.map((c) => add(c)?.first));
      const errors = [...collectors.values()].map((c) => c.error).filter((e) => e !== undefined);
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new MultiError(errors);
    }
    const format = opts.format === '' ? 'table' : opts.format;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, t.tickMs));
      if (signal.aborted) return;
      const table = await renderStats(
        [...collectors.values()].map((c) => c.entry),
        format,
        osType,
        !opts.noTrunc,
      );
      out.write(opts.noStream ? table : streamFrame(table));
      if (collectors.size === 0 && !showAll) return;
      if (opts.noStream) return;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    local.abort();
  }
}
