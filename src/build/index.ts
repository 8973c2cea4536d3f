/**
 * The builder: build arguments and the stage planner (pure) over the Dockerfile frontend's instructions
 * (src/dockerfile/), and the service that receives contexts and runs builds (service.ts, executor.ts, steps.ts)
 * with its cache.
 */
export { ArgScope, expansionEnv, PLATFORM_ARGS, PROXY_ARGS, predefinedArgs, resolveMetaArgs } from './args.ts';
export {
  type BuildPlan,
  type PlannedStage,
  type PlanOptions,
  planBuild,
  type SourceRef,
  type StageBase,
} from './planner.ts';
export {
  applyInstruction,
  beginStage,
  type CopyWork,
  DEFAULT_PATH,
  DEFAULT_SHELL,
  type HistoryStep,
  type RunWork,
  type StageState,
  type StepResult,
  type WorkdirWork,
} from './imageconfig.ts';
export {
  dockerignoreCandidates,
  keepBuildFiles,
  type MatchInfo,
  PatternMatcher,
  readDockerignore,
} from '../util/dockerignore.ts';
export {
  type BaseIdentity,
  baseKey,
  CACHE_KEY_VERSION,
  type CacheKey,
  canonicalJson,
  dirSourceHash,
  type EntryHeader,
  entryHash,
  entryHeaderText,
  entrySum,
  fileSourceHash,
  type KeyedMount,
  type KeyedStep,
  keyedMount,
  keyedStep,
  sourcesHash,
  type StepInputs,
  stepKey,
} from './cachekey.ts';
export {
  BuildService,
  type BuildServiceDeps,
  type BuildRequest,
  type BuildResult,
} from './service.ts';
export { type BuildEvent, classicLines, shortId } from './progress.ts';
export { RunFailedError } from './steps.ts';
export { MANIFEST_NAME, type ManifestEntry } from './kept.ts';
export { snapshotTar } from './layerblob.ts';
