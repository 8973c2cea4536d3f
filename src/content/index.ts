export {
  FileContentStore,
  parseJSONBlob,
  readJSONBlob,
  type BlobInfo,
  type ContentStore,
  type DeferredBlob,
  type Deferrer,
  type Expected,
  type Ingester,
  type IngestWriter,
  type ResumableIngester,
  type Manager,
  type Provider,
} from './store.ts';
export { checkLimit, checkRef, verifyCommit } from './writer.ts';
export type { FetchableBlob, FetchSource } from '../util/blob-fetch.ts';
