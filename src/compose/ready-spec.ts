import type { KeyPath } from './errors.ts';
import type { Readiness, Service } from './model.ts';
import { parseDuration } from './units.ts';

/**
 * Berth's readiness extension, `x-berth-ready`, as the model reads it: `tcp: PORT`, `http: PATH` with `port`,
 * `log: TEXT`, `delay: DURATION`, and `timeout` for how long a dependency may take. Checked when the project
 * loads; probed by readiness.ts.
 */

export const READY_KEY = 'x-berth-ready';
const KEYS = new Set(['tcp', 'http', 'port', 'log', 'delay', 'timeout']);

function port(v: unknown, path: KeyPath, error: (p: KeyPath, r: string) => Error): number {
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw error(path, `invalid port "${String(v)}"`);
  return n;
}

function duration(v: unknown, path: KeyPath, error: (p: KeyPath, r: string) => Error): number {
  try {
    return parseDuration(v as string | number);
  } catch {
    throw error(path, `invalid duration "${String(v)}"`);
  }
}

/** Checks and reads a service's `x-berth-ready` (undefined when it has none). */
export function parseReadiness(
  s: Service,
  error: (p: KeyPath, r: string) => Error = (p, r) => new Error(`${p.join('.')}: ${r}`),
): Readiness | undefined {
  const raw = s.extensions[READY_KEY];
  if (raw === undefined || raw === null) return undefined;
  const at = ['services', s.name, READY_KEY];
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw error(at, 'must be a mapping with tcp, http (and port), log or delay');
  }
  const d = raw as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (!KEYS.has(k)) throw error([...at, k], `unknown key "${k}": use tcp, http (with port), log, delay or timeout`);
  }
  const r: Readiness = {};
  if (d.tcp !== undefined) r.tcp = port(d.tcp, [...at, 'tcp'], error);
  if (d.http !== undefined) {
    if (typeof d.http !== 'string' || !d.http.startsWith('/'))
      throw error([...at, 'http'], 'must be a path starting with "/"');
    if (d.port === undefined) throw error(at, '"http" needs a "port"');
    r.http = d.http;
  }
  if (d.port !== undefined) r.port = port(d.port, [...at, 'port'], error);
  if (d.log !== undefined) {
    if (typeof d.log !== 'string' || d.log === '') throw error([...at, 'log'], 'must be a non-empty string');
    r.log = d.log;
  }
  if (d.delay !== undefined) r.delay = duration(d.delay, [...at, 'delay'], error);
  if (d.timeout !== undefined) r.timeout = duration(d.timeout, [...at, 'timeout'], error);
  if (r.tcp === undefined && r.http === undefined && r.log === undefined && r.delay === undefined) {
    throw error(at, 'needs one of tcp, http, log or delay');
  }
  return r;
}
