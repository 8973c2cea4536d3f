export { MetadataDB } from './db.ts';
export { SnapshotRecords, type SnapshotRecord, type SnapshotKind } from './snapshots.ts';
