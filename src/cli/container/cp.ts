import { createReadStream, type Stats } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  opendir,
  readlink,
  rm,
  stat,
  symlink,
  link,
  utimes,
  chmod,
  lutimes,
} from 'node:fs/promises';
import { dirname, basename, join, resolve as resolvePath, isAbsolute, normalize } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EngineClient, PathStat } from '../../client/index.ts';
import { BerthError, NotFoundError, goErrnoText } from '../../util/errors.ts';
import { extract } from '../../util/tar/extract.ts';
import { pack } from '../../util/tar/pack.ts';
import type { PackEntry } from '../../util/tar/types.ts';
import type { OutStream } from '../command.ts';
import { humanSizeWithPrecision } from '../units.ts';

/**
 * `berth cp` (docker/cli `container/cp.go` with moby `pkg/archive` copy semantics): a local path is
 * sent as a tar whose top entry is renamed to the destination's name when that does not exist yet (or is
 * a file), then extracted by the engine into the destination's directory; the other way, the engine's
 * tar of a path is extracted locally the same way. `-` reads a tar from stdin or writes one to stdout.
 */

export interface CopyOptions {
  source: string;
  destination: string;
  followLink: boolean;
  copyUIDGID: boolean;
  quiet: boolean;
}

/** Go's os.FileMode bits, as the engine sends them in the path stat. */
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_IRREGULAR = 2 ** 19;

function hasBit(mode: number, bit: number): boolean {
  return Math.floor(mode / bit) % 2 === 1;
}
const isDirMode = (mode: number): boolean => hasBit(mode, MODE_DIR);
const isSymlinkMode = (mode: number): boolean => hasBit(mode, MODE_SYMLINK);

/** docker's `splitCpArg`: `container:path`, unless the argument is an absolute or `./` local path. */
export function splitCpArg(arg: string): { container: string; path: string } {
  if (arg.startsWith('/')) return { container: '', path: arg };
  const colon = arg.indexOf(':');
  if (colon < 0 || arg.startsWith('.')) return { container: '', path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

function hasTrailingSeparator(p: string): boolean {
  return p.endsWith('/');
}
function specifiesCurrentDir(p: string): boolean {
  return p === '.' || p.endsWith('/.');
}

/** moby's `PreserveTrailingDotOrSeparator`. */
function preserveTrailing(cleaned: string, original: string): string {
  if (!specifiesCurrentDir(cleaned) && specifiesCurrentDir(original)) {
    if (!hasTrailingSeparator(cleaned)) cleaned += '/';
    cleaned += '.';
  }
  if (!hasTrailingSeparator(cleaned) && hasTrailingSeparator(original)) cleaned += '/';
  return cleaned;
}

/** moby's `SplitPathDirEntry`: `/a/b/` → [`/a`, `b`]; `/a/b/.` → [`/a/b`, `.`]. */
export function splitPathDirEntry(p: string): [string, string] {
  let cleaned = normalize(p);
  if (cleaned.length > 1 && cleaned.endsWith('/')) cleaned = cleaned.slice(0, -1);
  if (specifiesCurrentDir(p)) cleaned = cleaned === '.' ? '.' : `${cleaned}/.`;
  if (cleaned === '/.') return ['/', '.'];
  return [dirname(cleaned), basename(cleaned) === '' ? '/' : basename(cleaned)];
}

function localAbs(p: string): string {
  return preserveTrailing(resolvePath(p), p);
}

/** How Go names a failed syscall on a path: `lstat /x: no such file or directory`. */
function pathError(op: string, path: string, err: unknown): BerthError {
  return new BerthError(goErrnoText(err, path, op), { cause: err });
}

/** Replaces the first occurrence of `from` in each entry name (moby's `RebaseArchiveEntries`). */
function rebaseName(name: string, from: string, to: string): string {
  const at = name.indexOf(from);
  return at < 0 ? name : name.slice(0, at) + to + name.slice(at + from.length);
}

/** Packs `dir/base` (its contents for `.`), names starting with `base` (`.` for contents), as moby's TarResource. */
async function* localEntries(dir: string, base: string, followTop: boolean): AsyncGenerator<PackEntry> {
  const top = join(dir, base);
  const visit = async function* (abs: string, name: string, follow: boolean): AsyncGenerator<PackEntry> {
    let st: Stats;
    try {
      st = follow ? await stat(abs) : await lstat(abs);
    } catch (err) {
      throw pathError(follow ? 'stat' : 'lstat', abs, err);
    }
    const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
    if (st.isDirectory()) {
      yield { header: { ...common, name: name.endsWith('/') ? name : `${name}/`, type: 'directory' } };
      const children: string[] = [];
      const d = await opendir(abs);
      for await (const e of d) children.push(e.name);
      children.sort();
      for (const c of children) yield* visit(join(abs, c), name === '.' ? `./${c}` : `${name}/${c}`, false);
    } else if (st.isSymbolicLink()) {
      yield { header: { ...common, name, type: 'symlink', linkname: await readlink(abs) } };
    } else if (st.isFile()) {
      yield { header: { ...common, name, type: 'file', size: st.size }, body: createReadStream(abs) };
    }
    // Sockets, devices and fifos are not copied.
  };
  yield* visit(top, base, followTop);
}

/** Resolves where a tar should be extracted locally and renames entries (moby's `CopyTo`/`PrepareArchiveCopy`). */
async function prepareLocalDestination(
  dstPath: string,
  srcIsDir: boolean,
  srcBase: string,
): Promise<{ dir: string; from: string; to: string } | { dir: string }> {
  let info: { exists: boolean; isDir: boolean; path: string } = { exists: false, isDir: false, path: dstPath };
  try {
    let st = await lstat(dstPath);
    let path = dstPath;
    for (let i = 0; st.isSymbolicLink() && i < 10; i++) {
      const target = await readlink(path);
      path = isAbsolute(target) ? target : join(dirname(path), target);
      st = await lstat(path);
    }
    info = { exists: true, isDir: st.isDirectory(), path };
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw pathError('lstat', dstPath, err);
    const parent = splitPathDirEntry(dstPath)[0];
    try {
      await lstat(parent);
    } catch (e) {
      throw pathError('lstat', parent, e);
    }
  }
  const [dstDir, dstBase] = splitPathDirEntry(info.path);
  if (info.exists && info.isDir) return { dir: info.path };
  if (info.exists && srcIsDir) throw new BerthError('cannot copy directory');
  if (!info.exists && !srcIsDir && (hasTrailingSeparator(info.path) || specifiesCurrentDir(info.path)))
    throw new BerthError('no such directory');
  return { dir: dstDir, from: srcBase, to: dstBase };
}

/** Extracts a tar under `dir` without changing owners and refusing to put a directory over a file or back. */
async function untar(
  source: AsyncIterable<Uint8Array>,
  dir: string,
  rename: { from: string; to: string } | undefined,
): Promise<void> {
  const dirTimes: [string, number][] = [];
  for await (const entry of extract(source)) {
    const h = entry.header;
    let name = rename === undefined ? h.name : rebaseName(h.name, rename.from, rename.to);
    name = normalize(name).replace(/\/+$/, '');
    if (name === '' || name === '.') {
      if (h.type === 'directory') continue;
    }
    if (name.startsWith('..') || isAbsolute(name))
      throw new BerthError(`invalid archive entry: ${JSON.stringify(h.name)}`);
    const target = join(dir, name);
    let existing: Stats | undefined;
    try {
      existing = await lstat(target);
    } catch {
      existing = undefined;
    }
    if (existing !== undefined) {
      if (existing.isDirectory() && h.type !== 'directory')
        throw new BerthError(`cannot overwrite directory "${target}" with non-directory "${h.name}"`);
      if (!existing.isDirectory() && h.type === 'directory')
        throw new BerthError(`cannot overwrite non-directory "${target}" with directory "${h.name}"`);
      if (!existing.isDirectory()) await rm(target, { force: true });
    }
    switch (h.type) {
      case 'directory':
        await mkdir(target, { recursive: true, mode: h.mode });
        await chmod(target, h.mode);
        dirTimes.push([target, h.mtime]);
        break;
      case 'file': {
        const fh = await open(target, 'w', h.mode);
        try {
          await pipeline(entry.body, fh.createWriteStream());
        } finally {
          await fh.close().catch(() => {});
        }
        await chmod(target, h.mode);
        await utimes(target, h.mtime, h.mtime);
        break;
      }
      case 'symlink':
        await symlink(h.linkname, target);
        await lutimes(target, h.mtime, h.mtime).catch(() => {});
        break;
      case 'link': {
        const linked = rename === undefined ? h.linkname : rebaseName(h.linkname, rename.from, rename.to);
        await link(join(dir, normalize(linked)), target);
        break;
      }
      default:
        // Devices and fifos need privileges docker's cp does not assume either: skipped.
        break;
    }
  }
  for (const [d, t] of dirTimes.reverse()) await utimes(d, t, t).catch(() => {});
}

function progressLine(
  err: OutStream,
  header: string,
): { count: (n: number) => void; finish: () => void; total: () => number } {
  let total = 0;
  let timer: NodeJS.Timeout | undefined;
  if (err.isTerminal) {
    err.write('Preparing to copy...');
    timer = setInterval(() => err.write(`\r\x1b[2K${header}${humanSizeWithPrecision(total, 3)}`), 75);
  }
  return {
    count: (n) => {
      total += n;
    },
    finish: () => {
      if (timer !== undefined) {
        clearInterval(timer);
        err.write(`\r\x1b[2K${header}${humanSizeWithPrecision(total, 3)}\n`);
      }
    },
    total: () => total,
  };
}

async function* counted(source: AsyncIterable<Uint8Array>, count: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    count(chunk.length);
    yield chunk;
  }
}

/** docker's `ValidateOutputPathFileMode` for the engine's stat. */
function checkFileMode(mode: number): string | undefined {
  if (hasBit(mode, MODE_DEVICE)) return 'got a device';
  if (hasBit(mode, MODE_IRREGULAR)) return 'got an irregular file';
  return undefined;
}

async function copyToContainer(
  client: EngineClient,
  input: Readable,
  err: OutStream,
  container: string,
  srcPath: string,
  dstPath: string,
  opts: CopyOptions,
): Promise<void> {
  const src = srcPath === '-' ? '-' : localAbs(srcPath);
  let dst = { path: dstPath, exists: false, isDir: false };
  let dstStat: PathStat | undefined;
  let statErr: unknown;
  try {
    dstStat = await client.containerStatPath(container, dstPath);
    if (isSymlinkMode(dstStat.mode)) {
      let target = dstStat.linkTarget;
      if (!target.startsWith('/')) target = join(splitPathDirEntry(dstPath)[0], target);
      dst.path = target;
      dstStat = await client.containerStatPath(container, target);
    }
  } catch (e) {
    statErr = e;
    dstStat = undefined;
  }
  if (dstStat !== undefined) {
    const bad = checkFileMode(dstStat.mode);
    if (bad !== undefined)
      throw new BerthError(`destination "${container}:${dstPath}" must be a directory or a regular file: ${bad}`);
    dst = { ...dst, exists: true, isDir: isDirMode(dstStat.mode) };
  } else if (statErr !== undefined && !(statErr instanceof NotFoundError)) {
    throw statErr;
  }
  if (src === '-') {
    if (!dst.isDir) throw new BerthError(`destination "${container}:${dstPath}" must be a directory`);
    await client.containerArchivePut(container, dst.path, input, { copyUIDGID: opts.copyUIDGID });
    return;
  }
  let srcSt: Stats;
  try {
    srcSt = await lstat(src);
  } catch (e) {
    throw pathError('lstat', src, e);
  }
  let srcIsDir = srcSt.isDirectory();
  if (opts.followLink && srcSt.isSymbolicLink()) {
    try {
      srcIsDir = (await stat(src)).isDirectory();
    } catch (e) {
      throw pathError('stat', src, e);
    }
  }
  const [srcDir, srcBase] = splitPathDirEntry(src);
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  let extractDir: string;
  let rename: { from: string; to: string } | undefined;
  if (dst.exists && dst.isDir) extractDir = dst.path;
  else if (dst.exists && srcIsDir) throw new BerthError('cannot copy directory');
  else if (!dst.exists && !srcIsDir && (hasTrailingSeparator(dst.path) || specifiesCurrentDir(dst.path)))
    throw new BerthError('no such directory');
  else {
    extractDir = dstDir;
    rename = { from: srcBase, to: dstBase };
  }
  const entries = (async function* () {
    for await (const e of localEntries(srcDir, srcBase, opts.followLink)) {
      yield rename === undefined
        ? e
        : { ...e, header: { ...e.header, name: rebaseName(e.header.name, rename.from, rename.to) } };
    }
  })();
  const progress = opts.quiet ? undefined : progressLine(err, 'Copying to container - ');
  const tar = progress === undefined ? pack(entries) : counted(pack(entries), progress.count);
  try {
    await client.containerArchivePut(container, extractDir, tar, { copyUIDGID: opts.copyUIDGID });
  } finally {
    progress?.finish();
  }
  if (progress !== undefined)
    err.write(`Successfully copied ${humanSizeWithPrecision(progress.total(), 3)} to ${container}:${dst.path}\n`);
}

async function validateOutputPath(path: string): Promise<void> {
  const dir = dirname(normalize(path));
  if (dir !== '' && dir !== '.') {
    try {
      await stat(dir);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT')
        throw new BerthError(`invalid output path: directory ${JSON.stringify(dir)} does not exist`);
    }
  }
  try {
    const st = await stat(path);
    if (st.isDirectory() || st.isFile()) return;
    const what = st.isCharacterDevice() || st.isBlockDevice() ? 'got a device' : 'got an irregular file';
    throw new BerthError(`invalid output path: ${JSON.stringify(path)} must be a directory or a regular file: ${what}`);
  } catch (e) {
    if (e instanceof BerthError) throw e;
  }
}

async function copyFromContainer(
  client: EngineClient,
  out: OutStream,
  err: OutStream,
  container: string,
  srcPath: string,
  dstPath: string,
  opts: CopyOptions,
): Promise<void> {
  const dst = dstPath === '-' ? '-' : localAbs(dstPath);
  if (dst !== '-') await validateOutputPath(dst);
  let src = srcPath;
  let rebaseTo: string | undefined;
  if (opts.followLink) {
    try {
      const st = await client.containerStatPath(container, srcPath);
      if (isSymlinkMode(st.mode)) {
        let target = st.linkTarget;
        if (!target.startsWith('/')) target = join(splitPathDirEntry(srcPath)[0], target);
        // moby's GetRebaseName: keep the link's own name (and any trailing "/" or "/.").
        rebaseTo = splitPathDirEntry(srcPath)[1];
        src = preserveTrailing(target, srcPath);
      }
    } catch {
      // docker ignores the stat failure here; the GET reports it.
    }
  }
  const { stat: st, body } = await client.containerArchiveGet(container, src);
  if (dst === '-') {
    await pipeline(body, out.stream, { end: false });
    return;
  }
  let srcBase = splitPathDirEntry(src)[1];
  let source: AsyncIterable<Uint8Array> = body;
  if (rebaseTo !== undefined) {
    const from = srcBase;
    source = (async function* () {
      yield* pack(
        (async function* () {
          for await (const e of extract(body)) {
            yield { header: { ...e.header, name: rebaseName(e.header.name, from, rebaseTo as string) }, body: e.body };
          }
        })(),
      );
    })();
    srcBase = rebaseTo;
  }
  const progress = opts.quiet ? undefined : progressLine(err, 'Copying from container - ');
  if (progress !== undefined) source = counted(source, progress.count);
  const target = await prepareLocalDestination(dst, isDirMode(st.mode), srcBase);
  try {
    await untar(source, target.dir, 'from' in target ? { from: target.from, to: target.to } : undefined);
  } finally {
    progress?.finish();
  }
  if (progress !== undefined)
    err.write(`Successfully copied ${humanSizeWithPrecision(progress.total(), 3)} to ${dst}\n`);
}

export async function copyFiles(
  client: EngineClient,
  input: Readable,
  out: OutStream,
  err: OutStream,
  opts: CopyOptions,
): Promise<void> {
  if (opts.source === '') throw new BerthError('source can not be empty');
  if (opts.destination === '') throw new BerthError('destination can not be empty');
  const src = splitCpArg(opts.source);
  const dst = splitCpArg(opts.destination);
  if (src.container !== '' && dst.container !== '') throw new BerthError('copying between containers is not supported');
  if (src.container !== '') return copyFromContainer(client, out, err, src.container, src.path, dst.path, opts);
  if (dst.container !== '') return copyToContainer(client, input, err, dst.container, src.path, dst.path, opts);
  throw new BerthError('must specify at least one container source');
}
