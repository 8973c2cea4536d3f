export { MetadataDB } from './db.ts';
export { SnapshotRecords, type SnapshotRecord, type SnapshotKind } from './snapshots.ts';
export { ImageRecords, type ImageRecord, type TagRecord, type TagHistoryRecord, type TagAction } from './images.ts';
export { LeaseRecords, type LeaseRecord, type LeaseResourceKind } from './leases.ts';
export { BlobSourceRecords } from './blob-sources.ts';
export { VolumeRecords, type VolumeRecord } from './volumes.ts';
export { ContainerRecords, type ContainerRow } from './containers.ts';
export { NetworkRecords, type NetworkRecord, type EndpointRecord, type SandboxRecord } from './networks.ts';
export {
  BuildCacheRecords,
  type BuildCacheRecord,
  type BuildDirRecord,
  type CachedLayer,
} from './build-cache.ts';
