import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ImageService } from '../images/index.ts';
import type { ContainerRecords } from '../metadata/index.ts';
import type { ImageRunConfig } from '../oci/types.ts';
import {
  buildSpec,
  resolveCapabilities,
  resolveResources,
  serializeSpec,
  validateProfile,
  type HostFacts,
  type SeccompProfile,
  type MountInput,
  type RuntimeDriver,
  type AttachSession,
  type ResourcesInput,
  type ExitStatus,
  readLog,
  type LogEntry,
} from '../runtime/index.ts';
import { mountAll, unmountAll, type Snapshotter } from '../snapshots/index.ts';
import type { VolumeService } from '../volumes/index.ts';
import type { NetworkService, NetworkSettings } from '../network/index.ts';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  NotModifiedError,
  BerthError,
  errorMessage,
  isErrno,
} from '../util/errors.ts';
import { matchLabel } from '../util/labels.ts';
import type { EventLog } from '../util/events.ts';
import { KeyedMutex } from '../util/lock.ts';
import type { PackEntry } from '../util/tar/index.ts';
import {
  commandLine,
  generateName,
  mergeImageConfig,
  newContainerId,
  parseBind,
  validateHostConfig,
  validateName,
  type CreateRequest,
  type HostConfig,
} from './config.ts';
import { initialState, ZERO_TIME, type ContainerState } from './state.ts';
import type { LogsOptions, MountPoint, Row, StoredConfig, WaitCondition, WaitResult } from './model.ts';
import { resolveUser } from './users.ts';
import { emptyBlkio, emptyCpu, readCgroupStats, type StatsSample } from './stats.ts';
import type { Change, PathStat } from './archive.ts';
import { commitContainer, type CommitOptions } from './commit.ts';
import { ContainerFiles } from './files.ts';
import { Healthchecks } from './health.ts';

const exec = promisify(execFile);

export interface ContainerServiceDeps {
  dataRoot: string;
  records: ContainerRecords<StoredConfig, HostConfig, ContainerState>;
  images: ImageService;
  snapshotter: Snapshotter;
  volumes: VolumeService;
  /** Container networking: endpoints recorded at create, set up before the runtime creates the container. */
  networks: NetworkService;
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

interface Waiter {
  condition: WaitCondition;
  resolve: (r: WaitResult) => void;
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
  /** Names of containers being created (held until their row is inserted). */
  readonly #creating = new Set<string>();
  readonly #restartTimers = new Map<string, NodeJS.Timeout>();
  readonly #health: Healthchecks;
  readonly #files: ContainerFiles;
  #closed = false;

  constructor(deps: ContainerServiceDeps) {
    this.#d = deps;
    this.#health = new Healthchecks({
      records: deps.records,
      events: deps.events,
      driverOf: (r) => this.#driver(r),
      dir: (id) => this.dir(id),
      attrs: (r) => this.#attrs(r),
    });
    this.#files = new ContainerFiles({
      snapshotter: deps.snapshotter,
      dir: (id) => this.dir(id),
      lock: this.#lock,
      current: (id) => deps.records.get(id),
    });
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
    return this.#d.records.usingImage(imageId).map((r) => ({
      id: r.id,
      running: r.state.Status === 'running' || r.state.Status === 'paused' || r.state.Status === 'restarting',
    }));
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

  /** Every capability the runtime on this host can grant: what `exec --privileged` gives. */
  allCapabilities(): string[] {
    return resolveCapabilities({
      privileged: true,
      ...(this.#d.host.capabilities ? { available: this.#d.host.capabilities } : {}),
    });
  }

  /** The runtime driver a container runs under (exec uses it). */
  runtimeOf(r: Row): RuntimeDriver {
    return this.#driver(r);
  }

  #driver(r: Row): RuntimeDriver {
    const d = this.#d.runtimes.get(r.runtime);
    if (!d)
      throw new BerthError(`runtime "${r.runtime}" of container ${r.id.slice(0, 12)} is not available on this host`);
    return d;
  }

  // ---- create ------------------------------------------------------------------------------------------

  async create(req: CreateRequest, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    const warnings: string[] = [];
    if (!req.Image) throw new InvalidArgumentError('config cannot be empty in order to create a container');
    const hc: HostConfig = { ...(req.HostConfig ?? {}) };
    validateHostConfig(hc);
    parseSecurityOpts(hc.SecurityOpt ?? []); // a bad option or seccomp profile fails the create, not the start
    const runtime = hc.Runtime || this.#d.defaultRuntime;
    if (!this.#d.runtimes.has(runtime)) throw new InvalidArgumentError(`unknown or invalid runtime name: ${runtime}`);
    hc.Runtime = runtime;
    const net = hc.NetworkMode || 'default';
    if (net.startsWith('container:')) {
      const other = this.get(net.slice('container:'.length));
      hc.NetworkMode = `container:${other.id}`;
    }
    if (hc.Init && !this.#d.initPath)
      throw new InvalidArgumentError('--init: no init binary (catatonit or tini) is installed on the host');
    const image = this.#d.images.resolve(req.Image);
    const img = await this.#d.images.load(image);
    const config = mergeImageConfig(req, img.config.config ?? {});
    config.Image = req.Image;
    const argv = commandLine(config);
    const cname = name
      ? validateName(name)
      : generateName((n) => this.#d.records.byName(n) !== undefined || this.#creating.has(n));
    const other = this.#d.records.byName(cname);
    if (other || this.#creating.has(cname)) {
      throw new ConflictError(
        `Conflict. The container name "/${cname}" is already in use${other ? ` by container "${other.id}"` : ''}. You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    // The name is held from here to the insert: creates running at once must not pick the same one.
    this.#creating.add(cname);
    try {
      const id = newContainerId();
      // Validates the network mode and endpoints (400 "network X not found") and records the endpoints.
      if (!net.startsWith('container:')) {
        let mode: string;
        try {
          mode = this.#d.networks.prepare(
            id,
            net,
            req.NetworkingConfig?.EndpointsConfig as Parameters<NetworkService['prepare']>[2],
            req.MacAddress,
          );
        } catch (err) {
          // Not a 404: the docker CLI takes any 404 from create for a missing image and would try to pull it.
          if (err instanceof NotFoundError) throw new InvalidArgumentError(err.message, { cause: err });
          throw err;
        }
        hc.NetworkMode = net === 'default' ? 'default' : mode;
      }
      // Whatever fails from here (a bind source, the snapshot, the name taken meanwhile) leaves nothing behind:
      // the endpoints just recorded, the snapshot, the container's directory.
      let inserted = false;
      try {
        if (!config.Hostname)
          config.Hostname =
            net === 'host'
              ? (await readFile('/etc/hostname', 'utf8').catch(() => 'localhost')).trim()
              : id.slice(0, 12);
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
          throw new ConflictError(
            `Conflict. The container name "/${cname}" is already in use. You have to remove (or rename) that container to be able to reuse that name.`,
          );
        }
        inserted = true;
        this.#d.events.publish('container', 'create', id, this.#attrs(row));
        return { Id: id, Warnings: warnings };
      } finally {
        if (!inserted) {
          await this.#d.networks.release(id).catch(() => {});
          await this.#d.snapshotter.remove(id).catch(() => {});
          await rm(this.dir(id), { recursive: true, force: true });
        }
      }
    } finally {
      this.#creating.delete(cname);
    }
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
      const propagation =
        b.modes.find((m) => /^r?(private|shared|slave)$/.test(m)) ?? (b.kind === 'bind' ? 'rprivate' : '');
      if (b.kind === 'bind') {
        // docker -v creates a missing host directory (unlike --mount type=bind).
        await mkdir(b.source, { recursive: true });
        add({
          Type: 'bind',
          Source: b.source,
          Destination: b.target,
          Mode: mode,
          RW: !b.readOnly,
          Propagation: propagation,
        });
      } else {
        const v = await this.#d.volumes.create(b.source ? { Name: b.source } : {});
        add({
          Type: 'volume',
          Name: v.Name,
          Source: v.Mountpoint,
          Destination: b.target,
          Driver: 'local',
          Mode: mode || 'z',
          RW: !b.readOnly,
          Propagation: '',
          ...(b.source ? {} : { Anonymous: true }),
        });
      }
    }
    for (const m of hc.Mounts ?? []) {
      if (m.Type === 'bind') {
        try {
          await stat(m.Source!);
        } catch {
          throw new InvalidArgumentError(
            `invalid mount config for type "bind": bind source path does not exist: ${m.Source}`,
          );
        }
        add({
          Type: 'bind',
          Source: m.Source!,
          Destination: m.Target,
          Mode: '',
          RW: !m.ReadOnly,
          Propagation: m.BindOptions?.Propagation ?? 'rprivate',
        });
      } else if (m.Type === 'volume') {
        const v = await this.#d.volumes.create({
          ...(m.Source ? { Name: m.Source } : {}),
          ...(m.VolumeOptions?.Labels ? { Labels: m.VolumeOptions.Labels } : {}),
          ...(m.VolumeOptions?.DriverConfig?.Options ? { DriverOpts: m.VolumeOptions.DriverConfig.Options } : {}),
        });
        add({
          Type: 'volume',
          Name: v.Name,
          Source: v.Mountpoint,
          Destination: m.Target,
          Driver: 'local',
          Mode: 'z',
          RW: !m.ReadOnly,
          Propagation: '',
          ...(m.Source ? {} : { Anonymous: true }),
        });
      } else if (m.Type === 'tmpfs') {
        const opts: string[] = [];
        if (m.TmpfsOptions?.SizeBytes) opts.push(`size=${m.TmpfsOptions.SizeBytes}`);
        if (m.TmpfsOptions?.Mode) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
        add({
          Type: 'tmpfs',
          Source: '',
          Destination: m.Target,
          Mode: '',
          RW: !m.ReadOnly,
          Propagation: '',
          TmpfsOptions: opts,
        });
      }
    }
    for (const [dest, o] of Object.entries(hc.Tmpfs ?? {})) {
      add({
        Type: 'tmpfs',
        Source: '',
        Destination: dest,
        Mode: o,
        RW: !o.split(',').includes('ro'),
        Propagation: '',
        TmpfsOptions: o ? o.split(',') : [],
      });
    }
    for (const dest of Object.keys(config.Volumes ?? {})) {
      if (taken.has(dest)) continue;
      const v = await this.#d.volumes.create({});
      add({
        Type: 'volume',
        Name: v.Name,
        Source: v.Mountpoint,
        Destination: dest,
        Driver: 'local',
        Mode: '',
        RW: true,
        Propagation: '',
        Anonymous: true,
      });
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
      if (r.state.Status === 'removing' || r.state.Status === 'dead')
        throw new ConflictError(`container ${r.id} is marked for removal and cannot be started`);
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
    let networked = false;
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
          mounts.push({
            type: 'tmpfs',
            destination: m.Destination,
            options: m.TmpfsOptions ?? [],
            ...(m.RW ? {} : { readonly: true }),
          });
          continue;
        }
        let source = m.Source;
        if (m.Type === 'volume') {
          source = await this.#d.volumes.acquire(m.Name!);
          acquired.push(m.Name!);
          await copyUp(join(rootfs, m.Destination), source);
        }
        mounts.push({
          type: 'bind',
          source,
          destination: m.Destination,
          ...(m.RW ? {} : { readonly: true }),
          ...(m.Propagation && m.Propagation !== 'rprivate' ? { propagation: m.Propagation as never } : {}),
        });
      }
      const netHost = hc.NetworkMode === 'host';
      networked = true;
      const { ns: netns, ready: netReady } = await this.#setUpNetwork(r);
      for (const [f, dest] of [
        ['hosts', '/etc/hosts'],
        ['hostname', '/etc/hostname'],
        ['resolv.conf', '/etc/resolv.conf'],
      ] as const) {
        if (!mounts.some((m) => m.destination === dest))
          mounts.push({
            type: 'bind',
            source: join(dir, f),
            destination: dest,
            ...(hc.ReadonlyRootfs ? { readonly: true } : {}),
          });
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
          ...(hc.ConsoleSize && hc.ConsoleSize[0] > 0
            ? { consoleSize: { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } }
            : {}),
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
        namespaces: {
          network: netns,
          ...(hc.PidMode === 'host' ? { pid: 'host' as const } : {}),
          ...(hc.IpcMode === 'host' ? { ipc: 'host' as const } : {}),
          ...(hc.UTSMode === 'host' ? { uts: 'host' as const } : {}),
        },
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
      // netavark ran while the runtime created the container; the process must not start before its network.
      await netReady;
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
      const state: ContainerState = {
        ...r.state,
        Status: 'running',
        Pid: pid,
        ExitCode: 0,
        Error: '',
        StartedAt: new Date().toISOString(),
        FinishedAt: ZERO_TIME,
        OOMKilled: false,
        StoppedByUser: false,
      };
      if (c.Healthcheck?.Test?.length && c.Healthcheck.Test[0] !== 'NONE')
        state.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
      this.#d.records.setState(r.id, state);
      this.#d.events.publish('container', 'start', r.id, this.#attrs(r));
      this.#watch(r.id, driver);
      if (state.Health) this.#health.schedule(r.id, true);
    } catch (err) {
      if (created) await driver.delete(r.id, { force: true }).catch(() => {});
      if (networked) await this.#d.networks.tearDown(r.id).catch(() => {});
      for (const v of acquired) await this.#d.volumes.release(v).catch(() => {});
      if (mounted) await unmountAll(rootfs, { detach: true }).catch(() => {});
      const message = errorMessage(err);
      const code = /executable file not found|no such file or directory/i.test(message)
        ? 127
        : /permission denied/i.test(message)
          ? 126
          : 128;
      this.#d.records.setState(r.id, {
        ...r.state,
        Status: r.state.Status === 'created' ? 'created' : 'exited',
        ExitCode: code,
        Error: message,
        Pid: 0,
      });
      for (const give of this.#pendingAttach.get(r.id) ?? []) give(err as Error);
      this.#pendingAttach.delete(r.id);
      this.#resolveWaiters(r.id, 'next-exit', code, message);
      // As dockerd: a --rm container whose start failed is removed (and `wait?condition=removed` returns).
      if (r.hostConfig.AutoRemove)
        await this.#removeLocked({ ...r, state: { ...r.state, ExitCode: code } }, { volumes: true }).catch(() => {});
      if (err instanceof BerthError && err.code !== 'INTERNAL') throw err;
      // The runtime's own words: "exec: "x": executable file not found in $PATH" → the CLI maps it to 127.
      throw new InvalidArgumentError(`failed to create task for container: ${message}`, { cause: err });
    }
  }

  /**
   * The container's network, before the runtime creates it: namespace, interfaces and published ports through the
   * network service, then hosts, hostname and resolv.conf in the container's directory. Returns the spec's network
   * namespace. `container:X` joins X's namespace and shares its files, as Docker.
   */
  async #setUpNetwork(r: Row): Promise<{ ns: 'host' | 'none' | { path: string }; ready: Promise<void> }> {
    const dir = this.dir(r.id);
    const c = r.config.Config;
    const hc = r.hostConfig;
    const mode = hc.NetworkMode || 'default';
    const hostname = c.Hostname ?? r.id.slice(0, 12);
    await writeFile(join(dir, 'hostname'), `${hostname}\n`);
    if (mode.startsWith('container:')) {
      const other = this.#d.records.get(mode.slice('container:'.length));
      if (!other || (other.state.Status !== 'running' && other.state.Status !== 'paused')) {
        throw new ConflictError(
          `cannot join network of a non running container: ${other?.id ?? mode.slice('container:'.length)}`,
        );
      }
      for (const f of ['hosts', 'resolv.conf'])
        await writeFile(join(dir, f), await readFile(join(this.dir(other.id), f)).catch(() => ''));
      if (other.hostConfig.NetworkMode === 'host') return { ns: 'host', ready: Promise.resolve() };
      return {
        ns: { path: this.#d.networks.sandboxPath(other.id) ?? `/proc/${other.state.Pid}/ns/net` },
        ready: Promise.resolve(),
      };
    }
    const sb = await this.#d.networks.setUp({
      id: r.id,
      name: r.name,
      hostname,
      ...(c.Domainname ? { domainname: c.Domainname } : {}),
      networkMode: mode === 'default' ? 'bridge' : mode,
      portBindings: hc.PortBindings ?? null,
      publishAll: hc.PublishAllPorts ?? false,
      exposedPorts: Object.keys(c.ExposedPorts ?? {}),
      dns: hc.Dns ?? null,
      dnsSearch: hc.DnsSearch ?? null,
      dnsOptions: hc.DnsOptions ?? null,
      extraHosts: hc.ExtraHosts ?? null,
      hostsFile: join(dir, 'hosts'),
      early: true,
    });
    const ready = sb.ready ?? Promise.resolve();
    ready.catch(() => {}); // awaited by the caller; a failure before that must not be an unhandled rejection
    await writeFile(join(dir, 'hosts'), sb.hosts);
    await writeFile(join(dir, 'resolv.conf'), sb.resolvConf);
    return { ns: mode === 'host' ? 'host' : sb.netns ? { path: sb.netns } : 'none', ready };
  }

  /** Container inspect's `NetworkSettings` (addresses while it runs, published ports). */
  networkSettings(r: Row): NetworkSettings {
    const mode = r.hostConfig.NetworkMode || 'default';
    const s = this.#d.networks.settings(r.id, mode, Object.keys(r.config.Config.ExposedPorts ?? {}));
    if (mode.startsWith('container:')) s.Networks = {};
    return s;
  }

  /** Follows a running container until it exits (also after a daemon restart: conmon's exit file is kept). */
  #watch(id: string, driver: RuntimeDriver): void {
    this.#watching.get(id)?.abort();
    const ac = new AbortController();
    this.#watching.set(id, ac);
    driver.waitExit(id, { signal: ac.signal }).then(
      (status) => {
        if (this.#watching.get(id) === ac) this.#watching.delete(id);
        void this.#lock
          .run(id, () => this.#onExit(id, status))
          .catch((err) =>
            this.#d.log?.warn(`container ${id.slice(0, 12)}: exit handling failed: ${errorMessage(err)}`),
          );
      },
      () => {
        /* aborted: removed, or the daemon is stopping */
      },
    );
  }

  async #onExit(id: string, status: ExitStatus): Promise<void> {
    const r = this.#d.records.get(id);
    if (!r || (r.state.Status !== 'running' && r.state.Status !== 'paused')) return;
    this.#health.cancel(id);
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
    await this.#d.networks.tearDown(r.id, { background: true });
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
          if (cur?.state.Status !== 'restarting') return;
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
    if (cur.state.Status !== 'running' && cur.state.Status !== 'paused')
      throw new NotModifiedError(`container ${r.id} is not running`);
    this.#d.records.setState(r.id, { ...cur.state, StoppedByUser: true });
    const driver = this.#driver(r);
    const sig = opts.signal || r.config.Config.StopSignal || 'SIGTERM';
    const timeout = opts.timeout ?? r.config.Config.StopTimeout ?? 10;
    const exited = this.wait(r.id, 'not-running');
    if (cur.state.Status === 'paused') await driver.resume(r.id).catch(() => {});
    await driver.kill(r.id, sig).catch(() => {});
    if (timeout >= 0) {
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((res) => setTimeout(() => res(true), timeout * 1000).unref()),
      ]);
      if (timedOut) await driver.kill(r.id, 'SIGKILL', { all: true }).catch(() => {});
    }
    await exited;
    this.#d.events.publish('container', 'stop', r.id, this.#attrs(r));
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const r = this.get(ref);
    if (r.state.Status !== 'running' && r.state.Status !== 'paused')
      throw new ConflictError(`Cannot kill container: ${ref}: container ${r.id} is not running`);
    const sig = /^\d+$/.test(signal)
      ? Number(signal)
      : signal.toUpperCase().startsWith('SIG')
        ? signal.toUpperCase()
        : `SIG${signal.toUpperCase()}`;
    if (sig === 'SIGKILL' || sig === 9) this.#d.records.setState(r.id, { ...r.state, StoppedByUser: true });
    await this.#driver(r).kill(r.id, sig);
    this.#d.events.publish(
      'container',
      'kill',
      r.id,
      this.#attrs(r, { signal: String(typeof sig === 'number' ? sig : sig.replace(/^SIG/, '')) }),
    );
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
      if (r.state.Status === 'restarting')
        this.#d.records.setState(r.id, { ...r.state, Status: 'exited', StoppedByUser: true });
    }
  }

  /** Docker's `/wait`. */
  wait(ref: string, condition: WaitCondition = 'not-running', signal?: AbortSignal): Promise<WaitResult> {
    const r = this.get(ref);
    if (
      condition === 'not-running' &&
      r.state.Status !== 'running' &&
      r.state.Status !== 'paused' &&
      r.state.Status !== 'restarting'
    ) {
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
        throw new ConflictError(
          `cannot remove container "/${r0.name}": container is ${r0.state.Status}: stop the container before removing or force remove`,
        );
      }
      this.#cancelRestart(r0);
      const cur = this.get(r0.id);
      if (cur.state.Status === 'running' || cur.state.Status === 'paused') {
        this.#d.records.setState(cur.id, { ...cur.state, StoppedByUser: true });
        const exited = this.wait(r0.id, 'not-running');
        await this.#driver(r0)
          .kill(r0.id, 'SIGKILL', { all: true })
          .catch(() => {});
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
    // A `cp` in progress has volumes mounted under the container's directory: detach them before anything is removed.
    await this.#files.detachViews(r.id);
    await this.#cleanupRuntime(r);
    await this.#d.snapshotter.remove(r.snapshot).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
    await rm(this.dir(r.id), { recursive: true, force: true });
    await this.#d.networks.release(r.id, { background: true });
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
        if (l)
          this.#pendingAttach.set(
            r.id,
            l.filter((g) => g !== give),
          );
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
    const follow =
      opts.follow && (r.state.Status === 'running' || r.state.Status === 'paused' || r.state.Status === 'restarting');
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

  async rename(ref: string, newName: string): Promise<void> {
    const r = this.get(ref);
    const name = validateName(newName);
    if (name === r.name) throw new ConflictError(`Renaming a container with the same name as its current name`);
    const other = this.#d.records.byName(name);
    if (other || !this.#d.records.rename(r.id, name)) {
      throw new ConflictError(
        `Conflict. The container name "/${name}" is already in use by container "${other?.id ?? ''}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    // Other containers on its user networks resolve the new name, as Docker's.
    await this.#d.networks
      .rename(r.id, name)
      .catch((err: unknown) =>
        this.#d.log?.warn(`rename ${r.id.slice(0, 12)}: DNS records keep the old name: ${errorMessage(err)}`),
      );
    this.#d.events.publish('container', 'rename', r.id, { ...this.#attrs({ ...r, name }), oldName: `/${r.name}` });
  }

  async top(ref: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const r = this.get(ref);
    if (r.state.Status !== 'running' && r.state.Status !== 'paused')
      throw new ConflictError(`Container ${r.id} is not running`);
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
      blkio_stats: s?.blkio ?? emptyBlkio(),
      num_procs: 0,
      storage_stats: {},
      name: `/${r.name}`,
      id: r.id,
    };
  }

  /**
   * `docker update`: new limits (and restart policy) for a container; a running one gets them at once through
   * the runtime (`runc update`), and they are kept for its next start.
   */
  async update(ref: string, u: Partial<HostConfig>): Promise<{ Warnings: string[] }> {
    const r = this.get(ref);
    const keys = [
      'Memory',
      'MemorySwap',
      'MemoryReservation',
      'CpuShares',
      'NanoCpus',
      'CpuPeriod',
      'CpuQuota',
      'CpusetCpus',
      'CpusetMems',
      'PidsLimit',
      'RestartPolicy',
    ] as const;
    const hc: HostConfig = { ...r.hostConfig };
    for (const k of keys) if (u[k] !== undefined && u[k] !== null) (hc as Record<string, unknown>)[k] = u[k];
    if (hc.NanoCpus && (u.CpuQuota || u.CpuPeriod)) delete hc.NanoCpus;
    validateHostConfig(hc);
    if (r.state.Status === 'running' || r.state.Status === 'paused') {
      const res = resolveResources(resourcesInput(hc), {
        swapAccounting: this.#d.host.swapAccounting ?? true,
        ...(this.#d.host.cpuCount ? { cpuCount: this.#d.host.cpuCount } : {}),
      });
      const { devices: _devices, ...limits } = res as SpecResourcesLike;
      void _devices;
      await this.#driver(r).update(r.id, limits);
    }
    this.#d.records.setHostConfig(r.id, hc);
    this.#d.events.publish('container', 'update', r.id, this.#attrs(r));
    return { Warnings: [] };
  }

  /**
   * `docker commit`: the container's changes as a new image (see `commitContainer`). The container is paused
   * meanwhile unless `pause` is false.
   */
  async commit(ref: string, o: CommitOptions): Promise<string> {
    const r = this.get(ref);
    const pause = (o.pause ?? true) && r.state.Status === 'running';
    if (pause) await this.pause(r.id);
    try {
      const id = await commitContainer(this.#d, r, o);
      this.#d.events.publish('container', 'commit', r.id, this.#attrs(r, { comment: o.comment ?? '', imageID: id }));
      return id;
    } finally {
      if (pause) await this.unpause(r.id).catch(() => {});
    }
  }

  /** `HEAD /containers/{id}/archive`: the stat of a path in the container. */
  archiveStat(ref: string, path: string): Promise<PathStat> {
    return this.#files.stat(this.get(ref), ref, path);
  }

  /** `GET /containers/{id}/archive`: a path of the container as a tar. */
  archiveGet(ref: string, path: string): Promise<{ stat: PathStat; tar: Buffer[] }> {
    return this.#files.get(this.get(ref), ref, path);
  }

  /** `PUT /containers/{id}/archive`: extracts a tar into a directory of the container. */
  archivePut(ref: string, path: string, tar: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    return this.#files.put(this.get(ref), ref, path, tar, signal);
  }

  /** `docker diff`: the container's changes against its image (overlay snapshotter only). */
  changes(ref: string): Promise<Change[]> {
    return this.#files.changes(this.get(ref));
  }

  /** `docker export`: the container's whole root filesystem as a tar stream. */
  export(ref: string): AsyncGenerator<PackEntry> {
    return this.#files.export(this.get(ref));
  }

  async prune(
    filters: { until?: number; labels?: string[] } = {},
  ): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
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
      await this.#files.detachViews(r.id).catch(() => {}); // views of a `cp` a crash interrupted
      if (r.state.Status === 'removing') {
        await this.#removeLocked(r, {}).catch(() => {});
        continue;
      }
      if (r.state.Status === 'running' || r.state.Status === 'paused') {
        if (!driver) {
          this.#d.records.setState(r.id, {
            ...r.state,
            Status: 'exited',
            ExitCode: 255,
            Error: `runtime ${r.runtime} is not available`,
            Pid: 0,
          });
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
          if (r.state.Health) this.#health.schedule(r.id, true);
          continue;
        }
        await this.#lock.run(r.id, () =>
          this.#onExit(r.id, exit ?? { exitCode: 255, exitedAt: new Date(), oomKilled: false, monitorLost: true }),
        );
        continue;
      }
      if (r.state.Status === 'restarting') {
        this.#d.records.setState(r.id, { ...r.state, Status: 'exited' });
      }
      const p = r.hostConfig.RestartPolicy?.Name;
      if ((p === 'always' || p === 'unless-stopped') && !r.state.StoppedByUser) {
        await this.start(r.id).catch((err) =>
          this.#d.log?.warn(`container ${r.id.slice(0, 12)}: restart at daemon start failed: ${errorMessage(err)}`),
        );
      }
    }
  }

  /** Stops following containers; they keep running under conmon. */
  close(): void {
    this.#closed = true;
    for (const ac of this.#watching.values()) ac.abort();
    this.#watching.clear();
    for (const t of this.#restartTimers.values()) clearTimeout(t);
    this.#health.close();
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

/**
 * `--security-opt` as the daemon receives it: `no-new-privileges[=true|false]`, `seccomp=unconfined`,
 * `seccomp=builtin`, or `seccomp=<profile JSON>` (the client reads the file and sends its content, as the docker CLI
 * does); label and apparmor options are accepted and have no effect here.
 */
function parseSecurityOpts(opts: readonly string[]): {
  noNewPrivileges: boolean;
  seccomp: 'default' | 'unconfined' | SeccompProfile;
} {
  let noNewPrivileges = false;
  let seccomp: 'default' | 'unconfined' | SeccompProfile = 'default';
  for (const o of opts) {
    const [k, v = ''] = o.includes('=')
      ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)]
      : o.includes(':')
        ? [o.slice(0, o.indexOf(':')), o.slice(o.indexOf(':') + 1)]
        : [o, ''];
    if (k === 'no-new-privileges') noNewPrivileges = v === '' || v === 'true';
    else if (k === 'seccomp') {
      if (v === 'unconfined') seccomp = 'unconfined';
      else if (v === 'builtin' || v === '') seccomp = 'default';
      else if (v.trimStart().startsWith('{')) {
        let profile: unknown;
        try {
          profile = JSON.parse(v);
        } catch (err) {
          throw new InvalidArgumentError(`Decoding seccomp profile failed: ${errorMessage(err)}`);
        }
        validateProfile(profile);
        seccomp = profile;
      } else
        throw new InvalidArgumentError(
          `seccomp profiles from files are read by the client: send the profile JSON in SecurityOpt, not the file name (seccomp=${v})`,
        );
    } else if (k === 'label' || k === 'apparmor') continue;
    else throw new InvalidArgumentError(`Invalid --security-opt: "${o}"`);
  }
  return { noNewPrivileges, seccomp };
}

async function resolveDevices(
  devs: readonly { PathOnHost: string; PathInContainer?: string; CgroupPermissions?: string }[],
) {
  const out = [];
  for (const d of devs) {
    let st;
    try {
      st = await stat(d.PathOnHost);
    } catch {
      throw new InvalidArgumentError(
        `error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`,
      );
    }
    const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
    if (!type)
      throw new InvalidArgumentError(
        `error gathering device information while adding custom device "${d.PathOnHost}": not a device node`,
      );
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
