import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { type ChildExit, type ChildFd, type DirectChild, spawnDirect } from '../sys/index.ts';
import { CanceledError, UnavailableError } from '../util/errors.ts';
import { inRuncWords, processStartError } from './runtimecli.ts';

/**
 * Driving conmon (Debian's conmon 2.1), the way podman's libpod/oci_conmon_common.go does.
 *
 * conmon is started with two extra pipes: `_OCI_STARTPIPE` (fd 4), on which it blocks until we write one byte,
 * and `_OCI_SYNCPIPE` (fd 3), on which it answers with JSON lines (`--api-version 1`): `{"data": PID}` once the
 * runtime has created the container (or started the exec process), `{"data": -1, "message": "runtime stderr"}`
 * when the runtime failed, and for exec a second line with the exit code. conmon double-forks: the process we
 * spawn exits at once and the monitor lives on, reparented, so the container outlives berthd. For an exec that
 * we attach to (`--exec-attach`), a third pipe `_OCI_ATTACHPIPE` (fd 5) says `{"data": 0}` once the attach
 * socket listens, and conmon then waits for a second byte on the start pipe before running `runtime exec`, so
 * no output is lost.
 */

/** Everything that goes on conmon's command line. */
export interface ConmonArgs {
  /** `-c`: the container id (the runtime's name for it; also the exit file's name). */
  cid: string;
  /** `-u`: the container id again, or the exec session id. */
  uuid: string;
  /** `-n` */
  name?: string;
  /** `-r`: the OCI runtime program. */
  runtimePath: string;
  /** `--runtime-arg` each: global runtime flags (`--root DIR`). */
  runtimeArgs: readonly string[];
  /** `-b`: the bundle (container) or the exec session dir; conmon makes `attach`, `ctl` and `winsz` in it. */
  bundle: string;
  /** `-p`: where the runtime writes the container's (or exec process's) pid. */
  pidFile: string;
  /** `--conmon-pidfile`: where conmon writes the monitor's own pid. */
  conmonPidFile?: string;
  /** `--exit-dir`: conmon writes the exit code to `<exitDir>/<cid>` (one dir to watch for every container). */
  exitDir?: string;
  /** `--persist-dir`: conmon writes `exit` (and `oom` when the OOM killer struck) here. */
  persistDir: string;
  /** `-l k8s-file:PATH`; absent: `-l none` (exec output goes only to the attach socket). */
  logPath?: string;
  /** `--log-size-max`: bytes; conmon starts the file afresh (truncating) when a write would pass it. */
  logSizeMax?: number;
  /** `-t`: conmon makes the console socket and owns the pty's master side. */
  terminal?: boolean;
  /** `-i`: a stdin pipe, fed from the attach socket. */
  stdin?: boolean;
  /** `--leave-stdin-open`: keep stdin open when an attached client goes (docker's StdinOnce=false). */
  leaveStdinOpen?: boolean;
  /** `--no-pivot` */
  noPivot?: boolean;
  /** `--syslog`: conmon's own warnings to syslog (else they are lost once it daemonizes). */
  syslog?: boolean;
  /**
   * `--no-sync-log`: no fsync of the log file when the container exits. conmon does that fsync before it writes the
   * exit file, so on a busy disk it delays every exit; Docker's log files are not synced either.
   */
  noSyncLog?: boolean;
  /** `-e --exec-process-spec FILE` (+ `--exec-attach` when `attach`). */
  exec?: { processSpecPath: string; attach: boolean };
}

/** conmon's argv for `args`. Pure, so it is unit-tested. */
export function conmonArgv(a: ConmonArgs): string[] {
  if (a.logPath?.includes(':'))
    throw new RangeError(`log path '${a.logPath}' contains ':', which conmon's -l cannot carry`);
  const argv = ['--api-version', '1', '-c', a.cid, '-u', a.uuid, '-r', a.runtimePath, '-b', a.bundle, '-p', a.pidFile];
  if (a.name !== undefined) argv.push('-n', a.name);
  if (a.conmonPidFile !== undefined) argv.push('--conmon-pidfile', a.conmonPidFile);
  if (a.exitDir !== undefined) argv.push('--exit-dir', a.exitDir);
  // --full-attach: the attach socket is `<bundle>/attach`, whatever its length (conmon binds it through
  // /proc/self/fd; clients connect relative to the directory), and no symlink dir is needed.
  argv.push('--persist-dir', a.persistDir, '--full-attach');
  for (const r of a.runtimeArgs) argv.push('--runtime-arg', r);
  argv.push('-l', a.logPath !== undefined ? `k8s-file:${a.logPath}` : 'none');
  if (a.logSizeMax !== undefined && a.logSizeMax > 0) argv.push('--log-size-max', String(Math.floor(a.logSizeMax)));
  if (a.terminal) argv.push('-t');
  if (a.stdin) argv.push('-i');
  if (a.stdin && a.leaveStdinOpen) argv.push('--leave-stdin-open');
  if (a.noPivot) argv.push('--no-pivot');
  if (a.syslog) argv.push('--syslog');
  if (a.noSyncLog) argv.push('--no-sync-log');
  if (a.exec) {
    argv.push('-e', '--exec-process-spec', a.exec.processSpecPath);
    if (a.exec.attach) argv.push('--exec-attach');
  }
  return argv;
}

/** One JSON line from conmon's sync or attach pipe. */
export interface SyncMessage {
  data: number;
  message?: string;
}

/** Reads conmon's newline-delimited JSON messages from one pipe. */
export class SyncPipeReader {
  readonly #queue: (SyncMessage | Error)[] = [];
  #waiter: ((m: SyncMessage | Error | undefined) => void) | undefined;
  #buf = '';
  #ended = false;

  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (s: string) => {
      this.#buf += s;
      let nl: number;
      while ((nl = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, nl).trim();
        this.#buf = this.#buf.slice(nl + 1);
        if (line !== '') this.#push(parseSync(line));
      }
    });
    stream.on('error', () => this.#end());
    stream.on('end', () => this.#end());
    stream.on('close', () => this.#end());
  }

  #push(m: SyncMessage | Error): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(m);
    } else this.#queue.push(m);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#buf.trim() !== '') this.#push(parseSync(this.#buf.trim()));
    this.#buf = '';
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(undefined);
    }
  }

  /** The next message; undefined once the pipe is closed. */
  next(): Promise<SyncMessage | undefined> {
    const m = this.#queue.shift();
    if (m !== undefined) return m instanceof Error ? Promise.reject(m) : Promise.resolve(m);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.#waiter = (x) => (x instanceof Error ? reject(x) : resolve(x));
    });
  }
}

function parseSync(line: string): SyncMessage | Error {
  try {
    const v = JSON.parse(line) as { data?: unknown; message?: unknown };
    if (typeof v.data !== 'number') return new UnavailableError(`conmon sent '${line}', without a numeric "data"`);
    return typeof v.message === 'string' ? { data: v.data, message: v.message } : { data: v.data };
  } catch {
    return new UnavailableError(`conmon sent '${line}', which is not JSON`);
  }
}

/** A conmon being started: its pipes, until the caller has what it needs from them. */
export class ConmonLaunch {
  readonly #child: DirectChild;
  readonly sync: SyncPipeReader;
  readonly attach: SyncPipeReader | undefined;
  readonly #start: Writable;
  #stderr = '';
  readonly #exited: Promise<number | null>;

  private constructor(child: DirectChild, attach: boolean) {
    this.#child = child;
    const [, , stderr, sync, start, attachPipe] = child.pipes;
    this.sync = new SyncPipeReader(sync!);
    this.#start = start!;
    this.#start.on('error', () => {}); // EPIPE when conmon died first: the sync pipe says why
    this.attach = attach ? new SyncPipeReader(attachPipe!) : undefined;
    stderr!.setEncoding('utf8');
    stderr!.on('data', (s: string) => {
      if (this.#stderr.length < 8192) this.#stderr += s;
    });
    stderr!.on('error', () => {});
    this.#exited = child.exited.then((e) => e.code);
  }

  /**
   * Starts conmon with stdin/stdout on /dev/null and stderr kept for error messages (the monitor conmon forks
   * calls setsid() itself, so it leaves our session and process group). posix_spawn, not child_process: see
   * sys/spawn.ts (a fork of berthd on every container start blocked the event loop ~3 ms each).
   * `cwd` matters: conmon writes stray files (its default pid file) there.
   */
  static async spawn(
    conmonPath: string,
    argv: string[],
    opts: { env: Record<string, string>; cwd: string; execAttach?: boolean; fork?: boolean },
  ): Promise<ConmonLaunch> {
    const env: Record<string, string> = { ...opts.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' };
    if (opts.execAttach) env._OCI_ATTACHPIPE = '5';
    const fds: ChildFd[] = ['null', 'null', 'out', 'out', 'in', ...(opts.execAttach ? (['out'] as const) : [])];
    let child: DirectChild;
    try {
      child = opts.fork
        ? forked(conmonPath, argv, { env, cwd: opts.cwd, fds })
        : await spawnDirect(conmonPath, [conmonPath, ...argv], { env, cwd: opts.cwd, fds });
    } catch (err) {
      throw new UnavailableError(`cannot run conmon '${conmonPath}': ${(err as Error).message}`, { cause: err });
    }
    return new ConmonLaunch(child, opts.execAttach === true);
  }

  /** Lets conmon go on (the first byte: fork and create; with --exec-attach the second: run the exec). */
  go(): void {
    this.#start.write(Buffer.of(0));
  }

  /** Closes our end of the start pipe. */
  closeStart(): void {
    this.#start.destroy();
  }

  /** conmon's stderr so far (its own errors, before it daemonizes). */
  get stderr(): string {
    return this.#stderr.trim();
  }

  /** Resolves when the spawned process (the parent of the monitor) has exited, with its code. */
  exited(): Promise<number | null> {
    return this.#exited;
  }

  /** Reads one message from `reader`; an EOF or a negative `data` becomes an error naming `what`. */
  async expect(reader: SyncPipeReader, what: string, runtime: string, signal?: AbortSignal): Promise<number> {
    const msg = await abortable(reader.next(), signal, () => this.kill());
    if (msg === undefined) {
      const code = await this.#exited;
      throw new UnavailableError(
        `conmon ended (exit code ${code}) before ${what}${this.stderr ? `: ${this.stderr}` : ''}`,
      );
    }
    if (msg.data < 0) {
      const text = (msg.message ?? '').trim() || `conmon reported ${msg.data}`;
      // The runtime's create or exec failed: the one place that says why the process could not start.
      throw processStartError(`${runtime}: ${cleanRuntimeStderr(text)}`);
    }
    return msg.data;
  }

  /** SIGKILLs the spawned conmon if it has not forked away yet. */
  kill(): void {
    this.#child.kill('SIGKILL');
  }

  /** Closes every pipe we hold, so nothing keeps our event loop or conmon's writes waiting on us. */
  close(): void {
    for (const s of this.#child.pipes) s?.destroy();
  }
}

/** The same child through child_process (a fork of berthd), as `DirectChild`: see `forkConmon`. */
function forked(
  file: string,
  argv: string[],
  opts: { env: Record<string, string>; cwd: string; fds: readonly ChildFd[] },
): DirectChild {
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: opts.fds.map((k) => (k === 'null' ? 'ignore' : 'pipe')),
  });
  let done = false;
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal: signal ? (osConstants.signals[signal] ?? null) : null });
    });
    child.once('error', () => {
      done = true;
      resolve({ code: null, signal: null });
    });
  });
  return {
    pid: child.pid ?? 0,
    pipes: (child.stdio as unknown as (Socket | null)[]).map((s) => s ?? undefined),
    exited,
    get done() {
      return done;
    },
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (!done) child.kill(signal);
    },
  };
}

/** runc's stderr as conmon forwards it: logrus lines; keep the msg= parts. */
function cleanRuntimeStderr(text: string): string {
  const msgs = [...text.matchAll(/\bmsg="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\"/g, '"'));
  return msgs.length > 0 ? msgs.join('; ') : inRuncWords(text);
}

function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    onAbort();
    return Promise.reject(new CanceledError('conmon start canceled', { cause: signal.reason }));
  }
  return new Promise((resolve, reject) => {
    const abort = (): void => {
      onAbort();
      reject(new CanceledError('conmon start canceled', { cause: signal.reason }));
    };
    signal.addEventListener('abort', abort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(e);
      },
    );
  });
}
