import type { Readable, Writable } from 'node:stream';
import type { EngineClient, HijackedConnection } from '../../client/index.ts';
import { stdCopy, writeWithBackpressure } from '../../client/index.ts';

/**
 * The client half of attach and exec streams (docker/cli `hijack.go`, `tty.go`, `signals.go`): stdin
 * copied up and then half-closed, output copied down (demultiplexed unless there is a TTY) until the
 * engine closes, raw mode and detach keys on a terminal, TTY resizes and signal forwarding.
 */

/** docker's default detach sequence, ctrl-p ctrl-q. */
export const DEFAULT_DETACH_KEYS = Uint8Array.of(16, 17);

const CTRL_NAMES = [
  'ctrl-@',
  'ctrl-a',
  'ctrl-b',
  'ctrl-c',
  'ctrl-d',
  'ctrl-e',
  'ctrl-f',
  'ctrl-g',
  'ctrl-h',
  'ctrl-i',
  'ctrl-j',
  'ctrl-k',
  'ctrl-l',
  'ctrl-m',
  'ctrl-n',
  'ctrl-o',
  'ctrl-p',
  'ctrl-q',
  'ctrl-r',
  'ctrl-s',
  'ctrl-t',
  'ctrl-u',
  'ctrl-v',
  'ctrl-w',
  'ctrl-x',
  'ctrl-y',
  'ctrl-z',
  'ctrl-[',
  'ctrl-\\',
  'ctrl-]',
  'ctrl-^',
  'ctrl-_',
];

/** moby/term `ToBytes`: `ctrl-p,ctrl-q`, single characters, or `DEL`. */
export function detachKeyBytes(keys: string): Uint8Array {
  const codes: number[] = [];
  for (const key of keys.split(',')) {
    if (key.length === 1) {
      codes.push(key.charCodeAt(0) & 0xff);
      continue;
    }
    const ctrl = CTRL_NAMES.indexOf(key);
    if (ctrl >= 0) codes.push(ctrl);
    else if (key === 'DEL') codes.push(127);
    else throw new RangeError(`Unknown character: '${key}'`);
  }
  return Uint8Array.from(codes);
}

/**
 * moby/term's escape proxy as a chunk filter: bytes that could begin the detach sequence are held back
 * until the next byte tells; a completed sequence is reported and not passed on. As upstream, a byte
 * that breaks a partial match is not itself tried as the start of a new one.
 */
export class EscapeMatcher {
  readonly #keys: Uint8Array;
  #pos = 0;
  constructor(keys: Uint8Array) {
    this.#keys = keys;
  }
  /** The bytes to pass on, and whether the sequence was completed (nothing after it is passed). */
  feed(chunk: Uint8Array): { data: Buffer; detached: boolean } {
    const keys = this.#keys;
    if (keys.length === 0) return { data: Buffer.from(chunk), detached: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === keys[this.#pos]) {
        this.#pos++;
        if (this.#pos === keys.length) {
          this.#pos = 0;
          return { data: Buffer.from(out), detached: true };
        }
        continue;
      }
      for (let i = 0; i < this.#pos; i++) out.push(keys[i] as number);
      this.#pos = 0;
      out.push(b);
    }
    return { data: Buffer.from(out), detached: false };
  }
}

/** Thrown when the user typed the detach sequence; docker's `term.EscapeError`. */
export class DetachedError extends Error {
  constructor() {
    super('read escape sequence');
    this.name = 'DetachedError';
  }
}

/**
 * Raw mode as docker's `term.MakeRaw`: Node's (libuv's) raw mode keeps output post-processing (`\n` →
 * `\r\n`), which doubles the container's own `\r`; `stty -opost` turns that off too. Leaving raw mode
 * (setRawMode(false)) restores the whole saved terminal state, output flags included.
 */
function setRawTerminal(input: TerminalInput): void {
  input.setRawMode?.(true);
  if ((input as { fd?: number }).fd === 0) {
    process
      .getBuiltinModule('node:child_process')
      .spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
  }
}

/** A terminal input stream Node can switch to raw mode. */
export type TerminalInput = Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

export interface StreamOptions {
  conn: HijackedConnection;
  /** Local stdin to copy up; undefined half-closes at once (docker does too). */
  input: TerminalInput | undefined;
  output: Writable | undefined;
  error: Writable | undefined;
  tty: boolean;
  /** `--detach-keys` text; '' for ctrl-p,ctrl-q. Matched here only with a TTY (else by the engine). */
  detachKeys: string;
  /** Aborting stops streaming at once (docker's context cancellation). */
  signal?: AbortSignal;
  /** Called when the terminal should be restored (also done here); for tests. */
  onRestore?: () => void;
}

/**
 * docker's `hijackedIOStreamer.stream`: resolves when the output is done (the engine closed), or when
 * stdin ended and there is no output to wait for; rejects with DetachedError on the detach keys.
 */
export async function streamHijacked(opts: StreamOptions): Promise<void> {
  const { conn, tty } = opts;
  const socket = conn.socket;
  const input = opts.input;
  let restored = true;
  let detachKeys: EscapeMatcher | undefined;
  if (input !== undefined && tty) {
    let keys: Uint8Array = DEFAULT_DETACH_KEYS;
    if (opts.detachKeys !== '') {
      try {
        keys = detachKeyBytes(opts.detachKeys);
      } catch {
        // docker warns and keeps the default.
      }
    }
    detachKeys = new EscapeMatcher(keys);
    if (input.isTTY === true && typeof input.setRawMode === 'function') {
      setRawTerminal(input);
      restored = false;
    }
  }
  const restore = (): void => {
    if (restored) return;
    restored = true;
    if (input?.isTTY === true && typeof input.setRawMode === 'function') input.setRawMode(false);
    opts.onRestore?.();
  };

  let stopInput = (): void => {};
  const inputDone = new Promise<'input' | 'detached'>((resolve, reject) => {
    if (input === undefined) {
      socket.end();
      resolve('input');
      return;
    }
    let finished = false;
    const finish = (how: 'input' | 'detached'): void => {
      if (finished) return;
      finished = true;
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      restore();
      if (how === 'input' && !socket.destroyed) socket.end();
      resolve(how);
    };
    const onData = (chunk: Buffer | string): void => {
      let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      let detached = false;
      if (detachKeys !== undefined) ({ data, detached } = detachKeys.feed(data));
      if (data.length > 0 && !socket.destroyed && socket.writable) {
        if (!socket.write(data)) {
          input.pause();
          socket.once('drain', () => {
            if (!finished) input.resume();
          });
        }
      }
      if (detached) finish('detached');
    };
    const onEnd = (): void => finish('input');
    const onError = (err: Error): void => {
      if (finished) return;
      finished = true;
      restore();
      reject(err);
    };
    stopInput = () => finish('input');
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
    input.resume();
  });
  inputDone.catch(() => {});

  const hasOutput = opts.output !== undefined || opts.error !== undefined;
  const outputDone: Promise<'output'> = hasOutput
    ? (async () => {
        try {
          if (opts.output !== undefined && tty) {
            for await (const chunk of socket) await writeWithBackpressure(opts.output, chunk as Buffer);
          } else {
            await stdCopy(socket, opts.output, opts.error);
          }
        } finally {
          if (tty) restore();
        }
        return 'output' as const;
      })()
    : new Promise<'output'>(() => {});
  outputDone.catch(() => {});

  const aborted = new Promise<'aborted'>((resolve) => {
    if (opts.signal === undefined) return;
    if (opts.signal.aborted) resolve('aborted');
    else opts.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });

  try {
    const first = await Promise.race([outputDone, inputDone, aborted]);
    if (first === 'detached') throw new DetachedError();
    if (first === 'input' && hasOutput) {
      const next = await Promise.race([outputDone, aborted]);
      if (next === 'aborted') return;
    }
  } finally {
    stopInput();
    restore();
    socket.destroy();
  }
}

/** A terminal output stream whose size Node knows. */
export type TerminalOutput = Writable & { isTTY?: boolean; rows?: number; columns?: number };

/** The terminal's size as docker's `GetTtySize` gives it: [height, width], [0, 0] when not a terminal. */
export function ttySize(out: TerminalOutput | undefined): [number, number] {
  if (out?.isTTY !== true) return [0, 0];
  return [out.rows ?? 0, out.columns ?? 0];
}

/**
 * docker's `MonitorTtySize`: a resize now (retried a few times if the engine is not ready) and on every
 * terminal resize (SIGWINCH); `initial` overrides the first size (attach sends h+1,w+1 first). Returns
 * a function that stops watching.
 */
export function monitorTtySize(
  resize: (height: number, width: number) => Promise<void>,
  out: TerminalOutput,
  err: { write(text: string): void },
  initial?: [number, number],
): () => void {
  const send = (size: [number, number]): Promise<void> =>
    size[0] === 0 && size[1] === 0 ? Promise.resolve() : resize(size[0], size[1]);
  let stopped = false;
  void (async () => {
    try {
      if (initial !== undefined) await send(initial).catch(() => {});
      await send(ttySize(out));
    } catch {
      for (let retry = 0; retry < 10 && !stopped; retry++) {
        await new Promise((r) => setTimeout(r, (retry + 1) * 10));
        try {
          await send(ttySize(out));
          return;
        } catch {
          // try again
        }
      }
      if (!stopped) err.write('failed to resize tty, using default size\n');
    }
  })();
  const onResize = (): void => {
    void send(ttySize(out)).catch(() => {});
  };
  out.on('resize', onResize);
  return () => {
    stopped = true;
    out.off('resize', onResize);
  };
}

/** The signals forwarded: those docker's CLI forwards (it takes all but SIGCHLD, SIGPIPE, SIGURG) that a user sends. */
const PROXIED: readonly NodeJS.Signals[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGTERM',
  'SIGALRM',
  'SIGCONT',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGWINCH',
];

/**
 * docker's `ForwardAllSignals`: each signal the CLI receives is sent to the container as
 * `POST /containers/{id}/kill?signal=NAME` (without the `SIG` prefix). Returns a function that stops.
 */
export function forwardSignals(
  client: EngineClient,
  id: string,
  proc: Pick<NodeJS.Process, 'on' | 'off'> = process,
): () => void {
  const handlers = PROXIED.map((sig) => {
    const handler = (): void => {
      void client.containerKill(id, sig.slice(3)).catch(() => {});
    };
    proc.on(sig, handler);
    return [sig, handler] as const;
  });
  return () => {
    for (const [sig, handler] of handlers) proc.off(sig, handler);
  };
}

/**
 * docker's handling of SIGINT/SIGTERM while a container runs attached: the first two are only noted
 * (forwarded to the container when signals are proxied), the third ends the CLI ("got 3 SIGTERM/SIGINTs,
 * forcefully exiting", exit 1). Returns a function that stops counting.
 */
export function forceExitAfter3Signals(
  err: { write(text: string): void },
  proc: Pick<NodeJS.Process, 'on' | 'off' | 'exit'> = process,
): () => void {
  let count = 0;
  const onSignal = (): void => {
    count++;
    if (count >= 3) {
      err.write('got 3 SIGTERM/SIGINTs, forcefully exiting\n');
      proc.exit(1);
    }
  };
  proc.on('SIGINT', onSignal);
  proc.on('SIGTERM', onSignal);
  return () => {
    proc.off('SIGINT', onSignal);
    proc.off('SIGTERM', onSignal);
  };
}
