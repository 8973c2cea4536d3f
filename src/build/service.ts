/**
 * The builder as a service: `build` takes a context body and the classic builder's options, receives the context,
 * parses the Dockerfile, runs the build and registers the result with its tags; `prune` and `diskUsage` serve
 * `builder prune` and `system df`; `repair` releases what a daemon killed mid-build left.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskUsageBuildCache } from '../engine-api/system.ts';
import type { ImageService } from '../images/index.ts';
import type { BuildCacheRecords } from '../metadata/index.ts';
import type { Sandboxes } from '../network/index.ts';
import { parsePlatform } from '../oci/platform.ts';
import { parseReference, type Reference, familiarString, withDefaultTag } from '../oci/reference.ts';
import type { Platform } from '../oci/types.ts';
import type { HostFacts } from '../runtime/index.ts';
import { diskUsage, type Snapshotter, unmountAll } from '../snapshots/index.ts';
import { CanceledError, errorMessage, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import type { EventLog } from '../util/events.ts';
import { BuildContext, contextName } from './context.ts';
import { KeptContexts, type ManifestEntry } from './kept.ts';
import { CopyRecords } from './linked.ts';
import { lintDockerfile, lintText } from './lint.ts';
import { parse, parseInstructions } from '../dockerfile/index.ts';
import { execute, type PullOptions } from './executor.ts';
import { hostPlatform } from '../images/index.ts';
import type { BuildEvent } from './progress.ts';
import { Runner } from './run.ts';
import { type Lease, Uploads } from './upload.ts';
import { CacheMounts } from './runmounts.ts';
import { CACHE_KEYS_ANNOTATION, registerImage } from './stepimage.ts';

export interface BuildServiceDeps {
  dataRoot: string;
  execRoot: string;
  images: ImageService;
  snapshotter: Snapshotter;
  records: BuildCacheRecords;
  sandboxes: Sandboxes;
  /** The OCI runtime RUN uses; undefined when none works here (RUN then fails). */
  runtime: { name: string; path: string } | undefined;
  host: HostFacts;
  events: EventLog;
  /** Pulls an image (registry credentials come from the build's `X-Registry-Config`). */
  pull(ref: string, opts: PullOptions & { auth?: Record<string, unknown> | undefined }): Promise<void>;
  log?: { info(m: string): void; warn(m: string): void } | undefined;
}

export interface BuildRequest {
  /** The context: a tar (maybe compressed) or a Dockerfile alone. */
  body: AsyncIterable<Uint8Array>;
  /** The Dockerfile's path in the context (default `Dockerfile`). */
  dockerfile?: string | undefined;
  tags?: readonly string[] | undefined;
  buildArgs?: Readonly<Record<string, string | null>> | undefined;
  labels?: Readonly<Record<string, string>> | undefined;
  target?: string | undefined;
  noCache?: boolean | undefined;
  pull?: boolean | undefined;
  networkMode?: string | undefined;
  extraHosts?: readonly string[] | undefined;
  shmSize?: number | undefined;
  cacheFrom?: readonly string[] | undefined;
  platform?: string | undefined;
  secrets?: ReadonlyMap<string, Buffer> | undefined;
  /** `X-Registry-Config`: credentials by registry, for pulls. */
  registryAuth?: Record<string, unknown> | undefined;
  /** `berth build`'s kept context to update from the body (see kept.ts), instead of a whole context. */
  keptContext?: string | undefined;
  /** The token of the plan of `keptContext` this build follows: the plan's hold on it ends with this build. */
  keptPlan?: string | undefined;
  /** A client-chosen ID that `cancel` takes. */
  buildId?: string | undefined;
  signal: AbortSignal;
  emit(e: BuildEvent): void;
}

export interface BuildResult {
  id: string;
  /** Familiar names of the tags set. */
  tags: string[];
}

export class BuildService {
  readonly #d: BuildServiceDeps;
  readonly #runner: Runner | undefined;
  readonly #caches: CacheMounts;
  readonly #running = new Map<string, AbortController>();
  readonly #kept: KeptContexts;
  readonly #copies: CopyRecords;
  readonly #fromPaths = new Map<string, string>();
  readonly #uploads = new Uploads();
  /** The last uploads' spools a previous daemon kept, removed when the service is first used (upload.ts). */
  readonly #swept: Promise<void>;

  constructor(deps: BuildServiceDeps) {
    this.#d = deps;
    this.#runner = deps.runtime
      ? new Runner({
          runtime: deps.runtime,
          stateRoot: join(deps.execRoot, 'build'),
          sandboxes: deps.sandboxes,
          host: deps.host,
          log: deps.log,
        })
      : undefined;
    this.#caches = new CacheMounts(join(this.#root, 'cache'), deps.records);
    this.#kept = new KeptContexts(join(this.#root, 'kept'), deps.records, deps.log);
    this.#copies = new CopyRecords(this.#root);
    const uploads = join(this.#root, 'uploads');
    this.#swept = rm(uploads, { recursive: true, force: true })
      .then(() => mkdir(uploads, { recursive: true, mode: 0o700 }))
      .then(
        () => {},
        (err: unknown) => deps.log?.warn(`build: ${uploads}: ${errorMessage(err)}`),
      );
  }

  /** `berth build`: which entries of its context the kept copy lacks (see kept.ts). */
  planContext(id: string, manifest: readonly ManifestEntry[]): Promise<{ need: string[]; planned: string }> {
    return this.#kept.plan(id, manifest);
  }

  get #root(): string {
    return join(this.#d.dataRoot, 'build');
  }

  async build(req: BuildRequest): Promise<BuildResult> {
    // the plan this build follows holds its kept context from prune until the build ends, not for the grace
    const planEnded = req.keptContext && req.keptPlan ? this.#kept.claim(req.keptContext, req.keptPlan) : undefined;
    try {
      return await this.#build(req, planEnded);
    } finally {
      planEnded?.();
    }
  }

  async #build(req: BuildRequest, endPlan: (() => void) | undefined): Promise<BuildResult> {
    const tags = (req.tags ?? []).filter((t) => t !== '').map(parseTag);
    const platform = req.platform ? parsePlatform(req.platform, hostPlatform()) : undefined;
    const ac = new AbortController();
    const signal = AbortSignal.any([req.signal, ac.signal]);
    const buildId = req.buildId || randomBytes(16).toString('hex');
    this.#running.set(buildId, ac);
    const name = randomBytes(12).toString('hex');
    const ctxDir = join(this.#root, 'contexts', name);
    // beside the contexts, not in them: a spool kept as the last upload is not a crash's leftover (upload.ts)
    const spool = join(this.#root, 'uploads', `${name}.spool`);
    this.#d.events.publish('builder', 'start', buildId, { tags: tags.map((t) => familiarString(t)).join(',') });
    let releaseKept: (() => void) | undefined;
    let context: BuildContext | undefined;
    let own: Lease | undefined;
    try {
      let alone: Buffer | undefined;
      if (req.keptContext) {
        await mkdir(ctxDir, { recursive: true, mode: 0o700 });
        const k = await this.#kept.receive(req.keptContext, req.body, ctxDir, {
          signal,
          ...(endPlan ? { endPlan } : {}),
        });
        context = k.context;
        releaseKept = k.release;
      } else {
        // compared with the last upload as it arrives (upload.ts); that upload is held until this one holds what
        // it reads of it
        await this.#swept;
        const base = this.#uploads.base();
        try {
          ({ context, dockerfile: alone } = await BuildContext.receive(req.body, ctxDir, {
            signal,
            base: base.upload,
            spool,
          }));
        } catch (err) {
          this.#uploads.discard(spool);
          throw err;
        } finally {
          if (context) {
            const upload = { entries: context.entries, spools: context.spools };
            own = this.#uploads.hold(upload);
            if (context.entries.size > 0) this.#uploads.keep(upload);
          }
          base.release();
        }
      }
      const dfName = req.dockerfile || 'Dockerfile';
      const text = alone ?? (await this.#readDockerfile(context, dfName));
      const displayName = dfName.startsWith('.dockerfile.') ? 'Dockerfile' : (dfName.split('/').pop() ?? dfName);
      const parsed = parse(text, { file: displayName });
      const lint = lintDockerfile(parsed);
      const df = parseInstructions(parsed, { file: displayName });
      for (const w of lint) req.emit({ kind: 'warning', text: lintText(w) });
      const buildArgs = new Map<string, string>();
      for (const [k, v] of Object.entries(req.buildArgs ?? {})) if (v !== null) buildArgs.set(k, v);
      if (!this.#runner) throw new InvalidArgumentError('no OCI runtime works on this host: RUN cannot run');
      const image = await execute(
        {
          images: this.#d.images,
          snapshotter: this.#d.snapshotter,
          records: this.#d.records,
          runner: this.#runner,
          caches: this.#caches,
          copies: this.#copies,
          fromPaths: this.#fromPaths,
          workRoot: this.#root,
          pull: (ref, o) => this.#d.pull(ref, { ...o, auth: req.registryAuth }),
        },
        {
          dockerfile: df,
          dockerfileName: displayName,
          context,
          buildArgs,
          target: req.target,
          noCache: req.noCache ?? false,
          pull: req.pull ?? false,
          labels: req.labels ?? {},
          networkMode: req.networkMode || 'default',
          extraHosts: req.extraHosts ?? [],
          shmSize: req.shmSize,
          cacheFrom: req.cacheFrom ?? [],
          platform,
          secrets: req.secrets ?? new Map(),
          signal,
          emit: req.emit,
        },
      );
      signal.throwIfAborted();
      const registered = await registerImage(this.#d.images, image, tags);
      const id = registered.record.configDigest;
      const names = tags.map((t) => familiarString(withDefaultTag(t)));
      this.#d.events.publish('builder', 'finish', buildId, { imageID: id, tags: names.join(',') });
      return { id, tags: names };
    } catch (err) {
      const canceled = signal.aborted;
      this.#d.events.publish('builder', canceled ? 'cancel' : 'fail', buildId, { error: errorMessage(err) });
      if (canceled && !(err instanceof CanceledError))
        throw new CanceledError('the build was cancelled', { cause: err });
      throw err;
    } finally {
      this.#running.delete(buildId);
      await context?.close();
      releaseKept?.();
      // The build's own context directory goes after the answer, not before it (removing a 20 MiB spool was 2-6 ms
      // of a fully cached build's), and its spools when neither the last upload nor another build holds them
      // (upload.ts); start-up repair removes what a daemon stopped before this left.
      own?.release();
      void rm(ctxDir, { recursive: true, force: true }).catch(() => {});
    }
  }

  async #readDockerfile(context: BuildContext, name: string): Promise<Buffer> {
    const clean = contextName(name);
    const resolved = context.resolve(clean);
    const e = context.stat(resolved);
    if (!e || e.type === 'directory' || clean === '' || name.split('/').includes('..'))
      throw new NotFoundError(`Cannot locate specified Dockerfile: ${name}`);
    // read from where its body is (the spool, a kept segment), not written out and read back
    const chunks: Uint8Array[] = [];
    for await (const c of context.read(resolved)) chunks.push(c);
    return Buffer.concat(chunks);
  }

  /** `POST /build/cancel?id=`: stops a build started with that `buildid`. */
  cancel(buildId: string): void {
    const ac = this.#running.get(buildId);
    if (!ac) throw new NotFoundError(`no build with ID ${buildId} is running`);
    ac.abort(new CanceledError('the build was cancelled'));
  }

  /**
   * `builder prune`: deletes cache records no image was built from (with `all`, every one, and the cache mounts),
   * last used before `until` (seconds since the epoch), oldest first until what is left is at most `keepStorage`
   * bytes; then collects what only they kept.
   */
  async prune(
    o: { all?: boolean; until?: number | undefined; keepStorage?: number | undefined } = {},
  ): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
    const records = this.#d.records;
    // the last upload docker build sent (upload.ts) is a cache of the context like a kept one, counted as one
    const upload = await this.#uploads.info();
    const used = o.all ? new Set<string>() : await this.#imageKeys();
    const items = [
      ...records.all().map((r) => ({ kind: 'step' as const, id: r.key, size: r.size, lastUsed: r.lastUsed })),
      ...records.dirs().map((r) => ({ kind: r.kind, id: r.id, size: r.size, lastUsed: r.lastUsed, path: r.path })),
      ...(upload ? [{ kind: 'upload' as const, id: upload.id, size: upload.size, lastUsed: upload.lastUsed }] : []),
    ]
      .filter((i) => o.all || (i.kind === 'step' ? !used.has(i.id) : i.kind === 'source.local' || i.kind === 'upload'))
      .filter((i) => o.until === undefined || i.lastUsed < o.until * 1000)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    let total = items.reduce((n, i) => n + i.size, 0);
    const victims: typeof items = [];
    for (const i of items) {
      if (o.keepStorage !== undefined && o.keepStorage > 0 && total <= o.keepStorage) break;
      victims.push(i);
      total -= i.size;
    }
    const steps = victims.filter((v) => v.kind === 'step').map((v) => v.id);
    records.delete(steps);
    // a kept context whose plan waits for its build is in use and stays (kept.ts, remove)
    const inUse = new Set<(typeof victims)[number]>();
    for (const v of victims) {
      if (v.kind === 'step') continue;
      if (v.kind === 'upload') {
        // (replaced by a newer upload meanwhile: that one is not what was counted)
        if (!this.#uploads.clear(v.id)) inUse.add(v);
        continue;
      }
      if (v.kind === 'source.local') {
        if (!(await this.#kept.remove(v.id))) inUse.add(v);
        continue;
      }
      records.deleteDir(v.kind, v.id);
      if ('path' in v && v.path) await rm(v.path, { recursive: true, force: true });
    }
    if (steps.length > 0) {
      await this.#copies.clear();
      await this.#d.images.collect();
    }
    const deleted = victims.filter((v) => !inUse.has(v));
    const reclaimed = deleted.reduce((n, v) => n + v.size, 0);
    if (deleted.length > 0) this.#d.events.publish('builder', 'prune', '', { reclaimed: String(reclaimed) });
    return {
      CachesDeleted: deleted.length > 0 ? deleted.map((v) => v.id.replace(/^sha256:/, '').slice(0, 25)) : null,
      SpaceReclaimed: reclaimed,
    };
  }

  /** Keys of the history of every registered image built here. */
  async #imageKeys(): Promise<Set<string>> {
    const keys = new Set<string>();
    for (const rec of this.#d.images.list()) {
      try {
        const m = await this.#d.images.readManifest(rec.manifestDigest as `sha256:${string}`);
        const list = JSON.parse(m.annotations?.[CACHE_KEYS_ANNOTATION] ?? '[]') as unknown;
        if (Array.isArray(list)) for (const k of list) if (typeof k === 'string') keys.add(k);
      } catch {
        // an image without our annotation
      }
    }
    return keys;
  }

  /** `system df`'s build cache: the step records, cache mounts, kept contexts and the last upload. */
  async diskUsage(): Promise<DiskUsageBuildCache[]> {
    const upload = await this.#uploads.info();
    const used = await this.#imageKeys();
    const iso = (ms: number) => new Date(ms).toISOString();
    const out: DiskUsageBuildCache[] = this.#d.records.all().map((r) => ({
      ID: r.key.replace(/^sha256:/, '').slice(0, 25),
      Parents: r.parent ? [r.parent.replace(/^sha256:/, '').slice(0, 25)] : null,
      Type: 'regular',
      Description: r.description,
      InUse: false,
      Shared: used.has(r.key),
      Size: r.size,
      CreatedAt: iso(r.created),
      LastUsedAt: iso(r.lastUsed),
      UsageCount: r.usageCount,
    }));
    for (const d of this.#d.records.dirs()) {
      const size = (await diskUsage(d.path).catch(() => ({ size: 0 }))).size;
      out.push({
        ID: d.id.slice(0, 25),
        Parents: null,
        Type: d.kind,
        Description: d.description,
        InUse: false,
        Shared: false,
        Size: size,
        CreatedAt: iso(d.created),
        LastUsedAt: iso(d.lastUsed),
        UsageCount: d.usageCount,
      });
    }
    if (upload)
      out.push({
        ID: upload.id.slice(0, 25),
        Parents: null,
        Type: 'source.local',
        Description: 'last docker build context',
        InUse: upload.inUse,
        Shared: false,
        Size: upload.size,
        CreatedAt: iso(upload.created),
        LastUsedAt: iso(upload.lastUsed),
        UsageCount: upload.usageCount,
      });
    return out;
  }

  /**
   * Start-up repair, before the snapshotter's: the runs a dead daemon left are released (containers, networks),
   * the step roots and views unmounted, contexts and scratch directories removed. The step snapshots themselves
   * are transient and go with the snapshotter's repair; views are removed here.
   */
  async repair(): Promise<{ runs: number }> {
    const runs = (await this.#runner?.repairRuns()) ?? [];
    for (const sub of ['mnt']) {
      const dir = join(this.#root, sub);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const base = join(dir, name);
        await unmountAll(join(base, 'rootfs'), { detach: true }).catch(() => {});
        await unmountAll(base, { detach: true }).catch(() => {});
        await rm(base, { recursive: true, force: true }).catch((err: unknown) =>
          this.#d.log?.warn(`build repair: ${base}: ${errorMessage(err)}`),
        );
      }
    }
    for (const sub of ['contexts', 'tmp']) await rm(join(this.#root, sub), { recursive: true, force: true });
    for await (const s of this.#d.snapshotter.walk()) {
      if (s.kind === 'view' && s.key.startsWith('build-view-')) await this.#d.snapshotter.remove(s.key).catch(() => {});
    }
    await mkdir(this.#root, { recursive: true });
    return { runs: runs.length };
  }
}

function parseTag(t: string): Reference {
  let ref: Reference;
  try {
    ref = parseReference(t);
  } catch (err) {
    throw new InvalidArgumentError(`invalid tag "${t}": ${errorMessage(err)}`);
  }
  if (ref.digest !== undefined) throw new InvalidArgumentError(`invalid tag "${t}": a tag cannot hold a digest`);
  return ref;
}

export type { Platform };
