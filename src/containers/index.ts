export { ContainerService, type ContainerServiceDeps } from './service.ts';
export { PS_FILTERS, type ListOptions } from './filters.ts';
export type {
  MountPoint,
  StoredConfig,
  Row as ContainerRow,
  WaitCondition,
  WaitResult,
  LogsOptions,
} from './model.ts';
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
