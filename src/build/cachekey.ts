/**
 * Build cache keys. Pure: the executor supplies what it read (base image IDs, the sources' hashes) and gets keys.
 *
 * A step's key is `sha256(canonical JSON of { parent key, the step as resolved })`, so it changes when anything
 * before it changes. "As resolved" is the instruction after expansion with the build arguments that reach it:
 * metadata steps by the config they leave and their history text; RUN by its process (command, environment with
 * the recorded build arguments, user, directory, mounts, network); COPY/ADD by their flags, destination and the
 * hash of their sources; WORKDIR by its path and user. Proxy build arguments a stage does not declare stay out of
 * keys, as they stay out of Docker's history, so changing a proxy does not invalidate the cache.
 *
 * Source hashes (COPY, ADD, RUN bind mounts of the context) use the classic builder's format, so that the hash is
 * also the text Docker writes in the history (`COPY file:<hex> in /dst `):
 * - each entry of the context (a tar entry as the client sends it) is hashed as tarsum v1 does: sha256 of the
 *   header fields `name mode uid gid size typeflag linkname uname gname devmajor devminor` (each written as its
 *   field name followed by its decimal or text value, no separators), then the extended attributes sorted by name
 *   (`name` then value), then the content. mtime is not part of it: a touched file keeps its hash;
 * - a source that is a file is `file:<entry hex>`; a directory is `dir:` + sha256 of the hex sums of the
 *   directory itself and everything below it, sorted and joined with `,`; several sources (several arguments, or a
 *   glob matching several paths) are `multi:` + sha256 of their hashes joined with `,`;
 * - a symbolic link counts as the entry it points to, followed inside the context (the classic builder's rule),
 *   or, when that does not exist, as its own path (the text itself in place of a sum).
 * Directory names end with `/`, as in the tar the docker CLI sends; uname and gname are always empty (tarsum
 * ignores them).
 * An executor streaming the context computes the entry sums as the entries pass (`entryHash`), then combines
 * them for each COPY with the functions below.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Platform } from '../oci/types.ts';
import type { HealthConfig, ImageRunConfig } from '../oci/types.ts';
import type { Mount } from '../dockerfile/index.ts';
import type { StepResult } from './imageconfig.ts';

export const CACHE_KEY_VERSION = 'berth.build.cache.v1';

/** A key: `sha256:<hex>`. */
export type CacheKey = `sha256:${string}`;

/** The header fields of one context entry, as in its tar header. */
export interface EntryHeader {
  /** Path in the context as the tar names it (`dir/file`, a directory `dir/`). */
  name: string;
  /** Permission bits with setuid/setgid/sticky (the tar header's mode field). */
  mode: number;
  uid: number;
  gid: number;
  /** Content size (0 for anything but a regular file). */
  size: number;
  /** The tar type flag: '0' file, '5' directory, '2' symlink, '1' hard link, '3'/'4' devices, '6' fifo. */
  typeflag: string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes (`security.capability`, …), values as the tar header's PAX records hold them. */
  xattrs?: Record<string, string>;
  /**
   * Owner names: empty for context entries (the docker CLI sends none); for files of a stage or an image, the host's
   * names of their uid and gid, as the classic builder's Go `tar.FileInfoHeader` looks them up.
   */
  uname?: string;
  gname?: string;
}

/** The tarsum v1 header bytes of an entry: what its hash starts with. */
export function entryHeaderText(h: EntryHeader): string {
  const fields: [string, string][] = [
    ['name', h.name],
    ['mode', String(h.mode)],
    ['uid', String(h.uid)],
    ['gid', String(h.gid)],
    ['size', String(h.size)],
    ['typeflag', h.typeflag],
    ['linkname', h.linkname ?? ''],
    ['uname', h.uname ?? ''],
    ['gname', h.gname ?? ''],
    ['devmajor', String(h.devmajor ?? 0)],
    ['devminor', String(h.devminor ?? 0)],
  ];
  const xattrs = Object.entries(h.xattrs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [...fields, ...xattrs].map(([k, v]) => k + v).join('');
}

/** A running hash for one entry, primed with its header: feed it the content, then `digest('hex')`. */
export function entryHash(h: EntryHeader): Hash {
  return createHash('sha256').update(entryHeaderText(h), 'utf8');
}

/** The hex sum of an entry whose content is at hand (small files, directories, links). */
export function entrySum(h: EntryHeader, content?: Uint8Array | string): string {
  const hash = entryHash(h);
  if (content !== undefined && content.length > 0) hash.update(content);
  return hash.digest('hex');
}

export function fileSourceHash(sum: string): string {
  return `file:${sum}`;
}

/** A directory source: the sums of the directory's own entry and of everything below it. */
export function dirSourceHash(entrySums: readonly string[]): string {
  return `dir:${sha256hex([...entrySums].sort().join(','))}`;
}

/** All the sources of one COPY/ADD: one source's hash as it is, several combined. */
export function sourcesHash(hashes: readonly string[]): string {
  if (hashes.length === 1) return hashes[0]!;
  return `multi:${sha256hex(hashes.join(','))}`;
}

/** The start of a stage: its base, as the executor resolved it. */
export type BaseIdentity =
  | { kind: 'scratch'; platform: Platform }
  /** An image by its ID (config digest), which names its content and config exactly. */
  | { kind: 'image'; id: string; platform: Platform }
  /** Another stage of the build: its final key. */
  | { kind: 'stage'; key: CacheKey };

/** A resolved step, as the key covers it. */
export type KeyedStep =
  | { op: 'config'; createdBy: string; config: ImageRunConfig; author: string }
  | {
      op: 'run';
      createdBy: string;
      cmd: string[];
      /** The config's Env and the recorded build arguments (proxies not declared left out). */
      env: string[];
      user: string;
      workingDir: string;
      mounts: KeyedMount[];
      network: string;
      security: string;
      script?: string;
    }
  | {
      op: 'copy' | 'add';
      /** `sourcesHash` of the sources read (context, stage or image), '' when only heredoc contents. */
      sources: string;
      /** Where the sources came from: '' for the context, else the stage's key or the image's ID. */
      from: string;
      contents: { path: string; data: string }[];
      dest: string;
      workingDir: string;
      chown: string;
      chmod: string;
      link: boolean;
      parents: boolean;
      excludes: string[];
      checksum: string;
      keepGitDir?: boolean;
      unpack?: boolean;
    }
  | { op: 'workdir'; path: string; user: string };

/**
 * A RUN mount as it affects the result: bind mounts by the content they show (`sources`: a source hash for the
 * context, or the stage key / image ID), caches by id and sharing (not content), secrets by id and target only.
 */
export interface KeyedMount {
  type: string;
  target: string;
  source?: string;
  readOnly?: boolean;
  from?: string;
  sources?: string;
  id?: string;
  sharing?: string;
  sizeLimit?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  required?: boolean;
  env?: string;
}

/** The key part of a mount; `sources` is what the executor read for a bind mount. */
export function keyedMount(m: Mount, sources?: string): KeyedMount {
  const base: KeyedMount = { type: m.type, target: m.target };
  switch (m.type) {
    case 'bind':
      return { ...base, source: m.source, readOnly: m.readOnly, from: m.from, ...(sources ? { sources } : {}) };
    case 'cache':
      return {
        ...base,
        id: m.id !== '' ? m.id : m.target,
        sharing: m.sharing !== '' ? m.sharing : 'shared',
        readOnly: m.readOnly,
        from: m.from,
        source: m.source,
        ...(m.mode !== undefined ? { mode: m.mode } : {}),
        ...(m.uid !== undefined ? { uid: m.uid } : {}),
        ...(m.gid !== undefined ? { gid: m.gid } : {}),
      };
    case 'tmpfs':
      return { ...base, sizeLimit: m.sizeLimit };
    case 'secret':
    case 'ssh':
      return {
        ...base,
        id: m.id,
        source: m.source,
        required: m.required,
        ...(m.env !== undefined ? { env: m.env } : {}),
        ...(m.mode !== undefined ? { mode: m.mode } : {}),
        ...(m.uid !== undefined ? { uid: m.uid } : {}),
        ...(m.gid !== undefined ? { gid: m.gid } : {}),
      };
  }
}

/** What the executor read for a step, which the step's text alone does not say. */
export interface StepInputs {
  /** COPY/ADD: `sourcesHash` of what was copied ('' when only heredoc contents). */
  sources?: string;
  /** COPY --from: the stage's key or the image's ID ('' for the context). */
  from?: string;
  /** RUN: for each mount in order, what a bind mount showed (a source hash, stage key or image ID). */
  mountSources?: readonly (string | undefined)[];
}

/** The resolved step of an applied instruction (imageconfig.ts), with what the executor read. */
export function keyedStep(result: StepResult, inputs: StepInputs = {}): KeyedStep {
  const w = result.work;
  if (w === undefined) {
    return {
      op: 'config',
      createdBy: result.history.createdBy,
      config: result.state.config,
      author: result.state.author,
    };
  }
  switch (w.kind) {
    case 'run':
      return {
        op: 'run',
        createdBy: result.history.createdBy,
        cmd: w.cmd,
        env: w.keyEnv,
        user: w.user,
        workingDir: w.workingDir,
        mounts: w.mounts.map((m, i) => keyedMount(m, inputs.mountSources?.[i])),
        network: w.network,
        security: w.security,
        ...(w.script ? { script: w.script.data } : {}),
      };
    case 'workdir':
      return { op: 'workdir', path: w.path, user: w.user };
    case 'copy':
    case 'add':
      return {
        op: w.kind,
        sources: inputs.sources ?? '',
        from: inputs.from ?? '',
        contents: w.contents.map((c) => ({ path: c.path, data: c.data })),
        dest: w.dest,
        workingDir: w.workingDir,
        chown: w.chown,
        chmod: w.chmod,
        link: w.link,
        parents: w.parents,
        excludes: w.excludes,
        checksum: w.checksum,
        ...(w.keepGitDir !== undefined ? { keepGitDir: w.keepGitDir } : {}),
        ...(w.unpack !== undefined ? { unpack: w.unpack } : {}),
      };
  }
}

/** The key a stage starts from. */
export function baseKey(base: BaseIdentity): CacheKey {
  if (base.kind === 'stage') return base.key;
  return keyOf({ v: CACHE_KEY_VERSION, base });
}

/** The key of a step on top of `parent`. */
export function stepKey(parent: CacheKey, step: KeyedStep): CacheKey {
  return keyOf({ v: CACHE_KEY_VERSION, parent, step: normaliseStep(step) });
}

function normaliseStep(step: KeyedStep): unknown {
  if (step.op !== 'config') return step;
  // a healthcheck's zero fields and map key order must not change the key
  const config = { ...step.config };
  if (config.Healthcheck) config.Healthcheck = dropZeros(config.Healthcheck);
  return { ...step, config };
}

function dropZeros(h: HealthConfig): HealthConfig {
  return Object.fromEntries(Object.entries(h).filter(([, v]) => v !== 0 && v !== undefined)) as HealthConfig;
}

function keyOf(value: unknown): CacheKey {
  return `sha256:${sha256hex(canonicalJson(value))}`;
}

function sha256hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** JSON with object keys sorted at every level and undefined members left out: equal values, equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (value === undefined) return 'null';
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`not a JSON number: ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
