/** The Engine API over a unix socket, as the benchmarks drive it: one call, and the create+start+wait+delete cycle. */
import { request } from 'node:http';

/** Milliseconds since the epoch with sub-millisecond precision: comparable with berthd's phase times. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** One Engine API call over a unix socket; the parsed JSON body (or undefined). Rejects on a status ≥ 400. */
export function call(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        socketPath: socket,
        method,
        path,
        headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = text;
          }
          if ((res.statusCode ?? 500) >= 400)
            reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`));
          else resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** One API cycle: each call's duration in seconds, and the epoch-ms boundaries of the calls (5 of them). */
export interface ApiCycle {
  total: number;
  create: number;
  start: number;
  wait: number;
  remove: number;
  /** create sent, create answered = start sent, start answered, wait answered, delete answered. */
  marks: number[];
}

/** create + start + wait + delete of `busybox true` with `--network none`, versioned 1.41 as the docker CLI asks. */
export async function apiCycle(socket: string): Promise<ApiCycle> {
  const t = [epochMs()];
  const c = (
    await call(socket, 'POST', '/v1.41/containers/create', {
      Image: 'busybox',
      Cmd: ['true'],
      HostConfig: { NetworkMode: 'none' },
    })
  ).json as { Id: string };
  t.push(epochMs());
  await call(socket, 'POST', `/v1.41/containers/${c.Id}/start`);
  t.push(epochMs());
  const w = (await call(socket, 'POST', `/v1.41/containers/${c.Id}/wait`)).json as { StatusCode: number };
  t.push(epochMs());
  await call(socket, 'DELETE', `/v1.41/containers/${c.Id}`);
  t.push(epochMs());
  if (w.StatusCode !== 0) throw new Error(`the API cycle's container exited ${w.StatusCode}`);
  const s = (i: number) => (t[i + 1]! - t[i]!) / 1000;
  return { total: (t[4]! - t[0]!) / 1000, create: s(0), start: s(1), wait: s(2), remove: s(3), marks: t };
}
