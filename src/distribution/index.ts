export {
  loadArchive,
  ANNOTATION_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  type LoadOptions,
  type LoadProgress,
  type LoadResult,
} from './load.ts';
export { saveArchive, type SaveOptions } from './save.ts';
export { importRootfs, type ImportOptions } from './import.ts';
export type { ArchiveDeps } from './work.ts';
export {
  pullImage,
  pushImage,
  checkLogin,
  inspectDistribution,
  searchRegistry,
  DEFAULT_REGISTRY_CONFIG,
  type RegistryConfig,
  type RegistryAuth,
  type JSONMessage,
  type PullOptions,
  type PullResult,
  type PushOptions,
  type PushResult,
  type LoginResult,
  RemoteRepository,
  withRepository,
  openSession,
  Session,
  Transport,
  repoScope,
  type Endpoint,
  type FetchedManifest,
  type RegistryResponse,
} from './remote/index.ts';
