/**
 * Containers: create, start, stop, kill, wait, remove, attach, logs, exec, healthchecks, restart policies and
 * start-up reconciliation. `ContainerService` is the state machine; the modules beside it do the work.
 */
export { ContainerService, type ContainerServiceDeps } from './service.ts';
export { PS_FILTERS, psPorts, type ListOptions, type PsPort } from './filters.ts';
export type {
  MountPoint,
  StoredConfig,
  Row as ContainerRow,
  WaitCondition,
  WaitResult,
  LogsOptions,
} from './model.ts';
export { systemPaths } from './spec.ts';
export type { ContainerSize } from './size.ts';
export { statusText, type ContainerState, type ContainerStatus } from './state.ts';
export { formatTimestampNano } from '../runtime/index.ts';
export { ExecManager } from './exec.ts';
export { resolveUser, type ResolvedUser } from './users.ts';
