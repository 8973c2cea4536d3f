import { request } from 'node:http';
import { connect } from 'node:net';
import { type ContainerInspect, demultiplex } from '../client/index.ts';
import type { KeyPath } from './errors.ts';
import type { ComposeContext } from './context.ts';
import type { Readiness, Service } from './model.ts';
import { parseDuration } from './units.ts';

/**
 * Berth's readiness extension, `x-berth-ready`, which Docker Compose ignores: a service is ready when a TCP port
 * accepts a connection (`tcp: 5432`), an HTTP path answers 2xx or 3xx (`http: /health, port: 8080`), its log has
 * shown a line (`log: "ready to accept"`), or some time after it started (`delay: 2s`); several keys must all
 * hold. compose probes from where it runs, at the container's addresses, so no healthcheck and no tool in the
 * image is needed. `depends_on: {condition: service_healthy}`, `up --wait` and `ps` honour it.
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

/** The addresses the container can be reached at from here. */
function addresses(c: ContainerInspect): string[] {
  const out: string[] = [];
  const mode = c.HostConfig.NetworkMode ?? '';
  if (mode === 'host') out.push('127.0.0.1');
  const nets = (c.NetworkSettings as { Networks?: Record<string, { IPAddress?: string }> } | undefined)?.Networks ?? {};
  for (const n of Object.values(nets)) if (n.IPAddress) out.push(n.IPAddress);
  return out;
}

function tcpOpen(host: string, p: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port: p });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function httpOk(host: string, p: number, path: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port: p, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

async function logHas(ctx: ComposeContext, c: ContainerInspect, text: string): Promise<boolean> {
  const since = Math.floor(Date.parse(c.State.StartedAt) / 1000);
  const body = await ctx.client.containerLogs(c.Id, {
    stdout: true,
    stderr: true,
    ...(Number.isFinite(since) && since > 0 ? { since: String(since) } : {}),
    signal: ctx.signal,
  });
  let seen = '';
  const source = c.Config.Tty
    ? body
    : (async function* () {
        for await (const chunk of demultiplex(body)) yield chunk.data;
      })();
  for await (const chunk of source) {
    seen += Buffer.from(chunk as Uint8Array).toString('utf8');
    if (seen.includes(text)) {
      body.destroy();
      return true;
    }
    if (seen.length > 1 << 20) seen = seen.slice(-text.length);
  }
  return false;
}

/** Whether a running container meets its readiness now (one probe of each kind). */
export async function probeReady(ctx: ComposeContext, c: ContainerInspect, r: Readiness): Promise<boolean> {
  if (!c.State.Running) return false;
  if (r.delay !== undefined && Date.now() - Date.parse(c.State.StartedAt) < r.delay) return false;
  const hosts = addresses(c);
  if (r.tcp !== undefined) {
    let ok = false;
    for (const h of hosts) if (!ok) ok = await tcpOpen(h, r.tcp);
    if (!ok) return false;
  }
  if (r.http !== undefined && r.port !== undefined) {
    let ok = false;
    for (const h of hosts) if (!ok) ok = await httpOk(h, r.port, r.http);
    if (!ok) return false;
  }
  if (r.log !== undefined && !(await logHas(ctx, c, r.log))) return false;
  return true;
}

export type HealthState = 'healthy' | 'starting' | 'unhealthy' | 'none' | 'exited';

/**
 * A container's health as compose sees it: the readiness probe when the service has `x-berth-ready`, else the
 * engine's healthcheck status, else `none`.
 */
export async function containerHealth(
  ctx: ComposeContext,
  c: ContainerInspect,
  s: Service | undefined,
): Promise<HealthState> {
  if (c.State.Status === 'exited' || c.State.Status === 'dead') return 'exited';
  const r = s === undefined ? undefined : parseReadiness(s);
  if (r !== undefined) return (await probeReady(ctx, c, r)) ? 'healthy' : 'starting';
  const h = c.State.Health?.Status;
  if (h === 'healthy' || h === 'unhealthy' || h === 'starting') return h;
  return 'none';
}
