/**
 * COPY from the context, again: a step whose sources changed is a cache miss, but most of its files are often the
 * same as in the layer the previous build made at the same place (the same parent, the same instruction, other
 * sources). Each COPY layer leaves a record (`<work-root>/copies/<family>.json`): the layer's chain ID and, for
 * every file it holds, what it was made from (the context entry's tarsum, which covers name, mode, size and content)
 * and the header it was written with (mode, owner, time, size). The next COPY of the same family hard-links each
 * file whose record is the same from that layer's directory instead of writing it, and writes the rest.
 *
 * Why a link is safe there: a committed snapshot's directory is only ever a lower layer (overlay copies a file up
 * into the container's own upper directory before changing it), the new layer is written here while no mount uses
 * it and is committed at once, and a linked file's mode, owner and times are never set (they are already those the
 * record names). Nothing writes into either directory after that, so neither layer can change the other's files.
 *
 * The layer's blob is then not written at build time: its digest is that of the tar of the new directory (the
 * same walk makes the blob later, content/store.ts `Deferrer`), and the blob is made when something reads it.
 */
import { createHash } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshotter } from '../snapshots/index.ts';
import { coalesce } from '../util/chunks.ts';
import { Limit } from '../util/lock.ts';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { diffEntries } from './difftar.ts';
import { isOpaque, withLayerDir } from './layerblob.ts';

/** What the previous layer of a family holds: its chain ID and each file's record by its name in the layer. */
export interface CopyRecord {
  chainId: string;
  files: Map<string, string>;
}

/** A file entry's record: what the file was made from and the header it was written with. */
export function fileRecord(
  source: string,
  h: { mode?: number; uid?: number; gid?: number; mtime?: number; size?: number },
) {
  return `${source} ${h.mode ?? 0} ${h.uid ?? 0} ${h.gid ?? 0} ${Math.floor(h.mtime ?? 0)} ${h.size ?? 0}`;
}

export class CopyRecords {
  readonly #dir: string;
  constructor(workRoot: string) {
    this.#dir = join(workRoot, 'copies');
  }

  #path(family: string): string {
    return join(this.#dir, `${family.replace(/^sha256:/, '')}.json`);
  }

  async get(family: string): Promise<CopyRecord | undefined> {
    try {
      const r = JSON.parse(await readFile(this.#path(family), 'utf8')) as {
        chainId: string;
        files: [string, string][];
      };
      return { chainId: r.chainId, files: new Map(r.files) };
    } catch {
      return undefined;
    }
  }

  async put(family: string, rec: CopyRecord): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const path = this.#path(family);
    await writeFile(`${path}.tmp`, JSON.stringify({ chainId: rec.chainId, files: [...rec.files] }));
    await rename(`${path}.tmp`, path);
  }

  /** `builder prune`: the records only point at layers; without the cache they point at nothing useful. */
  async clear(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/** What `applyLinked` made: the tar's digest and size (of the directory as written) and its files' bytes. */
export interface LinkedLayer {
  digest: `sha256:${string}`;
  /** Bytes of the tar. */
  size: number;
  /** Bytes of file content and symbolic link targets, as `docker history` counts them. */
  contentSize: number;
  linked: number;
}

/**
 * Writes a COPY's layer into `upper` (empty, unmounted): every file whose record (`files`) equals the previous
 * layer's is hard-linked from that layer's directory; the other entries go through `unpack` (the same unpack a
 * COPY's tar always takes). Then each directory gets its time back (the links moved them), and the directory is
 * walked as a layer tar and hashed. The previous layer's snapshot is held by a view meanwhile; undefined, with
 * nothing written, when it is gone.
 */
export async function applyLinked(
  snapshotter: Snapshotter,
  upper: string,
  entries: readonly PackEntry[],
  files: ReadonlyMap<string, string>,
  prev: CopyRecord,
  unpack: (rest: PackEntry[]) => Promise<void>,
): Promise<LinkedLayer | undefined> {
  return withLayerDir(snapshotter, prev.chainId, async (from) => {
    const toLink: PackEntry[] = [];
    const rest: PackEntry[] = [];
    for (const e of entries) {
      const r = e.header.type === 'file' ? files.get(e.header.name) : undefined;
      if (r !== undefined && prev.files.get(e.header.name) === r) toLink.push(e);
      else rest.push(e);
    }
    await unpack(rest);
    const limit = new Limit(32);
    const pending: Promise<void>[] = [];
    let failure: unknown;
    let linked = 0;
    for (const e of toLink) {
      if (failure !== undefined) break;
      await limit.take();
      pending.push(
        (async () => {
          const dst = join(upper, e.header.name);
          try {
            await link(join(from, e.header.name), dst);
            linked++;
          } catch {
            // gone from the previous layer (or not linkable): written as any other file
            await writeEntry(dst, e).catch((err: unknown) => {
              failure ??= err;
            });
          } finally {
            limit.release();
          }
        })(),
      );
    }
    await Promise.all(pending);
    if (failure !== undefined) throw failure;
    const dirs = rest.filter((e) => e.header.type === 'directory').reverse();
    for (const d of dirs) {
      const t = d.header.mtime ?? 0;
      await utimes(join(upper, d.header.name), t, t);
    }
    const hash = createHash('sha256');
    let size = 0;
    let contentSize = 0;
    const counted = async function* (list: AsyncIterable<PackEntry>): AsyncGenerator<PackEntry> {
      for await (const e of list) {
        const h = e.header;
        contentSize +=
          h.type === 'file' ? (h.size ?? 0) : h.type === 'symlink' ? Buffer.byteLength(h.linkname ?? '') : 0;
        yield e;
      }
    };
    for await (const c of coalesce(pack(counted(diffEntries(upper, isOpaque))))) {
      hash.update(c);
      size += c.length;
    }
    return { digest: `sha256:${hash.digest('hex')}`, size, contentSize, linked };
  });
}

/** A file entry written out in full (when its link failed). */
async function writeEntry(path: string, e: PackEntry): Promise<void> {
  const h = e.header;
  await rm(path, { force: true });
  const fh = await open(path, 'wx', h.mode ?? 0o644);
  try {
    const body = e.body;
    if (body instanceof Uint8Array) await fh.write(body);
    else if (body) for await (const c of body as AsyncIterable<Uint8Array>) await fh.write(c);
    await fh.chown(h.uid ?? 0, h.gid ?? 0);
    await fh.chmod(h.mode ?? 0o644);
  } finally {
    await fh.close();
  }
  const t = h.mtime ?? 0;
  await utimes(path, t, t);
}
