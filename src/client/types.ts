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

/** `GET /info`: a large object; the fields Berth prints are typed, the rest passes through. */
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
  Plugins?: { Volume?: string[] | null; Network?: string[] | null; Authorization?: string[] | null; Log?: string[] | null };
  CDISpecDirs?: string[] | null;
  Swarm?: { LocalNodeState?: string; NodeID?: string; NodeAddr?: string };
  Runtimes?: Record<string, unknown> | null;
  DefaultRuntime?: string;
  OSType?: string;
  InitBinary?: string;
  ContainerdCommit?: { ID?: string };
  RuncCommit?: { ID?: string };
  InitCommit?: { ID?: string };
  SecurityOptions?: string[] | null;
  KernelVersion?: string;
  OperatingSystem?: string;
  Architecture?: string;
  NCPU?: number;
  MemTotal?: number;
  DockerRootDir?: string;
  Debug?: boolean;
  HttpProxy?: string;
  HttpsProxy?: string;
  NoProxy?: string;
  Labels?: string[] | null;
  ExperimentalBuild?: boolean;
  RegistryConfig?: {
    InsecureRegistryCIDRs?: string[] | null;
    IndexConfigs?: Record<string, { Name: string; Secure: boolean }> | null;
    Mirrors?: string[] | null;
  } | null;
  LiveRestoreEnabled?: boolean;
  ProductLicense?: string;
  DefaultAddressPools?: { Base: string; Size: number }[] | null;
  Warnings?: string[] | null;
  [key: string]: unknown;
}

/** One entry of `GET /images/json`. */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

/** `GET /images/{name}/json`; the full shape is large, the CLI mostly passes the raw JSON through. */
export interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Parent?: string;
  Comment?: string;
  Created?: string;
  Author?: string;
  Config?: Record<string, unknown> | null;
  Architecture?: string;
  Os?: string;
  Size?: number;
  RootFS?: { Type: string; Layers?: string[] };
  [key: string]: unknown;
}

/** One entry of `GET /images/{name}/history`, newest first. */
export interface ImageHistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** One entry of `DELETE /images/{name}` and of a prune report. */
export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

/** `POST /images/prune`. */
export interface ImagePruneReport {
  ImagesDeleted: ImageDeleteItem[] | null;
  SpaceReclaimed: number;
}

/** Berth addition: `POST /images/{name}/rollback?to=DIGEST`. */
export interface ImageRollbackResult {
  Name: string;
  From: string;
  To: string;
}

/** Berth addition: one entry of `GET /images/{name}/taghistory`, newest first. */
export interface TagHistoryEntry {
  Digest: string;
  ImageID: string;
  /** RFC 3339. */
  Time: string;
  Action: string;
}

/** `GET /system/df`. Containers, volumes and build cache stay loose until those endpoints exist. */
export interface DiskUsage {
  LayersSize?: number;
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
  /** Nanoseconds since the epoch; a bigint when beyond Number.MAX_SAFE_INTEGER (as it is today). */
  timeNano?: number | bigint;
  /** Deprecated fields still sent by engines for containers. */
  status?: string;
  id?: string;
  from?: string;
}

/** A progress or result message of a JSON-lines stream (load, import, pull, push, build). */
export interface JSONMessage {
  stream?: string;
  status?: string;
  progressDetail?: JSONProgress;
  /** Deprecated pre-formatted progress text. */
  progress?: string;
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  errorDetail?: { code?: number; message?: string };
  /** Deprecated; same as errorDetail.message. */
  error?: string;
  aux?: unknown;
}

export interface JSONProgress {
  current?: number;
  total?: number;
  start?: number;
  hidecounts?: boolean;
  units?: string;
}

/** Filters as the Engine API takes them: `{"key": {"value": true}}`, built from key → values. */
export type Filters = Record<string, readonly string[]>;
