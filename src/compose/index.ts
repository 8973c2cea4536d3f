export { loadProject, normalizeProjectName, DEFAULT_FILES } from './load.ts';
export type { LoadOptions, LoadResult } from './load.ts';
export { ComposeFileError, InvalidProjectError } from './errors.ts';
export type * from './model.ts';
