export {
  VolumeService,
  ANONYMOUS_LABEL,
  VOLUME_LIST_FILTERS,
  VOLUME_PRUNE_FILTERS,
  type VolumeServiceDeps,
  type CreateVolumeOptions,
} from './service.ts';
