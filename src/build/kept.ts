/**
 * Kept contexts (a Berth addition for `berth build`): the daemon keeps the last context a client sent for a
 * directory, with each entry's metadata and tarsum, so the next build of that directory sends only what changed.
 *
 * 1. `plan(id, manifest)`: the client lists every entry of its context (path, type, mode, size, mtime, link);
 *    the answer names the files and links whose content the kept copy lacks (new, or any of those changed).
 * 2. `receive(id, body)`: the client sends a tar whose first entry is that manifest (`MANIFEST_NAME`), then the
 *    entries asked for (and every directory). Sent files replace the kept ones by rename (a new inode, so a layer
 *    that linked or copied the old one is untouched); entries the manifest no longer lists are deleted; the others
 *    keep their sums. The context is then the kept directory itself, used by one build at a time.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lutimes, mkdir, readFile, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BuildCacheRecords } from '../metadata/index.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import { KeyedMutex } from '../util/lock.ts';
import { extract } from '../util/tar/index.ts';
import { entryHash } from './cachekey.ts';
import { BuildContext, type ContextEntry, contextName } from './context.ts';
import { openArchive } from './decompress.ts';

export const MANIFEST_NAME = '.berth-context-manifest.json';

/** One entry of a client's context, as it describes it. */
export interface ManifestEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  /** Milliseconds since the epoch, as `lstat` gives it; `ctime` tells a change that kept the mtime. */
  mtime: number;
  ctime?: number;
  linkname?: string;
}

interface Indexed extends ManifestEntry {
  sum: string;
}

export class KeptContexts {
  readonly #root: string;
  readonly #records: BuildCacheRecords;
  readonly #locks = new KeyedMutex();

  constructor(root: string, records: BuildCacheRecords) {
    this.#root = root;
    this.#records = records;
  }

  #dir(id: string): string {
    if (!/^[0-9a-f]{16,64}$/.test(id)) throw new InvalidArgumentError(`invalid context ID "${id}"`);
    return join(this.#root, id);
  }

  async #index(id: string): Promise<Map<string, Indexed>> {
    try {
      const list = JSON.parse(await readFile(join(this.#dir(id), 'index.json'), 'utf8')) as Indexed[];
      return new Map(list.map((e) => [e.path, e]));
    } catch {
      return new Map();
    }
  }

  /** The paths whose content the kept copy of context `id` lacks. */
  async plan(id: string, manifest: readonly ManifestEntry[]): Promise<string[]> {
    const index = await this.#index(id);
    return manifest
      .filter((m) => m.type !== 'directory')
      .filter((m) => {
        const k = index.get(contextName(m.path));
        return (
          !k ||
          k.type !== m.type ||
          k.mode !== m.mode ||
          k.size !== m.size ||
          k.mtime !== m.mtime ||
          (k.ctime ?? 0) !== (m.ctime ?? 0) ||
          (k.linkname ?? '') !== (m.linkname ?? '')
        );
      })
      .map((m) => m.path);
  }

  /**
   * Takes context `id` for one build: applies the body (manifest, then the entries sent) to the kept copy and
   * returns it with a release to call when the build is done.
   */
  async receive(
    id: string,
    body: AsyncIterable<Uint8Array>,
    opts: { signal?: AbortSignal; description?: string } = {},
  ): Promise<{ context: BuildContext; release: () => void }> {
    const dir = this.#dir(id);
    const release = await this.#locks.acquire(id);
    try {
      const files = join(dir, 'files');
      await mkdir(files, { recursive: true, mode: 0o700 });
      const old = await this.#index(id);
      const next = new Map<string, Indexed>();
      const { stream } = await openArchive(body);
      let manifest: Map<string, ManifestEntry> | undefined;
      const dirTimes: [string, number][] = [];
      for await (const e of extract(stream, opts.signal ? { signal: opts.signal } : {})) {
        const h = e.header;
        if (manifest === undefined) {
          if (h.name !== MANIFEST_NAME)
            throw new InvalidArgumentError(`a kept context's body starts with ${MANIFEST_NAME}`);
          const chunks: Buffer[] = [];
          for await (const c of e.body) chunks.push(c);
          const list = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ManifestEntry[];
          manifest = new Map(list.map((m) => [contextName(m.path), m]));
          continue;
        }
        const name = contextName(h.name);
        const m = manifest.get(name);
        if (!m || name === '' || h.name.split('/').includes('..'))
          throw new InvalidArgumentError(`context entry "${h.name}" is not in the manifest`);
        const path = join(files, name);
        await mkdir(dirname(path), { recursive: true });
        const hash = entryHash({
          name: h.name,
          mode: h.mode,
          uid: h.uid,
          gid: h.gid,
          size: h.type === 'file' ? h.size : 0,
          typeflag: h.type === 'file' ? '0' : h.type === 'directory' ? '5' : '2',
          linkname: h.linkname,
        });
        if (h.type === 'directory') {
          await mkdir(path, { recursive: true });
          await chmod(path, h.mode);
          dirTimes.push([path, h.mtime]);
        } else {
          const tmp = join(files, `.tmp-${randomBytes(8).toString('hex')}`);
          if (h.type === 'symlink') {
            await symlink(h.linkname, tmp);
            await lutimes(tmp, h.mtime, h.mtime).catch(() => {});
          } else if (h.type === 'file') {
            await pipeline(
              async function* () {
                for await (const c of e.body) {
                  hash.update(c);
                  yield c;
                }
              },
              createWriteStream(tmp, { mode: h.mode }),
            );
            await chmod(tmp, h.mode);
            await utimes(tmp, h.mtime, h.mtime);
          } else throw new InvalidArgumentError(`context entry "${h.name}": ${h.type} is not kept`);
          await rm(path, { recursive: true, force: true });
          await rename(tmp, path);
        }
        next.set(name, { ...m, path: name, sum: hash.digest('hex') });
      }
      if (!manifest) throw new InvalidArgumentError(`a kept context's body starts with ${MANIFEST_NAME}`);
      // what was not sent is kept as it was; what the manifest no longer lists goes
      for (const [name, m] of manifest) {
        if (next.has(name) || name === '') continue;
        const k = old.get(name);
        if (!k) throw new InvalidArgumentError(`context entry "${name}" was neither sent nor kept: send it again`);
        next.set(name, { ...m, path: name, sum: k.sum });
      }
      for (const name of [...old.keys()].sort().reverse()) {
        if (!next.has(name)) await rm(join(files, name), { recursive: true, force: true });
      }
      for (const [path, t] of dirTimes.reverse()) await utimes(path, t, t);
      const list = [...next.values()];
      await writeFile(join(dir, 'index.json.tmp'), JSON.stringify(list));
      await rename(join(dir, 'index.json.tmp'), join(dir, 'index.json'));
      const entries = new Map<string, ContextEntry>();
      let size = 0;
      for (const e of list) {
        entries.set(e.path, { type: e.type, sum: e.sum, linkname: e.linkname ?? '', size: e.size });
        if (e.type === 'file') size += e.size;
      }
      const now = Date.now();
      const prev = this.#records.getDir('source.local', id);
      this.#records.putDir({
        kind: 'source.local',
        id,
        path: dir,
        size,
        created: prev?.created ?? now,
        lastUsed: now,
        usageCount: (prev?.usageCount ?? 0) + 1,
        description: opts.description ?? 'kept build context',
      });
      return { context: new BuildContext(files, entries, size), release };
    } catch (err) {
      release();
      throw err;
    }
  }
}
