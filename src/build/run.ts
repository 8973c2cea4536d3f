/**
 * RUN: the step's process in a container made from the same pieces as any other (the spec builder of runtime/,
 * the network sandboxes of network/, the step's snapshot mounted as its root), but run by the OCI runtime in the
 * foreground (`runc run`) with its output on pipes to the builder, without conmon, a container record or a log
 * file: a build step needs none of them, and they cost more than the step (design notes, "Build").
 *
 * Each run leaves a state file (`<state>/runs/<id>.json`) naming what it holds until it is released, so that
 * start-up repair can release what a daemon killed mid-build left (`repairRuns`).
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveUser } from '../containers/index.ts';
import type { Sandboxes } from '../network/index.ts';
import { buildSpec, type HostFacts, type MountInput, type NetworkMode, serializeSpec } from '../runtime/index.ts';
import { unmountAll } from '../snapshots/index.ts';
import { CanceledError, errorMessage, InvalidArgumentError } from '../util/errors.ts';
import type { RunWork } from './imageconfig.ts';

export interface RunnerDeps {
  /** The OCI runtime program (the daemon's default runtime). */
  runtime: { name: string; path: string };
  /** `<exec-root>/build`: the runtime's state (`runtime/`), each run's bundle and files (`runs/<id>/`). */
  stateRoot: string;
  sandboxes: Sandboxes;
  host: HostFacts;
  log?: { warn(m: string): void } | undefined;
}

export interface RunRequest {
  /** 64 hex characters, as a container ID. */
  id: string;
  /** The step's root, mounted. */
  rootfs: string;
  work: RunWork;
  /** The network: `default` (the default bridge, or the build's `--network`), `none`, `host`, or a network name. */
  network: string;
  extraHosts: readonly string[];
  shmSize?: number | undefined;
  /** RUN --mount's mounts, prepared by the executor. */
  mounts: MountInput[];
  /** Extra environment (secrets with `env=`). */
  env?: readonly string[];
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  signal?: AbortSignal | undefined;
}

/** What a run holds, written before it takes it, for start-up repair. */
interface RunState {
  id: string;
  rootfs: string;
  network: boolean;
}

/** The runtime failed to run the process (not the process's own failure). */
export class RunStartError extends InvalidArgumentError {}

export class Runner {
  readonly #d: RunnerDeps;
  constructor(deps: RunnerDeps) {
    this.#d = deps;
  }

  get #runtimeRoot(): string {
    return join(this.#d.stateRoot, 'runtime', this.#d.runtime.name);
  }

  #runDir(id: string): string {
    return join(this.#d.stateRoot, 'runs', id);
  }

  /** Runs the step's process; returns its exit code. CanceledError when `signal` aborts (the process is killed). */
  async run(req: RunRequest): Promise<number> {
    const dir = this.#runDir(req.id);
    await mkdir(dir, { recursive: true });
    await mkdir(this.#runtimeRoot, { recursive: true });
    const state: RunState = { id: req.id, rootfs: req.rootfs, network: req.network !== 'host' };
    await writeFile(join(dir, 'state.json'), JSON.stringify(state));
    try {
      return await this.#run(req, dir);
    } finally {
      await this.release(req.id);
    }
  }

  async #run(req: RunRequest, dir: string): Promise<number> {
    const w = req.work;
    const hostname = req.id.slice(0, 12);
    const user = await resolveUser(req.rootfs, w.user);
    if (w.workingDir) await mkdir(join(req.rootfs, w.workingDir), { recursive: true });
    const mounts = [...req.mounts];
    if (w.script) {
      const script = join(dir, 'script');
      await writeFile(script, w.script.data, { mode: 0o755 });
      mounts.push({ type: 'bind', source: script, destination: w.script.path, readonly: true });
    }
    await writeFile(join(dir, 'hostname'), `${hostname}\n`);
    const network = await this.#network(req, dir, hostname);
    mounts.push(
      { type: 'bind', source: network.hosts, destination: '/etc/hosts' },
      { type: 'bind', source: join(dir, 'hostname'), destination: '/etc/hostname' },
      { type: 'bind', source: network.resolvConf, destination: '/etc/resolv.conf' },
    );
    const env = [...w.env, ...(req.env ?? [])];
    const spec = buildSpec({
      id: req.id,
      rootfs: req.rootfs,
      process: {
        args: w.cmd,
        env: env.some((e) => e.startsWith('HOME=')) ? env : [...env, `HOME=${user.home}`],
        cwd: w.workingDir || '/',
        user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      },
      hostname,
      mounts,
      ...(req.shmSize ? { shmSize: req.shmSize } : {}),
      privileged: w.security === 'insecure',
      namespaces: { network: network.netns },
      cgroupsPath: `/berth-build/${req.id}`,
      annotations: { 'berth.build.step': req.id },
      host: this.#d.host,
    });
    await writeFile(join(dir, 'config.json'), serializeSpec(spec));
    const log = join(dir, 'runtime.log');
    const child = spawn(
      this.#d.runtime.path,
      ['--root', this.#runtimeRoot, '--log', log, '--log-format', 'json', 'run', '--bundle', dir, req.id],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const kill = () => void this.#kill(req.id);
    req.signal?.addEventListener('abort', kill, { once: true });
    try {
      child.stdout.on('data', (c: Buffer) => req.onOutput('stdout', c));
      child.stderr.on('data', (c: Buffer) => req.onOutput('stderr', c));
      const code = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
      });
      if (req.signal?.aborted) throw new CanceledError('the build was cancelled');
      const failure = await runtimeFailure(log);
      if (failure !== undefined) throw new RunStartError(failure);
      return code;
    } finally {
      req.signal?.removeEventListener('abort', kill);
    }
  }

  async #network(
    req: RunRequest,
    dir: string,
    hostname: string,
  ): Promise<{ netns: NetworkMode; hosts: string; resolvConf: string }> {
    const s = this.#d.sandboxes;
    const mode = req.network === 'default' ? 'bridge' : req.network;
    if (mode !== 'host' && mode !== 'none') s.prepare(req.id, mode, null);
    const sb = await s.setUp({
      id: req.id,
      name: `build-${hostname}`,
      hostname,
      networkMode: mode,
      extraHosts: req.extraHosts,
      dir,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    await sb.ready;
    return { netns: sb.netns, hosts: sb.hosts, resolvConf: sb.resolvConf };
  }

  async #kill(id: string): Promise<void> {
    const root = this.#runtimeRoot;
    await runQuiet(this.#d.runtime.path, ['--root', root, 'kill', id, 'KILL']);
  }

  /** Releases what a run holds: the runtime's container, its network, its directory. */
  async release(id: string): Promise<void> {
    await runQuiet(this.#d.runtime.path, ['--root', this.#runtimeRoot, 'delete', '--force', id]);
    await this.#d.sandboxes.release(id).catch((err: unknown) => {
      this.#d.log?.warn(`build run ${id.slice(0, 12)}: network release: ${errorMessage(err)}`);
    });
    await rm(this.#runDir(id), { recursive: true, force: true });
  }

  /**
   * Start-up repair: every run a dead daemon left is released (its container killed and deleted, its network
   * released, its root unmounted); the snapshots go with the snapshotter's own repair.
   */
  async repairRuns(): Promise<string[]> {
    const ids = await readdir(join(this.#d.stateRoot, 'runs')).catch(() => [] as string[]);
    for (const id of ids) {
      const state = await readFile(join(this.#runDir(id), 'state.json'), 'utf8')
        .then((t) => JSON.parse(t) as RunState)
        .catch(() => undefined);
      await this.release(id);
      if (state) await unmountAll(state.rootfs, { detach: true }).catch(() => {});
    }
    return ids;
  }
}

/** The runtime's own error from its JSON log, when it failed before or while starting the process. */
async function runtimeFailure(log: string): Promise<string | undefined> {
  const text = await readFile(log, 'utf8').catch(() => '');
  const errors: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as { level?: string; msg?: string };
      if (e.level === 'error' || e.level === 'fatal') errors.push(e.msg ?? '');
    } catch {
      errors.push(line.trim());
    }
  }
  return errors.length > 0 ? errors.join('; ') : undefined;
}

function runQuiet(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.once('error', () => resolve());
    p.once('close', () => resolve());
  });
}
