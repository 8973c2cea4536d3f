/** Helpers the scenarios share: containers made the same way on both engines, and waits. */
import type { Ctx } from '../clients.ts';

/** A container of busybox with no network (the reference runs without a default bridge), plus `extra`. */
export async function create(
  c: Ctx,
  name: string,
  cmd: string[],
  extra: Record<string, unknown> = {},
): Promise<string> {
  const { HostConfig, ...rest } = extra as { HostConfig?: Record<string, unknown> };
  const r = await c.http('POST', `/containers/create?name=${name}`, {
    Image: 'busybox',
    Cmd: cmd,
    ...rest,
    HostConfig: { NetworkMode: 'none', ...(HostConfig ?? {}) },
  });
  if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.body}`);
  return (JSON.parse(r.body) as { Id: string }).Id;
}

export async function start(c: Ctx, id: string): Promise<void> {
  const r = await c.http('POST', `/containers/${id}/start`);
  if (r.status !== 204) throw new Error(`start ${id}: ${r.status} ${r.body}`);
}

/** A started container running `sleep 60` (or `cmd`). */
export async function running(
  c: Ctx,
  name: string,
  cmd = ['sleep', '60'],
  extra: Record<string, unknown> = {},
): Promise<string> {
  const id = await create(c, name, cmd, extra);
  await start(c, id);
  return id;
}

export async function wait(c: Ctx, id: string): Promise<number> {
  const r = await c.http('POST', `/containers/${id}/wait`);
  return (JSON.parse(r.body) as { StatusCode: number }).StatusCode;
}

export async function remove(c: Ctx, ...ids: string[]): Promise<void> {
  for (const id of ids) await c.http('DELETE', `/containers/${id}?force=1&v=1`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const q = (o: unknown) => encodeURIComponent(JSON.stringify(o));
