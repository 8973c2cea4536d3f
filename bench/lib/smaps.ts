/**
 * Where a process's resident pages are, from `/proc/PID/smaps`, in the kinds a Node daemon's peak is made of:
 * code and other file-backed pages, the main malloc heap (`[heap]`), glibc's per-thread malloc arenas (anonymous
 * mappings on a 64 MiB boundary), V8's heap pages (anonymous, on a 256 KiB boundary, whole 256 KiB), stacks, and
 * other anonymous memory (large mallocs mmap'd on their own: array buffers, SharedArrayBuffers, zlib's windows).
 * The boundaries are heuristics, good enough to see which kind moved between two trees.
 */
import { readFileSync } from 'node:fs';

export const SMAPS_KINDS = ['file', 'heap', 'arenas', 'v8', 'stack', 'anon'] as const;
export type SmapsKind = (typeof SMAPS_KINDS)[number];
export type SmapsBreakdown = Record<SmapsKind, number>;

const ARENA = 64 << 20;
const V8_PAGE = 256 << 10;

/** MiB resident by kind; undefined once the process is gone. */
export function smapsBreakdown(pid: number): SmapsBreakdown | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  const out: SmapsBreakdown = { file: 0, heap: 0, arenas: 0, v8: 0, stack: 0, anon: 0 };
  let kind: SmapsKind = 'anon';
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const start = Number.parseInt(head[1]!, 16);
      const size = Number.parseInt(head[2]!, 16) - start;
      const name = head[3]!;
      if (name.startsWith('/')) kind = 'file';
      else if (name === '[heap]') kind = 'heap';
      else if (name.startsWith('[stack')) kind = 'stack';
      else if (name !== '') kind = 'anon';
      else if (start % ARENA === 0 && size <= ARENA) kind = 'arenas';
      else if (start % V8_PAGE === 0 && size % V8_PAGE === 0) kind = 'v8';
      else kind = 'anon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] += Number(rss[1]) / 1024;
  }
  return out;
}

/**
 * Samples one process's VmRSS every `everyMs` and reads its smaps whenever the RSS reaches a new high (by at least
 * 1 MiB), so that `stop()` gives the breakdown taken nearest the peak.
 */
export function sampleSmapsAtPeak(pid: number, everyMs = 20): { stop(): SmapsBreakdown | undefined } {
  let best = 0;
  let at: SmapsBreakdown | undefined;
  const take = () => {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(safeStatus(pid));
    const kib = m ? Number(m[1]) : 0;
    if (kib < best + 1024) return;
    const b = smapsBreakdown(pid);
    if (!b) return;
    best = kib;
    at = b;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return at;
    },
  };
}

function safeStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}
