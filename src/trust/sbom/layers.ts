/**
 * An image's SBOM from its layer tars, where nothing is mounted (the registry server has the blobs, not unpacked
 * layers). The layers are applied in order, as the OCI image spec's changesets say (whiteouts `.wh.NAME` delete
 * what lower layers put there, `.wh..wh..opq` empties a directory of what lower layers put in it), to a scratch
 * tree that keeps only what `extractSbom` reads: every directory and symbolic link, the package databases, release
 * files and language manifests (`sbomInput`), and executables that are ELF files carrying Go build information.
 * Everything else is skipped as it streams by, so a Debian image leaves a few hundred kilobytes on disk. Then the
 * extractors run over that tree exactly as over a mounted root, and the tree is removed.
 *
 * Paths are confined to the tree: names with `..` are skipped, and a parent directory that is a symbolic link is
 * resolved inside the tree (an image's link to `/etc` names its own /etc), never followed on the host; a parent
 * that is a link to nothing the image has becomes a directory.
 */
import { copyFile, lstat, mkdir, open, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { autoDecompress } from '../../util/compression.ts';
import { extract } from '../../util/tar/index.ts';
import { resolveInRoot } from '../../util/rootpath.ts';
import { extractSbom, sbomInput } from './extract.ts';
import type { Sbom } from './types.ts';

const GO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const ELF_MAGIC = 0x7f454c46;
const MAX_INPUT = 256 << 20;

/** A layer: opens its blob (compressed or not: the compression is sniffed from the first bytes). */
export type LayerOpener = () => AsyncIterable<Uint8Array>;

/** `a/./b/`, `./a`, `/a` → `a/b`, `a`, `a`; undefined for a name that climbs out with `..`. */
function cleanName(name: string): string | undefined {
  const out: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') return undefined;
    out.push(p);
  }
  return out.join('/');
}

/** The scratch tree: directories created on demand, parents resolved inside it. */
class Tree {
  readonly root: string;
  /** In-image directory path → host directory, for directories known to be real (not links). */
  readonly #dirs = new Map<string, string>();

  constructor(root: string) {
    this.root = root;
    this.#dirs.set('', root);
  }

  /** The host directory for the in-image directory `parts`, made when missing. */
  async dir(parts: string[]): Promise<string> {
    const key = parts.join('/');
    const known = this.#dirs.get(key);
    if (known !== undefined) return known;
    const parent = await this.dir(parts.slice(0, -1));
    const host = join(parent, parts.at(-1)!);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      const target = await resolveInRoot(this.root, `/${key}`);
      if ((await lstat(target).catch(() => undefined))?.isDirectory()) return target;
    }
    if (!st?.isDirectory()) {
      if (st) await this.remove(host);
      await mkdir(host);
    }
    this.#dirs.set(key, host);
    return host;
  }

  /** Removes whatever is at `host` (a directory with its content), forgetting directories under it. */
  async remove(host: string): Promise<void> {
    const st = await lstat(host).catch(() => undefined);
    if (!st) return;
    if (st.isDirectory()) {
      for (const [k, v] of this.#dirs) if (v === host || v.startsWith(`${host}/`)) this.#dirs.delete(k);
      await rm(host, { recursive: true, force: true });
    } else await rm(host, { force: true });
  }
}

/** Writes `body` to `host` when it is an ELF file with Go build information; reads (and drops) it otherwise. */
async function keepIfGo(body: AsyncIterable<Buffer>, host: string): Promise<void> {
  const fh = await open(host, 'wx', 0o755);
  let head = Buffer.alloc(0);
  let elf: boolean | undefined;
  let go = false;
  let carry = Buffer.alloc(0);
  try {
    for await (const chunk of body) {
      if (elf === undefined) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 4) continue;
        elf = head.readUInt32BE(0) === ELF_MAGIC;
        if (!elf) break;
        await fh.write(head);
        const b = head;
        go = b.indexOf(GO_MAGIC) >= 0;
        carry = b.subarray(Math.max(0, b.length - GO_MAGIC.length + 1));
        continue;
      }
      if (!go) {
        const b = Buffer.concat([carry, chunk]);
        go = b.indexOf(GO_MAGIC) >= 0;
        carry = b.subarray(Math.max(0, b.length - GO_MAGIC.length + 1));
      }
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
  if (!go) await rm(host, { force: true });
}

async function writeAll(body: AsyncIterable<Buffer>, host: string): Promise<void> {
  const fh = await open(host, 'wx', 0o644);
  try {
    for await (const chunk of body) await fh.write(chunk);
  } finally {
    await fh.close();
  }
}

/** Applies one layer tar to the tree. */
async function applyLayer(tree: Tree, tar: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
  /** In-image paths this layer wrote: an opaque whiteout hides only what lower layers put in its directory. */
  const written = new Set<string>();
  const opaque: string[][] = [];
  for await (const { header, body } of extract(autoDecompress(tar), signal ? { signal } : {})) {
    const rel = cleanName(header.name);
    if (rel === undefined || rel === '') continue;
    const parts = rel.split('/');
    const name = parts.pop()!;
    if (name === '.wh..wh..opq') {
      opaque.push(parts);
      continue;
    }
    const dir = await tree.dir(parts);
    if (name.startsWith('.wh.')) {
      await tree.remove(join(dir, name.slice(4)));
      continue;
    }
    for (let i = 1; i <= parts.length; i++) written.add(parts.slice(0, i).join('/'));
    written.add(rel);
    const host = join(dir, name);
    switch (header.type) {
      case 'directory':
        if (!(await lstat(host).catch(() => undefined))?.isDirectory()) await tree.remove(host);
        await tree.dir([...parts, name]);
        break;
      case 'symlink':
        await tree.remove(host);
        await symlink(header.linkname, host);
        break;
      case 'file': {
        await tree.remove(host);
        const kind = sbomInput(`/${rel}`);
        if (kind === 'file' && header.size <= MAX_INPUT) await writeAll(body, host);
        else if (kind === 'binary' && (header.mode & 0o111) !== 0 && header.size > 4096) await keepIfGo(body, host);
        break;
      }
      case 'link': {
        await tree.remove(host);
        const target = cleanName(header.linkname);
        const from =
          target === undefined ? undefined : await resolveInRoot(tree.root, `/${target}`).catch(() => undefined);
        const st = from === undefined ? undefined : await lstat(from).catch(() => undefined);
        if (from !== undefined && st?.isFile()) await copyFile(from, host);
        break;
      }
      default:
        await tree.remove(host);
    }
  }
  for (const parts of opaque) {
    const dir = await tree.dir(parts);
    const prefix = parts.length > 0 ? `${parts.join('/')}/` : '';
    for (const child of await readdir(dir)) {
      if (!written.has(`${prefix}${child}`)) await tree.remove(join(dir, child));
    }
  }
}

/**
 * The SBOM of the image whose layers `layers` opens, bottom first. `scratch` (made, then removed) holds the
 * pruned tree while the extractors read it.
 */
export async function sbomFromLayers(
  layers: Iterable<LayerOpener>,
  scratch: string,
  opts: { signal?: AbortSignal } = {},
): Promise<Sbom> {
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  try {
    const tree = new Tree(scratch);
    for (const open of layers) {
      opts.signal?.throwIfAborted();
      await applyLayer(tree, open(), opts.signal);
    }
    return await extractSbom(scratch);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
