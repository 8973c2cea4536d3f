/**
 * The executor: runs a planned build. Each stage the target needs starts once the stages it needs are done, so
 * independent stages build side by side; within a stage each instruction is applied to the stage's state
 * (imageconfig.ts), its cache key computed (cachekey.ts), and its result taken from the build cache or made
 * (steps.ts) and recorded. Events go out as they happen (progress.ts keeps the classic text in stage order).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hostPlatform, type Image, type ImageService } from '../images/index.ts';
import type { BuildCacheRecords } from '../metadata/index.ts';
import type { Platform } from '../oci/types.ts';
import { type Mount as SnapshotMount, mountAll, type Snapshotter, unmountAll } from '../snapshots/index.ts';
import { CanceledError, errorMessage, NotFoundError } from '../util/errors.ts';
import { ArgScope } from './args.ts';
import { baseKey, type CacheKey, keyedStep, stepKey, type StepInputs } from './cachekey.ts';
import type { BuildContext } from './context.ts';
import { type Dockerfile, type Instruction, type LabelInstruction, parseTriggers } from '../dockerfile/index.ts';
import { applyInstruction, beginStage, type StageState } from './imageconfig.ts';
import { type BuildPlan, type PlannedStage, planBuild } from './planner.ts';
import { type BuildEvent, StageOrder } from './progress.ts';
import type { Runner } from './run.ts';
import type { CacheMounts } from './runmounts.ts';
import type { CopyRecords } from './linked.ts';
import { ContextSource, DirSource } from './sources.ts';
import { type CopyInputs, copyInputs, executeStep, mountKeys, type StepEnv, type StepSource } from './steps.ts';
import {
  baseImage,
  CACHE_KEYS_ANNOTATION,
  fromRecord,
  nextImage,
  recordOf,
  scratchImage,
  type StepImage,
} from './stepimage.ts';

export interface ExecutorDeps {
  images: ImageService;
  snapshotter: Snapshotter;
  records: BuildCacheRecords;
  runner: Runner;
  caches: CacheMounts;
  /** Each COPY family's last layer, which the next COPY of it links unchanged files from (linked.ts). */
  copies?: CopyRecords | undefined;
  /**
   * The names a `COPY --from` resolved to, by the chain it read and the instruction (steps.ts, `copyInputs`): a chain
   * ID names its content, so the list holds for as long as the daemon runs.
   */
  fromPaths?: Map<string, string> | undefined;
  /** `<data-root>/build`: mounts (`mnt/`) and scratch directories (`tmp/`). */
  workRoot: string;
  /** Pulls an image into the store (FROM, COPY --from, when missing or with `--pull`). */
  pull(ref: string, opts: PullOptions): Promise<void>;
}

export interface PullOptions {
  platform: Platform;
  signal: AbortSignal;
  onProgress(m: Record<string, unknown>): void;
}

export interface ExecuteOptions {
  dockerfile: Dockerfile;
  dockerfileName: string;
  context: BuildContext;
  buildArgs: ReadonlyMap<string, string>;
  target?: string | undefined;
  noCache: boolean;
  pull: boolean;
  labels: Readonly<Record<string, string>>;
  /** RUN's network when a step names none (`--network`): `default`, `none`, `host` or a network. */
  networkMode: string;
  extraHosts: readonly string[];
  shmSize?: number | undefined;
  cacheFrom: readonly string[];
  platform?: Platform | undefined;
  secrets: ReadonlyMap<string, Buffer>;
  signal: AbortSignal;
  emit(e: BuildEvent): void;
}

/** Runs the build; returns the target stage's image (not yet registered). */
export async function execute(deps: ExecutorDeps, o: ExecuteOptions): Promise<StepImage> {
  const run = new BuildRun(deps, o);
  try {
    return await run.run();
  } finally {
    await run.close();
  }
}

class BuildRun {
  readonly #d: ExecutorDeps;
  readonly #o: ExecuteOptions;
  readonly #abort = new AbortController();
  readonly #signal: AbortSignal;
  readonly #stages = new Map<number, Promise<StepImage>>();
  readonly #images = new Map<string, Promise<Image>>();
  readonly #roots = new Map<string, Promise<string>>();
  readonly #views: { key: string; dir: string }[] = [];
  readonly #tmp: string;
  readonly #platform: Platform;
  /** --cache-from: cache key → the image and the history entry it made. */
  #cacheFrom: Map<string, { img: Image; index: number }> | undefined;
  #plan!: BuildPlan;
  #order!: StageOrder;
  #firstStep = new Map<number, number>();
  #total = 0;

  constructor(d: ExecutorDeps, o: ExecuteOptions) {
    this.#d = d;
    this.#o = o;
    this.#signal = AbortSignal.any([o.signal, this.#abort.signal]);
    this.#tmp = join(d.workRoot, 'tmp', randomBytes(8).toString('hex'));
    this.#platform = o.platform ?? hostPlatform();
  }

  async run(): Promise<StepImage> {
    const o = this.#o;
    this.#plan = planBuild(o.dockerfile, {
      buildArgs: o.buildArgs,
      ...(o.target ? { target: o.target } : {}),
      buildPlatform: hostPlatform(),
      targetPlatform: this.#platform,
      file: o.dockerfileName,
    });
    const plan = this.#plan;
    const target = plan.stages[plan.target]!;
    for (const [k, v] of Object.entries(o.labels).sort(([a], [b]) => (a < b ? -1 : 1))) {
      target.commands = [...target.commands, labelInstruction(k, v)];
    }
    await mkdir(this.#tmp, { recursive: true });
    let n = o.dockerfile.metaArgs.length;
    for (const i of plan.order) {
      this.#firstStep.set(i, n + 1);
      n += 1 + plan.stages[i]!.commands.length;
    }
    this.#total = n;
    this.#order = new StageOrder(plan.order, o.emit);
    o.dockerfile.metaArgs.forEach((a, i) => {
      o.emit({ kind: 'step', stage: -1, step: i + 1, total: n, text: a.original });
    });
    for (const i of plan.order) this.#stage(i);
    try {
      const img = await this.#stage(plan.target);
      await Promise.all(this.#stages.values());
      if (plan.unusedBuildArgs.length > 0)
        o.emit({
          kind: 'warning',
          text: `One or more build-args [${plan.unusedBuildArgs.join(' ')}] were not consumed`,
        });
      return img;
    } catch (err) {
      this.#abort.abort(err);
      await Promise.allSettled(this.#stages.values());
      throw err;
    }
  }

  /** A stage's image, built once its dependencies are. */
  #stage(i: number): Promise<StepImage> {
    let p = this.#stages.get(i);
    if (!p) {
      p = (async () => {
        const st = this.#plan.stages[i]!;
        for (const d of st.deps) if (d !== i) await this.#stage(d);
        try {
          return await this.#build(st);
        } finally {
          this.#order.finish(i);
        }
      })();
      p.catch(() => {});
      this.#stages.set(i, p);
    }
    return p;
  }

  async #build(st: PlannedStage): Promise<StepImage> {
    const o = this.#o;
    let step = this.#firstStep.get(st.index)!;
    const emit = (e: BuildEvent) => this.#order.emit(e);
    const where = (k: number) => ({ name: st.displayName, index: k, count: st.commands.length + 1 });
    emit({ kind: 'step', stage: st.index, step, total: this.#total, text: st.from.original, ...where(1) });
    let cur = await this.#base(st);
    emit({ kind: 'result', stage: st.index, step, id: cur.id, ms: 0, cached: true });
    const args = new ArgScope(this.#plan.globalArgs, o.buildArgs);
    const begun = beginStage(cur.config.config, args, {
      escapeToken: o.dockerfile.escapeToken,
      file: o.dockerfileName,
    });
    let state: StageState = begun.state;
    const triggers = begun.triggers.length > 0 ? parseTriggers(begun.triggers, 'ONBUILD') : [];
    if (triggers.length > 0) emit({ kind: 'triggers', stage: st.index, count: triggers.length });
    for (const ins of triggers) ({ state, cur } = await this.#step(st, ins, state, cur, step, false));
    for (const [k, ins] of st.commands.entries()) {
      step++;
      emit({ kind: 'step', stage: st.index, step, total: this.#total, text: ins.original, ...where(k + 2) });
      ({ state, cur } = await this.#step(st, ins, state, cur, step, true));
    }
    emit({ kind: 'stage-done', stage: st.index, id: cur.id });
    return cur;
  }

  async #step(
    st: PlannedStage,
    ins: Instruction,
    state: StageState,
    cur: StepImage,
    step: number,
    shown: boolean,
  ): Promise<{ state: StageState; cur: StepImage }> {
    this.#signal.throwIfAborted();
    const t0 = Date.now();
    const emit = (e: BuildEvent) => this.#order.emit(e);
    const result = applyInstruction(state, ins);
    const env = this.#stepEnv(st, step);
    const inputs: StepInputs = {};
    const w = result.work;
    let copy: CopyInputs | undefined;
    if (w?.kind === 'copy' || w?.kind === 'add') copy = await copyInputs(env, w, inputs);
    if (w?.kind === 'run') inputs.mountSources = await mountKeys(env, w.mounts);
    const key = stepKey(cur.key, keyedStep(result, inputs));
    // the same step but for its sources' content: where an earlier layer to link unchanged files from is found
    if (copy?.fromContext) copy.family = stepKey(cur.key, keyedStep(result, { ...inputs, sources: '' }));
    const hit = this.#o.noCache ? undefined : await this.#cached(key, cur, result.state);
    if (hit) {
      if (shown) emit({ kind: 'cached', stage: st.index, step });
      emit({ kind: 'result', stage: st.index, step, id: hit.id, ms: Date.now() - t0, cached: true });
      return { state: result.state, cur: hit };
    }
    const made = await executeStep(env, result, cur, key, copy);
    const now = Date.now();
    this.#d.records.put(recordOf(made.image, cur.key, made.size, now));
    emit({ kind: 'result', stage: st.index, step, id: made.image.id, ms: now - t0, cached: false });
    return { state: result.state, cur: made.image };
  }

  /** The step's image from the build cache, or from a `--cache-from` image's history. */
  async #cached(key: CacheKey, cur: StepImage, state: StageState): Promise<StepImage | undefined> {
    const rec = this.#d.records.get(key);
    if (rec && (rec.chainId === null || (await this.#hasSnapshot(rec.chainId)))) {
      this.#d.records.touch(key, Date.now());
      return fromRecord(rec, cur.keys);
    }
    const from = (await this.#cacheFromIndex()).get(key);
    if (!from) return undefined;
    const h = from.img.config.history ?? [];
    const entry = h[from.index]!;
    const layerCount = h.slice(0, from.index + 1).filter((e) => !e.empty_layer).length;
    if (layerCount !== cur.layers.length + (entry.empty_layer ? 0 : 1)) return undefined;
    const diffIds = from.img.config.rootfs.diff_ids.slice(0, layerCount);
    const { chainIds } = await import('../images/index.ts');
    const chainId = chainIds(diffIds).at(-1) ?? null;
    const desc = from.img.manifest.layers[layerCount - 1];
    const img = nextImage(cur, {
      key,
      runConfig: state.config,
      author: state.author,
      createdBy: entry.created_by ?? '',
      created: entry.created ?? new Date().toISOString(),
      ...(entry.empty_layer || !desc || !chainId
        ? {}
        : { layer: { descriptor: desc, diffId: diffIds[layerCount - 1]!, chainId } }),
    });
    this.#d.records.put(recordOf(img, cur.key, 0, Date.now()));
    return img;
  }

  async #cacheFromIndex(): Promise<Map<string, { img: Image; index: number }>> {
    if (this.#cacheFrom) return this.#cacheFrom;
    const index = new Map<string, { img: Image; index: number }>();
    for (const ref of this.#o.cacheFrom) {
      let img: Image;
      try {
        img = await this.#d.images.load(this.#d.images.resolve(ref));
      } catch {
        continue; // as the classic builder: a --cache-from image that is not here is skipped
      }
      let keys: unknown;
      try {
        keys = JSON.parse(img.manifest.annotations?.[CACHE_KEYS_ANNOTATION] ?? 'null');
      } catch {
        continue;
      }
      if (!Array.isArray(keys)) continue;
      keys.forEach((k, i) => {
        if (typeof k === 'string' && !index.has(k)) index.set(k, { img, index: i });
      });
    }
    this.#cacheFrom = index;
    return index;
  }

  async #hasSnapshot(chainId: string): Promise<boolean> {
    try {
      await this.#d.snapshotter.stat(chainId);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  #stepEnv(st: PlannedStage, step: number): StepEnv {
    const o = this.#o;
    return {
      deps: this.#d,
      stage: st.index,
      step,
      context: o.context,
      contextSource: new ContextSource(o.context),
      tmpDir: this.#tmp,
      networkMode: o.networkMode,
      extraHosts: o.extraHosts,
      shmSize: o.shmSize,
      secrets: o.secrets,
      signal: this.#signal,
      emit: (e) => this.#order.emit(e),
      source: (from) => this.#sourceOf(from),
    };
  }

  /** What `--from=`/`from=` names: a stage's image or an image, with its key part and its root (mounted when asked). */
  async #sourceOf(from: string): Promise<StepSource> {
    const byName = this.#plan.stages.find((s) => s.name !== '' && s.name === from.toLowerCase());
    const idx = byName?.index ?? (/^\d+$/.test(from) ? Number(from) : undefined);
    const source = (id: string, chainId: string | null): StepSource => ({
      id,
      chainId,
      fs: async () => new DirSource(await this.#rootOf(chainId)),
    });
    if (idx !== undefined && this.#plan.stages[idx]) {
      const img = await this.#stage(idx);
      return source(img.key, img.chainId);
    }
    if (from === 'scratch') return source('scratch', null);
    const image = await this.#image(from, this.#platform);
    return source(image.record.configDigest, image.record.chainId);
  }

  /** A read-only view of a chain, mounted for the rest of the build (an empty directory for none). */
  #rootOf(chainId: string | null): Promise<string> {
    const k = chainId ?? '';
    let p = this.#roots.get(k);
    if (!p) {
      p = (async () => {
        const id = randomBytes(8).toString('hex');
        const dir = join(this.#d.workRoot, 'mnt', `view-${id}`);
        await mkdir(dir, { recursive: true });
        if (chainId === null) return dir;
        const key = `build-view-${id}`;
        const mounts: SnapshotMount[] = await this.#d.snapshotter.view(key, chainId);
        this.#views.push({ key, dir });
        mountAll(mounts, dir);
        return dir;
      })();
      this.#roots.set(k, p);
    }
    return p;
  }

  async #base(st: PlannedStage): Promise<StepImage> {
    const platform = st.platform ?? this.#platform;
    switch (st.base.kind) {
      case 'scratch':
        return scratchImage(platform, baseKey({ kind: 'scratch', platform }));
      case 'stage': {
        const img = await this.#stage(st.base.index);
        return { ...img, key: baseKey({ kind: 'stage', key: img.key }) };
      }
      case 'image': {
        const img = await this.#image(st.base.ref, platform, st.index);
        return baseImage(img, baseKey({ kind: 'image', id: img.record.configDigest, platform }));
      }
    }
  }

  /** A local image, pulled when missing (or always with `--pull`), once per build. */
  #image(ref: string, platform: Platform, stage = -1): Promise<Image> {
    let p = this.#images.get(ref);
    if (!p) {
      p = (async () => {
        const images = this.#d.images;
        if (!this.#o.pull) {
          try {
            return await images.load(images.resolve(ref));
          } catch (err) {
            if (!(err instanceof NotFoundError)) throw err;
          }
        }
        await this.#d.pull(ref, {
          platform,
          signal: this.#signal,
          onProgress: (message) => this.#order.emit({ kind: 'pull', stage, message }),
        });
        return images.load(images.resolve(ref));
      })();
      p.catch(() => {});
      this.#images.set(ref, p);
    }
    return p;
  }

  async close(): Promise<void> {
    for (const v of this.#views) {
      await unmountAll(v.dir, { detach: true }).catch(() => {});
      await this.#d.snapshotter.remove(v.key).catch(() => {});
    }
    for (const p of this.#roots.values()) {
      const dir = await p.catch(() => undefined);
      if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
    await rm(this.#tmp, { recursive: true, force: true });
  }
}

/** `--label k=v` as the classic builder adds it: a LABEL step at the end of the target stage, taken literally. */
function labelInstruction(key: string, value: string): LabelInstruction {
  const lit = (s: string) => s.replace(/[\\$"']/g, '\\$&');
  return {
    kind: 'label',
    keyword: 'LABEL',
    original: `LABEL ${key}=${value}`,
    startLine: 0,
    endLine: 0,
    labels: [{ key: lit(key), value: lit(value), noDelim: false }],
  };
}

export function isCanceled(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || err instanceof CanceledError || errorMessage(err).includes('aborted');
}
