/**
 * The Docker Engine API's container shapes, as moby's `api/swagger.yaml` (v1.50) names them: what clients send to
 * create and update a container, and what berthd answers. Types only: the daemon side and `client/` both import
 * them with `import type`, so no code crosses. Requests are typed as loosely as clients may send them.
 */
import type { EndpointSettings, PortBinding } from './networks.ts';

/** `HostConfig.RestartPolicy`; `Name` is '', `no`, `always`, `unless-stopped` or `on-failure`. */
export interface RestartPolicy {
  Name: string;
  /** With `on-failure` only. */
  MaximumRetryCount?: number;
}

export interface Ulimit {
  Name: string;
  Hard: number;
  Soft: number;
}

/** `--device`: a host device node, where it appears in the container (default the same path), `rwm` by default. */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
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
  NetworkDisabled?: boolean;
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
  /** `"80/tcp": [{HostIp, HostPort}]`; an empty HostPort picks a free port. */
  PortBindings?: PortMap | null;
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
/** Published ports by container port and protocol (`80/tcp`). */
export type PortMap = Record<string, PortBinding[] | null>;

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

/** One entry of inspect's `Mounts` (and of `ps`'s). */
export interface MountPoint {
  Type: string;
  /** The volume's name (volumes only). */
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
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
