import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { VolumeRecord, VolumeRecords } from '../metadata/index.ts';
import { mount, umount2, MNT_DETACH } from '../sys/index.ts';
import { ConflictError, InvalidArgumentError, NotFoundError, isErrno } from '../util/errors.ts';
import { matchLabel } from '../util/labels.ts';
import type { EventLog } from '../util/events.ts';
import type { Volume, VolumeCreateRequest, VolumePruneReport } from '../engine-api/volumes.ts';
import type { DiskUsageVolume } from '../engine-api/system.ts';

export interface VolumeServiceDeps {
  /** The data root: volumes live in `<root>/volumes/<name>/_data`. */
  root: string;
  records: VolumeRecords;
  events: EventLog;
  /** IDs of the containers using a volume; filled in by the containers service. */
  usedBy?: (name: string) => string[];
}

/** `POST /volumes/create`'s body. */
export type CreateVolumeOptions = VolumeCreateRequest;

/** The filters `list` takes (`GET /volumes`). */
export const VOLUME_LIST_FILTERS: readonly string[] = ['dangling', 'driver', 'label', 'name'];
/** The filters `prune` takes (`POST /volumes/prune`). */
export const VOLUME_PRUNE_FILTERS: readonly string[] = ['label', 'label!', 'all'];

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const LOCAL_OPTS = new Set(['type', 'device', 'o', 'size']);
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** Docker's RFC 3339 with the local offset, as `docker volume inspect` shows it. */
function rfc3339(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const pad = (n: number) => String(Math.abs(n)).padStart(2, '0');
  const local = new Date(ms + off * 60_000).toISOString().slice(0, 19);
  return `${local}${off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`}`;
}

/**
 * Named volumes with the `local` driver: a directory under the data root, or, with driver options
 * (`type`, `device`, `o`), a filesystem mounted there while a container uses it. The record is written before the
 * directory, so a crash leaves at worst a record whose directory `repair()` recreates; a directory without a
 * record is user data and is never deleted automatically.
 */
export class VolumeService {
  readonly #root: string;
  readonly #records: VolumeRecords;
  readonly #events: EventLog;
  readonly #usedBy: (name: string) => string[];
  readonly #mounted = new Map<string, number>();

  constructor(deps: VolumeServiceDeps) {
    this.#root = join(deps.root, 'volumes');
    this.#records = deps.records;
    this.#events = deps.events;
    this.#usedBy = deps.usedBy ?? (() => []);
  }

  #dir(name: string): string {
    return join(this.#root, name);
  }

  mountpoint(name: string): string {
    return join(this.#dir(name), '_data');
  }

  #toApi(v: VolumeRecord): Volume {
    return {
      CreatedAt: rfc3339(v.created),
      Driver: v.driver,
      Labels: Object.keys(v.labels).length ? v.labels : null,
      Mountpoint: this.mountpoint(v.name),
      Name: v.name,
      // dockerd gives back the DriverOpts it was given: `{}` stays `{}`, none is null.
      Options: v.options,
      Scope: 'local',
    };
  }

  async create(opts: CreateVolumeOptions = {}): Promise<Volume> {
    const anonymous = !opts.Name;
    const name = opts.Name || randomBytes(32).toString('hex');
    if (!NAME_RE.test(name)) {
      throw new InvalidArgumentError(
        `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    const driver = opts.Driver || 'local';
    if (driver !== 'local')
      throw new NotFoundError(
        `create ${opts.Name ?? ''}: error looking up volume plugin ${driver}: plugin "${driver}" not found`,
      );
    const options = opts.DriverOpts ?? null;
    for (const k of Object.keys(options ?? {}))
      if (!LOCAL_OPTS.has(k)) throw new InvalidArgumentError(`invalid option: "${k}"`);
    if (options?.type !== undefined && options.device === undefined)
      throw new InvalidArgumentError('missing required option: "device"');
    // dockerd logs a create event for every create that succeeds, of a volume that exists already too (a second
    // `volume create`, each container create that names the volume): clients watching events see the same.
    const existing = this.#records.get(name);
    if (existing) return this.#created(existing);
    const labels = { ...(opts.Labels ?? {}) };
    if (anonymous) labels[ANONYMOUS_LABEL] = '';
    const rec: VolumeRecord = { name, driver, options, labels, created: Date.now(), anonymous };
    if (!this.#records.put(rec)) return this.#created(this.#records.get(name)!);
    await mkdir(this.mountpoint(name), { recursive: true, mode: 0o755 });
    return this.#created(rec);
  }

  #created(v: VolumeRecord): Volume {
    this.#events.publish('volume', 'create', v.name, { driver: v.driver });
    return this.#toApi(v);
  }

  inspect(name: string): Volume {
    const v = this.#records.get(name);
    if (!v) throw new NotFoundError(`get ${name}: no such volume`);
    return this.#toApi(v);
  }

  list(filters: Map<string, string[]> = new Map()): Volume[] {
    const out: Volume[] = [];
    for (const v of this.#records.all()) {
      const dangling = filters.get('dangling');
      if (dangling) {
        const want = dangling.includes('true') || dangling.includes('1');
        if ((this.#usedBy(v.name).length === 0) !== want) continue;
      }
      const names = filters.get('name');
      if (names && !names.some((n) => v.name.includes(n))) continue;
      const drivers = filters.get('driver');
      if (drivers && !drivers.includes(v.driver)) continue;
      const labels = filters.get('label');
      if (labels && !labels.every((l) => matchLabel(v.labels, l))) continue;
      out.push(this.#toApi(v));
    }
    return out;
  }

  /** `system df`'s volumes: each with its size (bytes of its files) and how many containers use it. */
  async diskUsage(): Promise<DiskUsageVolume[]> {
    const out: DiskUsageVolume[] = [];
    for (const v of this.#records.all())
      out.push({
        ...this.#toApi(v),
        UsageData: { RefCount: this.#usedBy(v.name).length, Size: await dirSize(this.mountpoint(v.name)) },
      });
    return out;
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    const v = this.#records.get(name);
    if (!v) {
      if (opts.force) return;
      throw new NotFoundError(`get ${name}: no such volume`);
    }
    const users = this.#usedBy(name);
    if (users.length > 0) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    await this.#unmount(name, true);
    this.#records.delete(name);
    await rm(this.#dir(name), { recursive: true, force: true });
    this.#events.publish('volume', 'destroy', name, { driver: v.driver });
  }

  /**
   * `docker volume prune`: unused anonymous volumes, or with the filter `all=true` every unused volume, that pass
   * the `label` and `label!` filters (`key` or `key=value`).
   */
  async prune(filters: ReadonlyMap<string, readonly string[]> = new Map()): Promise<VolumePruneReport> {
    for (const k of filters.keys())
      if (!VOLUME_PRUNE_FILTERS.includes(k)) throw new InvalidArgumentError(`invalid filter '${k}'`);
    const all = (filters.get('all') ?? []).some((v) => v === 'true' || v === '1');
    const labels = filters.get('label') ?? [];
    const notLabels = filters.get('label!') ?? [];
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of this.#records.all()) {
      if (!all && !v.anonymous) continue;
      if (this.#usedBy(v.name).length > 0) continue;
      if (!labels.every((l) => matchLabel(v.labels, l)) || notLabels.some((l) => matchLabel(v.labels, l))) continue;
      reclaimed += await dirSize(this.mountpoint(v.name));
      await this.remove(v.name);
      deleted.push(v.name);
    }
    return { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }

  /**
   * Makes the volume's data directory ready for a container and returns its path: mounts the filesystem named
   * by its driver options on first use. Pair each call with `release`.
   */
  async acquire(name: string): Promise<string> {
    const v = this.#records.get(name);
    if (!v) throw new NotFoundError(`get ${name}: no such volume`);
    const path = this.mountpoint(name);
    const n = this.#mounted.get(name) ?? 0;
    if (n === 0 && v.options?.type !== undefined) {
      await mkdir(path, { recursive: true });
      const o = v.options.o ?? '';
      mount(v.options.device!, path, v.options.type, 0, o);
      this.#events.publish('volume', 'mount', name, { driver: v.driver });
    }
    this.#mounted.set(name, n + 1);
    return path;
  }

  async release(name: string): Promise<void> {
    const n = (this.#mounted.get(name) ?? 0) - 1;
    if (n > 0) {
      this.#mounted.set(name, n);
      return;
    }
    this.#mounted.delete(name);
    await this.#unmount(name, false);
  }

  async #unmount(name: string, quiet: boolean): Promise<void> {
    const v = this.#records.get(name);
    if (!v || v.options?.type === undefined) return;
    try {
      umount2(this.mountpoint(name), MNT_DETACH);
      if (!quiet) this.#events.publish('volume', 'unmount', name, { driver: v.driver });
    } catch (err) {
      if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOENT')) throw err;
    }
  }

  /** At start: recreates the directory of any record whose directory a crash lost. */
  async repair(): Promise<{ recreated: string[]; unknown: string[] }> {
    const recreated: string[] = [];
    const known = new Set<string>();
    for (const v of this.#records.all()) {
      known.add(v.name);
      try {
        await stat(this.mountpoint(v.name));
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        await mkdir(this.mountpoint(v.name), { recursive: true, mode: 0o755 });
        recreated.push(v.name);
      }
    }
    let dirs: string[] = [];
    try {
      dirs = await readdir(this.#root);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    return { recreated, unknown: dirs.filter((d) => !known.has(d)) };
  }
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else if (e.isFile() || e.isSymbolicLink()) total += (await lstat(p)).size;
  }
  return total;
}
