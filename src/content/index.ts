export {
  FileContentStore,
  readJSONBlob,
  type BlobInfo,
  type ContentStore,
  type Expected,
  type Ingester,
  type Manager,
  type Provider,
} from './store.ts';
