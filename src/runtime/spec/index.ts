/**
 * runtime/spec: the pure function from a container's configuration to its OCI runtime spec (config.json),
 * and Berth's default seccomp profile. No I/O: host facts come in through `HostFacts`.
 */
export {
  buildSpec,
  buildEnv,
  DEFAULT_DEVICES,
  DEFAULT_DEVICE_RULES,
  DEFAULT_PATH,
  INIT_PATH,
  MASKED_PATHS,
  READONLY_PATHS,
  type DeviceInput,
  type HostFacts,
  type NamespaceMode,
  type NamespacesInput,
  type NetworkMode,
  type ProcessInput,
  type SpecInput,
} from './spec.ts';
export { OCI_VERSION, RLIM_INFINITY, serializeSpec } from './oci.ts';
export type * from './oci.ts';
export {
  ALL_CAPABILITIES,
  DEFAULT_CAPABILITIES,
  capabilitiesFromMask,
  normalizeCapability,
  resolveCapabilities,
  type CapabilityRequest,
} from './capabilities.ts';
export {
  DEFAULT_SHM_SIZE,
  mergeTmpfsOptions,
  type MountInput,
  type BindMountInput,
  type TmpfsMountInput,
  type Propagation,
} from './mounts.ts';
export { CPU_PERIOD, MIN_MEMORY, parseDeviceCgroupRule, resolveResources, type ResourcesInput } from './resources.ts';
export {
  DEFAULT_NOFILE,
  parseProcLimits,
  resolveRlimits,
  type HostLimits,
  type RlimitName,
  type Ulimit,
} from './rlimits.ts';
export {
  toOciSeccomp,
  validateProfile,
  type SeccompContext,
  type SeccompProfile,
  type SeccompProfileRule,
} from './seccomp.ts';
export { defaultSeccompProfile } from './seccomp-default.ts';
export { validateSysctls } from './sysctls.ts';
