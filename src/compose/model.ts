/**
 * The one model every compose file becomes after loading: each short syntax turned into its long form, every
 * relative path made absolute, resource names resolved (`<project>_default`, `<project>_<volume>`). Keys are
 * the Compose Specification's own, so `config` prints this model (less its empty lists and maps) as YAML.
 */

export interface Project {
  name: string;
  /** The project directory: relative paths in the files are relative to it. */
  workingDir: string;
  /** Absolute paths of the files given (`-f`) or found. */
  configFiles: string[];
  /** The variables interpolation saw (the process environment over the `.env` files). */
  environment: Record<string, string>;
  /** The `--env-file`s or the `.env` that was read, absolute. */
  envFiles: string[];
  services: Record<string, Service>;
  /** Services left out by profiles, normalised all the same. */
  disabledServices: Record<string, Service>;
  networks: Record<string, NetworkConfig>;
  volumes: Record<string, VolumeConfig>;
  secrets: Record<string, FileObjectConfig>;
  configs: Record<string, FileObjectConfig>;
  /** Top-level `x-*` keys. */
  extensions: Record<string, unknown>;
}

export interface BuildConfig {
  context: string;
  dockerfile?: string;
  dockerfile_inline?: string;
  args: Record<string, string | null>;
  target?: string;
  labels: Record<string, string>;
  cache_from: string[];
  secrets: ServiceFileRef[];
  network?: string;
  no_cache?: boolean;
  pull?: boolean;
  shm_size?: number;
  extra_hosts: string[];
  tags: string[];
  platforms: string[];
}

export interface PortConfig {
  mode: string;
  host_ip?: string;
  target: number;
  /** A port or a range (`8000-8010`); absent: the engine picks one. */
  published?: string;
  protocol: string;
  app_protocol?: string;
  name?: string;
}

export interface ServiceVolume {
  type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image';
  /** Absolute host path (bind), volume key (named; absent for anonymous volumes). */
  source?: string;
  target: string;
  read_only?: boolean;
  consistency?: string;
  bind?: { propagation?: string; create_host_path?: boolean; selinux?: string };
  volume?: { nocopy?: boolean; subpath?: string };
  tmpfs?: { size?: number; mode?: number };
}

export interface ServiceNetwork {
  aliases?: string[];
  ipv4_address?: string;
  ipv6_address?: string;
  priority?: number;
  mac_address?: string;
  link_local_ips?: string[];
  driver_opts?: Record<string, string>;
}

export type DependencyCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface Dependency {
  condition: DependencyCondition;
  restart: boolean;
  required: boolean;
}

export interface Healthcheck {
  test?: string[];
  interval?: string;
  timeout?: string;
  start_period?: string;
  start_interval?: string;
  retries?: number;
  disable?: boolean;
}

export interface Resources {
  cpus?: number;
  memory?: number;
  pids?: number;
}

export interface Deploy {
  mode?: string;
  replicas?: number;
  labels?: Record<string, string>;
  resources?: { limits?: Resources; reservations?: Resources };
  restart_policy?: { condition?: string; delay?: string; max_attempts?: number; window?: string };
}

export interface ServiceFileRef {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface DeviceMapping {
  source: string;
  target: string;
  permissions: string;
}

export interface Ulimit {
  soft: number;
  hard: number;
}

export interface Hook {
  command: string[];
  user?: string;
  privileged?: boolean;
  working_dir?: string;
  environment?: Record<string, string | null>;
}

/** Berth's readiness extension, `x-berth-ready`: what makes a service ready without a healthcheck. */
export interface Readiness {
  tcp?: number;
  http?: string;
  port?: number;
  log?: string;
  /** Milliseconds after the container started. */
  delay?: number;
  /** Milliseconds to wait before a dependency is declared failed (default 60 s). */
  timeout?: number;
}

export interface WatchRule {
  path: string;
  action: 'sync' | 'rebuild' | 'sync+restart' | 'restart' | 'sync+exec';
  target?: string;
  ignore: string[];
  /** What `sync+exec` runs in each of the service's containers after the files are copied. */
  exec?: Hook;
  /** `initial_sync`: the sync actions copy the path's files newer than the image before watching starts. */
  initial_sync?: boolean;
}

export interface Service {
  name: string;
  image?: string;
  build?: BuildConfig;
  /** Absent: the image's; `[]`: explicitly empty. */
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string | null>;
  env_file: { path: string; required: boolean }[];
  ports: PortConfig[];
  expose: string[];
  volumes: ServiceVolume[];
  volumes_from: string[];
  /** Absent when `network_mode` is set. */
  networks: Record<string, ServiceNetwork | null>;
  network_mode?: string;
  depends_on: Record<string, Dependency>;
  links: string[];
  external_links: string[];
  healthcheck?: Healthcheck;
  restart?: string;
  deploy?: Deploy;
  scale?: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  container_name?: string;
  hostname?: string;
  domainname?: string;
  mac_address?: string;
  user?: string;
  working_dir?: string;
  cap_add: string[];
  cap_drop: string[];
  privileged?: boolean;
  read_only?: boolean;
  stdin_open?: boolean;
  tty?: boolean;
  tmpfs: string[];
  extra_hosts: string[];
  dns: string[];
  dns_search: string[];
  dns_opt: string[];
  init?: boolean;
  stop_signal?: string;
  stop_grace_period?: string;
  logging?: { driver?: string; options?: Record<string, string> };
  secrets: ServiceFileRef[];
  configs: ServiceFileRef[];
  pull_policy?: string;
  profiles: string[];
  ulimits: Record<string, Ulimit>;
  sysctls: Record<string, string>;
  devices: DeviceMapping[];
  group_add: string[];
  shm_size?: number;
  mem_limit?: number;
  mem_reservation?: number;
  memswap_limit?: number;
  cpus?: number;
  cpu_shares?: number;
  cpuset?: string;
  pids_limit?: number;
  oom_score_adj?: number;
  security_opt: string[];
  pid?: string;
  ipc?: string;
  cgroup?: string;
  cgroup_parent?: string;
  platform?: string;
  runtime?: string;
  isolation?: string;
  attach?: boolean;
  post_start: Hook[];
  pre_stop: Hook[];
  develop?: { watch: WatchRule[] };
  /** `x-*` keys of the service (`x-berth-ready` among them). */
  extensions: Record<string, unknown>;
}

export interface NetworkConfig {
  name: string;
  driver?: string;
  driver_opts: Record<string, string>;
  ipam?: {
    driver?: string;
    config: { subnet?: string; ip_range?: string; gateway?: string; aux_addresses?: Record<string, string> }[];
    options?: Record<string, string>;
  };
  external?: boolean;
  internal?: boolean;
  attachable?: boolean;
  enable_ipv6?: boolean;
  labels: Record<string, string>;
}

export interface VolumeConfig {
  name: string;
  driver?: string;
  driver_opts: Record<string, string>;
  external?: boolean;
  labels: Record<string, string>;
}

export interface FileObjectConfig {
  name: string;
  file?: string;
  environment?: string;
  content?: string;
  external?: boolean;
  labels: Record<string, string>;
}

/** How many containers a service wants: `deploy.replicas`, else `scale`, else 1. */
export function serviceScale(s: Service): number {
  return s.deploy?.replicas ?? s.scale ?? 1;
}

/** The image a service runs: `image:`, else `<project>-<service>` for a service that only builds. */
export function imageName(project: Project, s: Service): string {
  return s.image ?? `${project.name}-${s.name}`;
}
