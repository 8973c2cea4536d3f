/**
 * compose/: loading (files → the model) is here and loads quickly; everything that talks to an engine (up, down,
 * convergence, builds, readiness probes) comes from `engine()`, loaded on first use, so that `config` and
 * friends do not pay for it.
 */
export { loadProject, normalizeProjectName, DEFAULT_FILES } from './load.ts';
export type { LoadOptions, LoadResult } from './load.ts';
export { ComposeFileError, InvalidProjectError } from './errors.ts';
export type * from './model.ts';
export { imageName, serviceScale } from './model.ts';
export type { ComposeContext, Reporter } from './context.ts';
export {
  collectingReporter,
  compareNames,
  containerName,
  isOneoff,
  numberOf,
  projectContainers,
  serviceOf,
} from './context.ts';
export { emitYaml, formatConfig, projectDocument } from './config.ts';
export { COMPOSE_VERSION, PROJECT as PROJECT_LABEL } from './labels.ts';
export { inDependencyOrder, selectServices } from './graph.ts';
export { parseReadiness } from './ready-spec.ts';
export { shellSplit, parseDuration } from './units.ts';
export type { RecreatePolicy } from './converge.ts';
export type { CreateOptions, UpOptions } from './up.ts';
export type { DownOptions } from './down.ts';

export type Engine = typeof import('./engine.ts');

/** The engine-facing half of compose (up, down, builds, readiness), loaded on first use. */
export function engine(): Promise<Engine> {
  return import('./engine.ts');
}

export type Teardown = typeof import('./down.ts');

/** `down` and the stopping and removing of containers (stop, rm), loaded on first use without the creating half. */
export function teardown(): Promise<Teardown> {
  return import('./down.ts');
}

/**
 * The container plan and the config hash (`run`, `config --hash`), loaded on first use: `config` and the other
 * commands that only read files or list containers do not need them.
 */
export async function planning(): Promise<{
  containerCreateRequest: typeof import('./convert.ts').containerCreateRequest;
  serviceHash: typeof import('./hash.ts').serviceHash;
}> {
  const [convert, hash] = await Promise.all([import('./convert.ts'), import('./hash.ts')]);
  return { containerCreateRequest: convert.containerCreateRequest, serviceHash: hash.serviceHash };
}
