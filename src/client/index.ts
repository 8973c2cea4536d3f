export {
  EngineClient,
  DEFAULT_HOST,
  MAX_API_VERSION,
  FALLBACK_API_VERSION,
  compareVersions,
  encodeFilters,
  splitRepoTag,
} from './client.ts';
export type {
  CallOptions,
  EngineClientOptions,
  EngineResponse,
  EventsOptions,
  ImageImportOptions,
  ImageListOptions,
  ImageLoadOptions,
  ImageRemoveOptions,
  RequestOptions,
} from './client.ts';
export { EngineStatusError, encodeQuery, errorForStatus, escapePath, isDaemonError, parseHost } from './transport.ts';
export type { EngineEndpoint, Query, QueryValue, RequestBody } from './transport.ts';
export { JSONValueScanner, exactIntegers, parseJSONStream } from './jsonstream.ts';
export type { Reviver } from './jsonstream.ts';
export type * from './types.ts';
