export {
  ImageService,
  IMAGE_LIST_FILTERS,
  IMAGE_PRUNE_FILTERS,
  type Image,
  type ImageServiceDeps,
  type HistoryStep,
  type ListedImage,
  type RegisterOptions,
  type ImageUnpackOptions,
} from './service.ts';
export type { CollectResult, LeaseOptions } from './gc.ts';
export type { RollbackResult, TagVersion } from './tags.ts';
export { chainIds } from './chain.ts';
export { createdSeconds } from './filters.ts';
export { choosePlatform, hostPlatform } from './platform.ts';
export { applyChanges } from './changes.ts';
export { applyToConfig, type ConfigInstruction, DEFAULT_SHELL, shellOf } from './configrules.ts';
export { checkImageConfig, checkImageManifest, type ManifestDocument } from './manifest.ts';
/** A layer's blob for the unpack thread to download by itself (`ImageService.storeAndUnpackLayer`). */
export type { FetchedBlob, FetchFailed } from '../snapshots/index.ts';
/** Layers up to this size share an unpack thread, and their downloads a wider pool (distribution/remote/layers.ts). */
export { SMALL_LAYER } from '../snapshots/index.ts';
