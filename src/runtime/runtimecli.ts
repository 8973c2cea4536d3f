import { BerthError, ConflictError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { phase } from '../util/trace.ts';
import { runProcess, type ProcessResult } from './process.ts';

/** An OCI runtime program (runc, crun) and the state directory Berth gives it with `--root`. */
export interface OciRuntimeConfig {
  /** The name users pick it by (`--runtime runc`). */
  name: string;
  /** Absolute path of the program. */
  path: string;
  /** Its `--root`: Berth's own state dir, so the system's runc state is never touched. */
  root: string;
}

/** `runc state` / `crun state` output (runtime-spec "state"). */
export interface OciState {
  ociVersion: string;
  id: string;
  /** 0 once stopped. */
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  rootfs?: string;
  created?: string;
  annotations?: Record<string, string>;
}

/** The runtime said no; the message is the runtime's own. */
export class OciRuntimeError extends BerthError {}

/**
 * The runtime could not start the container's (or an exec's) process because of what it was asked to run: the
 * program or a mount source is not there (`exitCode` 127, Docker's "command not found") or cannot be run (126,
 * "cannot invoke"). A fault of the configuration, not of the engine.
 */
export class ProcessStartError extends InvalidArgumentError {
  readonly exitCode: 126 | 127;
  constructor(message: string, exitCode: 126 | 127, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/**
 * Why the runtime could not start a process, told from its own words (runc and crun report it as text only), by
 * dockerd's rules (daemon/start.go): 127 when the program or a file is missing, or a mount meets a file where a
 * directory should be (or the reverse); 126 when it may not be run; undefined for any other failure.
 */
export function startFailureCode(message: string): 126 | 127 | undefined {
  if (/executable file not found|no such file or directory|not a directory/i.test(message)) return 127;
  if (/permission denied/i.test(message)) return 126;
  return undefined;
}

/** The runtime's report that a process could not be started, as the error of the right kind. */
export function processStartError(message: string): OciRuntimeError | ProcessStartError {
  const code = startFailureCode(message);
  return code === undefined ? new OciRuntimeError(message) : new ProcessStartError(message, code);
}

/** Pulls the message out of runc's logrus lines (`level=error msg="..."`) or crun's plain text. */
export function runtimeMessage(stderr: string): string {
  const msgs: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) {
      try {
        msgs.push(JSON.parse(`"${m[1]!}"`) as string);
      } catch {
        msgs.push(m[1]!);
      }
    } else if (line.trim() !== '') {
      msgs.push(line.trim().replace(/^crun: /, ''));
    }
  }
  return msgs.join('; ');
}

/** Maps a runtime's complaint about container `id` to the matching BerthError kind. */
export function runtimeError(
  runtime: string,
  verb: string,
  id: string,
  stderr: string,
  code: number | null,
): BerthError {
  const msg = runtimeMessage(stderr) || `exit code ${code}`;
  const text = `${runtime} ${verb} '${id}': ${msg}`;
  // `start` runs the process the runtime created: a failure to exec it is the process's.
  if (verb === 'start' && /\bexec\b/.test(msg) && startFailureCode(msg) !== undefined) return processStartError(text);
  if (/does not exist|no such file or directory/i.test(msg) && !/exec:|executable file/i.test(msg))
    return new NotFoundError(text);
  if (
    /not running|not stopped|not paused|is paused|has stopped|already|is running|cannot .* (?:running|paused|stopped)/i.test(
      msg,
    )
  ) {
    return new ConflictError(text);
  }
  return new OciRuntimeError(text);
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Refuses ids that a runtime or a file name could misread. */
export function checkId(id: string, what = 'container id'): void {
  if (!ID_RE.test(id))
    throw new InvalidArgumentError(
      `invalid ${what} '${id}': want 1-128 of [A-Za-z0-9_.-], not starting with '.', '-' or '_'`,
    );
}

/**
 * The OCI runtime command line, one method per verb. Everything but `create` and `exec` (which conmon runs) goes
 * through here. Methods reject with NotFoundError, ConflictError or OciRuntimeError as the runtime answers.
 */
export class OciRuntimeCli {
  readonly name: string;
  readonly path: string;
  readonly root: string;
  readonly #env: Record<string, string>;

  constructor(config: OciRuntimeConfig, env: Record<string, string>) {
    this.name = config.name;
    this.path = config.path;
    this.root = config.root;
    this.#env = env;
  }

  /** Global flags every invocation gets (conmon passes these to create and exec with `--runtime-arg`). */
  globalArgs(): string[] {
    return ['--root', this.root];
  }

  async #call(
    verb: string,
    id: string,
    args: string[],
    opts: { input?: string; signal?: AbortSignal } = {},
  ): Promise<ProcessResult> {
    const res = await phase(`runtime.${verb}`, id, () =>
      runProcess(this.path, [...this.globalArgs(), ...args], {
        env: this.#env,
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    );
    if (res.code !== 0) throw runtimeError(this.name, verb, id, res.stderr, res.code);
    return res;
  }

  async state(id: string, opts: { signal?: AbortSignal } = {}): Promise<OciState> {
    const res = await this.#call('state', id, ['state', id], opts);
    return JSON.parse(res.stdout) as OciState;
  }

  async start(id: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#call('start', id, ['start', id], opts);
  }

  async kill(id: string, signal: string, all: boolean, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#call('kill', id, ['kill', ...(all ? ['--all'] : []), id, signal], opts);
  }

  async delete(id: string, force: boolean, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#call('delete', id, ['delete', ...(force ? ['--force'] : []), id], opts);
  }

  async pause(id: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#call('pause', id, ['pause', id], opts);
  }

  async resume(id: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#call('resume', id, ['resume', id], opts);
  }

  /** `update --resources -`: the runtime-spec `linux.resources` object, as JSON on stdin. */
  async update(id: string, resources: object, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#call('update', id, ['update', '--resources', '-', id], { ...opts, input: JSON.stringify(resources) });
  }

  /** The host pids of every process in the container. */
  async ps(id: string, opts: { signal?: AbortSignal } = {}): Promise<number[]> {
    const res = await this.#call('ps', id, ['ps', '--format', 'json', id], opts);
    const pids = JSON.parse(res.stdout || '[]') as number[] | null;
    return pids ?? [];
  }

  /** The first line of `--version`, e.g. "runc version 1.1.5+ds1". */
  async version(opts: { signal?: AbortSignal } = {}): Promise<string> {
    const res = await runProcess(this.path, ['--version'], {
      env: this.#env,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (res.code !== 0) throw runtimeError(this.name, 'version', '-', res.stderr, res.code);
    return res.stdout.split('\n')[0]!.trim();
  }
}
