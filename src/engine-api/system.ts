/**
 * The Docker Engine API's system shapes (`/version`, `/info`, `/system/df`, `/events`), as moby's
 * `api/swagger.yaml` (v1.50) names them: what berthd writes and what the client reads. Types only, imported
 * with `import type`.
 */
import type { ImageSummary } from './images.ts';

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string> | null;
}

/** `GET /version`. */
export interface SystemVersion {
  Platform?: { Name: string };
  Components?: ComponentVersion[] | null;
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
  Experimental?: boolean;
  BuildTime?: string;
}

/** One registry of `RegistryConfig.IndexConfigs` in `GET /info`. */
export interface IndexInfo {
  Name: string;
  Mirrors?: string[] | null;
  Secure: boolean;
  Official?: boolean;
}

/** `RegistryConfig` of `GET /info`. */
export interface RegistryServiceConfig {
  AllowNondistributableArtifactsCIDRs?: string[] | null;
  AllowNondistributableArtifactsHostnames?: string[] | null;
  InsecureRegistryCIDRs?: string[] | null;
  IndexConfigs?: Record<string, IndexInfo> | null;
  Mirrors?: string[] | null;
}

/** `GET /info`: a large object; the fields Berth writes or prints are typed, the rest passes through. */
export interface SystemInfo {
  ID?: string;
  Name?: string;
  ServerVersion?: string;
  Containers?: number;
  ContainersRunning?: number;
  ContainersPaused?: number;
  ContainersStopped?: number;
  Images?: number;
  Driver?: string;
  DriverStatus?: [string, string][] | null;
  SystemStatus?: [string, string][] | null;
  LoggingDriver?: string;
  CgroupDriver?: string;
  CgroupVersion?: string;
  Plugins?: {
    Volume?: string[] | null;
    Network?: string[] | null;
    Authorization?: string[] | null;
    Log?: string[] | null;
  };
  /** Berth addition: the network backend and the firewall chains it hooks. */
  BerthNetwork?: { Backend?: string; FirewallChains?: string[] | null };
  /** Berth addition: when the daemon started (RFC 3339). */
  BerthStartedAt?: string;
  CDISpecDirs?: string[] | null;
  Swarm?: {
    LocalNodeState?: string;
    NodeID?: string;
    NodeAddr?: string;
    ControlAvailable?: boolean;
    Error?: string;
    RemoteManagers?: unknown[] | null;
  };
  Runtimes?: Record<string, unknown> | null;
  DefaultRuntime?: string;
  OSType?: string;
  OSVersion?: string;
  InitBinary?: string;
  ContainerdCommit?: { ID?: string; Expected?: string };
  RuncCommit?: { ID?: string; Expected?: string };
  InitCommit?: { ID?: string; Expected?: string };
  SecurityOptions?: string[] | null;
  KernelVersion?: string;
  OperatingSystem?: string;
  Architecture?: string;
  IndexServerAddress?: string;
  NCPU?: number;
  MemTotal?: number;
  DockerRootDir?: string;
  Debug?: boolean;
  HttpProxy?: string;
  HttpsProxy?: string;
  NoProxy?: string;
  Labels?: string[] | null;
  ExperimentalBuild?: boolean;
  RegistryConfig?: RegistryServiceConfig | null;
  LiveRestoreEnabled?: boolean;
  Isolation?: string;
  ProductLicense?: string;
  DefaultAddressPools?: { Base: string; Size: number }[] | null;
  Warnings?: string[] | null;
  [key: string]: unknown;
}

/** `GET /system/df`. */
export interface DiskUsage {
  LayersSize?: number;
  /** Deprecated in API 1.42; sent to older clients. */
  BuilderSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: DiskUsageContainer[] | null;
  Volumes?: DiskUsageVolume[] | null;
  BuildCache?: DiskUsageBuildCache[] | null;
}

export interface DiskUsageContainer {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  ImageID?: string;
  Command?: string;
  Created?: number;
  State?: string;
  Status?: string;
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts?: { Type?: string; Name?: string }[] | null;
  [key: string]: unknown;
}

export interface DiskUsageVolume {
  Name: string;
  Driver?: string;
  Mountpoint?: string;
  Labels?: Record<string, string> | null;
  Scope?: string;
  UsageData?: { Size: number; RefCount: number } | null;
  [key: string]: unknown;
}

/** `POST /build/prune`'s answer. */
export interface BuildCachePruneReport {
  CachesDeleted: string[] | null;
  SpaceReclaimed: number;
}

export interface DiskUsageBuildCache {
  ID: string;
  Type?: string;
  Description?: string;
  InUse?: boolean;
  Shared?: boolean;
  Size?: number;
  CreatedAt?: string;
  LastUsedAt?: string | null;
  UsageCount?: number;
  [key: string]: unknown;
}

/** One message of `GET /events`. */
export interface EventMessage {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> | null };
  scope?: string;
  time?: number;
  /** Nanoseconds since the epoch; a client may read it as a bigint when beyond Number.MAX_SAFE_INTEGER. */
  timeNano?: number | bigint;
  /** Deprecated fields still sent by engines for containers and images. */
  status?: string;
  id?: string;
  from?: string;
}
