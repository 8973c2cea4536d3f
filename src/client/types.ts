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
  Plugins?: {
    Volume?: string[] | null;
    Network?: string[] | null;
    Authorization?: string[] | null;
    Log?: string[] | null;
  };
  /** Berth addition: the network backend and the firewall chains it hooks. */
  BerthNetwork?: { Backend?: string; FirewallChains?: string[] | null };
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
  Digest: string | null;
  ImageID: string | null;
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

// ---- containers ----

/** `HostConfig.RestartPolicy`; `Name` is '', `no`, `always`, `unless-stopped` or `on-failure`. */
export interface RestartPolicy {
  Name: string;
  MaximumRetryCount: number;
}

export interface Ulimit {
  Name: string;
  Hard: number;
  Soft: number;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** One `HostConfig.Mounts` entry (`--mount`). */
export interface Mount {
  Type: string;
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: {
    Propagation?: string;
    NonRecursive?: boolean;
    CreateMountpoint?: boolean;
    ReadOnlyNonRecursive?: boolean;
    ReadOnlyForceRecursive?: boolean;
  };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    Subpath?: string;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
  };
  ImageOptions?: { Subpath?: string };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] };
}

/** `Config.Healthcheck`; durations in nanoseconds. `Test: ["NONE"]` turns an image's check off. */
export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** `Config` of a create request (and of inspect); field names as in the Engine API. */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, Record<string, never>> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig | null;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  MacAddress?: string;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number;
  Shell?: string[] | null;
}

/** Resource limits shared by create and `POST /containers/{id}/update`. */
export interface Resources {
  CpuShares?: number;
  Memory?: number;
  NanoCpus?: number;
  CgroupParent?: string;
  BlkioWeight?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: DeviceMapping[] | null;
  DeviceCgroupRules?: string[] | null;
  KernelMemory?: number;
  MemoryReservation?: number;
  MemorySwap?: number;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  PidsLimit?: number | null;
  Ulimits?: Ulimit[] | null;
}

export interface HostConfig extends Resources {
  Binds?: string[] | null;
  ContainerIDFile?: string;
  LogConfig?: { Type: string; Config?: Record<string, string> | null };
  NetworkMode?: string;
  PortBindings?: Record<string, { HostIp: string; HostPort: string }[]> | null;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  VolumeDriver?: string;
  VolumesFrom?: string[] | null;
  Mounts?: Mount[] | null;
  ConsoleSize?: [number, number];
  Annotations?: Record<string, string> | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  CgroupnsMode?: string;
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  ExtraHosts?: string[] | null;
  GroupAdd?: string[] | null;
  IpcMode?: string;
  Cgroup?: string;
  Links?: string[] | null;
  OomScoreAdj?: number;
  PidMode?: string;
  Privileged?: boolean;
  PublishAllPorts?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  StorageOpt?: Record<string, string> | null;
  Tmpfs?: Record<string, string> | null;
  UTSMode?: string;
  UsernsMode?: string;
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  Runtime?: string;
  Isolation?: string;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  Init?: boolean | null;
}

/** The body of `POST /containers/create`: the Config fields at the top level, plus these. */
export interface ContainerCreateRequest extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointSettings> | null };
}

export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[] | null;
}

/** One entry of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  Names: string[] | null;
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: ContainerPort[] | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Record<string, string> | null;
  State: string;
  Status: string;
  HostConfig?: { NetworkMode?: string };
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
  Mounts?: { Type?: string; Name?: string; Source?: string; Driver?: string }[] | null;
  [key: string]: unknown;
}

export interface ContainerPort {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

export interface ContainerState {
  Status: string;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: string; FailingStreak: number; Log: unknown[] | null } | null;
}

/** `GET /containers/{id}/json`; the CLI prints the raw JSON, these are the fields it reads. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  State: ContainerState;
  Config: ContainerConfig;
  HostConfig: HostConfig;
  [key: string]: unknown;
}

/** `POST /containers/{id}/wait`. */
export interface WaitResponse {
  StatusCode: number;
  Error?: { Message: string } | null;
}

/** `GET /containers/{id}/top`. */
export interface TopResponse {
  Titles: string[] | null;
  Processes: string[][] | null;
}

/** One entry of `GET /containers/{id}/changes`: Kind 0 modified, 1 added, 2 deleted. */
export interface ChangeItem {
  Path: string;
  Kind: number;
}

/** The `X-Docker-Container-Path-Stat` header of the archive endpoints. */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits (directory = 1<<31, symlink = 1<<27). */
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** One sample of `GET /containers/{id}/stats`; only what the CLI computes with is typed. */
export interface StatsResponse {
  name?: string;
  id?: string;
  read?: string;
  preread?: string;
  pids_stats?: { current?: number; limit?: number };
  blkio_stats?: { io_service_bytes_recursive?: { major?: number; minor?: number; op: string; value: number }[] | null };
  num_procs?: number;
  cpu_stats?: StatsCPU;
  precpu_stats?: StatsCPU;
  memory_stats?: {
    usage?: number;
    limit?: number;
    stats?: Record<string, number> | null;
    max_usage?: number;
    privateworkingset?: number;
  };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }> | null;
  [key: string]: unknown;
}

export interface StatsCPU {
  cpu_usage?: {
    total_usage?: number;
    percpu_usage?: number[] | null;
    usage_in_kernelmode?: number;
    usage_in_usermode?: number;
  };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data?: unknown;
}

/** `POST /containers/prune`. */
export interface ContainerPruneReport {
  ContainersDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** The body of `POST /containers/{id}/update`. */
export interface ContainerUpdateConfig extends Resources {
  RestartPolicy?: RestartPolicy;
}

export interface ContainerUpdateResponse {
  Warnings: string[] | null;
}

/** `POST /commit`. */
export interface CommitResponse {
  Id: string;
}

// ---- exec ----

/** The body of `POST /containers/{id}/exec`. */
export interface ExecConfig {
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  AttachStdin?: boolean;
  AttachStderr?: boolean;
  AttachStdout?: boolean;
  Detach?: boolean;
  DetachKeys?: string;
  Env?: string[] | null;
  WorkingDir?: string;
  Cmd: string[];
}

/** `GET /exec/{id}/json`. */
export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  ContainerID: string;
  Pid?: number;
  [key: string]: unknown;
}

// ---- volumes ----

export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt?: string;
  Labels: Record<string, string> | null;
  Scope: string;
  Options: Record<string, string> | null;
  Status?: Record<string, unknown> | null;
  UsageData?: { Size: number; RefCount: number } | null;
  [key: string]: unknown;
}

export interface VolumeListResponse {
  Volumes: Volume[] | null;
  Warnings: string[] | null;
}

/** The body of `POST /volumes/create`. */
export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
}

export interface VolumePruneReport {
  VolumesDeleted: string[] | null;
  SpaceReclaimed: number;
}

// ---- networks ----

/** One subnet of a network's `IPAM.Config`; in create requests the aux addresses are `AuxiliaryAddresses`. */
export interface NetworkIPAMConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string> | null;
}

/** A network's address management: driver, options and subnets. */
export interface NetworkIPAM {
  Driver?: string;
  Options?: Record<string, string> | null;
  Config?: NetworkIPAMConfig[] | null;
}

/** One endpoint in a network's `Containers` map (keyed by container ID). */
export interface NetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

/** `GET /networks/{id}` and the entries of `GET /networks`. */
export interface Network {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv4?: boolean;
  EnableIPv6: boolean;
  IPAM: NetworkIPAM;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom?: { Network: string };
  ConfigOnly: boolean;
  Containers?: Record<string, NetworkContainer> | null;
  Options: Record<string, string> | null;
  Labels: Record<string, string> | null;
  [key: string]: unknown;
}

/** The body of `POST /networks/create` (docker's `network.CreateRequest`). */
export interface NetworkCreateRequest {
  Name: string;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network: string } | null;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  IPAM?: NetworkIPAM | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export interface NetworkCreateResponse {
  Id: string;
  Warning: string;
}

/** A container's endpoint on one network: what create and connect ask for, and what inspect reports. */
export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  DriverOpts?: Record<string, string> | null;
  GwPriority?: number;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  DNSNames?: string[] | null;
}

/** The body of `POST /networks/{id}/connect`. */
export interface NetworkConnectRequest {
  Container: string;
  EndpointConfig?: EndpointSettings | null;
}

/** The body of `POST /networks/{id}/disconnect`. */
export interface NetworkDisconnectRequest {
  Container: string;
  Force?: boolean;
}

export interface NetworkPruneReport {
  NetworksDeleted: string[] | null;
}

/** One published port in a container's `NetworkSettings.Ports` (`"80/tcp": [{HostIp, HostPort}]`). */
export interface PortBinding {
  HostIp: string;
  HostPort: string;
}
