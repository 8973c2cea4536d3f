import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, ConflictError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { phase } from '../util/trace.ts';
import { runProcess, type ProcessResult } from '../util/process.ts';
import { runtimeTraits, type RuntimeTraits } from './traits.ts';

/** An OCI runtime program (runc, crun) and the state directory Berth gives it with `--root`. */
export interface OciRuntimeConfig {
  /** The name users pick it by (`--runtime runc`). */
  name: string;
  /** Absolute path of the program. */
  path: string;
  /** Its `--root`: Berth's own state dir, so the system's runc state is never touched. */
  root: string;
  /**
   * runtime-ns (runtime-ns.c), when the runtime runs through it: in a mount namespace of its own without the host's
   * cgroup v2 mount (crun on a hybrid cgroup host). Every invocation goes through it, conmon's too.
   */
  wrapper?: string;
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

/**
 * crun's words for a process it cannot start, in runc's (which dockerd passes on, and which the docker CLI reads
 * its exit code from: 127 for "executable file not found" or "no such file or directory", 126 for "permission
 * denied", all lower case); any other message as it is.
 */
export function inRuncWords(message: string): string {
  const missing = /executable file `(.*)` not found in \$PATH: No such file or directory/.exec(message);
  if (missing) {
    const exe = missing[1]!;
    return exe.includes('/')
      ? `exec: "${exe}": stat ${exe}: no such file or directory`
      : `exec: "${exe}": executable file not found in $PATH`;
  }
  if (/open executable: (?:Operation not permitted|Permission denied)/.test(message))
    return 'exec: open executable: permission denied';
  return message;
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
      msgs.push(inRuncWords(line.trim().replace(/^crun: /, '')));
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
  // crun 1.8 kills through a pidfd: "open pidfd: No such process" once the container has stopped
  if (
    /not running|not stopped|not paused|is paused|has stopped|already|is running|cannot .* (?:running|paused|stopped)|open pidfd: no such process/i.test(
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
  readonly wrapper: string | undefined;
  /** What differs for this runtime (traits.ts). */
  readonly traits: RuntimeTraits;
  readonly #env: Record<string, string>;
  readonly #program: (() => Promise<string>) | undefined;

  /** `program`: what to run for `path` (its sealed copy: sealed.ts `RuntimeProgram.forCall`); default `path` itself. */
  constructor(config: OciRuntimeConfig, env: Record<string, string>, program?: () => Promise<string>) {
    this.name = config.name;
    this.path = config.path;
    this.root = config.root;
    this.wrapper = config.wrapper;
    this.traits = runtimeTraits(config.name);
    this.#env = env;
    this.#program = program;
  }

  /** Global flags every invocation gets (conmon passes these to create and exec with `--runtime-arg`). */
  globalArgs(): string[] {
    return ['--root', this.root];
  }

  /**
   * The program conmon runs for create and exec (its `-r`) and its arguments before the verb (`--runtime-arg`
   * each): `program` itself, or runtime-ns running it, told to join `unifiedCgroup` first when given.
   */
  launch(program: string, unifiedCgroup?: string): { path: string; args: string[] } {
    if (!this.wrapper) return { path: program, args: this.globalArgs() };
    const join = unifiedCgroup !== undefined ? [`--join-unified=${unifiedCgroup}`] : [];
    return { path: this.wrapper, args: [...join, program, ...this.globalArgs()] };
  }

  async #call(
    verb: string,
    id: string,
    args: string[],
    opts: { input?: string; signal?: AbortSignal } = {},
  ): Promise<ProcessResult> {
    const run = this.launch(this.#program ? await this.#program() : this.path);
    const res = await phase(`runtime.${verb}`, id, () =>
      runProcess(run.path, [...run.args, ...args], {
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

  /**
   * `update --resources`: the runtime-spec `linux.resources` object as JSON, on stdin or in a file, as the runtime's
   * `updateResources` trait says.
   */
  async update(id: string, resources: object, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const json = JSON.stringify(resources);
    if (this.traits.updateResources === 'stdin') {
      await this.#call('update', id, ['update', '--resources', '-', id], { ...opts, input: json });
      return;
    }
    const file = join(this.root, `.update-${id}-${randomBytes(4).toString('hex')}.json`);
    await writeFile(file, json);
    try {
      await this.#call('update', id, ['update', '--resources', file, id], opts);
    } finally {
      await rm(file, { force: true });
    }
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
