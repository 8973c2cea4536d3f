export {
  ContainerService,
  type ContainerServiceDeps,
  type MountPoint,
  type StoredConfig,
  type Row as ContainerRow,
  type WaitCondition,
  type LogsOptions,
} from './service.ts';
export {
  mergeImageConfig,
  validateHostConfig,
  parseBind,
  validateName,
  type CreateRequest,
  type HostConfig,
  type MountSpec,
} from './config.ts';
export { statusText, humanDuration, type ContainerState, type ContainerStatus } from './state.ts';
export { formatTimestampNano } from '../runtime/index.ts';
export { ExecManager, type ExecConfig } from './exec.ts';
