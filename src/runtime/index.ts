/**
 * The runtime: OCI runtimes (runc, crun) driven through conmon, which parents every container so containers
 * outlive berthd; exit files, attach sockets, k8s-file logs; and the pure spec builder (./spec).
 */
export * from './spec/index.ts';
export * from './types.ts';
export * from './driver.ts';
export * from './signals.ts';
export { parentPid } from './process.ts';
export * from './attach.ts';
export { conmonArgv, type ConmonArgs } from './conmon.ts';
export { readExitFile, ExitWatcher, type ExitStatus } from './exits.ts';
export * from './logs.ts';
export * from './probe.ts';
export {
  OciRuntimeCli,
  OciRuntimeError,
  ProcessStartError,
  startFailureCode,
  checkId,
  type OciRuntimeConfig,
  type OciState,
} from './runtimecli.ts';
export { UNIFIED_ROOT } from './hostfiles.ts';
export { OTHER_RUNTIME, runtimeTraits, type RuntimeTraits } from './traits.ts';
