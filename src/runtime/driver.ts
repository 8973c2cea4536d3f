import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { phase, phaseEnd, phaseStart, phaseSync } from '../util/trace.ts';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidArgumentError,
  isErrno,
  NotFoundError,
  UnavailableError,
} from '../util/errors.ts';
import { attachSession, nativeSeqpacketDialer, type AttachSession, type SeqpacketDialer } from './attach.ts';
import { ConmonLaunch, conmonArgv } from './conmon.ts';
import { RuntimeProgram } from './sealed.ts';
import { removeUnified, writeControl } from './hostfiles.ts';
import { ExitWatcher, readExitFile, type ExitStatus } from './exits.ts';
import { koffiLoaded } from '../sys/index.ts';
import { conmonWatch, isConmonOf, pidRunning } from './process.ts';
import { startThroughCrunFifo, startThroughFifo } from './execfifo.ts';
import { readPid, readPidSync } from '../util/pidfile.ts';
import { markTopDir } from '../util/topdir.ts';
import { signalName } from './signals.ts';
import { checkId, OciRuntimeCli, type OciState } from './runtimecli.ts';
import { runtimeTraits } from './traits.ts';
import type {
  CreateOptions,
  Created,
  ExecOptions,
  ExecProcess,
  ExecSession,
  MonitorRecord,
  RuntimeDriver,
  TerminalSize,
} from './types.ts';

export interface ConmonRuntimeDeps {
  /** Runtime state root (`/run/berth`): runtime/<name>, conmon/<id>, exits/, exec/<id>. */
  execRoot: string;
  /**
   * The OCI runtime; `wrapper`: runtime-ns (runtime-ns.c), through which every invocation of it goes (crun on a
   * hybrid cgroup host: see probe.ts).
   */
  runtime: { name: string; path: string; wrapper?: string };
  conmonPath?: string;
  /** Environment of conmon and the runtime (default: only a PATH). */
  env?: Record<string, string>;
  /** How to open conmon's SOCK_SEQPACKET attach socket (default: the socket itself; `perlSeqpacketDialer()` is a fallback). */
  dial?: SeqpacketDialer;
  /** How often exit files are looked for while no inotify watch can be made on their directory (default 1000 ms). */
  exitPollMs?: number;
  /**
   * How often the conmon of a container waited for is looked for (default 1 s: one poll(2) of every waited
   * container's conmon pidfd): one killed outright writes no exit file, and nothing else tells of its death.
   */
  monitorCheckMs?: number;
  /** conmon's warnings to syslog. */
  syslog?: boolean;
  /**
   * Start conmon with child_process (a fork of berthd) instead of posix_spawn, and wait for it without a pidfd: for
   * the start-up probe, one container before any other, which should not load the FFI library (~1.5 MiB of berthd's
   * idle memory) for one process.
   */
  forkConmon?: boolean;
  /** Told once when the runtime's sealed copy cannot be made (containers then run the installed one, which copies itself). */
  warn?: (message: string) => void;
  /** Why the runtime runs no new container (its probe failed): it still serves those it runs (a restarted daemon's). */
  unusable?: string;
}

const DEFAULT_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

/**
 * The runtime driver: one OCI runtime (runc or crun), every container parented by its own conmon. All state is
 * on disk under `execRoot`, so a driver built afresh on the same directories (after berthd restarts) sees every
 * container, its exit code, its attach socket and its terminal.
 */
export class ConmonRuntime implements RuntimeDriver {
  readonly name: string;
  readonly unusable: string | undefined;
  readonly cli: OciRuntimeCli;
  readonly #execRoot: string;
  readonly #conmon: string;
  readonly #env: Record<string, string>;
  readonly #dial: SeqpacketDialer;
  readonly #exits: ExitWatcher;
  readonly #syslog: boolean;
  readonly #warn: ((message: string) => void) | undefined;
  readonly #fork: boolean;
  readonly #records = new Map<string, MonitorRecord>();
  /** The runtime's sealed copy or its installed binary, as its traits say; the installed one for the probe (no FFI). */
  readonly #program: RuntimeProgram;
  /** conmon's, the runtime's and the exec sessions' directories made and marked (util/topdir.ts), once. */
  #topDirs: Promise<boolean> | undefined;
  #parentsMade = false;

  constructor(deps: ConmonRuntimeDeps) {
    this.name = deps.runtime.name;
    this.unusable = deps.unusable;
    this.#execRoot = deps.execRoot;
    this.#conmon = deps.conmonPath ?? '/usr/bin/conmon';
    this.#env = deps.env ?? DEFAULT_ENV;
    this.#fork = deps.forkConmon ?? false;
    const sealed = this.#fork ? 'none' : runtimeTraits(this.name).sealedCopy;
    this.#program = new RuntimeProgram(deps.runtime.path, this.name, sealed, deps.warn);
    this.cli = new OciRuntimeCli(
      { ...deps.runtime, root: join(deps.execRoot, 'runtime', deps.runtime.name) },
      this.#env,
      () => this.#program.forCall(),
    );
    this.#dial = deps.dial ?? nativeSeqpacketDialer();
    this.#exits = new ExitWatcher(this.#exitDir, {
      pollMs: deps.exitPollMs ?? 1000,
      ...(deps.monitorCheckMs ? { checkMs: deps.monitorCheckMs } : {}),
    });
    this.#syslog = deps.syslog ?? false;
    this.#warn = deps.warn;
  }

  /**
   * Gives back this driver's hold on the runtime's sealed copy, which is closed once no driver of the process holds it
   * (at berthd's shutdown). Containers keep running; a later create makes or takes a copy again.
   */
  close(): void {
    this.#program.close();
  }

  /** conmon's, the exit files' and the runtime's state directories, made (when missing) by `create`. */
  #makeParents(): void {
    mkdirSync(join(this.#execRoot, 'conmon'), { recursive: true });
    mkdirSync(this.#exitDir, { recursive: true });
    mkdirSync(this.cli.root, { recursive: true });
    this.#parentsMade = true;
  }

  get #exitDir(): string {
    return join(this.#execRoot, 'exits');
  }
  #dir(id: string): string {
    return join(this.#execRoot, 'conmon', id);
  }
  #execDir(execId: string): string {
    return join(this.#execRoot, 'exec', execId);
  }

  async #record(id: string): Promise<MonitorRecord> {
    checkId(id);
    const cached = this.#records.get(id);
    if (cached) return cached;
    let text: string;
    try {
      text = readFileSync(join(this.#dir(id), 'monitor.json'), 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw new NotFoundError(`no container '${id}' in runtime ${this.name}`);
      throw e;
    }
    const rec = JSON.parse(text) as MonitorRecord;
    if (rec.runtime !== this.name)
      throw new NotFoundError(`container '${id}' belongs to runtime ${rec.runtime}, not ${this.name}`);
    // monitor.json is written once, before conmon runs; the PIDs are in the files conmon writes (each by temp file
    // and rename, so whole or absent). Records written with them (older berthd) keep theirs.
    if (rec.conmonPid === 0) rec.conmonPid = readPidSync(join(this.#dir(id), 'conmon.pid'));
    if (rec.pid === 0) rec.pid = readPidSync(join(this.#dir(id), 'pidfile'));
    this.#records.set(id, rec);
    return rec;
  }

  async create(id: string, opts: CreateOptions): Promise<Created> {
    checkId(id);
    if (this.unusable !== undefined) throw new UnavailableError(this.unusable);
    const t0 = phaseStart();
    const terminal = opts.terminal ?? false;
    const stdin = opts.stdin ?? false;
    // The files of a create are a few hundred bytes each, in berthd's own state directories: written with
    // synchronous calls, as one step of the event loop, instead of ~20 round trips through libuv's pool (each a
    // wake-up of a pool thread and then of the event loop, which under load is a wait for a CPU per step).
    const spec = checkBundle(opts.bundle, terminal, opts.spec);
    // Through runtime-ns the runtime does not see the unified hierarchy: the container joins its cgroup there as
    // runc's do (runtime-ns --join-unified before the runtime runs; removed again in #cleanup).
    const unified = this.cli.wrapper ? spec.linux?.cgroupsPath : undefined;
    const dir = this.#dir(id);
    // Each container makes a directory with a few files in each of these, and removes them again: placed away from
    // what was just removed (util/topdir.ts; ~5 inodes of conmon's and runc's own per container). Not for the
    // start-up probe, which runs one container before any other and would only add a process to berthd's start.
    if (!this.#fork)
      await (this.#topDirs ??= markTopDir(join(this.#execRoot, 'conmon'), this.cli.root, join(this.#execRoot, 'exec')));
    // The state directories are made by the first create (a recursive mkdir of an existing directory is a mkdir and
    // a stat each, three per create); if one is gone since (a data root wiped under a running berthd), the
    // container's own mkdir says ENOENT and they are made again.
    if (!this.#parentsMade) this.#makeParents();
    try {
      try {
        mkdirSync(dir);
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
        this.#makeParents();
        mkdirSync(dir);
      }
    } catch (e) {
      if (isErrno(e, 'EEXIST'))
        throw new AlreadyExistsError(`container '${id}' already exists in runtime ${this.name}`);
      throw e;
    }
    rmSync(join(this.#exitDir, id), { force: true });
    // Recorded before conmon runs, so a create cut short by a crash can still be deleted; written once: the PIDs
    // are read from conmon's own files when the record is loaded again (#record).
    const rec: MonitorRecord = {
      id,
      runtime: this.name,
      bundle: opts.bundle,
      terminal,
      stdin,
      conmonPid: 0,
      pid: 0,
      createdAt: new Date().toISOString(),
      ...(opts.logPath !== undefined ? { logPath: opts.logPath } : {}),
      ...(unified !== undefined ? { unifiedCgroup: unified } : {}),
    };
    writeFileSync(join(dir, 'monitor.json'), JSON.stringify(rec));
    const run = this.cli.launch(await this.#program.forContainer(), unified);
    const argv = conmonArgv({
      cid: id,
      uuid: id,
      runtimePath: run.path,
      runtimeArgs: run.args,
      bundle: opts.bundle,
      pidFile: join(dir, 'pidfile'),
      conmonPidFile: join(dir, 'conmon.pid'),
      exitDir: this.#exitDir,
      persistDir: dir,
      terminal,
      stdin,
      leaveStdinOpen: opts.stdinOnce === false,
      syslog: this.#syslog,
      noSyncLog: true,
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      ...(opts.logPath !== undefined ? { logPath: opts.logPath } : {}),
      ...(opts.logSizeMax !== undefined ? { logSizeMax: opts.logSizeMax } : {}),
      ...(opts.noPivot ? { noPivot: true } : {}),
    });
    phaseEnd('runtime.prepare', id, t0);
    const t1 = phaseStart();
    let launch: ConmonLaunch | undefined;
    try {
      launch = await ConmonLaunch.spawn(this.#conmon, argv, { env: this.#env, cwd: dir, fork: this.#fork });
      launch.go();
      const pid = await launch.expect(launch.sync, `creating '${id}'`, this.name, opts.signal);
      // conmon started, forked its monitor, which ran `runtime create` and reported the container's pid.
      phaseEnd('conmon+runtime.create', id, t1);
      const t2 = phaseStart();
      await launch.exited();
      rec.conmonPid = readPidSync(join(dir, 'conmon.pid'));
      rec.pid = pid;
      this.#records.set(id, rec);
      phaseEnd('runtime.record', id, t2);
      return { pid, conmonPid: rec.conmonPid };
    } catch (e) {
      launch?.kill();
      await this.cli.delete(id, true).catch(() => {});
      await this.#waitMonitorGone(dir, 2000);
      await this.#cleanup(id, rec);
      throw e;
    } finally {
      launch?.close();
    }
  }

  async start(id: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const rec = await this.#record(id);
    const stateDir = join(this.cli.root, id);
    const via = this.cli.traits.startVia;
    if (via === 'runc-fifo' && (await phase('runtime.start', id, () => startThroughFifo(stateDir, rec.pid)))) return;
    if (via === 'crun-fifo' && phaseSync('runtime.start', id, () => startThroughCrunFifo(stateDir, rec.pid))) return;
    await this.cli.start(id, opts);
  }

  async state(id: string, opts: { signal?: AbortSignal } = {}): Promise<OciState> {
    await this.#record(id);
    return this.cli.state(id, opts);
  }

  async kill(
    id: string,
    signal: string | number = 'SIGTERM',
    opts: { all?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.#record(id);
    await this.cli.kill(id, signalName(signal), opts.all ?? false, opts.signal ? { signal: opts.signal } : {});
  }

  async pause(id: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#record(id);
    if (!this.cli.traits.refusesRepause && (await this.cli.state(id, opts)).status === 'paused')
      throw new ConflictError(`${this.name} pause '${id}': the container is paused already`);
    await this.cli.pause(id, opts);
  }

  async resume(id: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#record(id);
    await this.cli.resume(id, opts);
  }

  async update(id: string, resources: object, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#record(id);
    await this.cli.update(id, resources, opts);
  }

  async ps(id: string, opts: { signal?: AbortSignal } = {}): Promise<number[]> {
    await this.#record(id);
    return this.cli.ps(id, opts);
  }

  /**
   * Removes the container from the runtime and every file the driver and conmon made for it (the exit file
   * too: read it first). Without `force` a running container is a ConflictError; with it, the container is
   * SIGKILLed and conmon's exit file awaited first.
   */
  async delete(id: string, opts: { force?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    const rec = await this.#record(id);
    const dir = this.#dir(id);
    // An exit file means stopped, without asking the runtime (a `runc state` costs ~12 ms).
    const exited = existsSync(join(this.#exitDir, id));
    if (opts.force) {
      // Once the init process has exited, `delete --force` below kills whatever else is left in the container's
      // cgroup (a container sharing the host's PID namespace), so a `kill` (a runtime process, ~10 ms on the exit
      // path of every container) is needed only while it runs.
      if (!exited) await this.cli.kill(id, 'SIGKILL', true).catch(() => {});
    } else {
      if (!exited) {
        const st = await this.cli.state(id, opts).catch((e: unknown) => {
          if (e instanceof NotFoundError) return undefined;
          throw e;
        });
        if (st && st.status !== 'stopped' && st.status !== 'created') {
          throw new ConflictError(`cannot delete container '${id}': it is ${st.status}`);
        }
      }
    }
    // conmon writes the exit file after the container is gone; wait for it so none is left behind.
    if (!existsSync(join(this.#exitDir, id))) await this.#waitMonitorGone(dir, opts.force ? 10_000 : 5000);
    try {
      await this.cli.delete(id, opts.force ?? false, opts.signal ? { signal: opts.signal } : {});
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    await phase('runtime.files', id, () => this.#cleanup(id, rec));
  }

  /** Waits until the container's conmon has exited (or `ms` pass). */
  async #waitMonitorGone(dir: string, ms: number): Promise<void> {
    const conmonPid = await readPid(join(dir, 'conmon.pid')).catch(() => 0);
    const deadline = Date.now() + ms;
    while (pidRunning(conmonPid) && isConmonOf(conmonPid, dir) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async #cleanup(id: string, rec: MonitorRecord): Promise<void> {
    this.#records.delete(id);
    // Independent files, removed at once (one after the other they were ~5 ms of each container's exit here).
    await Promise.all([
      rm(this.#dir(id), { recursive: true, force: true }),
      rm(join(this.#exitDir, id), { force: true }),
      ...['attach', 'ctl', 'winsz'].map((f) => rm(join(rec.bundle, f), { force: true })),
      ...(rec.unifiedCgroup !== undefined ? [removeUnified(rec.unifiedCgroup, this.#warn)] : []),
    ]);
  }

  async attach(id: string, opts: { signal?: AbortSignal } = {}): Promise<AttachSession> {
    const rec = await this.#record(id);
    // conmon keeps its socket open for a few ms after writing the exit file: the exit file decides.
    if (await readExitFile(join(this.#exitDir, id)))
      throw new ConflictError(`cannot attach to container '${id}': it is not running`);
    return attachSession(await this.#dial(join(rec.bundle, 'attach'), opts));
  }

  async resize(id: string, size: TerminalSize): Promise<void> {
    const rec = await this.#record(id);
    if (await readExitFile(join(this.#exitDir, id)))
      throw new ConflictError(`cannot resize container '${id}': it is not running`);
    await writeControl(join(rec.bundle, 'ctl'), size, `container '${id}'`);
  }

  async exitStatus(id: string): Promise<ExitStatus | undefined> {
    await this.#record(id);
    const exit = await readExitFile(join(this.#exitDir, id));
    if (!exit) return undefined;
    return { ...exit, oomKilled: await exists(join(this.#dir(id), 'oom')) };
  }

  /**
   * Resolves when the container has exited: at once when it already has (even while berthd was down), else
   * when conmon writes the exit file. If conmon itself is gone without writing one, the code is 255 and
   * `monitorLost` is set.
   */
  async waitExit(id: string, opts: { signal?: AbortSignal } = {}): Promise<ExitStatus> {
    const rec = await this.#record(id);
    const dir = this.#dir(id);
    // conmon's pidfd, polled with every other waited container's each second, when the FFI is loaded already (a
    // conmon this daemon spawned: posix_spawn loaded it); else (a restarted daemon's restored containers before it
    // starts any, the probe's driver, no pidfd_open here) a descriptor on its /proc/PID/stat, read each second.
    // Both are bound to the process: neither takes a reused PID for conmon.
    const watch = conmonWatch(rec.conmonPid, dir, !this.#fork && koffiLoaded());
    try {
      await this.#exits.waitFor(id, { ...watch.how, ...(opts.signal ? { signal: opts.signal } : {}) });
    } finally {
      watch.close();
    }
    if (phaseStart() !== undefined) {
      // From conmon's write of the exit file to berthd noticing it.
      const written = await stat(join(this.#exitDir, id)).then(
        (s) => s.mtimeMs,
        () => undefined,
      );
      phaseEnd('exit.notice', id, written);
    }
    const status = await this.exitStatus(id);
    if (status) return status;
    return { exitCode: 255, exitedAt: new Date(), oomKilled: await exists(join(dir, 'oom')), monitorLost: true };
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(join(this.#execRoot, 'conmon'));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
    const ids: string[] = [];
    for (const n of names) {
      try {
        await this.#record(n);
        ids.push(n);
      } catch {
        // another runtime's container, or one whose create did not finish
      }
    }
    return ids.sort();
  }

  async monitor(id: string): Promise<MonitorRecord & { conmonAlive: boolean }> {
    const rec = await this.#record(id);
    return { ...rec, conmonAlive: pidRunning(rec.conmonPid) && isConmonOf(rec.conmonPid, this.#dir(id)) };
  }

  /**
   * Runs `process` in container `id` under its own conmon (`runtime exec --detach`). With `attach`, the attach
   * socket is connected before the process starts. The session's files stay in `<execRoot>/exec/<execId>`
   * until `removeExec`.
   */
  async exec(id: string, execId: string, process: ExecProcess, opts: ExecOptions = {}): Promise<ExecSession> {
    const rec = await this.#record(id);
    checkId(execId, 'exec id');
    const terminal = process.terminal ?? false;
    const dir = this.#execDir(execId);
    await mkdir(join(this.#execRoot, 'exec'), { recursive: true });
    try {
      await mkdir(dir);
    } catch (e) {
      if (isErrno(e, 'EEXIST')) throw new AlreadyExistsError(`exec session '${execId}' already exists`);
      throw e;
    }
    const specPath = join(dir, 'process.json');
    await writeFile(specPath, JSON.stringify(process));
    const attach = opts.attach ?? false;
    const run = this.cli.launch(await this.#program.forContainer(), rec.unifiedCgroup);
    const argv = conmonArgv({
      cid: id,
      uuid: execId,
      runtimePath: run.path,
      runtimeArgs: run.args,
      bundle: dir,
      pidFile: join(dir, 'pid'),
      conmonPidFile: join(dir, 'conmon.pid'),
      persistDir: dir,
      terminal,
      stdin: opts.stdin ?? false,
      syslog: this.#syslog,
      exec: { processSpecPath: specPath, attach },
    });
    let launch: ConmonLaunch;
    try {
      launch = await ConmonLaunch.spawn(this.#conmon, argv, {
        env: this.#env,
        cwd: dir,
        execAttach: attach,
        fork: this.#fork,
      });
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    let session: AttachSession | undefined;
    try {
      launch.go();
      if (attach) {
        await launch.expect(launch.attach!, `exec '${execId}' attach socket`, this.name, opts.signal);
        session = attachSession(await this.#dial(join(dir, 'attach'), opts.signal ? { signal: opts.signal } : {}));
        launch.go();
      }
      const pid = await launch.expect(launch.sync, `exec '${execId}' in '${id}'`, this.name, opts.signal);
      const exit = this.#execExit(launch, dir);
      exit.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
      return { execId, pid, exit, ...(session ? { attach: session } : {}) };
    } catch (e) {
      launch.kill();
      launch.close();
      session?.close();
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  async #execExit(launch: ConmonLaunch, dir: string): Promise<ExitStatus> {
    try {
      const msg = await launch.sync.next().catch(() => undefined);
      const file = await readExitFile(join(dir, 'exit'));
      if (file) return { ...file, oomKilled: false };
      if (msg && msg.data >= 0) return { exitCode: msg.data, exitedAt: new Date(), oomKilled: false };
      // The sync pipe closed without a code: conmon was killed, or the file is on its way.
      const watcher = new ExitWatcher(dir, { pollMs: 200, checkMs: 200 });
      const conmonPid = await readPid(join(dir, 'conmon.pid')).catch(() => 0);
      await watcher.waitFor('exit', { check: async () => !pidRunning(conmonPid) });
      const late = await readExitFile(join(dir, 'exit'));
      return late
        ? { ...late, oomKilled: false }
        : { exitCode: 255, exitedAt: new Date(), oomKilled: false, monitorLost: true };
    } finally {
      launch.close();
    }
  }

  async resizeExec(execId: string, size: TerminalSize): Promise<void> {
    checkId(execId, 'exec id');
    await writeControl(join(this.#execDir(execId), 'ctl'), size, `exec session '${execId}'`);
  }

  /** Removes an exec session's files (after its exit). */
  async removeExec(execId: string): Promise<void> {
    checkId(execId, 'exec id');
    await rm(this.#execDir(execId), { recursive: true, force: true });
  }
}

/**
 * Refuses a create that could only fail later: the bundle's config.json, read unless the caller gave the spec it
 * wrote there, must exist, parse and agree with `terminal`.
 */
function checkBundle(bundle: string, terminal: boolean, given?: BundleSpec): BundleSpec {
  let spec: BundleSpec;
  try {
    spec = given ?? (JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as typeof spec);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw new InvalidArgumentError(`bundle '${bundle}' has no config.json`);
    throw new InvalidArgumentError(`bundle '${bundle}': config.json does not parse: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if ((spec.process?.terminal ?? false) !== terminal) {
    throw new InvalidArgumentError(
      `bundle '${bundle}': process.terminal is ${spec.process?.terminal ?? false} but the container is created with terminal=${terminal}`,
    );
  }
  return spec;
}

type BundleSpec = NonNullable<CreateOptions['spec']>;

/** Whether `path` exists. */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
