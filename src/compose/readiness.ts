import { type ContainerInspect, demultiplex } from '../client/index.ts';
import type { ComposeContext } from './context.ts';
import type { Readiness, Service } from './model.ts';
import { parseReadiness } from './ready-spec.ts';

/**
 * Berth's readiness extension, `x-berth-ready`, which Docker Compose ignores: a service is ready when a TCP port
 * accepts a connection (`tcp: 5432`), an HTTP path answers 2xx or 3xx (`http: /health, port: 8080`), its log has
 * shown a line (`log: "ready to accept"`), or some time after it started (`delay: 2s`); several keys must all
 * hold. compose probes from where it runs, at the container's addresses, so no healthcheck and no tool in the
 * image is needed. `depends_on: {condition: service_healthy}`, `up --wait` and `ps` honour it.
 */

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
    const sock = process.getBuiltinModule('node:net').connect({ host, port: p });
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
    // node:http through getBuiltinModule: its ESM facade would load undici (~15 ms) for its WebSocket getters.
    const req = process
      .getBuiltinModule('node:http')
      .request({ host, port: p, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
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
