/** HTTP load for the registry benchmarks: wrk (2 threads, 32 connections) and, for HEAD, ab. */
import { run } from './proc.ts';

export interface LoadFigures {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses that were not 2xx (a benchmark of errors is no benchmark). */
  errors: number;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

/** `wrk -t2 -c32 -d<s>s --latency` with extra headers; throws when wrk fails. */
export async function wrk(url: string, seconds: number, headers: Record<string, string> = {}): Promise<LoadFigures> {
  const args = ['-t2', '-c32', `-d${seconds}s`, '--latency'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  const r = await run('wrk', [...args, url], { timeoutMs: (seconds + 60) * 1000 });
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p50Ms: p50, p99Ms: p99, errors };
}

/**
 * HEAD requests with ab (keep-alive, 32 concurrent, one thread): wrk 4.1 waits for a body after a HEAD answer
 * that has a Content-Length, so it cannot measure HEAD against any registry.
 */
export async function abHead(url: string, seconds: number, headers: Record<string, string> = {}): Promise<LoadFigures> {
  // -t first, then -n: a time limit with no request cap in practice.
  const args = ['-q', '-k', '-i', '-c', '32', '-t', String(seconds), '-n', '100000000'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  const r = await run('ab', [...args, url], { timeoutMs: (seconds + 60) * 1000 });
  const out = r.stdout;
  return {
    rps: Number(/Requests per second:\s+([\d.]+)/.exec(out)?.[1]),
    p50Ms: Number(/\s50%\s+(\d+)/.exec(out)?.[1]),
    p99Ms: Number(/\s99%\s+(\d+)/.exec(out)?.[1]),
    errors:
      Number(/Non-2xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) + Number(/Failed requests:\s+(\d+)/.exec(out)?.[1] ?? 0),
  };
}
