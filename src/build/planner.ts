/**
 * The stage planner: a typed Dockerfile and the build's options → which stage builds from what, which stages the
 * target needs, and in which order they can build (independent stages side by side). Pure: base images are named
 * here, resolved and pulled by the executor.
 *
 * A stage depends on its base when `FROM` names an earlier stage, on every stage a `COPY --from=` names (by name or
 * index, earlier or later), and on every stage a `RUN --mount=from=` names; names are case-insensitive. Anything
 * else those name is an image (`scratch` is the empty one).
 */
import { parsePlatform } from '../oci/platform.ts';
import { parseReference } from '../oci/reference.ts';
import type { Platform } from '../oci/types.ts';
import { processShellWord } from '../util/shellwords.ts';
import { PLATFORM_ARGS, PROXY_ARGS, predefinedArgs, resolveMetaArgs } from './args.ts';
import {
  csvFields,
  type Dockerfile,
  DockerfileError,
  type FromInstruction,
  type Instruction,
  type Stage,
  parseTriggers,
  suggestion,
} from '../dockerfile/index.ts';

export interface PlanOptions {
  /** `--build-arg`s. */
  buildArgs?: ReadonlyMap<string, string>;
  /** `--target`: a stage name; the last stage when not given. */
  target?: string;
  /** The machine building. */
  buildPlatform: Platform;
  /** `--platform`; the build platform when not given. */
  targetPlatform?: Platform;
  /** The Dockerfile's name, for errors. */
  file?: string;
}

export type StageBase =
  | { kind: 'scratch' }
  | { kind: 'stage'; index: number }
  /** An image reference as written after expansion (`busybox`, `alpine:3@sha256:…`). */
  | { kind: 'image'; ref: string };

/** Where a `COPY --from=` or `RUN --mount=from=` reads. */
export type SourceRef = { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; ref: string };

export interface PlannedStage {
  index: number;
  /** `AS` name, lower case; '' when unnamed. */
  name: string;
  /** The name, or `stage-N`: what progress output and errors call it. */
  displayName: string;
  from: FromInstruction;
  base: StageBase;
  /** `FROM --platform=` expanded and parsed; undefined when not given (the target platform then). */
  platform?: Platform;
  /**
   * ONBUILD triggers of a base stage, typed, for the graph (they may COPY --from another stage). The executor runs
   * the triggers `beginStage` takes from the base's config, which for a base stage are the same.
   */
  triggers: Instruction[];
  commands: Instruction[];
  /** Stages this one needs (its base and every stage it reads), without repeats, in index order. */
  deps: number[];
  /** Images it reads from besides its base (COPY --from=image, RUN --mount=from=image). */
  images: string[];
}

export interface BuildPlan {
  stages: PlannedStage[];
  target: number;
  /** The stages the target needs, itself included, each after the stages it needs. */
  order: number[];
  /**
   * The same stages in waves: each wave's stages need only stages of earlier waves, so a wave's stages can build
   * side by side.
   */
  waves: number[][];
  /** The global scope after the meta ARGs: what FROM lines expanded with, and what stage ARGs inherit. */
  globalArgs: Map<string, string>;
  /** Every image the needed stages use (bases, COPY --from, RUN --mount from), each once, in first-use order. */
  images: string[];
  /** Build arguments no ARG declares (Docker warns: `One or more build-args [...] were not consumed`). */
  unusedBuildArgs: string[];
}

/** Plans a build; throws DockerfileError (with the FROM or COPY line at fault) or a plain DockerfileError. */
export function planBuild(df: Dockerfile, options: PlanOptions): BuildPlan {
  const file = options.file ?? 'Dockerfile';
  const buildArgs = options.buildArgs ?? new Map<string, string>();
  const targetPlatform = options.targetPlatform ?? options.buildPlatform;
  if (df.stages.length === 0) throw new DockerfileError('dockerfile contains no stages to build', { file, line: 0 });

  const stageAt = (s: Stage, detail: string, at: { startLine: number; endLine: number; keyword: string } = s.from) =>
    new DockerfileError(detail, {
      file,
      line: at.startLine,
      endLine: at.endLine,
      instruction: at.keyword.toUpperCase(),
    });

  // names: duplicates are refused, as the classic builder does (BuildKit only warns and takes the last)
  const byName = new Map<string, number>();
  for (const s of df.stages) {
    if (s.from.name === '') continue;
    if (byName.has(s.from.name)) throw stageAt(s, `${s.from.name} stage name already used`);
    byName.set(s.from.name, s.index);
  }

  let target = df.stages.length - 1;
  if (options.target !== undefined && options.target !== '') {
    const t = byName.get(options.target.toLowerCase());
    if (t === undefined) {
      throw new DockerfileError(
        `target stage "${options.target}" could not be found${suggestion(options.target, [...byName.keys()], true)}`,
        {
          file,
          line: 0,
        },
      );
    }
    target = t;
  }

  const predefined = predefinedArgs({
    buildPlatform: options.buildPlatform,
    targetPlatform,
    target: df.stages[target]!.from.name,
    buildArgs,
  });
  let meta: ReturnType<typeof resolveMetaArgs>;
  try {
    meta = resolveMetaArgs(df.metaArgs, predefined, buildArgs, df.escapeToken);
  } catch (err) {
    throw new DockerfileError((err as Error).message, {
      file,
      line: df.metaArgs[0]?.startLine ?? 0,
      instruction: 'ARG',
    });
  }
  const global = meta.global;

  const stages: PlannedStage[] = [];
  const earlierNames = new Map<string, number>();
  for (const s of df.stages) {
    const expand = (word: string, what: string): string => {
      try {
        return processShellWord(word, global, { escapeToken: df.escapeToken }).result;
      } catch (err) {
        throw stageAt(s, `${what}: ${(err as Error).message}`);
      }
    };
    const image = expand(s.from.image, 'base name');
    if (image === '') throw stageAt(s, `base name (${s.from.image}) should not be blank`);
    let base: StageBase;
    if (earlierNames.has(image)) base = { kind: 'stage', index: earlierNames.get(image)! };
    else if (image === 'scratch') base = { kind: 'scratch' };
    else {
      try {
        parseReference(image);
      } catch (err) {
        throw stageAt(s, `failed to parse stage name "${image}": ${(err as Error).message}`);
      }
      base = { kind: 'image', ref: image };
    }
    let platform: Platform | undefined;
    if (s.from.platform !== '') {
      const text = expand(s.from.platform, `failed to process arguments for platform ${s.from.platform}`);
      if (text === '') throw stageAt(s, `empty platform value from expression ${s.from.platform}`);
      try {
        platform = parsePlatform(text, options.buildPlatform);
      } catch (err) {
        throw stageAt(s, `failed to parse platform ${s.from.platform}: ${(err as Error).message}`);
      }
    }
    stages.push({
      index: s.index,
      name: s.from.name,
      displayName: s.from.name !== '' ? s.from.name : `stage-${s.index}`,
      from: s.from,
      base,
      ...(platform ? { platform } : {}),
      triggers: [],
      commands: s.commands,
      deps: [],
      images: [],
    });
    if (s.from.name !== '') earlierNames.set(s.from.name, s.index);
  }

  // a base stage's ONBUILD instructions run first in the stages built from it
  for (const st of stages) {
    if (st.base.kind !== 'stage') continue;
    const parent = df.stages[st.base.index]!;
    const exprs = parent.commands.flatMap((c) => (c.kind === 'onbuild' ? [c.expression] : []));
    if (exprs.length > 0) st.triggers = parseTriggers(exprs, `ONBUILD of stage ${stages[parent.index]!.displayName}`);
  }

  const resolveSource = (st: PlannedStage, ref: string, at: Instruction): SourceRef => {
    if (/^[+-]?\d+$/.test(ref)) {
      const i = Number(ref);
      if (i < 0 || i >= stages.length) throw stageAt(df.stages[st.index]!, `invalid stage index ${i}`, at);
      return { kind: 'stage', index: i };
    }
    const named = byName.get(ref.toLowerCase());
    if (named !== undefined) return { kind: 'stage', index: named };
    if (ref === 'scratch') return { kind: 'scratch' };
    return { kind: 'image', ref };
  };

  for (const st of stages) {
    const deps = new Set<number>();
    if (st.base.kind === 'stage') deps.add(st.base.index);
    const images: string[] = [];
    for (const c of [...st.triggers, ...st.commands]) {
      for (const ref of sourcesOf(c)) {
        if (processShellWord(ref, new Map(), { escapeToken: df.escapeToken }).result !== ref) {
          throw stageAt(
            df.stages[st.index]!,
            'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
            c,
          );
        }
        const src = resolveSource(st, ref, c);
        if (src.kind === 'stage') deps.add(src.index);
        else if (src.kind === 'image' && !images.includes(src.ref)) images.push(src.ref);
      }
    }
    st.deps = [...deps].sort((a, b) => a - b);
    st.images = images;
  }

  const cycle = findCycle(stages);
  if (cycle !== undefined) {
    throw stageAt(df.stages[cycle]!, `circular dependency detected on stage: ${stages[cycle]!.displayName}`);
  }

  const order = buildOrder(stages, target);
  const waves = wavesOf(stages, order);
  const images: string[] = [];
  for (const i of order) {
    const st = stages[i]!;
    for (const ref of [...(st.base.kind === 'image' ? [st.base.ref] : []), ...st.images]) {
      if (!images.includes(ref)) images.push(ref);
    }
  }

  const consumed = new Set(meta.declared);
  for (const i of order) {
    for (const c of [...stages[i]!.triggers, ...stages[i]!.commands]) {
      if (c.kind === 'arg') for (const a of c.args) consumed.add(a.key);
    }
  }
  const unusedBuildArgs = [...buildArgs.keys()]
    .filter((k) => !consumed.has(k) && !PROXY_ARGS.has(k) && !PLATFORM_ARGS.includes(k))
    .sort();

  return { stages, target, order, waves, globalArgs: global, images, unusedBuildArgs };
}

/** The `--from` of COPY and the `from=` of each RUN --mount, as written. */
function sourcesOf(c: Instruction): string[] {
  if (c.kind === 'copy') return c.from !== '' ? [c.from] : [];
  if (c.kind !== 'run') return [];
  const out: string[] = [];
  for (const spec of c.mounts) {
    for (const field of csvFields(spec)) {
      const eq = field.indexOf('=');
      if (eq > 0 && field.slice(0, eq).toLowerCase() === 'from' && field.length > eq + 1) out.push(field.slice(eq + 1));
    }
  }
  return out;
}

/** A stage on a dependency cycle, or undefined; stages are visited in file order, as BuildKit reports them. */
function findCycle(stages: readonly PlannedStage[]): number | undefined {
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (i: number): boolean => {
    const s = state.get(i);
    if (s === 'done') return false;
    if (s === 'visiting') return true;
    state.set(i, 'visiting');
    for (const d of stages[i]!.deps) if (visit(d)) return true;
    state.set(i, 'done');
    return false;
  };
  for (const st of stages) if (visit(st.index)) return st.index;
  return undefined;
}

/** The target and everything it needs, dependencies first (depth-first, in index order among siblings). */
function buildOrder(stages: readonly PlannedStage[], target: number): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  const visit = (i: number) => {
    if (seen.has(i)) return;
    seen.add(i);
    for (const d of stages[i]!.deps) visit(d);
    out.push(i);
  };
  visit(target);
  return out;
}

function wavesOf(stages: readonly PlannedStage[], order: readonly number[]): number[][] {
  const level = new Map<number, number>();
  for (const i of order) level.set(i, Math.max(-1, ...stages[i]!.deps.map((d) => level.get(d)!)) + 1);
  const waves: number[][] = [];
  for (const i of order) (waves[level.get(i)!] ??= []).push(i);
  return waves.map((w) => w.sort((a, b) => a - b));
}
