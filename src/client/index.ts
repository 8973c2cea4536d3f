export {
  EngineClient,
  DEFAULT_HOST,
  MAX_API_VERSION,
  FALLBACK_API_VERSION,
  compareVersions,
  encodeFilters,
  splitRepoTag,
  decodePathStat,
} from './client.ts';
export type {
  AttachOptions,
  CallOptions,
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
  EngineClientOptions,
  EngineResponse,
  EventsOptions,
  ImageImportOptions,
  ImageListOptions,
  ImageLoadOptions,
  ImageRemoveOptions,
  RequestOptions,
} from './client.ts';
export { imageBuild } from './build.ts';
export type { ImageBuildOptions } from './build.ts';
export { EngineStatusError, encodeQuery, errorForStatus, escapePath, isDaemonError, parseHost } from './transport.ts';
export type { EngineEndpoint, HijackedConnection, Query, QueryValue, RequestBody } from './transport.ts';
export { STDERR, STDOUT, demultiplex, frame, stdCopy, writeWithBackpressure } from './stdcopy.ts';
export type { StreamChunk } from './stdcopy.ts';
export { JSONValueScanner, exactIntegers, parseJSONStream } from './jsonstream.ts';
export type { Reviver } from './jsonstream.ts';
export type * from './types.ts';
