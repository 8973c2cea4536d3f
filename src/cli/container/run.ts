import type {
  ContainerCreateRequest,
  EngineClient,
  HijackedConnection,
  WaitHandle,
  WaitResponse,
} from '../../client/index.ts';
import { familiarString, parseReference, withDefaultTag, type Reference } from '../../oci/index.ts';
import { BerthError, CanceledError, NotFoundError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { ExitStatusError, describeError, runStatusError, withHelp } from '../errors.ts';
import { displayJSONMessages } from '../jsonmessage.ts';
import {
  DetachedError,
  forceExitAfter3Signals,
  forwardSignals,
  monitorTtySize,
  streamHijacked,
  ttySize,
  type TerminalInput,
  type TerminalOutput,
} from './hijack.ts';
import type { BuiltRequest } from './opts.ts';

/**
 * `run`, `create`, `start` and `attach` (docker/cli `container/run.go`, `create.go`, `start.go`,
 * `attach.go`). `run` keeps docker's order: create → attach → wait → start, so no output and no exit
 * is missed; it exits with the container's status (125/126/127 for failures before the process runs).
 */

export interface ContainerStreams {
  in: TerminalInput;
  out: OutStream;
  err: OutStream;
}

/** Lets a command take SIGINT/SIGTERM over from the CLI's default handling (for signal forwarding). */
export interface SignalControl {
  releaseSignals?: () => void;
}

export interface CreateOptions {
  name: string;
  /** `always`, `missing` (pull on a 404) or `never`. */
  pull: string;
  quiet: boolean;
  platform: string;
}

function validatePull(pull: string): void {
  if (pull !== 'always' && pull !== 'missing' && pull !== 'never') {
    throw new BerthError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  }
}

/** Parses a pull option error up front, as docker does (exit 125 with the help hint). */
export function checkPullOption(pull: string, command: string): void {
  try {
    validatePull(pull);
  } catch (err) {
    throw new ExitStatusError(withHelp(err, command), 125);
  }
}

async function pullImage(
  client: EngineClient,
  err: OutStream,
  image: string,
  opts: CreateOptions,
  signal?: AbortSignal,
): Promise<void> {
  const ref = parseReference(image);
  const tag = ref.digest ?? withDefaultTag(ref).tag;
  const name = `${ref.domain}/${ref.path}`;
  const registryAuth = await (await import('../image/registry.ts')).registryAuthFor(ref.domain);
  const messages = await client.imagePull(name, tag, {
    signal,
    ...(opts.platform !== '' ? { platform: opts.platform.toLowerCase() } : {}),
    ...(registryAuth !== undefined ? { registryAuth } : {}),
  });
  const target = opts.quiet ? { write: () => {}, isTerminal: false } : err;
  await displayJSONMessages(messages, target);
}

/**
 * docker's `createContainer`: creates, pulling the image first (`--pull always`) or after a 404
 * (`missing`, printing "Unable to find image 'x:latest' locally"), prints the engine's warnings,
 * and returns the new container's ID.
 */
export async function createContainer(
  client: EngineClient,
  err: OutStream,
  body: ContainerCreateRequest,
  opts: CreateOptions,
  signal?: AbortSignal,
): Promise<string> {
  const image = body.Image ?? '';
  let named: Reference | undefined;
  try {
    const ref = parseReference(image);
    // A bare 64-hex ID parses as no name; anything else is a name docker may pull.
    if (!/^[a-f0-9]{64}$/.test(image)) named = withDefaultTag(ref);
  } catch (e) {
    if (!/^[a-f0-9]{64}$/.test(image)) throw e;
  }
  if (opts.pull === 'always') await pullImage(client, err, image, opts, signal);
  const createOpts = { name: opts.name, platform: opts.platform, signal };
  let response;
  try {
    response = await client.containerCreate(body, createOpts);
  } catch (e) {
    if (!(e instanceof NotFoundError) || named === undefined || opts.pull !== 'missing') throw e;
    if (!opts.quiet) err.write(`Unable to find image '${familiarString(named)}' locally\n`);
    await pullImage(client, err, image, opts, signal);
    response = await client.containerCreate(body, createOpts);
  }
  for (const w of response.Warnings ?? []) err.write(`WARNING: ${w}\n`);
  return response.Id;
}

export interface RunOptions extends CreateOptions {
  request: BuiltRequest;
  detach: boolean;
  sigProxy: boolean;
  detachKeys: string;
  /** `-a` was given (conflicts with `-d`). */
  attachGiven: boolean;
}

/** docker's `CheckTty`. */
function checkTty(input: TerminalInput, attachStdin: boolean, tty: boolean): void {
  if (tty && attachStdin && input.isTTY !== true) throw new BerthError('the input device is not a TTY');
}

interface Attachment {
  conn: HijackedConnection;
  done: Promise<void>;
  abort: AbortController;
}

/** Attaches to the container's streams (`POST /containers/{id}/attach`) and copies them to and from ours. */
async function attachStreams(
  client: EngineClient,
  id: string,
  streams: ContainerStreams,
  which: { stdin: boolean; stdout: boolean; stderr: boolean },
  tty: boolean,
  detachKeys: string,
): Promise<Attachment> {
  const conn = await client.containerAttach(id, {
    stream: true,
    ...which,
    ...(detachKeys !== '' ? { detachKeys } : {}),
  });
  const abort = new AbortController();
  const done = streamHijacked({
    conn,
    input: which.stdin ? streams.in : undefined,
    output: which.stdout ? streams.out.stream : undefined,
    // With a TTY, stderr is merged into stdout by the engine; docker writes it to stdout.
    error: which.stderr ? (tty ? streams.out.stream : streams.err.stream) : undefined,
    tty,
    detachKeys,
    signal: abort.signal,
  });
  done.catch(() => {});
  return { conn, done, abort };
}

/** The exit status of a wait result; an engine error is reported and becomes 125, as docker does. */
async function statusOf(wait: WaitHandle, err: OutStream): Promise<number> {
  let res: WaitResponse;
  try {
    res = await wait.result;
  } catch (e) {
    // A wait dropped on purpose (detached, or the command ending) is no failure to report.
    if (e instanceof CanceledError) return 125;
    err.write(`error waiting for container: ${(e as Error).message}\n`);
    return 125;
  }
  if (res.Error?.Message !== undefined && res.Error.Message !== '') {
    err.write(`Error waiting for container: ${res.Error.Message}\n`);
    return 125;
  }
  return res.StatusCode;
}

/** `berth run`. */
export async function runContainer(
  client: EngineClient,
  streams: ContainerStreams,
  opts: RunOptions,
  control: SignalControl = {},
): Promise<void> {
  const body = opts.request.body;
  body.ArgsEscaped = false;
  if (!opts.detach) {
    checkTty(streams.in, body.AttachStdin === true, body.Tty === true);
  } else {
    if (opts.attachGiven) throw new BerthError('conflicting options: cannot specify both --attach and --detach');
    body.AttachStdin = false;
    body.AttachStdout = false;
    body.AttachStderr = false;
    body.StdinOnce = false;
  }
  const out = streams.out.stream as TerminalOutput;
  if (body.HostConfig !== undefined) body.HostConfig.ConsoleSize = ttySize(out);

  let id: string;
  try {
    id = await createContainer(client, streams.err, body, opts);
  } catch (e) {
    throw runStatusError(e);
  }

  // As docker, a termination signal does not end `run`; it is forwarded when signals are proxied.
  control.releaseSignals?.();
  const stopForce = forceExitAfter3Signals(streams.err);
  const stopSignals = opts.sigProxy ? forwardSignals(client, id) : undefined;
  const attach = body.AttachStdin === true || body.AttachStdout === true || body.AttachStderr === true;
  const tty = body.Tty === true;
  let attachment: Attachment | undefined;
  let wait: WaitHandle | undefined;
  let stopResize: (() => void) | undefined;
  try {
    if (attach) {
      const which = {
        stdin: body.AttachStdin === true,
        stdout: body.AttachStdout === true,
        stderr: body.AttachStderr === true,
      };
      attachment = await attachStreams(client, id, streams, which, tty, opts.detachKeys);
    }
    wait = await client.containerWait(id, { condition: opts.request.autoRemove ? 'removed' : 'next-exit' });
    try {
      await client.containerStart(id);
    } catch (e) {
      if (attachment !== undefined) {
        attachment.abort.abort();
        await attachment.done.catch(() => {});
      }
      if (opts.request.autoRemove) await wait.result.catch(() => {});
      throw runStatusError(e);
    }
    if (!attach) {
      streams.out.write(`${id}\n`);
      return;
    }
    if (tty && out.isTTY === true) {
      stopResize = monitorTtySize((h, w) => client.containerResize(id, h, w), out, streams.err);
    }
    const current = attachment as Attachment;
    const waitDone = statusOf(wait, streams.err);
    const first = await Promise.race([
      current.done.then(
        () => 'stream' as const,
        (e: unknown) => e,
      ),
      waitDone.then((s) => ({ status: s })),
    ]);
    let status: number;
    if (first === 'stream') {
      status = await waitDone;
    } else if (typeof first === 'object' && first !== null && 'status' in first) {
      status = (first as { status: number }).status;
      if (body.AttachStdout !== true && body.AttachStderr !== true) current.abort.abort();
      await current.done.catch(() => {});
    } else {
      if (first instanceof DetachedError) return;
      throw first;
    }
    if (status !== 0) throw new ExitStatusError('', status);
  } finally {
    stopResize?.();
    stopSignals?.();
    stopForce();
    wait?.cancel();
  }
}

/** `berth create`: prints the new container's ID. */
export async function createOnly(
  client: EngineClient,
  streams: ContainerStreams,
  request: BuiltRequest,
  opts: CreateOptions,
): Promise<void> {
  const body = request.body;
  if (body.HostConfig !== undefined) body.HostConfig.ConsoleSize = ttySize(streams.out.stream as TerminalOutput);
  const id = await createContainer(client, streams.err, body, opts);
  streams.out.write(`${id}\n`);
}

export interface StartOptions {
  containers: string[];
  attach: boolean;
  interactive: boolean;
  detachKeys: string;
}

/** `berth start`: plain starts print each name; `-a`/`-i` attach to one container and exit with its status. */
export async function startContainers(
  client: EngineClient,
  streams: ContainerStreams,
  opts: StartOptions,
  control: SignalControl = {},
): Promise<void> {
  if (!opts.attach && !opts.interactive) {
    const failed: string[] = [];
    for (const c of opts.containers) {
      try {
        await client.containerStart(c);
        streams.out.write(`${c}\n`);
      } catch (e) {
        streams.err.write(`${describeError(e)}\n`);
        failed.push(c);
      }
    }
    if (failed.length > 0) throw new BerthError(`Error: failed to start containers: ${failed.join(', ')}`);
    return;
  }
  if (opts.containers.length > 1) throw new BerthError('you cannot start and attach multiple containers at once');
  const c = await client.containerInspect(opts.containers[0] ?? '');
  const tty = c.Config.Tty === true;
  control.releaseSignals?.();
  const stopForce = forceExitAfter3Signals(streams.err);
  const stopSignals = tty ? undefined : forwardSignals(client, c.Id);
  const stdin = opts.interactive && c.Config.OpenStdin === true;
  let wait: WaitHandle | undefined;
  let stopResize: (() => void) | undefined;
  try {
    const attachment = await attachStreams(
      client,
      c.Id,
      streams,
      { stdin, stdout: true, stderr: true },
      tty,
      opts.detachKeys,
    );
    wait = await client.containerWait(c.Id, { condition: c.HostConfig.AutoRemove === true ? 'removed' : 'next-exit' });
    try {
      await client.containerStart(c.Id);
    } catch (e) {
      attachment.abort.abort();
      await attachment.done.catch(() => {});
      if (c.HostConfig.AutoRemove === true) await wait.result.catch(() => {});
      throw e;
    }
    const out = streams.out.stream as TerminalOutput;
    if (tty && out.isTTY === true)
      stopResize = monitorTtySize((h, w) => client.containerResize(c.Id, h, w), out, streams.err);
    try {
      await attachment.done;
    } catch (e) {
      if (e instanceof DetachedError) return;
      throw e;
    }
    const status = await statusOf(wait, streams.err);
    if (status !== 0) throw new ExitStatusError('', status);
  } finally {
    stopResize?.();
    stopSignals?.();
    stopForce();
    wait?.cancel();
  }
}

export interface AttachCommandOptions {
  container: string;
  noStdin: boolean;
  sigProxy: boolean;
  detachKeys: string;
}

/** `berth attach`: waits (no condition), checks the state, attaches; exits with the container's status. */
export async function attachContainer(
  client: EngineClient,
  streams: ContainerStreams,
  opts: AttachCommandOptions,
  control: SignalControl = {},
): Promise<void> {
  const wait = await client.containerWait(opts.container);
  let stopSignals: (() => void) | undefined;
  let stopForce: (() => void) | undefined;
  let stopResize: (() => void) | undefined;
  try {
    const check = async (): Promise<Awaited<ReturnType<EngineClient['containerInspect']>>> => {
      const c = await client.containerInspect(opts.container);
      if (!c.State.Running) throw new BerthError('You cannot attach to a stopped container, start it first');
      if (c.State.Paused) throw new BerthError('You cannot attach to a paused container, unpause it first');
      if (c.State.Restarting)
        throw new BerthError('You cannot attach to a restarting container, wait until it is running');
      return c;
    };
    const c = await check();
    const tty = c.Config.Tty === true;
    checkTty(streams.in, !opts.noStdin, tty);
    const stdin = !opts.noStdin && c.Config.OpenStdin === true;
    control.releaseSignals?.();
    stopForce = forceExitAfter3Signals(streams.err);
    if (opts.sigProxy && !tty) stopSignals = forwardSignals(client, opts.container);
    const attachment = await attachStreams(
      client,
      opts.container,
      streams,
      { stdin, stdout: true, stderr: true },
      tty,
      opts.detachKeys,
    );
    try {
      await check();
    } catch (e) {
      attachment.abort.abort();
      throw e;
    }
    const out = streams.out.stream as TerminalOutput;
    if (tty && out.isTTY === true) {
      const [h, w] = ttySize(out);
      stopResize = monitorTtySize((hh, ww) => client.containerResize(opts.container, hh, ww), out, streams.err, [
        h + 1,
        w + 1,
      ]);
    }
    await attachment.done;
    const res = await wait.result;
    if (res.Error?.Message !== undefined && res.Error.Message !== '') throw new BerthError(res.Error.Message);
    if (res.StatusCode !== 0) throw new ExitStatusError('', res.StatusCode);
  } finally {
    stopResize?.();
    stopSignals?.();
    stopForce?.();
    wait.cancel();
  }
}
