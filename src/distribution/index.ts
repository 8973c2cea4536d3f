export { loadArchive, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, type LoadOptions, type LoadProgress, type LoadResult } from './load.ts';
export { saveArchive, type SaveOptions } from './save.ts';
export { importRootfs, type ImportOptions } from './import.ts';
export type { ArchiveDeps } from './work.ts';
