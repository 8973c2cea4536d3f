export {
  VolumeService,
  ANONYMOUS_LABEL,
  type Volume,
  type VolumeServiceDeps,
  type CreateVolumeOptions,
} from './service.ts';
