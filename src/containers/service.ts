import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { applyChanges, type ImageService } from '../images/index.ts';
import type { ContainerRecords, ContainerRow } from '../metadata/index.ts';
import type { ImageConfig, ImageRunConfig, Manifest } from '../oci/types.ts';
import { MediaType } from '../oci/mediatypes.ts';
import { parseReference } from '../oci/reference.ts';
import { lgetxattr } from '../sys/index.ts';
import { extract, pack } from '../util/tar/index.ts';
import { buildSpec, resolveResources, serializeSpec, type HostFacts, type MountInput, type RuntimeDriver, type AttachSession, type ExecProcess, type ResourcesInput, type ExitStatus, readLog, type LogEntry } from '../runtime/index.ts';
import { mountAll, unmountAll, unpackLayer, type Snapshotter } from '../snapshots/index.ts';
import type { VolumeService } from '../volumes/index.ts';
import { ConflictError, ForbiddenError, InvalidArgumentError, NotFoundError, NotImplementedError, NotModifiedError, BerthError, errorMessage, isErrno } from '../util/errors.ts';
import type { EventLog } from '../util/events.ts';
import { KeyedMutex } from '../util/lock.ts';
import { commandLine, generateName, mergeImageConfig, newContainerId, parseBind, validateHostConfig, validateName, type CreateRequest, type HostConfig } from './config.ts';
import { initialState, ZERO_TIME, type ContainerState } from './state.ts';
import { resolveUser } from './users.ts';
import { emptyCpu, readCgroupStats, type StatsSample } from './stats.ts';
import { layerEntries, pathEntries, pathStat, resolveInRoot, treeEntries, upperChanges, type Change, type PathStat } from './archive.ts';
import type { PackEntry } from '../util/tar/index.ts';

const exec = promisify(execFile);

/** A resolved mount of a container, in the shape of inspect's `Mounts`. */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** tmpfs options (--tmpfs or --mount type=tmpfs). */
  TmpfsOptions?: string[];
  /** The volume was created for this container (anonymous): `rm -v` removes it. */
  Anonymous?: boolean;
}

/** What is stored per container besides its state. */
export interface StoredConfig {
  Config: ImageRunConfig & { StopTimeout?: number };
  Path: string;
  Args: string[];
  Mounts: MountPoint[];
}

export type Row = ContainerRow<StoredConfig, HostConfig, ContainerState>;

export interface ContainerServiceDeps {
  dataRoot: string;
  records: ContainerRecords<StoredConfig, HostConfig, ContainerState>;
  images: ImageService;
  snapshotter: Snapshotter;
  volumes: VolumeService;
  /** The runtimes that work on this host, by name. */
  runtimes: Map<string, RuntimeDriver>;
  defaultRuntime: string;
  events: EventLog;
  host: HostFacts;
  /** A small init for --init (catatonit or tini), if installed. */
  initPath?: string | undefined;
  log?: { info(m: string): void; warn(m: string): void; debug(m: string): void };
}

type SpecResourcesLike = { devices?: unknown } & Record<string, unknown>;

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter {
  condition: WaitCondition;
  resolve: (r: { StatusCode: number; Error: { Message: string } | null }) => void;
}

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: bigint;
  until?: bigint;
  tail?: number;
  signal?: AbortSignal;
}

/**
 * Containers: create from an image, run under the OCI runtime (each watched by conmon), stop, wait, remove,
 * logs and attach; the state machine, restart policies, and start-up reconciliation with what conmon recorded
 * while the daemon was down.
 */
export class ContainerService {
  readonly #d: ContainerServiceDeps;
  readonly #lock = new KeyedMutex();
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #watching = new Map<string, AbortController>();
  readonly #pendingAttach = new Map<string, ((s: AttachSession | Error) => void)[]>();
  readonly #restartTimers = new Map<string, NodeJS.Timeout>();
  readonly #healthTimers = new Map<string, NodeJS.Timeout>();
  #closed = false;

  constructor(deps: ContainerServiceDeps) {
    this.#d = deps;
  }

  // ---- lookup ------------------------------------------------------------------------------------------

  /** By full ID, name (with or without '/'), or unique ID prefix. NotFound: `No such container: X`. */
  get(ref: string): Row {
    const r = this.#d.records.get(ref) ?? this.#d.records.byName(ref.startsWith('/') ? ref.slice(1) : ref);
    if (r) return r;
    if (/^[0-9a-f]+$/.test(ref)) {
      const found = this.#d.records.byIdPrefix(ref);
      if (found.length > 1) throw new InvalidArgumentError(`multiple IDs found with provided prefix: ${ref}`);
      if (found[0]) return found[0];
    }
    throw new NotFoundError(`No such container: ${ref}`);
  }

  list(): Row[] {
    return this.#d.records.all();
  }

  /** Containers using an image, for rmi's conflict checks. */
  usingImage(imageId: string): { id: string; running: boolean }[] {
    return this.#d.records.usingImage(imageId).map((r) => ({ id: r.id, running: r.state.Status === 'running' || r.state.Status === 'paused' || r.state.Status === 'restarting' }));
  }

  /** Containers using a named volume. */
  usingVolume(name: string): string[] {
    return this.#d.records
      .all()
      .filter((r) => r.config.Mounts.some((m) => m.Type === 'volume' && m.Name === name))
      .map((r) => r.id);
  }

  dir(id: string): string {
    return join(this.#d.dataRoot, 'containers', id);
  }

  logPath(id: string): string {
    return join(this.dir(id), 'ctr.log');
  }

  /** The runtime driver a container runs under (exec uses it). */
  runtimeOf(r: Row): RuntimeDriver {
    return this.#driver(r);
  }

  #driver(r: Row): RuntimeDriver {
    const d = this.#d.runtimes.get(r.runtime);
    if (!d) throw new BerthError(`runtime "${r.runtime}" of container ${r.id.slice(0, 12)} is not available on this host`);
    return d;
  }

  // ---- create ------------------------------------------------------------------------------------------

  async create(req: CreateRequest, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    const warnings: string[] = [];
    if (!req.Image) throw new InvalidArgumentError('config cannot be empty in order to create a container');
    const hc: HostConfig = { ...(req.HostConfig ?? {}) };
    validateHostConfig(hc);
    const runtime = hc.Runtime || this.#d.defaultRuntime;
    if (!this.#d.runtimes.has(runtime)) throw new InvalidArgumentError(`unknown or invalid runtime name: ${runtime}`);
    hc.Runtime = runtime;
    const net = hc.NetworkMode || 'default';
    if (!['default', 'bridge', 'none', 'host'].includes(net)) throw new NotFoundError(`network ${net} not found`);
    if (net === 'default' || net === 'bridge') warnings.push('bridge networking is not available yet: the container has only a loopback interface');
    hc.NetworkMode = net;
    if (hc.Init && !this.#d.initPath) throw new InvalidArgumentError('--init: no init binary (catatonit or tini) is installed on the host');
    const image = this.#d.images.resolve(req.Image);
    const img = await this.#d.images.load(image);
    const config = mergeImageConfig(req, img.config.config ?? {});
    config.Image = req.Image;
    const argv = commandLine(config);
    const cname = name ? validateName(name) : generateName((n) => this.#d.records.byName(n) !== undefined);
    if (this.#d.records.byName(cname)) {
      const other = this.#d.records.byName(cname)!;
      throw new ConflictError(`Conflict. The container name "/${cname}" is already in use by container "${other.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const id = newContainerId();
    if (!config.Hostname) config.Hostname = net === 'host' ? (await readFile('/etc/hostname', 'utf8').catch(() => 'localhost')).trim() : id.slice(0, 12);
    const mounts = await this.#resolveMounts(hc, config);
    await mkdir(join(this.dir(id), 'bundle', 'rootfs'), { recursive: true, mode: 0o711 });
    await this.#d.snapshotter.prepare(id, image.chainId ?? undefined);
    const row: Row = {
      id,
      name: cname,
      imageId: image.configDigest,
      imageRef: req.Image,
      created: Date.now(),
      config: { Config: config, Path: argv[0]!, Args: argv.slice(1), Mounts: mounts },
      hostConfig: hc,
      state: initialState(),
      runtime,
      snapshot: id,
    };
    if (!this.#d.records.insert(row)) {
      await this.#d.snapshotter.remove(id).catch(() => {});
      await rm(this.dir(id), { recursive: true, force: true });
      throw new ConflictError(`Conflict. The container name "/${cname}" is already in use. You have to remove (or rename) that container to be able to reuse that name.`);
    }
    this.#d.events.publish('container', 'create', id, this.#attrs(row));
    return { Id: id, Warnings: warnings };
  }

  /** Binds, volumes (named ones created on first use, and anonymous ones for the image's VOLUMEs) and tmpfs. */
  async #resolveMounts(hc: HostConfig, config: ImageRunConfig): Promise<MountPoint[]> {
    const out: MountPoint[] = [];
    const taken = new Set<string>();
    const add = (m: MountPoint) => {
      if (taken.has(m.Destination)) throw new InvalidArgumentError(`Duplicate mount point: ${m.Destination}`);
      taken.add(m.Destination);
      out.push(m);
    };
    for (const spec of hc.Binds ?? []) {
      const b = parseBind(spec);
      const mode = [b.readOnly ? 'ro' : '', ...b.modes].filter(Boolean).join(',');
      const propagation = b.modes.find((m) => /^r?(private|shared|slave)$/.test(m)) ?? (b.kind === 'bind' ? 'rprivate' : '');
      if (b.kind === 'bind') {
        // docker -v creates a missing host directory (unlike --mount type=bind).
        await mkdir(b.source, { recursive: true });
        add({ Type: 'bind', Source: b.source, Destination: b.target, Mode: mode, RW: !b.readOnly, Propagation: propagation });
      } else {
        const v = await this.#d.volumes.create(b.source ? { Name: b.source } : {});
        add({ Type: 'volume', Name: v.Name, Source: v.Mountpoint, Destination: b.target, Driver: 'local', Mode: mode || 'z', RW: !b.readOnly, Propagation: '', ...(b.source ? {} : { Anonymous: true }) });
      }
    }
    for (const m of hc.Mounts ?? []) {
      if (m.Type === 'bind') {
        try {
          await stat(m.Source!);
        } catch {
          throw new InvalidArgumentError(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
        }
        add({ Type: 'bind', Source: m.Source!, Destination: m.Target, Mode: '', RW: !m.ReadOnly, Propagation: m.BindOptions?.Propagation ?? 'rprivate' });
      } else if (m.Type === 'volume') {
        const v = await this.#d.volumes.create({ ...(m.Source ? { Name: m.Source } : {}), ...(m.VolumeOptions?.Labels ? { Labels: m.VolumeOptions.Labels } : {}), ...(m.VolumeOptions?.DriverConfig?.Options ? { DriverOpts: m.VolumeOptions.DriverConfig.Options } : {}) });
        add({ Type: 'volume', Name: v.Name, Source: v.Mountpoint, Destination: m.Target, Driver: 'local', Mode: 'z', RW: !m.ReadOnly, Propagation: '', ...(m.Source ? {} : { Anonymous: true }) });
      } else if (m.Type === 'tmpfs') {
        const opts: string[] = [];
        if (m.TmpfsOptions?.SizeBytes) opts.push(`size=${m.TmpfsOptions.SizeBytes}`);
        if (m.TmpfsOptions?.Mode) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
        add({ Type: 'tmpfs', Source: '', Destination: m.Target, Mode: '', RW: !m.ReadOnly, Propagation: '', TmpfsOptions: opts });
      }
    }
    for (const [dest, o] of Object.entries(hc.Tmpfs ?? {})) {
      add({ Type: 'tmpfs', Source: '', Destination: dest, Mode: o, RW: !o.split(',').includes('ro'), Propagation: '', TmpfsOptions: o ? o.split(',') : [] });
    }
    for (const dest of Object.keys(config.Volumes ?? {})) {
      if (taken.has(dest)) continue;
      const v = await this.#d.volumes.create({});
      add({ Type: 'volume', Name: v.Name, Source: v.Mountpoint, Destination: dest, Driver: 'local', Mode: '', RW: true, Propagation: '', Anonymous: true });
    }
    return out;
  }

  #attrs(r: Row, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(r.config.Config.Labels ?? {}), image: r.imageRef, name: r.name, ...extra };
  }

  // ---- start -------------------------------------------------------------------------------------------

  async start(ref: string): Promise<void> {
    const r0 = this.get(ref);
    await this.#lock.run(r0.id, async () => {
      const r = this.get(r0.id);
      if (r.state.Status === 'running') throw new NotModifiedError(`container ${r.id} is already running`);
      if (r.state.Status === 'paused') throw new ConflictError('cannot start a paused container, try unpause instead');
      if (r.state.Status === 'removing' || r.state.Status === 'dead') throw new ConflictError(`container ${r.id} is marked for removal and cannot be started`);
      await this.#startLocked(r);
    });
  }

  async #startLocked(r: Row): Promise<void> {
    const driver = this.#driver(r);
    const dir = this.dir(r.id);
    const bundle = join(dir, 'bundle');
    const rootfs = join(bundle, 'rootfs');
    const acquired: string[] = [];
    let mounted = false;
    let created = false;
    try {
      // A container that ran before still has its runtime record until cleaned up.
      await driver.delete(r.id, { force: true }).catch(() => {});
      await mkdir(rootfs, { recursive: true });
      await unmountAll(rootfs, { detach: true });
      mountAll(await this.#d.snapshotter.mounts(r.snapshot), rootfs);
      mounted = true;
      const c = r.config.Config;
      const hc = r.hostConfig;
      const user = await resolveUser(rootfs, c.User ?? '', hc.GroupAdd ?? []);
      const mounts: MountInput[] = [];
      for (const m of r.config.Mounts) {
        if (m.Type === 'tmpfs') {
          mounts.push({ type: 'tmpfs', destination: m.Destination, options: m.TmpfsOptions ?? [], ...(m.RW ? {} : { readonly: true }) });
          continue;
        }
        let source = m.Source;
        if (m.Type === 'volume') {
          source = await this.#d.volumes.acquire(m.Name!);
          acquired.push(m.Name!);
          await copyUp(join(rootfs, m.Destination), source);
        }
        mounts.push({ type: 'bind', source, destination: m.Destination, ...(m.RW ? {} : { readonly: true }), ...(m.Propagation && m.Propagation !== 'rprivate' ? { propagation: m.Propagation as never } : {}) });
      }
      const netHost = hc.NetworkMode === 'host';
      await this.#writeEtcFiles(r, netHost);
      for (const [f, dest] of [['hosts', '/etc/hosts'], ['hostname', '/etc/hostname'], ['resolv.conf', '/etc/resolv.conf']] as const) {
        if (!mounts.some((m) => m.destination === dest)) mounts.push({ type: 'bind', source: join(dir, f), destination: dest, ...(hc.ReadonlyRootfs ? { readonly: true } : {}) });
      }
      const security = parseSecurityOpts(hc.SecurityOpt ?? []);
      const spec = buildSpec({
        id: r.id,
        rootfs,
        readonlyRootfs: hc.ReadonlyRootfs ?? false,
        process: {
          args: [r.config.Path, ...r.config.Args],
          env: [...(c.Env ?? []), ...(c.Env?.some((e) => e.startsWith('HOME=')) ? [] : [`HOME=${user.home}`])],
          cwd: c.WorkingDir || '/',
          terminal: c.Tty ?? false,
          ...(hc.ConsoleSize && hc.ConsoleSize[0] > 0 ? { consoleSize: { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } } : {}),
          user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
          noNewPrivileges: security.noNewPrivileges,
          ...(hc.OomScoreAdj ? { oomScoreAdj: hc.OomScoreAdj } : {}),
        },
        hostname: netHost ? '' : (c.Hostname ?? ''),
        ...(c.Domainname ? { domainname: c.Domainname } : {}),
        mounts,
        ...(hc.ShmSize ? { shmSize: hc.ShmSize } : {}),
        resources: resourcesInput(hc),
        capAdd: hc.CapAdd ?? [],
        capDrop: hc.CapDrop ?? [],
        privileged: hc.Privileged ?? false,
        seccomp: security.seccomp,
        devices: await resolveDevices(hc.Devices ?? []),
        sysctls: hc.Sysctls ?? {},
        ulimits: (hc.Ulimits ?? []).map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard })),
        namespaces: { network: netHost ? 'host' : 'none', ...(hc.PidMode === 'host' ? { pid: 'host' as const } : {}), ...(hc.IpcMode === 'host' ? { ipc: 'host' as const } : {}), ...(hc.UTSMode === 'host' ? { uts: 'host' as const } : {}) },
        cgroupsPath: `/berth/${r.id}`,
        ...(hc.Init && this.#d.initPath ? { init: this.#d.initPath } : {}),
        annotations: { 'org.opencontainers.image.ref.name': r.imageRef, 'berth.container.name': r.name },
        host: this.#d.host,
      });
      await writeFile(join(bundle, 'config.json'), serializeSpec(spec));
      const logMax = parseSize(hc.LogConfig?.Config?.['max-size']);
      const { pid } = await driver.create(r.id, {
        bundle,
        terminal: c.Tty ?? false,
        stdin: c.OpenStdin ?? false,
        stdinOnce: c.StdinOnce ?? true,
        logPath: this.logPath(r.id),
        ...(logMax ? { logSizeMax: logMax } : {}),
        name: r.name,
      });
      created = true;
      // Clients that attached before the start get the container's first bytes.
      for (const give of this.#pendingAttach.get(r.id) ?? []) {
        try {
          give(await driver.attach(r.id));
        } catch (err) {
          give(err as Error);
        }
      }
      this.#pendingAttach.delete(r.id);
      await driver.start(r.id);
      const state: ContainerState = { ...r.state, Status: 'running', Pid: pid, ExitCode: 0, Error: '', StartedAt: new Date().toISOString(), FinishedAt: ZERO_TIME, OOMKilled: false, StoppedByUser: false };
      if (c.Healthcheck?.Test?.length && c.Healthcheck.Test[0] !== 'NONE') state.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
      this.#d.records.setState(r.id, state);
      this.#d.events.publish('container', 'start', r.id, this.#attrs(r));
      this.#watch(r.id, driver);
      if (state.Health) this.#scheduleHealth(r.id, true);
    } catch (err) {
      if (created) await driver.delete(r.id, { force: true }).catch(() => {});
      for (const v of acquired) await this.#d.volumes.release(v).catch(() => {});
      if (mounted) await unmountAll(rootfs, { detach: true }).catch(() => {});
      const message = errorMessage(err);
      const code = /executable file not found|no such file or directory/i.test(message) ? 127 : /permission denied/i.test(message) ? 126 : 128;
      this.#d.records.setState(r.id, { ...r.state, Status: r.state.Status === 'created' ? 'created' : 'exited', ExitCode: code, Error: message, Pid: 0 });
      for (const give of this.#pendingAttach.get(r.id) ?? []) give(err as Error);
      this.#pendingAttach.delete(r.id);
      this.#resolveWaiters(r.id, 'next-exit', code, message);
      // As dockerd: a --rm container whose start failed is removed (and `wait?condition=removed` returns).
      if (r.hostConfig.AutoRemove) await this.#removeLocked({ ...r, state: { ...r.state, ExitCode: code } }, { volumes: true }).catch(() => {});
      if (err instanceof BerthError && err.code !== 'INTERNAL') throw err;
      // The runtime's own words: "exec: "x": executable file not found in $PATH" → the CLI maps it to 127.
      throw new InvalidArgumentError(`failed to create task for container: ${message}`, { cause: err });
    }
  }

  async #writeEtcFiles(r: Row, netHost: boolean): Promise<void> {
    const dir = this.dir(r.id);
    const hostname = r.config.Config.Hostname ?? r.id.slice(0, 12);
    let hosts = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
    if (netHost) hosts = await readFile('/etc/hosts', 'utf8').catch(() => hosts);
    for (const e of r.hostConfig.ExtraHosts ?? []) {
      const i = e.indexOf(':');
      if (i > 0) hosts += `${e.slice(i + 1)}\t${e.slice(0, i)}\n`;
    }
    const resolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    const servers = r.hostConfig.Dns?.length ? r.hostConfig.Dns.map((s) => `nameserver ${s}`).join('\n') + '\n' : '';
    const filtered = netHost ? resolv : resolv.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l)).join('\n');
    await writeFile(join(dir, 'hosts'), hosts);
    await writeFile(join(dir, 'hostname'), `${hostname}\n`);
    await writeFile(join(dir, 'resolv.conf'), servers ? servers + filtered.split('\n').filter((l) => !/^\s*nameserver/.test(l)).join('\n') : filtered);
  }

  /** Follows a running container until it exits (also after a daemon restart: conmon's exit file is kept). */
  #watch(id: string, driver: RuntimeDriver): void {
    this.#watching.get(id)?.abort();
    const ac = new AbortController();
    this.#watching.set(id, ac);
    driver.waitExit(id, { signal: ac.signal }).then(
      (status) => {
        if (this.#watching.get(id) === ac) this.#watching.delete(id);
        void this.#lock.run(id, () => this.#onExit(id, status)).catch((err) => this.#d.log?.warn(`container ${id.slice(0, 12)}: exit handling failed: ${errorMessage(err)}`));
      },
      () => {
        /* aborted: removed, or the daemon is stopping */
      },
    );
  }

  /**
   * Healthchecks, run by berthd itself: the image's or the run's HEALTHCHECK command is exec'd in the container
   * every Interval (default 30 s) with a Timeout (default 30 s); Retries (default 3) failures in a row make it
   * unhealthy, failures during StartPeriod do not count. Status changes are `health_status` events.
   */
  #scheduleHealth(id: string, first: boolean): void {
    const r = this.#d.records.get(id);
    const hc = r?.config.Config.Healthcheck;
    if (!r || !hc?.Test?.length || hc.Test[0] === 'NONE' || this.#closed) return;
    const ns = (v: number | undefined, dflt: number) => (v && v > 0 ? v / 1e6 : dflt);
    const interval = ns(hc.Interval, 30_000);
    const delay = first && hc.StartInterval ? ns(hc.StartInterval, interval) : interval;
    clearTimeout(this.#healthTimers.get(id));
    const timer = setTimeout(() => {
      this.#healthTimers.delete(id);
      void this.#runHealthcheck(id).finally(() => this.#scheduleHealth(id, false));
    }, delay);
    timer.unref();
    this.#healthTimers.set(id, timer);
  }

  async #runHealthcheck(id: string): Promise<void> {
    const r = this.#d.records.get(id);
    const hc = r?.config.Config.Healthcheck;
    if (!r || r.state.Status !== 'running' || !hc?.Test?.length || !r.state.Health) return;
    const args = hc.Test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', hc.Test.slice(1).join(' ')] : hc.Test[0] === 'CMD' ? hc.Test.slice(1) : hc.Test;
    const timeout = hc.Timeout && hc.Timeout > 0 ? hc.Timeout / 1e6 : 30_000;
    const start = new Date();
    let exitCode = -1;
    let output = '';
    try {
      const spec = JSON.parse(await readFile(join(this.dir(id), 'bundle', 'config.json'), 'utf8')) as { process: ExecProcess };
      const driver = this.#driver(r);
      const execId = randomBytes(16).toString('hex');
      const session = await driver.exec(id, execId, { ...spec.process, args, terminal: false }, { attach: true });
      const collect = (async () => {
        for await (const f of (session.attach?.output ?? []) as AsyncIterable<{ data: Buffer }>) if (output.length < 4096) output += f.data.toString();
      })();
      const timer = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), timeout).unref());
      const res = await Promise.race([session.exit.then((st) => st.exitCode), timer]);
      if (res === 'timeout') {
        output = `Health check exceeded timeout (${timeout / 1000}s)`;
        exitCode = -1;
        session.attach?.close();
      } else {
        exitCode = res;
        await collect.catch(() => {});
      }
      void driver.removeExec(execId).catch(() => {});
    } catch (err) {
      output = errorMessage(err);
    }
    const cur = this.#d.records.get(id);
    if (!cur || cur.state.Status !== 'running' || !cur.state.Health) return;
    const h = { ...cur.state.Health, Log: [...cur.state.Health.Log, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: exitCode, Output: output.slice(0, 4096) }].slice(-5) };
    const inStartPeriod = hc.StartPeriod ? Date.now() - Date.parse(cur.state.StartedAt) < hc.StartPeriod / 1e6 : false;
    const before = h.Status;
    if (exitCode === 0) {
      h.Status = 'healthy';
      h.FailingStreak = 0;
    } else if (!inStartPeriod || before !== 'starting') {
      h.FailingStreak++;
      if (h.FailingStreak >= (hc.Retries && hc.Retries > 0 ? hc.Retries : 3)) h.Status = 'unhealthy';
    }
    this.#d.records.setState(id, { ...cur.state, Health: h });
    if (h.Status !== before) this.#d.events.publish('container', `health_status: ${h.Status}`, id, this.#attrs(cur));
  }

  async #onExit(id: string, status: ExitStatus): Promise<void> {
    const r = this.#d.records.get(id);
    if (!r || (r.state.Status !== 'running' && r.state.Status !== 'paused')) return;
    clearTimeout(this.#healthTimers.get(id));
    this.#healthTimers.delete(id);
    await this.#cleanupRuntime(r);
    const state: ContainerState = {
      ...r.state,
      Status: 'exited',
      Pid: 0,
      ExitCode: status.exitCode,
      FinishedAt: status.exitedAt.toISOString(),
      OOMKilled: status.oomKilled,
    };
    // A stopped container has no health: the next start begins again at "starting".
    delete state.Health;
    this.#d.records.setState(id, state);
    if (status.oomKilled) this.#d.events.publish('container', 'oom', id, this.#attrs(r));
    this.#d.events.publish('container', 'die', id, this.#attrs(r, { exitCode: String(status.exitCode) }));
    this.#resolveWaiters(id, 'next-exit', status.exitCode);
    const row = { ...r, state };
    if (r.hostConfig.AutoRemove) {
      await this.#removeLocked(row, { volumes: true });
      return;
    }
    this.#maybeRestart(row);
  }

  /** Unmounts the root filesystem, releases volumes, deletes the runtime's record. */
  async #cleanupRuntime(r: Row): Promise<void> {
    const driver = this.#d.runtimes.get(r.runtime);
    await driver?.delete(r.id, { force: true }).catch(() => {});
    for (const m of r.config.Mounts) if (m.Type === 'volume') await this.#d.volumes.release(m.Name!).catch(() => {});
    await unmountAll(join(this.dir(r.id), 'bundle', 'rootfs'), { detach: true }).catch(() => {});
  }

  #maybeRestart(r: Row): void {
    if (this.#closed) return;
    const p = r.hostConfig.RestartPolicy;
    if (!p || p.Name === '' || p.Name === 'no' || r.state.StoppedByUser) return;
    if (p.Name === 'on-failure') {
      if (r.state.ExitCode === 0) return;
      if (p.MaximumRetryCount && r.state.RestartCount >= p.MaximumRetryCount) return;
    }
    // Docker's back-off: 100 ms doubling per restart, reset once a run lasted 10 s or more.
    const ran = Date.parse(r.state.FinishedAt) - Date.parse(r.state.StartedAt);
    const n = ran >= 10_000 ? 0 : r.state.RestartCount;
    const delay = Math.min(100 * 2 ** n, 60_000);
    this.#d.records.setState(r.id, { ...r.state, Status: 'restarting' });
    const timer = setTimeout(() => {
      this.#restartTimers.delete(r.id);
      void this.#lock
        .run(r.id, async () => {
          const cur = this.#d.records.get(r.id);
          if (!cur || cur.state.Status !== 'restarting') return;
          cur.state.RestartCount = (ran >= 10_000 ? 0 : cur.state.RestartCount) + 1;
          this.#d.records.setState(cur.id, cur.state);
          await this.#startLocked(cur);
          this.#d.events.publish('container', 'restart', cur.id, this.#attrs(cur));
        })
        .catch((err) => {
          this.#d.log?.warn(`container ${r.id.slice(0, 12)}: restart failed: ${errorMessage(err)}`);
          const cur = this.#d.records.get(r.id);
          if (cur) {
            this.#d.records.setState(cur.id, { ...cur.state, Status: 'exited' });
            this.#maybeRestart(this.#d.records.get(r.id)!);
          }
        });
    }, delay);
    timer.unref();
    this.#restartTimers.set(r.id, timer);
  }

  // ---- stop, kill, wait ----------------------------------------------------------------------------------

  /** Sends the stop signal, then SIGKILL after the timeout (seconds; default the container's StopTimeout or 10). */
  async stop(ref: string, opts: { timeout?: number | undefined; signal?: string | undefined } = {}): Promise<void> {
    const r = this.get(ref);
    this.#cancelRestart(r);
    const cur = this.get(r.id);
    if (cur.state.Status !== 'running' && cur.state.Status !== 'paused') throw new NotModifiedError(`container ${r.id} is not running`);
    this.#d.records.setState(r.id, { ...cur.state, StoppedByUser: true });
    const driver = this.#driver(r);
    const sig = opts.signal || r.config.Config.StopSignal || 'SIGTERM';
    const timeout = opts.timeout ?? r.config.Config.StopTimeout ?? 10;
    const exited = this.wait(r.id, 'not-running');
    if (cur.state.Status === 'paused') await driver.resume(r.id).catch(() => {});
    await driver.kill(r.id, sig).catch(() => {});
    if (timeout >= 0) {
      const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((res) => setTimeout(() => res(true), timeout * 1000).unref())]);
      if (timedOut) await driver.kill(r.id, 'SIGKILL', { all: true }).catch(() => {});
    }
    await exited;
    this.#d.events.publish('container', 'stop', r.id, this.#attrs(r));
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const r = this.get(ref);
    if (r.state.Status !== 'running' && r.state.Status !== 'paused') throw new ConflictError(`Cannot kill container: ${ref}: container ${r.id} is not running`);
    const sig = /^\d+$/.test(signal) ? Number(signal) : signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
    if (sig === 'SIGKILL' || sig === 9) this.#d.records.setState(r.id, { ...r.state, StoppedByUser: true });
    await this.#driver(r).kill(r.id, sig);
    this.#d.events.publish('container', 'kill', r.id, this.#attrs(r, { signal: String(typeof sig === 'number' ? sig : sig.replace(/^SIG/, '')) }));
  }

  async restart(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const r = this.get(ref);
    try {
      await this.stop(r.id, opts);
    } catch (err) {
      if (!(err instanceof NotModifiedError)) throw err;
    }
    await this.start(r.id);
    this.#d.events.publish('container', 'restart', r.id, this.#attrs(r));
  }

  #cancelRestart(r: Row): void {
    const t = this.#restartTimers.get(r.id);
    if (t) {
      clearTimeout(t);
      this.#restartTimers.delete(r.id);
      if (r.state.Status === 'restarting') this.#d.records.setState(r.id, { ...r.state, Status: 'exited', StoppedByUser: true });
    }
  }

  /** Docker's `/wait`. */
  wait(ref: string, condition: WaitCondition = 'not-running', signal?: AbortSignal): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const r = this.get(ref);
    if (condition === 'not-running' && r.state.Status !== 'running' && r.state.Status !== 'paused' && r.state.Status !== 'restarting') {
      return Promise.resolve({ StatusCode: r.state.ExitCode, Error: null });
    }
    return new Promise((resolve, reject) => {
      let set = this.#waiters.get(r.id);
      if (!set) this.#waiters.set(r.id, (set = new Set()));
      const w: Waiter = { condition, resolve };
      set.add(w);
      signal?.addEventListener('abort', () => {
        set.delete(w);
        reject(signal.reason);
      });
    });
  }

  #resolveWaiters(id: string, event: 'next-exit' | 'removed', code: number, error?: string): void {
    const set = this.#waiters.get(id);
    if (!set) return;
    for (const w of [...set]) {
      if (event === 'next-exit' && w.condition === 'removed') continue;
      set.delete(w);
      w.resolve({ StatusCode: code, Error: error ? { Message: error } : null });
    }
    if (set.size === 0) this.#waiters.delete(id);
  }

  // ---- remove ------------------------------------------------------------------------------------------

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const r0 = this.get(ref);
    if (r0.state.Status === 'running' || r0.state.Status === 'paused' || r0.state.Status === 'restarting') {
      if (!opts.force) {
        throw new ConflictError(`cannot remove container "/${r0.name}": container is ${r0.state.Status}: stop the container before removing or force remove`);
      }
      this.#cancelRestart(r0);
      const cur = this.get(r0.id);
      if (cur.state.Status === 'running' || cur.state.Status === 'paused') {
        this.#d.records.setState(cur.id, { ...cur.state, StoppedByUser: true });
        const exited = this.wait(r0.id, 'not-running');
        await this.#driver(r0).kill(r0.id, 'SIGKILL', { all: true }).catch(() => {});
        await exited;
      }
    }
    await this.#lock.run(r0.id, async () => {
      const r = this.#d.records.get(r0.id);
      if (r) await this.#removeLocked(r, opts);
    });
  }

  async #removeLocked(r: Row, opts: { volumes?: boolean }): Promise<void> {
    this.#watching.get(r.id)?.abort();
    this.#watching.delete(r.id);
    await this.#cleanupRuntime(r);
    await this.#d.snapshotter.remove(r.snapshot).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
    await rm(this.dir(r.id), { recursive: true, force: true });
    this.#d.records.delete(r.id);
    if (opts.volumes) {
      for (const m of r.config.Mounts) if (m.Anonymous && m.Name) await this.#d.volumes.remove(m.Name).catch(() => {});
    }
    this.#d.events.publish('container', 'destroy', r.id, this.#attrs(r));
    this.#resolveWaiters(r.id, 'next-exit', r.state.ExitCode);
    const set = this.#waiters.get(r.id);
    if (set) {
      for (const w of set) w.resolve({ StatusCode: r.state.ExitCode, Error: null });
      this.#waiters.delete(r.id);
    }
  }

  // ---- attach, logs, resize, pause, rename ----------------------------------------------------------------

  /**
   * A session on the container's stdio. Before the container starts, it is handed over when start has created
   * the container and before its process runs, so no output is lost.
   */
  async attach(ref: string, signal?: AbortSignal): Promise<AttachSession> {
    const r = this.get(ref);
    if (r.state.Status === 'running' || r.state.Status === 'paused') {
      this.#d.events.publish('container', 'attach', r.id, this.#attrs(r));
      return this.#driver(r).attach(r.id, signal ? { signal } : {});
    }
    this.#d.events.publish('container', 'attach', r.id, this.#attrs(r));
    return new Promise((resolve, reject) => {
      const list = this.#pendingAttach.get(r.id) ?? [];
      const give = (s: AttachSession | Error) => (s instanceof Error ? reject(s) : resolve(s));
      list.push(give);
      this.#pendingAttach.set(r.id, list);
      signal?.addEventListener('abort', () => {
        const l = this.#pendingAttach.get(r.id);
        if (l) this.#pendingAttach.set(r.id, l.filter((g) => g !== give));
        reject(signal.reason);
      });
    });
  }

  async resize(ref: string, height: number, width: number): Promise<void> {
    const r = this.get(ref);
    if (r.state.Status !== 'running') throw new ConflictError(`Container ${r.id} is not running`);
    await this.#driver(r).resize(r.id, { height, width });
  }

  /** The container's log, oldest first; with `follow`, until it exits. */
  async *logs(ref: string, opts: LogsOptions = {}): AsyncGenerator<LogEntry> {
    const r = this.get(ref);
    const driver = this.#driver(r);
    const wantOut = opts.stdout ?? true;
    const wantErr = opts.stderr ?? true;
    const follow = opts.follow && (r.state.Status === 'running' || r.state.Status === 'paused' || r.state.Status === 'restarting');
    const readOpts = {
      ...(opts.since !== undefined ? { since: opts.since } : {}),
      ...(opts.until !== undefined ? { until: opts.until } : {}),
      ...(opts.tail !== undefined && opts.tail >= 0 ? { tail: opts.tail } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      follow: follow ?? false,
      stopWhen: async () => {
        const cur = this.#d.records.get(r.id);
        if (!cur || (cur.state.Status !== 'running' && cur.state.Status !== 'paused')) return true;
        return (await driver.exitStatus(r.id).catch(() => undefined)) !== undefined;
      },
    };
    for await (const e of readLog(this.logPath(r.id), readOpts)) {
      if ((e.stream === 'stdout' && wantOut) || (e.stream === 'stderr' && wantErr)) yield e;
    }
  }

  async pause(ref: string): Promise<void> {
    const r = this.get(ref);
    if (r.state.Status === 'paused') throw new ConflictError(`Container ${r.id} is already paused`);
    if (r.state.Status !== 'running') throw new ConflictError(`Container ${r.id} is not running`);
    await this.#driver(r).pause(r.id);
    this.#d.records.setState(r.id, { ...r.state, Status: 'paused' });
    this.#d.events.publish('container', 'pause', r.id, this.#attrs(r));
  }

  async unpause(ref: string): Promise<void> {
    const r = this.get(ref);
    if (r.state.Status !== 'paused') throw new ConflictError(`Container ${r.id} is not paused`);
    await this.#driver(r).resume(r.id);
    this.#d.records.setState(r.id, { ...r.state, Status: 'running' });
    this.#d.events.publish('container', 'unpause', r.id, this.#attrs(r));
  }

  rename(ref: string, newName: string): void {
    const r = this.get(ref);
    const name = validateName(newName);
    if (name === r.name) throw new ConflictError(`Renaming a container with the same name as its current name`);
    const other = this.#d.records.byName(name);
    if (other || !this.#d.records.rename(r.id, name)) {
      throw new ConflictError(`Conflict. The container name "/${name}" is already in use by container "${other?.id ?? ''}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    this.#d.events.publish('container', 'rename', r.id, { ...this.#attrs({ ...r, name }), oldName: `/${r.name}` });
  }

  async top(ref: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const r = this.get(ref);
    if (r.state.Status !== 'running' && r.state.Status !== 'paused') throw new ConflictError(`Container ${r.id} is not running`);
    const pids = await this.#driver(r).ps(r.id);
    if (pids.length === 0) return { Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], Processes: [] };
    const { stdout } = await exec('ps', ['-o', 'uid,pid,ppid,c,stime,tty,time,cmd', '-p', pids.join(',')]);
    const lines = stdout.trimEnd().split('\n');
    const titles = ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'];
    const rows = lines.slice(1).map((l) => {
      const parts = l.trim().split(/\s+/);
      return [...parts.slice(0, 7), parts.slice(7).join(' ')];
    });
    return { Titles: titles, Processes: rows };
  }

  /**
   * One stats sample (`docker stats`): the container's cgroup counters, with `precpu_stats` from the previous
   * sample so that the CLI can compute CPU %. Each call with `previous` reuses that sample as the "pre" one.
   */
  async stats(ref: string, previous?: StatsSample): Promise<StatsSample> {
    const r = this.get(ref);
    const running = r.state.Status === 'running' || r.state.Status === 'paused';
    const now = new Date().toISOString();
    const s = running ? await readCgroupStats(`berth/${r.id}`) : undefined;
    return {
      read: running ? now : ZERO_TIME,
      preread: previous?.read ?? ZERO_TIME,
      pids_stats: s?.pids ?? {},
      cpu_stats: s?.cpu ?? emptyCpu(),
      precpu_stats: previous?.cpu_stats ?? emptyCpu(),
      memory_stats: s?.memory ?? {},
      blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
      num_procs: 0,
      storage_stats: {},
      name: `/${r.name}`,
      id: r.id,
    };
  }

  /** `docker diff`: the container's changes against its image (overlay snapshotter only). */
  async changes(ref: string): Promise<Change[]> {
    const r = this.get(ref);
    const mounts = await this.#d.snapshotter.mounts(r.snapshot);
    const m = mounts[0];
    const opt = (k: string) => m?.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
    let all: Change[];
    if (m?.type === 'overlay' && opt('upperdir')) all = await upperChanges(opt('upperdir')!, (opt('lowerdir') ?? '').split(':').filter(Boolean));
    else if (m?.type === 'bind' && this.#d.snapshotter.name === 'overlay') all = await upperChanges(m.source, []);
    else throw new NotImplementedError(`docker diff is not available with the ${this.#d.snapshotter.name} snapshotter`);
    // The runtime creates mount points (/etc/hosts, volume targets, ...) in the upper layer; Docker keeps those in
    // an init layer and does not report them, nor directories changed only because of them.
    const mountPoints = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/dev', '/proc', '/sys', ...r.config.Mounts.map((x) => x.Destination)]);
    const kept = all.filter((c) => !(c.Kind === 1 && [...mountPoints].some((p) => c.Path === p || c.Path.startsWith(`${p}/`))));
    return kept.filter((c) => c.Kind !== 0 || !all.some((x) => x.Path.startsWith(`${c.Path}/`)) || kept.some((x) => x.Path.startsWith(`${c.Path}/`)));
  }

  /**
   * `docker export`: the container's whole filesystem as a tar stream. A stopped container's root filesystem is
   * mounted for the time of the export (at its usual place) and unmounted after.
   */
  async *export(ref: string): AsyncGenerator<PackEntry> {
    const r = this.get(ref);
    const rootfs = join(this.dir(r.id), 'bundle', 'rootfs');
    const running = r.state.Status === 'running' || r.state.Status === 'paused';
    if (!running) {
      await mkdir(rootfs, { recursive: true });
      mountAll(await this.#d.snapshotter.mounts(r.snapshot), rootfs);
    }
    try {
      yield* treeEntries(rootfs);
    } finally {
      if (!running) await unmountAll(rootfs, { detach: true });
    }
  }

  /**
   * `docker update`: new limits (and restart policy) for a container; a running one gets them at once through
   * the runtime (`runc update`), and they are kept for its next start.
   */
  async update(ref: string, u: Partial<HostConfig>): Promise<{ Warnings: string[] }> {
    const r = this.get(ref);
    const keys = ['Memory', 'MemorySwap', 'MemoryReservation', 'CpuShares', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'PidsLimit', 'RestartPolicy'] as const;
    const hc: HostConfig = { ...r.hostConfig };
    for (const k of keys) if (u[k] !== undefined && u[k] !== null) (hc as Record<string, unknown>)[k] = u[k];
    if (hc.NanoCpus && (u.CpuQuota || u.CpuPeriod)) delete hc.NanoCpus;
    validateHostConfig(hc);
    if (r.state.Status === 'running' || r.state.Status === 'paused') {
      const res = resolveResources(
        resourcesInput(hc),
        { swapAccounting: this.#d.host.swapAccounting ?? true, ...(this.#d.host.cpuCount ? { cpuCount: this.#d.host.cpuCount } : {}) },
      );
      const { devices: _devices, ...limits } = res as SpecResourcesLike;
      void _devices;
      await this.#driver(r).update(r.id, limits);
    }
    this.#d.records.setHostConfig(r.id, hc);
    this.#d.events.publish('container', 'update', r.id, this.#attrs(r));
    return { Warnings: [] };
  }

  /**
   * `docker commit`: the container's changes as a new layer on its image, with its config (and `changes`
   * applied, as Dockerfile lines), registered as a new image and tagged `repo:tag` when given. The container is
   * paused meanwhile unless `pause` is false.
   */
  async commit(ref: string, o: { repo?: string; tag?: string; comment?: string; author?: string; changes?: string[]; pause?: boolean; config?: ImageRunConfig }): Promise<string> {
    const r = this.get(ref);
    const images = this.#d.images;
    const mounts = await this.#d.snapshotter.mounts(r.snapshot);
    const m = mounts[0];
    const upper = m?.type === 'overlay' ? m.options.find((x) => x.startsWith('upperdir='))?.slice('upperdir='.length) : m?.type === 'bind' && this.#d.snapshotter.name === 'overlay' ? m.source : undefined;
    if (!upper) throw new NotImplementedError(`docker commit is not available with the ${this.#d.snapshotter.name} snapshotter`);
    const base = await images.load(images.resolve(r.imageId));
    const cfg = applyChanges({ ...r.config.Config, ...(o.config ?? {}) }, o.changes ?? []);
    const pause = (o.pause ?? true) && r.state.Status === 'running';
    if (pause) await this.pause(r.id);
    try {
      return await images.withLease(async (lease) => {
        const skip = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/dev', '/proc', '/sys', ...r.config.Mounts.map((x) => x.Destination)]);
        const isOpaque = (p: string) => lgetxattr(p, 'trusted.overlay.opaque')?.toString() === 'y';
        const layer = await images.content.ingest(pack(layerEntries(upper, skip, isOpaque)));
        lease(layer.digest);
        const now = new Date().toISOString();
        const { StopTimeout: _st, Hostname: _h, Domainname: _d, AttachStdin: _a1, AttachStdout: _a2, AttachStderr: _a3, Tty: _t, OpenStdin: _o, StdinOnce: _s, Image: _i, ...runConfig } = cfg as ImageRunConfig & { StopTimeout?: number };
        void [_st, _h, _d, _a1, _a2, _a3, _t, _o, _s, _i];
        const config: ImageConfig = {
          ...base.config,
          created: now,
          ...(o.author ? { author: o.author } : {}),
          ...(o.comment ? { comment: o.comment } : {}),
          container: r.id,
          config: runConfig,
          rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.digest] },
          history: [
            ...(base.config.history ?? []),
            { created: now, created_by: [r.config.Path, ...r.config.Args].join(' '), ...(o.author ? { author: o.author } : {}), ...(o.comment ? { comment: o.comment } : {}) },
          ],
        };
        const cblob = await images.content.put(Buffer.from(JSON.stringify(config)));
        lease(cblob.digest);
        const manifest: Manifest = {
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: { mediaType: MediaType.OciConfig, digest: cblob.digest, size: cblob.size },
          layers: [...base.manifest.layers, { mediaType: MediaType.OciLayer, digest: layer.digest, size: layer.size }],
        };
        const mblob = await images.content.put(Buffer.from(JSON.stringify(manifest)));
        lease(mblob.digest);
        const tags = o.repo ? [parseReference(o.tag ? `${o.repo}:${o.tag}` : o.repo)] : [];
        const img = await images.register({ mediaType: MediaType.OciManifest, digest: mblob.digest, size: mblob.size }, { tags });
        this.#d.events.publish('container', 'commit', r.id, this.#attrs(r, { comment: o.comment ?? '', imageID: img.record.configDigest }));
        return img.record.configDigest;
      });
    } finally {
      if (pause) await this.unpause(r.id).catch(() => {});
    }
  }

  /** Runs fn with the container's root filesystem mounted (it is while the container runs; else for fn's time). */
  async #withRootfs<T>(r: Row, fn: (rootfs: string) => Promise<T>): Promise<T> {
    const rootfs = join(this.dir(r.id), 'bundle', 'rootfs');
    if (r.state.Status === 'running' || r.state.Status === 'paused') return fn(rootfs);
    return this.#lock.run(r.id, async () => {
      await mkdir(rootfs, { recursive: true });
      mountAll(await this.#d.snapshotter.mounts(r.snapshot), rootfs);
      try {
        return await fn(rootfs);
      } finally {
        await unmountAll(rootfs, { detach: true });
      }
    });
  }

  /** `HEAD /containers/{id}/archive`: the stat of a path in the container. */
  async archiveStat(ref: string, path: string): Promise<PathStat> {
    const r = this.get(ref);
    return this.#withRootfs(r, async (root) => {
      const host = await resolveInRoot(root, path);
      try {
        return await pathStat(host, posixBase(path));
      } catch {
        throw new NotFoundError(`Could not find the file ${path} in container ${ref}`);
      }
    });
  }

  /** `GET /containers/{id}/archive`: a path of the container as a tar (read whole while the root is mounted). */
  async archiveGet(ref: string, path: string): Promise<{ stat: PathStat; tar: Buffer[] }> {
    const r = this.get(ref);
    return this.#withRootfs(r, async (root) => {
      const host = await resolveInRoot(root, path);
      let stat: PathStat;
      try {
        stat = await pathStat(host, posixBase(path));
      } catch {
        throw new NotFoundError(`Could not find the file ${path} in container ${ref}`);
      }
      const chunks: Buffer[] = [];
      for await (const c of pack(pathEntries(host, stat.name))) chunks.push(c);
      return { stat, tar: chunks };
    });
  }

  /** `PUT /containers/{id}/archive`: extracts a tar into a directory of the container. */
  async archivePut(ref: string, path: string, tar: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    const r = this.get(ref);
    if (r.hostConfig.ReadonlyRootfs) throw new ForbiddenError('container rootfs is marked read-only');
    await this.#withRootfs(r, async (root) => {
      const host = await resolveInRoot(root, path.endsWith('/') ? `${path}.` : `${path}/.`);
      let st;
      try {
        st = await stat(host);
      } catch {
        throw new NotFoundError(`Could not find the file ${path} in container ${ref}`);
      }
      if (!st.isDirectory()) throw new InvalidArgumentError(`extraction point is not a directory: ${path}`);
      await unpackLayer(host, extract(tar, signal ? { signal } : {}), { whiteouts: 'delete', signal });
    });
  }

  async prune(filters: { until?: number; labels?: string[] } = {}): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    for (const r of this.#d.records.all()) {
      if (r.state.Status !== 'exited' && r.state.Status !== 'created' && r.state.Status !== 'dead') continue;
      if (filters.until !== undefined && !(r.created / 1000 < filters.until)) continue;
      if (filters.labels && !filters.labels.every((l) => matchLabel(r.config.Config.Labels ?? {}, l))) continue;
      await this.remove(r.id).catch(() => {});
      deleted.push(r.id);
    }
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: 0 };
  }

  // ---- daemon start and stop -------------------------------------------------------------------------------

  /**
   * At daemon start: containers that ran when berthd stopped are still running under conmon (re-armed), or
   * exited meanwhile (their exit code comes from conmon's exit file); then restart policies apply.
   */
  async restore(): Promise<void> {
    for (const r of this.#d.records.all()) {
      const driver = this.#d.runtimes.get(r.runtime);
      if (r.state.Status === 'removing') {
        await this.#removeLocked(r, {}).catch(() => {});
        continue;
      }
      if (r.state.Status === 'running' || r.state.Status === 'paused') {
        if (!driver) {
          this.#d.records.setState(r.id, { ...r.state, Status: 'exited', ExitCode: 255, Error: `runtime ${r.runtime} is not available`, Pid: 0 });
          continue;
        }
        let alive = false;
        try {
          alive = (await driver.monitor(r.id)).conmonAlive;
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
        const exit = await driver.exitStatus(r.id).catch(() => undefined);
        if (alive && !exit) {
          this.#watch(r.id, driver);
          if (r.state.Health) this.#scheduleHealth(r.id, true);
          continue;
        }
        await this.#lock.run(r.id, () => this.#onExit(r.id, exit ?? { exitCode: 255, exitedAt: new Date(), oomKilled: false, monitorLost: true }));
        continue;
      }
      if (r.state.Status === 'restarting') {
        this.#d.records.setState(r.id, { ...r.state, Status: 'exited' });
      }
      const p = r.hostConfig.RestartPolicy?.Name;
      if ((p === 'always' || p === 'unless-stopped') && !r.state.StoppedByUser) {
        await this.start(r.id).catch((err) => this.#d.log?.warn(`container ${r.id.slice(0, 12)}: restart at daemon start failed: ${errorMessage(err)}`));
      }
    }
  }

  /** Stops following containers; they keep running under conmon. */
  close(): void {
    this.#closed = true;
    for (const ac of this.#watching.values()) ac.abort();
    this.#watching.clear();
    for (const t of this.#restartTimers.values()) clearTimeout(t);
    for (const t of this.#healthTimers.values()) clearTimeout(t);
  }
}

/** Copies the image's content at a volume's mount point into the volume the first time (empty volume), as Docker. */
async function copyUp(from: string, to: string): Promise<void> {
  let src: string[];
  try {
    if (!(await stat(from)).isDirectory()) return;
    src = await readdir(from);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
    throw err;
  }
  if (src.length === 0 || (await readdir(to)).length > 0) return;
  await exec('cp', ['-a', `${from}/.`, `${to}/`]);
}

function parseSecurityOpts(opts: readonly string[]): { noNewPrivileges: boolean; seccomp: 'default' | 'unconfined' | never } {
  let noNewPrivileges = false;
  let seccomp: 'default' | 'unconfined' = 'default';
  for (const o of opts) {
    const [k, v = ''] = o.includes('=') ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)] : o.includes(':') ? [o.slice(0, o.indexOf(':')), o.slice(o.indexOf(':') + 1)] : [o, ''];
    if (k === 'no-new-privileges') noNewPrivileges = v === '' || v === 'true';
    else if (k === 'seccomp') {
      if (v === 'unconfined') seccomp = 'unconfined';
      else throw new InvalidArgumentError(`seccomp profiles from files are read by the client: send the profile JSON in SecurityOpt (seccomp=${v})`);
    } else if (k === 'label' || k === 'apparmor') continue;
    else throw new InvalidArgumentError(`Invalid --security-opt: "${o}"`);
  }
  return { noNewPrivileges, seccomp };
}

async function resolveDevices(devs: readonly { PathOnHost: string; PathInContainer?: string; CgroupPermissions?: string }[]) {
  const out = [];
  for (const d of devs) {
    let st;
    try {
      st = await stat(d.PathOnHost);
    } catch {
      throw new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
    }
    const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
    if (!type) throw new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
    out.push({
      path: d.PathInContainer || d.PathOnHost,
      type: type as 'c' | 'b',
      major: Number(BigInt(st.rdev) >> 8n) & 0xfff,
      minor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00),
      permissions: d.CgroupPermissions || 'rwm',
      fileMode: st.mode & 0o777,
      uid: st.uid,
      gid: st.gid,
    });
  }
  return out;
}

function parseSize(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(s.trim());
  if (!m) throw new InvalidArgumentError(`invalid max-size "${s}"`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

function matchLabel(labels: Record<string, string>, f: string): boolean {
  const eq = f.indexOf('=');
  return eq < 0 ? f in labels : labels[f.slice(0, eq)] === f.slice(eq + 1);
}


function posixBase(p: string): string {
  const parts = p.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? '/';
}

/** The cgroup limits of a host config, as the spec builder takes them (at start and for `update`). */
function resourcesInput(hc: HostConfig): ResourcesInput {
  return {
    ...(hc.Memory ? { memory: hc.Memory } : {}),
    ...(hc.MemorySwap ? { memorySwap: hc.MemorySwap } : {}),
    ...(hc.MemoryReservation ? { memoryReservation: hc.MemoryReservation } : {}),
    ...(hc.CpuShares ? { cpuShares: hc.CpuShares } : {}),
    ...(hc.NanoCpus ? { cpus: hc.NanoCpus / 1e9 } : {}),
    ...(hc.CpuPeriod ? { cpuPeriod: hc.CpuPeriod } : {}),
    ...(hc.CpuQuota ? { cpuQuota: hc.CpuQuota } : {}),
    ...(hc.CpusetCpus ? { cpusetCpus: hc.CpusetCpus } : {}),
    ...(hc.CpusetMems ? { cpusetMems: hc.CpusetMems } : {}),
    ...(hc.PidsLimit && hc.PidsLimit > 0 ? { pidsLimit: hc.PidsLimit } : {}),
  };
}
