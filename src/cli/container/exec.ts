import { readFileSync } from 'node:fs';
import type { EngineClient, ExecConfig } from '../../client/index.ts';
import { BerthError, goErrnoText } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { ExitStatusError } from '../errors.ts';
import { parseEnvFileText } from './values.ts';
import { monitorTtySize, streamHijacked, ttySize, type TerminalInput, type TerminalOutput } from './hijack.ts';

/**
 * `berth exec` (docker/cli `container/exec.go`): inspect, create the exec, then start it detached, or
 * hijacked with stdio copied as for attach; the exit status is the exec's `ExitCode`.
 */

/** `--env-file`s read in order, each line as docker reads it (a bare `KEY` from `lookup`). */
export function readEnvFiles(files: readonly string[], lookup: (key: string) => string | undefined): string[] {
  const env: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new BerthError(goErrnoText(err, file));
    }
    try {
      env.push(...parseEnvFileText(text, lookup));
    } catch (err) {
      throw new BerthError(`invalid env file (${file}): ${(err as Error).message}`);
    }
  }
  return env;
}

export interface ExecOptions {
  container: string;
  command: string[];
  detach: boolean;
  interactive: boolean;
  tty: boolean;
  user: string;
  privileged: boolean;
  env: string[];
  workdir: string;
  detachKeys: string;
}

export async function execInContainer(
  client: EngineClient,
  streams: { in: TerminalInput; out: OutStream; err: OutStream },
  opts: ExecOptions,
): Promise<void> {
  const config: ExecConfig = {
    User: opts.user,
    Privileged: opts.privileged,
    Tty: opts.tty,
    Cmd: opts.command,
    Detach: opts.detach,
    WorkingDir: opts.workdir,
    Env: opts.env,
    AttachStdin: !opts.detach && opts.interactive,
    AttachStdout: !opts.detach,
    AttachStderr: !opts.detach,
    DetachKeys: opts.detachKeys,
  };
  await client.containerInspect(opts.container);
  if (!opts.detach && opts.tty && config.AttachStdin === true && streams.in.isTTY !== true) {
    throw new BerthError('the input device is not a TTY');
  }
  const out = streams.out.stream as TerminalOutput;
  if (opts.tty) config.ConsoleSize = ttySize(out);
  const { Id: execId } = await client.execCreate(opts.container, config);
  if (execId === '') throw new BerthError('exec ID empty');
  if (opts.detach) {
    await client.execStart(execId, { Detach: true, Tty: opts.tty, ConsoleSize: config.ConsoleSize ?? null });
    return;
  }
  const conn = await client.execAttach(execId, { Tty: opts.tty, ConsoleSize: config.ConsoleSize ?? null });
  const done = streamHijacked({
    conn,
    input: config.AttachStdin === true ? streams.in : undefined,
    output: streams.out.stream,
    error: opts.tty ? streams.out.stream : streams.err.stream,
    tty: opts.tty,
    detachKeys: opts.detachKeys,
  });
  let stopResize: (() => void) | undefined;
  if (opts.tty && streams.in.isTTY === true) {
    stopResize = monitorTtySize((h, w) => client.execResize(execId, h, w), out, streams.err);
  }
  try {
    await done;
  } finally {
    stopResize?.();
  }
  const inspect = await client.execInspect(execId);
  const status = inspect.ExitCode ?? 0;
  if (status !== 0) throw new ExitStatusError('', status);
}
