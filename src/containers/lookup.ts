import { join } from 'node:path';
import type { HostConfig } from '../engine-api/containers.ts';
import type { NetworkSettings } from '../engine-api/networks.ts';
import type { ImageService } from '../images/index.ts';
import type { ContainerRecords } from '../metadata/index.ts';
import type { Sandboxes } from '../network/index.ts';
import { type HostFacts, type LogEntry, type RuntimeDriver, resolveCapabilities } from '../runtime/index.ts';
import { BerthError, ConflictError, InvalidArgumentError, NotFoundError, NotImplementedError } from '../util/errors.ts';
import { type ListOptions, psPorts, selectContainers } from './filters.ts';
import { inspectLinks, linkNames, withoutLink } from './links.ts';
import { logPolicy } from './logdriver.ts';
import { containerLog } from './logs.ts';
import type { LogsOptions, Row, StoredConfig } from './model.ts';
import { networkPeer } from './start.ts';
import type { ContainerState } from './state.ts';
import { type StatsSample, statsSample } from './stats.ts';
import { type TopResult, top } from './top.ts';

export interface LookupDeps {
  dataRoot: string;
  records: ContainerRecords<StoredConfig, HostConfig, ContainerState>;
  images: ImageService;
  /** Each container's networking: endpoints recorded at create, set up before the runtime creates the container. */
  networks: Sandboxes;
  /** The runtimes that work on this host, by name. */
  runtimes: Map<string, RuntimeDriver>;
  host: HostFacts;
}

export const isLive = (r: Row): boolean => r.state.Status === 'running' || r.state.Status === 'paused';

/**
 * What is read of the containers without changing their state: a container by reference, the `ps` listing, links,
 * what uses an image or a volume, a container's directories, runtime and NetworkSettings, its log, processes and
 * stats. `ContainerService` (the state machine) extends it, so that its callers keep one object to ask.
 */
export class ContainerLookup {
  protected readonly deps: LookupDeps;

  constructor(deps: LookupDeps) {
    this.deps = deps;
  }

  /** By full ID, name (with or without '/'), or unique ID prefix. NotFound: `No such container: X`. */
  get(ref: string): Row {
    const r = this.deps.records.get(ref) ?? this.deps.records.byName(ref.startsWith('/') ? ref.slice(1) : ref);
    if (r) return r;
    if (/^[0-9a-f]+$/.test(ref)) {
      const found = this.deps.records.byIdPrefix(ref);
      if (found.length > 1) throw new InvalidArgumentError(`multiple IDs found with provided prefix: ${ref}`);
      if (found[0]) return found[0];
    }
    throw new NotFoundError(`No such container: ${ref}`);
  }

  /** `GET /containers/json`: the containers `ps` shows (only running ones unless `all`), newest first. */
  list(opts: ListOptions = { all: true }): Row[] {
    return selectContainers(this.deps.records.all(), opts, {
      container: (ref) => this.get(ref),
      imageId: (ref) => {
        try {
          return this.deps.images.resolve(ref).configDigest;
        } catch {
          return undefined;
        }
      },
      networks: (r) => this.deps.networks.attachments(r.id, r.hostConfig.NetworkMode || 'default'),
      ports: (r) => psPorts(this.networkSettings(r)),
    });
  }

  /** Inspect's `HostConfig.Links`: `/child:/parent/alias`. */
  links(r: Row): string[] | null {
    return inspectLinks(r, (id) => this.deps.records.get(id));
  }

  /** The link names (`/parent/alias`) each container has besides its own, for `ps`'s `Names`. */
  linkNames(): Map<string, string[]> {
    return linkNames(this.deps.records.all());
  }

  /** `DELETE /containers/PARENT/ALIAS?link=1`: removes a legacy link. */
  removeLink(name: string): void {
    const { parent, hostConfig } = withoutLink(name, (n) => this.deps.records.byName(n));
    this.deps.records.setHostConfig(parent.id, hostConfig);
  }

  /** Containers using an image, for rmi's conflict checks. */
  usingImage(imageId: string): { id: string; running: boolean }[] {
    return this.deps.records
      .usingImage(imageId)
      .map((r) => ({ id: r.id, running: isLive(r) || r.state.Status === 'restarting' }));
  }

  /** Containers using a named volume. */
  usingVolume(name: string): string[] {
    return this.deps.records
      .all()
      .filter((r) => r.config.Mounts.some((m) => m.Type === 'volume' && m.Name === name))
      .map((r) => r.id);
  }

  dir(id: string): string {
    return join(this.deps.dataRoot, 'containers', id);
  }

  logPath(id: string): string {
    return join(this.dir(id), 'ctr.log');
  }

  /**
   * The directory whose `hosts` and `resolv.conf` the container has at /etc: its own, or for `--network
   * container:X` X's (the files are shared, as Docker's).
   */
  networkFilesDir(r: Row): string {
    return this.dir((networkPeer(r, (id) => this.deps.records.get(id)) ?? r).id);
  }

  /** Every capability the runtime on this host can grant: what `exec --privileged` gives. */
  allCapabilities(): string[] {
    return resolveCapabilities({
      privileged: true,
      ...(this.deps.host.capabilities ? { available: this.deps.host.capabilities } : {}),
    });
  }

  /** The runtime driver a container runs under. */
  runtimeOf(r: Row): RuntimeDriver {
    const d = this.deps.runtimes.get(r.runtime);
    if (!d)
      throw new BerthError(`runtime "${r.runtime}" of container ${r.id.slice(0, 12)} is not available on this host`);
    return d;
  }

  /** Container inspect's `NetworkSettings` (addresses while it runs, published ports). */
  networkSettings(r: Row): NetworkSettings {
    const mode = r.hostConfig.NetworkMode || 'default';
    const s = this.deps.networks.settings(r.id, mode, Object.keys(r.config.Config.ExposedPorts ?? {}));
    if (mode.startsWith('container:')) s.Networks = {};
    return s;
  }

  /** The container, if its log can be read: NotImplemented (dockerd's 501) for the `none` log driver. */
  readableLog(ref: string): Row {
    const r = this.get(ref);
    if (logPolicy(r.hostConfig).driver === 'none')
      throw new NotImplementedError('configured logging driver does not support reading');
    return r;
  }

  /**
   * The container's log, oldest first; with `follow`, until it exits. NotImplemented at once (before anything is
   * read) when its log driver keeps nothing (`none`), as dockerd's 501.
   */
  logs(ref: string, opts: LogsOptions = {}): AsyncGenerator<LogEntry> {
    const r = this.readableLog(ref);
    return containerLog(r, this.logPath(r.id), this.runtimeOf(r), (id) => this.deps.records.get(id), opts);
  }

  /** `docker top`: the host's `ps` with `psArgs` (default `-ef`) over the container's processes (top.ts). */
  async top(ref: string, psArgs = ''): Promise<TopResult> {
    const r = this.get(ref);
    if (!isLive(r)) throw new ConflictError(`Container ${r.id} is not running`);
    return top(await this.runtimeOf(r).ps(r.id), psArgs);
  }

  /** One stats sample (`docker stats`); `previous` gives the "pre" CPU counters, so that the CLI computes CPU %. */
  stats(ref: string, previous?: StatsSample): Promise<StatsSample> {
    const r = this.get(ref);
    const mode = r.hostConfig.NetworkMode || 'default';
    const ownNetwork = mode !== 'host' && mode !== 'none' && !mode.startsWith('container:');
    return statsSample({ id: r.id, name: r.name, running: isLive(r), pid: r.state.Pid, ownNetwork }, previous);
  }
}
