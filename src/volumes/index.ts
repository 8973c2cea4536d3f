export {
  VolumeService,
  ANONYMOUS_LABEL,
  type VolumeServiceDeps,
  type CreateVolumeOptions,
} from './service.ts';
