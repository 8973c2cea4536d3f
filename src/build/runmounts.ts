/**
 * `RUN --mount`: what each mount shows the step's process, prepared on the host before it runs and released after.
 * - bind: a path of the context (default) or of a stage's or an image's root, read-only unless `rw` (then a copy,
 *   so the writes are thrown away, as BuildKit does);
 * - cache: a directory kept between builds by id (`<data-root>/build/cache/<id>`); `sharing=shared` lets steps
 *   use it at once, `locked` makes them wait for each other, `private` gives a step that finds it in use a fresh
 *   directory of its own;
 * - tmpfs: a tmpfs of `size`;
 * - secret: a file of the build's secrets (`berth build --secret`), at `/run/secrets/<id>` or `target`, mode 0400
 *   unless `mode`, or an environment variable with `env=`; a missing secret is an error when `required`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chown, cp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { BuildCacheRecords } from '../metadata/index.ts';
import type { MountInput } from '../runtime/index.ts';
import { InvalidArgumentError, NotFoundError, NotImplementedError } from '../util/errors.ts';
import { KeyedMutex } from '../util/lock.ts';
import type { Mount } from '../dockerfile/index.ts';
import { resolveInRoot } from '../util/rootpath.ts';

export interface PreparedMounts {
  mounts: MountInput[];
  env: string[];
  /** Mount targets the runtime may create in the root (taken out of the layer). */
  stubs: string[];
  release(): Promise<void>;
}

export interface MountSources {
  /** The host root a bind mount reads (the context's directory, a stage's or an image's mounted root). */
  root(m: Mount): Promise<string>;
  secrets: ReadonlyMap<string, Buffer>;
  /** A scratch directory of this step. */
  tmpDir: string;
}

/** The cache mounts' directories, their use counts and locks. */
export class CacheMounts {
  readonly #root: string;
  readonly #records: BuildCacheRecords;
  readonly #inUse = new Map<string, number>();
  readonly #locks = new KeyedMutex();

  constructor(root: string, records: BuildCacheRecords) {
    this.#root = root;
    this.#records = records;
  }

  /** The directory of a cache id, made on first use (owned and moded as the mount asks). */
  async acquire(m: Mount, tmpDir: string): Promise<{ path: string; release: () => Promise<void> }> {
    const id = m.id !== '' ? m.id : m.target;
    const sharing = m.sharing === '' ? 'shared' : m.sharing;
    const name = createHash('sha256').update(id).digest('hex').slice(0, 32);
    const path = join(this.#root, name);
    let unlock: (() => void) | undefined;
    if (sharing === 'locked') unlock = await this.#locks.acquire(name);
    else if (sharing === 'private' && (this.#inUse.get(name) ?? 0) > 0) {
      const own = join(tmpDir, `cache-${randomBytes(6).toString('hex')}`);
      await this.#make(own, m);
      return { path: own, release: () => rm(own, { recursive: true, force: true }) };
    }
    this.#inUse.set(name, (this.#inUse.get(name) ?? 0) + 1);
    try {
      const created = await this.#make(path, m);
      const now = Date.now();
      const prev = this.#records.getDir('exec.cachemount', name);
      this.#records.putDir({
        kind: 'exec.cachemount',
        id: name,
        path,
        size: prev?.size ?? 0,
        created: created || !prev ? now : prev.created,
        lastUsed: now,
        usageCount: (prev?.usageCount ?? 0) + 1,
        description: `mount / from exec ${id} (sharing=${sharing})`,
      });
    } catch (err) {
      this.#inUse.set(name, (this.#inUse.get(name) ?? 1) - 1);
      unlock?.();
      throw err;
    }
    return {
      path,
      release: async () => {
        this.#inUse.set(name, (this.#inUse.get(name) ?? 1) - 1);
        unlock?.();
      },
    };
  }

  async #make(path: string, m: Mount): Promise<boolean> {
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (exists) return false;
    await mkdir(path, { recursive: true, mode: m.mode ?? 0o755 });
    await chown(path, m.uid ?? 0, m.gid ?? 0);
    return true;
  }
}

/** Prepares the step's mounts; on failure, whatever was prepared is released. */
export async function prepareMounts(
  mounts: readonly Mount[],
  src: MountSources,
  caches: CacheMounts,
): Promise<PreparedMounts> {
  const out: PreparedMounts = { mounts: [], env: [], stubs: [], release: async () => {} };
  const releases: (() => Promise<void>)[] = [];
  out.release = async () => {
    for (const r of releases.reverse()) await r().catch(() => {});
  };
  try {
    for (const m of mounts) {
      const target = m.target !== '' ? posix.resolve('/', m.target) : '';
      switch (m.type) {
        case 'bind': {
          const root = await src.root(m);
          let source = await resolveInRoot(root, m.source || '/');
          await stat(source).catch(() => {
            throw new NotFoundError(`failed to mount ${target}: ${m.source || '/'}: not found`);
          });
          if (!m.readOnly) {
            const copy = join(src.tmpDir, `bind-${randomBytes(6).toString('hex')}`);
            await cp(source, copy, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
            releases.push(() => rm(copy, { recursive: true, force: true }));
            source = copy;
          }
          out.mounts.push({ type: 'bind', source, destination: target, ...(m.readOnly ? { readonly: true } : {}) });
          out.stubs.push(target);
          break;
        }
        case 'cache': {
          const c = await caches.acquire(m, src.tmpDir);
          releases.push(c.release);
          out.mounts.push({
            type: 'bind',
            source: c.path,
            destination: target,
            ...(m.readOnly ? { readonly: true } : {}),
          });
          out.stubs.push(target);
          break;
        }
        case 'tmpfs':
          out.mounts.push({ type: 'tmpfs', destination: target, ...(m.sizeLimit > 0 ? { size: m.sizeLimit } : {}) });
          out.stubs.push(target);
          break;
        case 'secret': {
          const id = m.id !== '' ? m.id : posix.basename(m.target);
          const data = src.secrets.get(id);
          if (data === undefined) {
            if (m.required) throw new InvalidArgumentError(`secret ${id}: not provided`);
            break;
          }
          if (m.env !== undefined && m.target === '') {
            out.env.push(`${m.env}=${data.toString('utf8')}`);
            break;
          }
          if (m.env !== undefined) out.env.push(`${m.env}=${data.toString('utf8')}`);
          const file = join(src.tmpDir, `secret-${randomBytes(6).toString('hex')}`);
          await writeFile(file, data, { mode: m.mode ?? 0o400 });
          await chown(file, m.uid ?? 0, m.gid ?? 0);
          releases.push(() => rm(file, { force: true }));
          const dest = target !== '' ? target : `/run/secrets/${id}`;
          out.mounts.push({ type: 'bind', source: file, destination: dest, readonly: true });
          out.stubs.push(dest);
          break;
        }
        case 'ssh':
          throw new NotImplementedError('RUN --mount=type=ssh is not supported (no SSH agent is forwarded)');
      }
    }
  } catch (err) {
    await out.release();
    throw err;
  }
  return out;
}
