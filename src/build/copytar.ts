/**
 * COPY (and ADD of files, URLs and heredocs) as one pass: the step's layer is written as a tar of exactly what the
 * copy makes — the destination's parents as overlay copies them up (their mode, owner and time from the image),
 * new directories 0755, then the sources with the classic builder's rules (copy.ts) — and that stream is both
 * unpacked into the step's upper directory (snapshots' threads, which never write through a link) and ingested as
 * the layer blob, so the sources are read once and nothing is read back.
 *
 * Paths are resolved against the image (the step's merged root, mounted): a symbolic link on the way to the
 * destination, or at a directory the copy writes into, is followed inside the root, as a copy into the mounted
 * root would follow it.
 */
import { lstat } from 'node:fs/promises';
import { posix, relative } from 'node:path';
import { PatternMatcher } from '../util/dockerignore.ts';
import type { PackEntry } from '../util/tar/index.ts';
import type { Identity, Resolved } from './copy.ts';
import type { CopyWork } from './imageconfig.ts';
import { resolveInRoot } from '../util/rootpath.ts';
import { fileRecord } from './linked.ts';
import type { SourceFS } from './sources.ts';

export interface CopyPlan {
  /** The step's merged root, mounted (read, never written here). */
  root: string;
  identity?: Identity | undefined;
  mode?: number | undefined;
  /** Filled with each file's record (linked.ts) where the source can tell what a file is made from. */
  files?: Map<string, string> | undefined;
  /** Filled with where each such file's content lies on the host, where the source knows. */
  locations?: Map<string, { path: string; offset: number; size: number }> | undefined;
  /**
   * The times the previous layer of the same COPY gave the directories it created (linked.ts): a directory this
   * copy creates again gets the same time rather than the build's, so the two layers' tars begin alike.
   */
  times?: ReadonlyMap<string, number> | undefined;
  /** Filled with the time of each directory this copy creates (one the image lacks), for the next layer's `times`. */
  created?: Map<string, number> | undefined;
}

/**
 * The layer a COPY makes, as tar entries (bodies streamed from the sources). A list, gathered in a plain loop: as an
 * async generator each of a large copy's 10,000 entries cost a suspension and a resumption of it and of its reader
 * (~25 ms of a one-file build's main thread at load 10); only the image's directories and the sources' metadata
 * that is not at hand are waited for.
 */
export async function copyEntries(
  work: CopyWork,
  resolved: Resolved,
  source: SourceFS | undefined,
  p: CopyPlan,
): Promise<PackEntry[]> {
  const out: PackEntry[] = [];
  const owner = p.identity ?? { uid: 0, gid: 0 };
  const now = Math.floor(Date.now() / 1000);
  const emitted = new Set<string>();
  const excludes = work.excludes.length > 0 ? new PatternMatcher(work.excludes) : undefined;
  let dest = work.dest;
  const slash = dest.endsWith('/');
  if (!dest.startsWith('/')) dest = posix.join('/', work.workingDir, dest) + (slash && !dest.endsWith('/') ? '/' : '');
  const destDir = slash || dest.endsWith('/');

  /** The image's path for a container path, links followed inside the root (relative, no leading `/`). */
  const canonical = async (path: string): Promise<string> => relative(p.root, await resolveInRoot(p.root, path));

  /** Entries for the parents of `rel` (a canonical path) that the layer must hold, each once. */
  async function parents(rel: string): Promise<void> {
    const parts = rel.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) await dirEntry(parts.slice(0, i).join('/'));
  }

  /** A directory of the layer: copied up from the image when it has it, else new (0755, the owner's). */
  async function dirEntry(rel: string): Promise<void> {
    if (rel === '' || emitted.has(rel)) return;
    emitted.add(rel);
    const st = await lstat(posix.join(p.root, rel)).catch(() => undefined);
    if (st?.isDirectory()) {
      const mtime = Math.floor(st.mtimeMs / 1000);
      out.push({
        header: { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime, name: `${rel}/`, type: 'directory' },
      });
      return;
    }
    // created here: Docker's builders give it the build's time; the previous layer's time when there is one
    const mtime = p.times?.get(rel) ?? now;
    p.created?.set(rel, mtime);
    out.push({
      header: { mode: 0o755, uid: owner.uid, gid: owner.gid, mtime, name: `${rel}/`, type: 'directory' },
    });
  }

  const isDir = async (path: string): Promise<boolean> =>
    (await lstat(await resolveInRoot(p.root, path)).catch(() => undefined))?.isDirectory() ?? false;

  const file = (
    rel: string,
    mode: number,
    mtime: number,
    size: number,
    body: PackEntry['body'],
    origin?: string,
  ): PackEntry => {
    emitted.add(rel);
    const header = {
      name: rel,
      type: 'file' as const,
      mode,
      uid: owner.uid,
      gid: owner.gid,
      mtime: Math.floor(mtime),
      size,
    };
    if (origin !== undefined) p.files?.set(rel, fileRecord(origin, header));
    return { header, ...(body !== undefined ? { body } : {}) };
  };

  for (const s of resolved.sources) {
    if (s.kind === 'content') {
      const target = await canonical(destDir ? posix.join(dest, s.name) : dest);
      await parents(target);
      const data = Buffer.from(s.data);
      out.push(file(target, p.mode ?? 0o644, now, data.length, data));
      continue;
    }
    if (s.kind === 'url') {
      const into = destDir || (await isDir(dest));
      const target = await canonical(into ? posix.join(dest, s.fetched.filename) : dest);
      await parents(target);
      const { createReadStream } = await import('node:fs');
      out.push(file(target, p.mode ?? 0o600, s.fetched.mtime ?? now, s.fetched.size, createReadStream(s.fetched.path)));
      continue;
    }
    const src = source!;
    if (s.type === 'directory') {
      const top = await canonical(posix.join(dest, work.parents ? s.rel : '.'));
      await parents(top);
      await dirEntry(top);
      // each directory of the source lands where the image resolves it (a link there is followed)
      const dirs = new Map<string, string>([[s.name, top]]);
      for (const name of await src.below(s.name)) {
        // --exclude: a pattern matches the path from the context's root or from the copied directory
        const inner = s.name === '' ? name : name.slice(s.name.length + 1);
        if (excludes && (excludes.matches(name) || excludes.matches(inner))) continue;
        const parentName = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
        const at = dirs.get(parentName) ?? top;
        const base = name.slice(name.lastIndexOf('/') + 1);
        let rel = at === '' ? base : `${at}/${base}`;
        const got = src.info(name);
        const info = got instanceof Promise ? await got : got;
        if (info.type === 'directory') {
          const there = await lstat(posix.join(p.root, rel)).catch(() => undefined);
          if (there?.isSymbolicLink()) rel = await canonical(`/${rel}`);
          dirs.set(name, rel);
          if (!emitted.has(rel)) {
            emitted.add(rel);
            const mode = p.mode ?? info.mode;
            out.push({
              header: {
                name: `${rel}/`,
                type: 'directory',
                mode,
                uid: owner.uid,
                gid: owner.gid,
                mtime: Math.floor(info.mtime),
              },
            });
          }
        } else if (info.type === 'symlink') {
          emitted.add(rel);
          out.push({
            header: {
              name: rel,
              type: 'symlink',
              linkname: info.linkname,
              mode: 0o777,
              uid: owner.uid,
              gid: owner.gid,
              mtime: Math.floor(info.mtime),
            },
          });
        } else if (info.type === 'file') {
          const at = p.locations && src.location?.(name);
          if (at) p.locations!.set(rel, at);
          out.push(file(rel, p.mode ?? info.mode, info.mtime, info.size, src.read(name), src.origin?.(name)));
        }
      }
      continue;
    }
    const into = destDir || work.parents || (await isDir(dest));
    const target = await canonical(into ? posix.join(dest, work.parents ? s.rel : s.base) : dest);
    await parents(target);
    const info = await src.info(s.name);
    const at = p.locations && src.location?.(s.name);
    if (at) p.locations!.set(target, at);
    out.push(file(target, p.mode ?? info.mode, info.mtime, info.size, src.read(s.name), src.origin?.(s.name)));
  }
  return out;
}
