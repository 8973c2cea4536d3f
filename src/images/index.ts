export {
  ImageService,
  matchLabels,
  type Image,
  type ImageServiceDeps,
  type DeleteResponseItem,
  type RegisterOptions,
  type ImageUnpackOptions,
} from './service.ts';
export { chainIds } from './chain.ts';
export { choosePlatform, hostPlatform } from './platform.ts';
export { applyChanges } from './changes.ts';
