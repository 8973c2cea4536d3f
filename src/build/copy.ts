/**
 * COPY and ADD, as the classic builder does them, in two phases: `resolveSources` finds what the sources name
 * (globs, links followed inside their root, a missing path is an error naming it) and hashes it for the cache key
 * and the history; `copySources` then writes into the step's mounted root: a directory's contents (not the
 * directory itself) into the destination, a file into a destination ending in `/` or that is a directory, else
 * as the destination; new parent directories 0755; owners 0:0 or `--chown`'s, modes and times kept (`--chmod`
 * replaces the mode); ADD unpacks local archives (tar, gzip, bzip2, xz, zstd) and fetches URLs (remote.ts).
 */
import { copyFile, lchown, lstat, mkdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { chmod as chmodPath } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { Limit } from '../util/lock.ts';
import { sourcesHash } from './cachekey.ts';
import { contextName } from './context.ts';
import { PatternMatcher } from '../util/dockerignore.ts';
import type { CopyWork } from './imageconfig.ts';
import { extractArchive, isArchive } from './archive.ts';
import { type Fetched, fetchUrl, isUrl } from './remote.ts';
import { resolveInRoot } from '../util/rootpath.ts';
import { globToRegExp, hasWildcards, type SourceFS, type SourceType } from './sources.ts';

/** One thing to copy. */
export type ResolvedSource =
  /** `rel`: the path as the instruction named it, from the context's root (what `--parents` keeps). */
  | { kind: 'path'; name: string; base: string; rel: string; type: SourceType; hash: string }
  | { kind: 'content'; name: string; data: string; hash: string }
  | { kind: 'url'; fetched: Fetched; hash: string };

export interface Resolved {
  sources: ResolvedSource[];
  /** All the sources' hash (`file:`, `dir:`, `multi:`), as the history shows it. */
  hash: string;
}

/** Owner for copied files. */
export interface Identity {
  uid: number;
  gid: number;
}

/**
 * Finds the sources of a COPY or ADD. `source` is the context or the `--from` root (undefined when the
 * instruction has only heredocs); `hashNeeded` false skips hashing (a `--from` whose key needs no content hash).
 */
export async function resolveSources(
  work: CopyWork,
  source: SourceFS | undefined,
  opts: { fromContext: boolean; hashNeeded: boolean; tmpDir: string; signal?: AbortSignal },
): Promise<Resolved> {
  const name = work.kind.toUpperCase();
  const out: ResolvedSource[] = [];
  for (const c of work.contents) {
    out.push({ kind: 'content', name: c.path, data: c.data, hash: `content:${c.path}` });
  }
  const excludes = work.excludes.length > 0 ? new PatternMatcher(work.excludes) : undefined;
  for (const src of work.sources) {
    if (work.kind === 'add' && isUrl(src)) {
      const fetched = await fetchUrl(src, opts.tmpDir, { checksum: work.checksum, signal: opts.signal });
      out.push({ kind: 'url', fetched, hash: fetched.hash });
      continue;
    }
    if (!source) throw new InvalidArgumentError(`${name} failed: no build context for ${src}`);
    if (hasWildcards(src)) {
      const clean = contextName(src);
      const pattern = globToRegExp(clean);
      // only what is below the pattern's literal leading directories can match
      const parts = clean.split('/');
      const fixed = parts
        .slice(
          0,
          parts.findIndex((p) => hasWildcards(p)),
        )
        .join('/');
      const scope = fixed === '' || (await source.type(fixed)) === 'directory' ? await source.below(fixed) : [];
      const matches = scope.filter((n) => pattern.test(n) && !excludes?.matches(n));
      for (const m of matches) {
        const resolved = await source.resolve(m);
        const type = await source.type(resolved);
        if (!type) continue;
        out.push({
          kind: 'path',
          name: resolved,
          base: basename(m),
          rel: parentsPath(src, m),
          type,
          hash: opts.hashNeeded ? await source.hash(resolved) : '',
        });
      }
      if (!matches.length) throw new NotFoundError(`${name} failed: no source files were specified`);
      continue;
    }
    const cleaned = posix.normalize(src);
    if (opts.fromContext && (cleaned === '..' || cleaned.startsWith('../')))
      throw new InvalidArgumentError(`${name} failed: forbidden path outside the build context: ${src} ()`);
    const resolved = await source.resolve(cleaned);
    const type = await source.type(resolved);
    if (!type || (excludes && resolved !== '' && excludes.matches(resolved))) {
      throw new NotFoundError(
        opts.fromContext
          ? `${name} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`
          : `${name} failed: stat ${src}: file does not exist`,
      );
    }
    const base = cleaned === '.' || cleaned === '/' ? '' : basename(cleaned);
    out.push({
      kind: 'path',
      name: resolved,
      base,
      rel: parentsPath(src, cleaned),
      type,
      hash: opts.hashNeeded ? await source.hash(resolved) : '',
    });
  }
  if (out.length > 1 && !work.dest.endsWith('/'))
    throw new InvalidArgumentError(
      `When using ${name} with more than one source file, the destination must be a directory and end with a /`,
    );
  return { sources: out, hash: sourcesHash(out.map((s) => s.hash)) };
}

/**
 * What `--parents` keeps of a source: its path from the context's root, or only what follows a `/./` in the
 * source as written (BuildKit's pivot).
 */
function parentsPath(written: string, path: string): string {
  const pivot = written.indexOf('/./');
  const clean = contextName(path);
  if (pivot < 0) return clean;
  const head = contextName(written.slice(0, pivot));
  return head !== '' && clean.startsWith(`${head}/`) ? clean.slice(head.length + 1) : clean;
}

/** `--chown=user[:group]` against the destination's /etc/passwd and /etc/group (a user alone: gid = uid). */
export async function resolveChown(root: string, spec: string): Promise<Identity | undefined> {
  if (spec === '') return undefined;
  const [user = '', group] = spec.split(':');
  const lines = async (f: string) =>
    (await readFile(join(root, f), 'utf8').catch(() => '')).split('\n').map((l) => l.split(':'));
  const lookup = async (f: string, n: string, what: string) => {
    if (/^\d+$/.test(n)) return Number(n);
    const e = (await lines(f)).find((l) => l[0] === n);
    if (!e)
      throw new InvalidArgumentError(
        `unable to convert uid/gid chown string to host mapping: can't find ${what === 'user' ? 'uid' : 'gid'} for ${what} ${n}: no such ${what}: ${n}`,
      );
    return Number(e[2]);
  };
  const uid = await lookup('etc/passwd', user, 'user');
  const gid = group === undefined || group === '' ? uid : await lookup('etc/group', group, 'group');
  return { uid, gid };
}

export function parseChmod(spec: string): number | undefined {
  if (spec === '') return undefined;
  if (!/^[0-7]{1,4}$/.test(spec)) throw new InvalidArgumentError(`invalid chmod parameter: ${spec}`);
  return Number.parseInt(spec, 8);
}

export interface CopyTarget {
  /** The step's mounted root. */
  root: string;
  identity?: Identity | undefined;
  mode?: number | undefined;
  /** ADD: unpack local archives. */
  unpack: boolean;
  signal?: AbortSignal | undefined;
}

/** Writes the sources into the step's root. */
export async function copySources(
  work: CopyWork,
  resolved: Resolved,
  source: SourceFS | undefined,
  t: CopyTarget,
): Promise<void> {
  let dest = work.dest;
  const slash = dest.endsWith('/');
  if (!dest.startsWith('/')) dest = posix.join('/', work.workingDir, dest) + (slash && !dest.endsWith('/') ? '/' : '');
  const destDir = slash || dest.endsWith('/');
  const owner = t.identity ?? { uid: 0, gid: 0 };
  for (const s of resolved.sources) {
    t.signal?.throwIfAborted();
    if (s.kind === 'content') {
      const target = destDir ? posix.join(dest, s.name) : dest;
      const host = await makeParents(t.root, target, owner);
      await writeFile(host, s.data);
      await finish(host, owner, t.mode ?? 0o644);
      continue;
    }
    if (s.kind === 'url') {
      const into = destDir || (await isDirIn(t.root, dest));
      const target = into ? posix.join(dest, s.fetched.filename) : dest;
      const host = await makeParents(t.root, target, owner);
      await copyFile(s.fetched.path, host);
      await finish(host, owner, t.mode ?? 0o600, s.fetched.mtime);
      continue;
    }
    const src = source!;
    if (s.type === 'directory') {
      const destExisted = await isDirIn(t.root, dest);
      const host = await makeParents(t.root, posix.join(dest, '.'), owner, true);
      if (!destExisted) await lchown(host, owner.uid, owner.gid);
      await copyTree(src, s.name, host, owner, t.mode, t.signal);
      continue;
    }
    if (t.unpack && s.type === 'file') {
      await src.prepare?.(s.name);
      const from = join(src.root, s.name);
      if (await isArchive(from)) {
        await makeParents(t.root, posix.join(dest, '.'), owner, true);
        await extractArchive(from, t.root, dest, t.signal);
        continue;
      }
    }
    const into = destDir || (await isDirIn(t.root, dest));
    const target = into ? posix.join(dest, s.base) : dest;
    const host = await makeParents(t.root, target, owner);
    const info = await src.info(s.name);
    await rm(host, { force: true });
    await src.copyTo(s.name, host, info.mode);
    await finish(host, owner, t.mode ?? info.mode, info.mtime, info.mode);
  }
}

/**
 * Owner, mode and time of a file just written. A file this (root) process made is already 0:0, and copyFile gives
 * the source's mode, so those calls are made only when something else is asked for.
 */
async function finish(host: string, owner: Identity, mode: number, mtime?: number, made?: number): Promise<void> {
  if (owner.uid !== ROOT_UID || owner.gid !== ROOT_GID) await lchown(host, owner.uid, owner.gid);
  if (made === undefined || made !== mode) await chmodPath(host, mode);
  if (mtime !== undefined) await utimes(host, mtime, mtime);
}

const ROOT_UID = process.getuid?.() === 0 ? 0 : -1;
const ROOT_GID = process.getgid?.() === 0 ? 0 : -1;

/** Copies everything below a source directory into `to`, keeping modes and times, owned by `owner`. */
async function copyTree(
  src: SourceFS,
  dir: string,
  to: string,
  owner: Identity,
  mode: number | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  const dirTimes: [string, number][] = [];
  const limit = new Limit(16);
  const pending: Promise<void>[] = [];
  let failure: unknown;
  for (const name of await src.below(dir)) {
    signal?.throwIfAborted();
    if (failure !== undefined) break;
    const dst = join(to, dir === '' ? name : name.slice(dir.length + 1));
    const info = await src.info(name);
    if (info.type === 'directory') {
      await mkdir(dst, { recursive: true });
      await finish(dst, owner, mode ?? info.mode);
      dirTimes.push([dst, info.mtime]);
    } else if (info.type === 'symlink') {
      await symlink(info.linkname, dst);
      if (owner.uid !== ROOT_UID || owner.gid !== ROOT_GID) await lchown(dst, owner.uid, owner.gid);
    } else if (info.type === 'file') {
      await limit.take();
      pending.push(
        (async () => {
          try {
            await src.copyTo(name, dst, info.mode);
            await finish(dst, owner, mode ?? info.mode, info.mtime, info.mode);
          } catch (err) {
            failure ??= err;
          } finally {
            limit.release();
          }
        })(),
      );
    }
  }
  await Promise.all(pending);
  if (failure !== undefined) throw failure;
  for (const [d, t] of dirTimes.reverse()) await utimes(d, t, t);
}

async function isDirIn(root: string, path: string): Promise<boolean> {
  const st = await lstat(await resolveInRoot(root, path)).catch(() => undefined);
  return st?.isDirectory() ?? false;
}

/**
 * Creates the parents of `path` in the root (0755, owned by `owner`: the classic builder's MkdirAllAndChownNew),
 * and `path` itself too when `self`; returns its host path.
 */
async function makeParents(root: string, path: string, owner: Identity, self = false): Promise<string> {
  const clean = posix.normalize(path);
  const parts = clean.split('/').filter(Boolean);
  const upto = self ? parts.length : parts.length - 1;
  let cur = '/';
  for (let i = 0; i < upto; i++) {
    cur = posix.join(cur, parts[i]!);
    const host = await resolveInRoot(root, cur);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isDirectory()) continue;
    if (st) throw new InvalidArgumentError(`cannot copy to ${path}: ${cur} is not a directory`);
    await mkdir(host, { mode: 0o755 });
    await chmodPath(host, 0o755);
    await lchown(host, owner.uid, owner.gid);
  }
  return resolveInRoot(root, clean);
}
