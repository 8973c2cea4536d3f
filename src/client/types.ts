/**
 * Engine API shapes the client reads and writes, named as in moby's `api/swagger.yaml` (v1.50).
 * Only the fields Berth's tools use are spelled out; responses may carry more.
 */

/** What `HEAD /_ping` tells about the engine (headers only). */
export interface PingResult {
  apiVersion: string | undefined;
  osType: string | undefined;
  experimental: boolean;
  builderVersion: string | undefined;
  swarmStatus: string | undefined;
  server: string | undefined;
}

export type {
  BuildCachePruneReport,
  ComponentVersion,
  DiskUsage,
  DiskUsageBuildCache,
  DiskUsageContainer,
  DiskUsageVolume,
  EventMessage,
  IndexInfo,
  RegistryServiceConfig,
  SystemInfo,
  SystemVersion,
} from '../engine-api/system.ts';
export type {
  AuthConfig,
  AuthResponse,
  ImageDeleteItem,
  ImageHistoryItem,
  ImageInspect,
  ImageInspectConfig,
  ImagePruneReport,
  ImageRollbackResult,
  ImageSummary,
  JSONMessage,
  JSONProgress,
  TagHistoryEntry,
} from '../engine-api/images.ts';

/** Filters as the Engine API takes them: `{"key": {"value": true}}`, built from key → values. */
export type Filters = Record<string, readonly string[]>;

// ---- containers ----

export type {
  ChangeItem,
  CommitResponse,
  ContainerConfig,
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerPort,
  ContainerPruneReport,
  ContainerState,
  ContainerSummary,
  ContainerUpdateConfig,
  ContainerUpdateResponse,
  DeviceMapping,
  HealthConfig,
  HostConfig,
  Mount,
  MountPoint,
  PathStat,
  PortMap,
  Resources,
  RestartPolicy,
  StatsCPU,
  StatsResponse,
  TopResponse,
  Ulimit,
  WaitResponse,
} from '../engine-api/containers.ts';

// ---- exec ----

export type {
  ExecConfig,
  ExecInspect,
  ExecStartConfig,
} from '../engine-api/exec.ts';

// ---- volumes ----

export type { Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneReport } from '../engine-api/volumes.ts';

// ---- networks ----

export type {
  EndpointSettings,
  Network,
  NetworkConnectRequest,
  NetworkContainer,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkDisconnectRequest,
  NetworkIPAM,
  NetworkIPAMConfig,
  NetworkPruneReport,
  NetworkSettings,
  PortBinding,
} from '../engine-api/networks.ts';
