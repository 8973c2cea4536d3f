/**
 * The runtime driver's contract, verb by verb: what berthd asks of an OCI runtime with conmon as the parent of every
 * container (driver.ts implements it).
 */
import type { AttachSession } from './attach.ts';
import type { ExitStatus } from './exits.ts';
import type { OciState } from './runtimecli.ts';

/** How to create a container under conmon. */
export interface CreateOptions {
  /** The OCI bundle: `config.json` (and usually `rootfs`). conmon also makes `attach`, `ctl`, `winsz` here. */
  bundle: string;
  /** A pty (must match the spec's `process.terminal`). */
  terminal?: boolean;
  /** Keep a stdin pipe, fed through the attach socket (docker's OpenStdin). */
  stdin?: boolean;
  /** Close stdin when the first attached client leaves (docker's StdinOnce; default true). */
  stdinOnce?: boolean;
  /** k8s-file log of stdout/stderr; without it the output is only seen by attached clients. */
  logPath?: string;
  /** Bytes after which conmon starts the log afresh. */
  logSizeMax?: number;
  /** The container's name, for conmon's own messages. */
  name?: string;
  noPivot?: boolean;
  signal?: AbortSignal;
  /**
   * The spec the caller just wrote to the bundle's `config.json`, when it has it: the driver checks it instead of
   * reading the file back (~0.5 ms of every start for a 9 KB read and parse).
   */
  spec?: { process?: { terminal?: boolean }; linux?: { cgroupsPath?: string } };
}

export interface Created {
  /** The container's init process, on the host. */
  pid: number;
  /** Its conmon monitor. */
  conmonPid: number;
}

/** What the driver keeps on disk about a container, so a new driver (after a daemon restart) finds it again. */
export interface MonitorRecord {
  id: string;
  runtime: string;
  bundle: string;
  terminal: boolean;
  stdin: boolean;
  logPath?: string;
  conmonPid: number;
  pid: number;
  createdAt: string;
  /** Its cgroup of the unified hierarchy, made by runtime-ns and removed with the container (crun on a hybrid host). */
  unifiedCgroup?: string;
}

/**
 * A process to run in a container: the runtime-spec `process` object as `runtime exec --process` reads it
 * (the spec builder's process fits). `cwd` is required by runc.
 */
export interface ExecProcess {
  args: readonly string[];
  cwd: string;
  env?: readonly string[];
  terminal?: boolean;
  user?: { uid: number; gid: number; umask?: number; additionalGids?: readonly number[] };
  capabilities?: object;
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  rlimits?: readonly object[];
  consoleSize?: { height: number; width: number };
}

export interface ExecOptions {
  /** A stdin pipe fed through the attach socket. */
  stdin?: boolean;
  /** Attach before the process runs, so no output is lost (docker exec without -d). */
  attach?: boolean;
  signal?: AbortSignal;
}

export interface ExecSession {
  execId: string;
  pid: number;
  /** The attached client, when `attach` was asked for. */
  attach?: AttachSession;
  /** Resolves when the process has exited and conmon has drained its output. */
  exit: Promise<ExitStatus>;
}

export interface TerminalSize {
  height: number;
  width: number;
}

/** The container lifecycle, verb by verb (the OCI runtime's, with conmon as the parent of every container). */
export interface ContainerLifecycle {
  create(id: string, opts: CreateOptions): Promise<Created>;
  start(id: string, opts?: { signal?: AbortSignal }): Promise<void>;
  state(id: string, opts?: { signal?: AbortSignal }): Promise<OciState>;
  kill(id: string, signal?: string | number, opts?: { all?: boolean; signal?: AbortSignal }): Promise<void>;
  pause(id: string, opts?: { signal?: AbortSignal }): Promise<void>;
  resume(id: string, opts?: { signal?: AbortSignal }): Promise<void>;
  update(id: string, resources: object, opts?: { signal?: AbortSignal }): Promise<void>;
  ps(id: string, opts?: { signal?: AbortSignal }): Promise<number[]>;
  delete(id: string, opts?: { force?: boolean; signal?: AbortSignal }): Promise<void>;
}

/** A running container's standard streams and terminal. */
export interface ContainerIO {
  attach(id: string, opts?: { signal?: AbortSignal }): Promise<AttachSession>;
  resize(id: string, size: TerminalSize): Promise<void>;
}

/** How containers ended, from conmon's exit files: works for exits that happened while berthd was down. */
export interface ExitReporter {
  waitExit(id: string, opts?: { signal?: AbortSignal }): Promise<ExitStatus>;
  exitStatus(id: string): Promise<ExitStatus | undefined>;
}

export interface ExecRunner {
  exec(id: string, execId: string, process: ExecProcess, opts?: ExecOptions): Promise<ExecSession>;
  resizeExec(execId: string, size: TerminalSize): Promise<void>;
  removeExec(execId: string): Promise<void>;
}

export interface RuntimeDriver extends ContainerLifecycle, ContainerIO, ExitReporter, ExecRunner {
  /** The runtime's name (runc, crun). */
  readonly name: string;
  /** Set when it creates no container (it failed its probe); it still serves the ones it runs. */
  readonly unusable?: string | undefined;
  /** Ids of the containers this driver created and has not deleted, whether running or not. */
  list(): Promise<string[]>;
  /** The on-disk record of a container, and whether its conmon is alive. */
  monitor(id: string): Promise<MonitorRecord & { conmonAlive: boolean }>;
  /** Frees what the driver holds for the process (runc's sealed copy), at shutdown; containers keep running. */
  close(): void;
}
