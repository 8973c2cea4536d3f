export type { Mount, SnapshotInfo, SnapshotKind, Snapshotter, TarEntry, Usage } from './types.ts';
export { TRANSIENT_LABEL } from './types.ts';
export type { SnapshotterDeps } from './base.ts';
export { OverlaySnapshotter, MAX_MOUNT_DATA } from './overlay.ts';
export { CopySnapshotter } from './copy.ts';
export {
  configureUnpackThreads,
  normalise as normaliseLayerPath,
  stopUnpackThreads,
  storeAndUnpackTar,
  unpackLayer,
  unpackTar,
  warmUnpackThreads,
} from './apply.ts';
export type {
  FetchedBlob,
  FetchFailed,
  LayerSource,
  StoredTar,
  TarOptions,
  UnpackedTar,
  UnpackOptions,
  WhiteoutMode,
} from './apply.ts';
export { DEFAULT_THREADS, SMALL_LAYER, type UnpackThreads } from './pool.ts';
export { mountAll, unmountAll, isMountPoint, parseMountOptions } from './mount.ts';
export { diskUsage } from './usage.ts';
