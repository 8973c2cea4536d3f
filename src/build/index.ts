/**
 * The builder. So far its pure parts: the Dockerfile frontend (dockerfile/), build arguments and the stage
 * planner; the executor that runs steps in containers comes on top of them.
 */
export * from './dockerfile/index.ts';
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
} from './dockerignore.ts';
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
