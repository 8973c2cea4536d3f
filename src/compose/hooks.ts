import type { ContainerSummary } from '../client/index.ts';
import { BerthError, ConflictError, NotFoundError } from '../util/errors.ts';
import { sleep } from '../util/sleep.ts';
import { type ComposeContext, containerName } from './context.ts';
import type { Hook, Service } from './model.ts';

/**
 * Lifecycle hooks, as Docker Compose runs them: `post_start` commands run in the container once it has started,
 * `pre_stop` commands before it is stopped (by `stop`, `down`, `rm -s`, a recreate or a scale down). Each runs as
 * an exec and is waited for; a non-zero exit fails the start or the stop, naming the container.
 */

const POLL_MS = 50;

async function runHook(
  ctx: ComposeContext,
  phase: 'post_start' | 'pre_stop',
  hook: Hook,
  id: string,
  name: string,
): Promise<void> {
  const exec = await ctx.client.execCreate(
    id,
    {
      Cmd: hook.command,
      AttachStdout: false,
      AttachStderr: false,
      ...(hook.user !== undefined ? { User: hook.user } : {}),
      ...(hook.privileged !== undefined ? { Privileged: hook.privileged } : {}),
      ...(hook.working_dir !== undefined ? { WorkingDir: hook.working_dir } : {}),
      Env: Object.entries(hook.environment ?? {})
        .filter((e): e is [string, string] => e[1] !== null)
        .map(([k, v]) => `${k}=${v}`),
    },
    { signal: ctx.signal },
  );
  await ctx.client.execStart(exec.Id, { Detach: true, signal: ctx.signal });
  for (;;) {
    const info = await ctx.client.execInspect(exec.Id, { signal: ctx.signal });
    if (!info.Running) {
      if (info.ExitCode !== 0 && info.ExitCode !== null) {
        throw new BerthError(`${phase} hook of ${name} exited with ${info.ExitCode}`);
      }
      return;
    }
    await sleep(POLL_MS, ctx.signal);
  }
}

/** Runs a service's `post_start` hooks in its started container. */
export async function postStart(ctx: ComposeContext, s: Service, id: string, name: string): Promise<void> {
  for (const hook of s.post_start) await runHook(ctx, 'post_start', hook, id, name);
}

/**
 * Stops a container, running the service's `pre_stop` hooks first when it runs; a container that is gone or
 * stopped meanwhile is not an error (as Docker Compose ignores not-found and conflict answers to the hook).
 */
export async function stopContainer(
  ctx: ComposeContext,
  s: Service | undefined,
  c: Pick<ContainerSummary, 'Id' | 'State' | 'Names'>,
  timeout: number | undefined,
): Promise<void> {
  if (c.State === 'running' && s !== undefined) {
    try {
      for (const hook of s.pre_stop) await runHook(ctx, 'pre_stop', hook, c.Id, containerName(c));
    } catch (err) {
      if (!(err instanceof NotFoundError) && !(err instanceof ConflictError)) throw err;
    }
  }
  await ctx.client.containerStop(c.Id, { ...(timeout !== undefined ? { timeout } : {}), signal: ctx.signal });
}
