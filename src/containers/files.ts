import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mountAll, unmountAll, unpackLayer, type Snapshotter } from '../snapshots/index.ts';
import { ForbiddenError, InvalidArgumentError, NotFoundError, NotImplementedError } from '../util/errors.ts';
import type { PathStat } from '../engine-api/containers.ts';
import type { ImageService } from '../images/index.ts';
import type { KeyedMutex } from '../util/lock.ts';
import { extract, pack, type PackEntry, type TarEntry } from '../util/tar/index.ts';
import {
  noOverwriteDirNonDir,
  pathEntries,
  pathStat,
  resolveCopyPath,
  tarError,
  treeEntries,
  upperChanges,
  type Change,
} from './archive.ts';
import { resolveInRoot } from '../util/rootpath.ts';
import type { Row } from './model.ts';
import { type ContainerSize, containerSize } from './size.ts';

/** What the file operations need of the container service. */
export interface FilesDeps {
  snapshotter: Snapshotter;
  images: ImageService;
  /** A container by ID, name or ID prefix (NotFound otherwise). */
  get(ref: string): Row;
  /** The container's directory; its root filesystem is mounted at `bundle/rootfs` below it. */
  dir(id: string): string;
  /** The container service's per-container lock: start and a mount of a stopped container's root exclude each other. */
  lock: KeyedMutex;
  /** The record as it is now (the state may have changed while waiting for the lock). */
  current(id: string): Row | undefined;
  /** The host files the container has at /etc/hosts, /etc/hostname and /etc/resolv.conf (its own or its peer's). */
  etcFiles(r: Row): { destination: string; source: string }[];
}

/** `PUT /archive`'s options. */
export interface PutOptions {
  /** Refuse to replace a directory by a non-directory or the reverse (the docker CLI always asks). */
  noOverwriteDirNonDir?: boolean;
  signal?: AbortSignal | undefined;
}

/** A container's root filesystem, mounted for as long as it is open. */
interface OpenRootfs {
  path: string;
  close(): Promise<void>;
}

type MountPointLike = Row['config']['Mounts'][number];

/**
 * The container's files seen from outside: `docker cp` (archive stat, get and put), `export` and `diff`.
 * A running container's root is already mounted; a stopped one's is mounted at its usual place for the time of the
 * operation, holding the container's lock so that a start waits for it.
 */
export class ContainerFiles {
  readonly #d: FilesDeps;

  constructor(deps: FilesDeps) {
    this.#d = deps;
  }

  /**
   * Opens the container's root filesystem: for a running (or paused) container, its mount; for a stopped one, its
   * snapshot mounted under the container's lock until `close()`.
   */
  async #open(r: Row): Promise<OpenRootfs> {
    const path = join(this.#d.dir(r.id), 'bundle', 'rootfs');
    if (isLive(r)) return { path, close: async () => {} };
    const release = await this.#d.lock.acquire(r.id);
    try {
      const cur = this.#d.current(r.id);
      if (!cur) throw new NotFoundError(`No such container: ${r.id}`);
      // Started while we waited for the lock: its root is mounted, and stays so while it runs.
      if (isLive(cur)) {
        release();
        return { path, close: async () => {} };
      }
      await mkdir(path, { recursive: true });
      mountAll(await this.#d.snapshotter.mounts(r.snapshot), path);
    } catch (err) {
      release();
      throw err;
    }
    return {
      path,
      close: async () => {
        try {
          await unmountAll(path, { detach: true });
        } finally {
          release();
        }
      },
    };
  }

  /**
   * The container's files as `docker cp` sees them, as Docker does: its root filesystem with its volumes and bind
   * mounts on top, and its /etc/hosts, /etc/hostname and /etc/resolv.conf (made at create, so that a container not
   * started yet has them too); tmpfs mounts live in the container's own mount namespace and are not seen. The mounts
   * are made on a private view of the root (`containers/<id>/view-*`), never on the root the container runs in.
   */
  async #openWithMounts(r: Row): Promise<OpenRootfs> {
    const root = await this.#open(r);
    const user = r.config.Mounts.filter((m) => m.Type !== 'tmpfs');
    const etc = [];
    for (const f of this.#d.etcFiles(r))
      if (!user.some((m) => m.Destination === f.destination) && (await stat(f.source).catch(() => undefined)))
        etc.push({ Destination: f.destination, Source: f.source, RW: !r.hostConfig.ReadonlyRootfs });
    const binds = [...user, ...etc].sort((a, b) => depth(a.Destination) - depth(b.Destination));
    if (binds.length === 0) return root;
    const view = join(this.#d.dir(r.id), `view-${randomBytes(6).toString('hex')}`);
    let mounted = false;
    const close = async () => {
      try {
        // A lazy unmount takes the view and everything mounted below it.
        if (mounted) await unmountAll(view, { detach: true });
        await rmdir(view).catch(() => {});
      } finally {
        await root.close();
      }
    };
    try {
      await mkdir(view);
      mountAll([{ type: 'bind', source: root.path, options: ['bind', 'private'] }], view);
      mounted = true;
      for (const m of binds) {
        const source = await stat(m.Source).catch(() => undefined);
        if (!source) continue;
        const target = await resolveInRoot(view, m.Destination, { followLast: false });
        if (source.isDirectory()) await mkdir(target, { recursive: true });
        else {
          await mkdir(dirname(target), { recursive: true });
          await writeFile(target, '', { flag: 'a' });
        }
        mountAll([{ type: 'bind', source: m.Source, options: ['rbind', 'private', ...(m.RW ? [] : ['ro'])] }], target);
      }
    } catch (err) {
      await close();
      throw err;
    }
    return { path: view, close };
  }

  async #withRootfs<T>(r: Row, fn: (rootfs: string) => Promise<T>): Promise<T> {
    const root = await this.#openWithMounts(r);
    try {
      return await fn(root.path);
    } finally {
      await root.close();
    }
  }

  /**
   * Detaches the views `cp` mounted for a container (lazily: a copy in progress finishes on the detached tree).
   * Called before the container's directory is removed, so that removing it cannot reach into a volume or a bind
   * source, and at daemon start for views a crash left mounted.
   */
  async detachViews(id: string): Promise<void> {
    const dir = this.#d.dir(id);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith('view-'));
    if (names.length === 0) return;
    // Every mount at or below a view, outermost first (a lazy unmount takes what is below with it).
    const mounted = (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .map((l) =>
        (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
      )
      .filter((p) => names.some((n) => p === join(dir, n) || p.startsWith(`${join(dir, n)}/`)))
      .sort((a, b) => a.length - b.length);
    for (const p of mounted) await unmountAll(p, { detach: true });
    for (const n of names) await rmdir(join(dir, n)).catch(() => {});
  }

  /** `HEAD /containers/{id}/archive`: the stat of a path in the container. */
  stat(ref: string, path: string): Promise<PathStat> {
    return this.#withRootfs(this.#d.get(ref), async (root) => {
      const host = await resolveCopyPath(root, path);
      try {
        return await pathStat(host, posixBase(path));
      } catch {
        throw new NotFoundError(`Could not find the file ${path} in container ${ref}`);
      }
    });
  }

  /** `GET /containers/{id}/archive`: a path of the container as a tar (read whole while the root is mounted). */
  get(ref: string, path: string): Promise<{ stat: PathStat; tar: Buffer[] }> {
    return this.#withRootfs(this.#d.get(ref), async (root) => {
      const host = await resolveCopyPath(root, path);
      let st: PathStat;
      try {
        st = await pathStat(host, posixBase(path));
      } catch {
        throw new NotFoundError(`Could not find the file ${path} in container ${ref}`);
      }
      const chunks: Buffer[] = [];
      for await (const c of pack(pathEntries(host, st.name))) chunks.push(c);
      return { stat: st, tar: chunks };
    });
  }

  /**
   * `PUT /containers/{id}/archive`: extracts a tar into a directory of the container. The directory is resolved in
   * the container's root with every link followed (the last one too: a link to a directory, absolute, relative or
   * climbing with `..`, names the directory it points to inside the container), as dockerd does; a link that leads
   * nowhere is "not found", a file "not a directory". Nothing is reported done that was not.
   */
  async put(ref: string, path: string, tar: AsyncIterable<Uint8Array>, o: PutOptions = {}): Promise<void> {
    const r = this.#d.get(ref);
    await this.#withRootfs(r, async (root) => {
      const host = await resolveInRoot(root, path, { followLast: true });
      const st = await lstat(host).catch(() => undefined);
      if (!st) throw new NotFoundError(`Could not find the file ${path} in container ${ref}`);
      if (!st.isDirectory()) throw new InvalidArgumentError('extraction point is not a directory');
      // As Docker: a read-only root still takes files into a writable volume; a read-only volume takes none.
      const inside = host.slice(root.length) || '/';
      const m = mountOf(r.config.Mounts, inside);
      if (m && !m.RW) throw new ForbiddenError('mounted volume is marked read-only');
      if (!m && r.hostConfig.ReadonlyRootfs) throw new ForbiddenError('container rootfs is marked read-only');
      let entries: AsyncIterable<TarEntry> = extract(tar, o.signal ? { signal: o.signal } : {});
      if (o.noOverwriteDirNonDir) entries = noOverwriteDirNonDir(entries, host, inside);
      try {
        await unpackLayer(host, entries, { whiteouts: 'delete', signal: o.signal });
      } catch (err) {
        throw tarError(err);
      }
    });
  }

  /** `docker export`: the container's whole root filesystem (not its volumes) as tar entries. */
  async *export(ref: string): AsyncGenerator<PackEntry> {
    const root = await this.#open(this.#d.get(ref));
    try {
      yield* treeEntries(root.path);
    } finally {
      await root.close();
    }
  }

  /** `SizeRw` and `SizeRootFs` as dockerd reports them (size.ts). */
  size(r: Row): Promise<ContainerSize> {
    return containerSize(this.#d.snapshotter, this.#d.images, r);
  }

  /** `docker diff`: the container's changes against its image (overlay snapshotter only). */
  async changes(ref: string): Promise<Change[]> {
    const r = this.#d.get(ref);
    const mounts = await this.#d.snapshotter.mounts(r.snapshot);
    const m = mounts[0];
    const opt = (k: string) => m?.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
    let all: Change[];
    if (m?.type === 'overlay' && opt('upperdir'))
      all = await upperChanges(opt('upperdir')!, (opt('lowerdir') ?? '').split(':').filter(Boolean));
    else if (m?.type === 'bind' && this.#d.snapshotter.name === 'overlay') all = await upperChanges(m.source, []);
    else throw new NotImplementedError(`docker diff is not available with the ${this.#d.snapshotter.name} snapshotter`);
    // The runtime creates mount points (/etc/hosts, volume targets, ...) in the upper layer; Docker keeps those in
    // an init layer and does not report them, nor directories changed only because of them.
    const mountPoints = [...runtimeMountPoints(r)];
    const kept = all.filter(
      (c) => !(c.Kind === 1 && mountPoints.some((p) => c.Path === p || c.Path.startsWith(`${p}/`))),
    );
    return kept.filter(
      (c) =>
        c.Kind !== 0 ||
        !all.some((x) => x.Path.startsWith(`${c.Path}/`)) ||
        kept.some((x) => x.Path.startsWith(`${c.Path}/`)),
    );
  }
}

/** Paths the runtime mounts over (and so creates in the upper layer): left out of `diff` and `commit`. */
export function runtimeMountPoints(r: Row): Set<string> {
  return new Set([
    '/etc/hosts',
    '/etc/hostname',
    '/etc/resolv.conf',
    '/dev',
    '/proc',
    '/sys',
    ...r.config.Mounts.map((x) => x.Destination),
  ]);
}

/** The bind or volume mount that holds `path` (a container path), the deepest one if they nest. */
function mountOf(mounts: readonly MountPointLike[], path: string): MountPointLike | undefined {
  let best: MountPointLike | undefined;
  for (const m of mounts) {
    if (m.Type === 'tmpfs') continue;
    const d = m.Destination.replace(/\/+$/, '') || '/';
    if ((path === d || path.startsWith(d === '/' ? '/' : `${d}/`)) && (!best || depth(d) > depth(best.Destination)))
      best = m;
  }
  return best;
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

function isLive(r: Row): boolean {
  return r.state.Status === 'running' || r.state.Status === 'paused';
}

function posixBase(p: string): string {
  const parts = p.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? '/';
}
