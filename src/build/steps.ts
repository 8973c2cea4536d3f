/**
 * Making one step's result when the cache has none: metadata steps only move the config; WORKDIR, COPY, ADD and
 * RUN write into a new layer on the stage's top one (layer.ts), which is committed when it changed something.
 * Also what a step's cache key needs from outside the Dockerfile: the hash of COPY's sources and what RUN's bind
 * mounts show.
 */
import { randomBytes } from 'node:crypto';
import { join, posix } from 'node:path';
import { chmod, cp, lchown, lstat, mkdir, rm } from 'node:fs/promises';
import { chainIds } from '../images/index.ts';
import type { MountInput } from '../runtime/index.ts';
import { FailedPreconditionError } from '../util/errors.ts';
import type { CacheKey, StepInputs } from './cachekey.ts';
import { canonicalJson } from './cachekey.ts';
import type { BuildContext } from './context.ts';
import { isArchive } from './archive.ts';
import { copySources, parseChmod, type Resolved, resolveChown, resolveSources } from './copy.ts';
import { copyEntries } from './copytar.ts';
import type { Mount } from '../dockerfile/index.ts';
import type { ExecutorDeps } from './executor.ts';
import type { CopyWork, RunWork, StepResult } from './imageconfig.ts';
import { type MadeLayer, WorkLayer } from './layer.ts';
import type { Location } from './windows.ts';
import type { BuildEvent } from './progress.ts';
import { resolveInRoot } from '../util/rootpath.ts';
import { prepareMounts } from './runmounts.ts';
import type { SourceFS } from './sources.ts';
import { nextImage, type StepImage } from './stepimage.ts';

/** What a step runs with. */
export interface StepEnv {
  deps: ExecutorDeps;
  stage: number;
  step: number;
  context: BuildContext;
  contextSource: SourceFS;
  tmpDir: string;
  networkMode: string;
  extraHosts: readonly string[];
  shmSize?: number | undefined;
  secrets: ReadonlyMap<string, Buffer>;
  signal: AbortSignal;
  emit(e: BuildEvent): void;
  /** A stage (by name or index) or an image, as `--from` names it: its key part and its root. */
  source(from: string): Promise<StepSource>;
}

/**
 * What `--from` names: its key part, the chain its files are (null: none, scratch) and its root, mounted only when
 * `fs` is first called (a cached step never mounts it).
 */
export interface StepSource {
  id: string;
  chainId: string | null;
  fs(): Promise<SourceFS>;
}

/** A RUN whose process failed: the classic builder's message, and the exit code for `errorDetail.code`. */
export class RunFailedError extends FailedPreconditionError {
  readonly exitCode: number;
  constructor(cmd: readonly string[], code: number) {
    super(`The command '${cmd.join(' ')}' returned a non-zero code: ${code}`);
    this.exitCode = code;
  }
}

/** Mount points the runtime makes in every step's root. */
const RUNTIME_STUBS = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/dev', '/proc', '/sys'];

/** COPY/ADD's sources: resolved (and hashed) for the key when from the context, and where they are. */
export interface CopyInputs {
  /** The context's sources, resolved and hashed for the key (and kept for the copy); undefined with `--from`. */
  resolved?: Resolved | undefined;
  /** Where the sources are: the context, or the `--from` root (mounted on the first call). */
  fs(): Promise<SourceFS | undefined>;
  fromContext: boolean;
  /** The step's key without its sources' hash (from the context only): see linked.ts. */
  family?: string;
}

/** The most `--from` source lists kept in `ExecutorDeps.fromPaths`. */
const FROM_PATHS_KEPT = 512;

export async function copyInputs(env: StepEnv, w: CopyWork, inputs: StepInputs): Promise<CopyInputs> {
  if (w.from === '') {
    const fs = env.contextSource;
    const resolved = await resolveSources(w, fs, {
      fromContext: true,
      hashNeeded: true,
      tmpDir: env.tmpDir,
      signal: env.signal,
    });
    inputs.sources = resolved.hash;
    return { resolved, fs: async () => fs, fromContext: true };
  }
  // The content of a stage's or an image's files follows from its key or ID: their hash waits for a cache miss.
  // Their names (globs expanded, each checked to exist) follow from the chain's content, which its ID names: a
  // list made once is kept by chain and instruction, so that a cached COPY --from mounts nothing.
  const src = await env.source(w.from);
  inputs.from = src.id;
  const memo = env.deps.fromPaths;
  const memoKey = `${src.chainId ?? 'scratch'}\n${JSON.stringify(w)}`;
  let paths = memo?.get(memoKey);
  if (paths === undefined) {
    const resolved = await resolveSources(w, await src.fs(), {
      fromContext: false,
      hashNeeded: false,
      tmpDir: env.tmpDir,
      signal: env.signal,
    });
    paths = `paths:${canonicalJson(resolved.sources.map((s) => (s.kind === 'path' ? s.name : s.hash)))}`;
    if (memo) {
      if (memo.size >= FROM_PATHS_KEPT) memo.delete(memo.keys().next().value!);
      memo.set(memoKey, paths);
    }
  }
  inputs.sources = paths;
  return { fs: () => src.fs(), fromContext: false };
}

/** For each RUN mount, what its content follows from: a context hash, a stage's key, an image's ID. */
export async function mountKeys(env: StepEnv, mounts: readonly Mount[]): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for (const m of mounts) {
    if (m.type !== 'bind') {
      out.push(undefined);
      continue;
    }
    if (m.from === '') {
      const name = await env.contextSource.resolve(m.source || '.');
      out.push((await env.contextSource.type(name)) ? await env.contextSource.hash(name) : `missing:${name}`);
    } else out.push((await env.source(m.from)).id);
  }
  return out;
}

/** Makes the step's image; returns it with the size of the layer it added. */
export async function executeStep(
  env: StepEnv,
  result: StepResult,
  cur: StepImage,
  key: CacheKey,
  copy?: CopyInputs,
): Promise<{ image: StepImage; size: number }> {
  const w = result.work;
  const base = {
    key,
    runConfig: result.state.config,
    author: result.state.author,
    createdBy: result.history.createdBy,
  };
  if (!w) return { image: nextImage(cur, { ...base, created: new Date().toISOString() }), size: 0 };
  const layer = await WorkLayer.begin(
    { snapshotter: env.deps.snapshotter, images: env.deps.images, mountRoot: `${env.deps.workRoot}/mnt` },
    cur.chainId,
  );
  try {
    let stubs: string[] = [];
    let createdBy = base.createdBy;
    let applied: MadeLayer | undefined;
    let record: { family: string; files: Map<string, string>; created: Map<string, number> } | undefined;
    switch (w.kind) {
      case 'workdir': {
        const host = await resolveInRoot(layer.rootfs, w.path);
        if (!(await lstat(host).catch(() => undefined))) {
          await mkdir(host, { recursive: true, mode: 0o755 });
          await chmod(host, 0o755);
          await lchown(host, 0, 0);
        }
        break;
      }
      case 'copy':
      case 'add': {
        const c = copy!;
        const fs = await c.fs();
        const resolved =
          c.resolved ??
          (await resolveSources(w, fs, {
            fromContext: false,
            hashNeeded: true,
            tmpDir: env.tmpDir,
            signal: env.signal,
          }));
        createdBy = w.createdBy(resolved.hash);
        const target = {
          root: layer.rootfs,
          identity: await resolveChown(layer.rootfs, w.chown),
          mode: parseChmod(w.chmod),
        };
        if (w.kind === 'add' && w.unpack !== false && (await hasArchive(resolved, fs))) {
          // ADD unpacking an archive: through the mounted root, and the layer from its diff
          await copySources(w, resolved, fs, { ...target, unpack: true, signal: env.signal });
          break;
        }
        const files = c.family !== undefined ? new Map<string, string>() : undefined;
        const locations = files ? new Map<string, Location>() : undefined;
        const created = new Map<string, number>();
        const prev = c.family !== undefined ? await env.deps.copies?.get(c.family) : undefined;
        const plan = { ...target, files, locations, times: prev?.created, created };
        const entries = await copyEntries(w, resolved, fs, plan);
        if (prev && files) applied = await layer.applyLinked(entries, files, prev, locations);
        applied ??= await layer.applyTar(entries, files, locations);
        if (files && files.size > 0 && c.family !== undefined) record = { family: c.family, files, created };
        break;
      }
      case 'run':
        stubs = await runStep(env, w, layer, Object.keys(result.state.config.Volumes ?? {}));
        break;
    }
    const made = applied ?? (await layer.diff([...RUNTIME_STUBS, ...stubs]));
    const created = new Date().toISOString();
    if (!made) {
      await layer.discard();
      return { image: nextImage(cur, { ...base, createdBy, created }), size: 0 };
    }
    const chainId = chainIds([...cur.config.rootfs.diff_ids, made.diffId as `sha256:${string}`]).at(-1)!;
    if ((await layer.commit(chainId, made)) && record)
      await env.deps.copies?.put(record.family, {
        chainId,
        files: record.files,
        created: record.created,
        marks: made.marks,
      });
    return { image: nextImage(cur, { ...base, createdBy, created, layer: layerOf(made, chainId) }), size: made.size };
  } catch (err) {
    await layer.discard();
    throw err;
  }
}

/** Whether ADD has a local archive to unpack among its sources. */
async function hasArchive(resolved: Resolved, fs: SourceFS | undefined): Promise<boolean> {
  for (const s of resolved.sources) {
    if (s.kind !== 'path' || s.type !== 'file' || !fs) continue;
    await fs.prepare?.(s.name);
    if (await isArchive(join(fs.root, s.name))) return true;
  }
  return false;
}

function layerOf(made: MadeLayer, chainId: string) {
  return {
    descriptor: { mediaType: made.descriptor.mediaType, digest: made.descriptor.digest, size: made.descriptor.size },
    diffId: made.diffId,
    chainId,
  };
}

/**
 * The image's volumes during a RUN, as the classic builder has them: the mount point made in the root (it stays
 * in the layer), an anonymous volume holding a copy of what the image has there, and what the step writes into it
 * is thrown away.
 */
async function volumeMounts(root: string, volumes: readonly string[], tmpDir: string): Promise<MountInput[]> {
  const out: MountInput[] = [];
  for (const v of volumes) {
    const host = await resolveInRoot(root, v);
    if (!(await lstat(host).catch(() => undefined))) await mkdir(host, { recursive: true, mode: 0o755 });
    const scratch = join(tmpDir, `volume-${randomBytes(6).toString('hex')}`);
    await cp(host, scratch, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    out.push({ type: 'bind', source: scratch, destination: posix.resolve('/', v) });
  }
  return out;
}

/** Runs RUN's process in the layer's root; returns the mount targets to take out of the layer. */
async function runStep(env: StepEnv, w: RunWork, layer: WorkLayer, volumes: readonly string[]): Promise<string[]> {
  const vols = await volumeMounts(layer.rootfs, volumes, env.tmpDir);
  const prepared = await prepareMounts(
    w.mounts,
    {
      root: async (m) => {
        if (m.from !== '') return (await (await env.source(m.from)).fs()).root;
        await env.context.materialize(env.context.resolve(m.source || '.'));
        return env.context.dir;
      },
      secrets: env.secrets,
      tmpDir: env.tmpDir,
    },
    env.deps.caches,
  );
  const id = randomBytes(32).toString('hex');
  env.emit({ kind: 'run-start', stage: env.stage, step: env.step, id });
  try {
    const code = await env.deps.runner.run({
      id,
      rootfs: layer.rootfs,
      work: w,
      network: w.network === 'default' ? env.networkMode : w.network,
      extraHosts: env.extraHosts,
      shmSize: env.shmSize,
      mounts: [...vols, ...prepared.mounts],
      env: prepared.env,
      signal: env.signal,
      onOutput: (stream, chunk) =>
        env.emit({ kind: 'output', stage: env.stage, step: env.step, stream, data: chunk.toString('utf8') }),
    });
    if (code !== 0) throw new RunFailedError(w.cmd, code);
  } finally {
    await prepared.release();
    for (const v of vols) if (v.type === 'bind') await rm(v.source, { recursive: true, force: true });
  }
  env.emit({ kind: 'run-end', stage: env.stage, step: env.step, id });
  return prepared.stubs;
}
