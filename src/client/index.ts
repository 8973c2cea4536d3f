export { EngineClient, type EventsOptions } from './client.ts';
export {
  DEFAULT_HOST,
  MAX_API_VERSION,
  FALLBACK_API_VERSION,
  compareVersions,
  encodeFilters,
  negotiateVersion,
  type CallOptions,
  type EngineClientOptions,
  type EngineResponse,
  type RequestOptions,
} from './core.ts';
export { decodePathStat } from './containers.ts';
export type {
  AttachOptions,
  CommitOptions,
  ContainerCreateOptions,
  ContainerListOptions,
  ContainerRemoveOptions,
  CopyToOptions,
  ExecStartOptions,
  LogsOptions,
  StatsOptions,
  StatsStream,
  StopOptions,
  WaitCondition,
  WaitHandle,
} from './containers.ts';
export { splitRepoTag } from './images.ts';
export type { ImageImportOptions, ImageListOptions, ImageLoadOptions, ImageRemoveOptions } from './images.ts';
export { buildCancel, buildPrune, imageBuild, planBuildContext } from './build.ts';
export type { BuildPruneReport, ContextManifestEntry, ImageBuildOptions } from './build.ts';
export { EngineStatusError, encodeQuery, errorForStatus, escapePath, isDaemonError, parseHost } from './transport.ts';
export type { ClientTLS, EngineEndpoint, HijackedConnection, Query, QueryValue, RequestBody } from './transport.ts';
export { STDERR, STDOUT, demultiplex, frame, stdCopy, writeWithBackpressure } from './stdcopy.ts';
export type { StreamChunk } from './stdcopy.ts';
export { JSONValueScanner, exactIntegers, parseJSONStream } from './jsonstream.ts';
export type { Reviver } from './jsonstream.ts';
export type * from './types.ts';
export {
  imageAddSignature,
  imageAttach,
  imageSbom,
  imageScan,
  imageSignatures,
  scanDbImport,
  scanDbInfo,
} from './trust.ts';
