import { type ContainerRow, type ContainerSize, systemPaths } from '../../containers/index.ts';
import type { HostConfig, MountPoint } from '../../engine-api/containers.ts';
import { versionAtLeast } from '../version.ts';
import type { ContainerHandlerDeps } from './containers.ts';

function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

export function mountsJSON(r: ContainerRow): MountPoint[] {
  return r.config.Mounts.map((m) => ({
    Type: m.Type,
    ...(m.Name ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Driver ? { Driver: m.Driver } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  }));
}

/**
 * Every HostConfig field dockerd's inspect shows, at its zero value: clients read them without checking that they
 * exist (docker-py's `HostConfig['Binds']`, the CLI's templates). What the container set overrides them.
 */
const HOST_CONFIG_ZERO: Record<string, unknown> = {
  Binds: null,
  ContainerIDFile: '',
  LogConfig: { Type: 'json-file', Config: {} },
  NetworkMode: 'default',
  PortBindings: null,
  RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
  AutoRemove: false,
  VolumeDriver: '',
  VolumesFrom: null,
  CapAdd: null,
  CapDrop: null,
  CgroupnsMode: 'host',
  Dns: null,
  DnsOptions: null,
  DnsSearch: null,
  ExtraHosts: null,
  GroupAdd: null,
  IpcMode: 'private',
  Cgroup: '',
  Links: null,
  OomScoreAdj: 0,
  PidMode: '',
  Privileged: false,
  PublishAllPorts: false,
  ReadonlyRootfs: false,
  SecurityOpt: null,
  UTSMode: '',
  UsernsMode: '',
  ShmSize: 67108864,
  Runtime: 'runc',
  ConsoleSize: [0, 0],
  Isolation: '',
  CpuShares: 0,
  Memory: 0,
  NanoCpus: 0,
  CgroupParent: '',
  BlkioWeight: 0,
  BlkioWeightDevice: null,
  BlkioDeviceReadBps: null,
  BlkioDeviceWriteBps: null,
  BlkioDeviceReadIOps: null,
  BlkioDeviceWriteIOps: null,
  CpuPeriod: 0,
  CpuQuota: 0,
  CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0,
  CpusetCpus: '',
  CpusetMems: '',
  Devices: null,
  DeviceCgroupRules: null,
  DeviceRequests: null,
  KernelMemory: 0,
  KernelMemoryTCP: 0,
  MemoryReservation: 0,
  MemorySwap: 0,
  MemorySwappiness: null,
  OomKillDisable: false,
  PidsLimit: null,
  Ulimits: null,
  CpuCount: 0,
  CpuPercent: 0,
  IOMaximumIOps: 0,
  IOMaximumBandwidth: 0,
};

/** The Config fields dockerd's inspect always shows. */
const CONFIG_ZERO: Record<string, unknown> = {
  Hostname: '',
  Domainname: '',
  User: '',
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: null,
  Image: '',
  Volumes: null,
  WorkingDir: '',
  Entrypoint: null,
  OnBuild: null,
  Labels: {},
};

/** `GET /containers/{id}/json`; with `size` (`?size=1`), `SizeRw` and `SizeRootFs` after `GraphDriver`, as dockerd. */
export function inspectContainer(
  d: ContainerHandlerDeps,
  r: ContainerRow,
  version: string,
  size?: ContainerSize,
): Record<string, unknown> {
  const s = r.state;
  const dir = d.containers.dir(r.id);
  const hc: HostConfig & Record<string, unknown> = { ...HOST_CONFIG_ZERO, ...r.hostConfig };
  // Logs are kept by conmon (k8s-file on disk) and served by `/logs` like Docker's json-file driver; clients gate on
  // the name (docker-py's `containers.run` only returns output for json-file or journald), so that is what we say.
  if (!hc.LogConfig?.Type) hc.LogConfig = { Type: 'json-file', Config: hc.LogConfig?.Config ?? {} };
  hc.RestartPolicy = { Name: 'no', MaximumRetryCount: 0, ...hc.RestartPolicy };
  hc.Links = d.containers.links(r);
  // dockerd records its default lists at create (none when privileged); `[]` is systempaths=unconfined.
  const paths = systemPaths(r.hostConfig);
  hc.MaskedPaths = paths.maskedPaths ? [...paths.maskedPaths] : (r.hostConfig.MaskedPaths ?? null);
  hc.ReadonlyPaths = paths.readonlyPaths ? [...paths.readonlyPaths] : (r.hostConfig.ReadonlyPaths ?? null);
  const out: Record<string, unknown> = {
    Id: r.id,
    Created: rfc3339(r.created),
    Path: r.config.Path,
    Args: r.config.Args,
    State: {
      Status: s.Status,
      Running: s.Status === 'running' || s.Status === 'paused',
      Paused: s.Status === 'paused',
      Restarting: s.Status === 'restarting',
      OOMKilled: s.OOMKilled,
      Dead: s.Status === 'dead',
      Pid: s.Pid,
      ExitCode: s.ExitCode,
      Error: s.Error,
      StartedAt: s.StartedAt,
      FinishedAt: s.FinishedAt,
      ...(s.Health ? { Health: s.Health } : {}),
    },
    Image: r.imageId,
    ResolvConfPath: `${d.containers.networkFilesDir(r)}/resolv.conf`,
    HostnamePath: `${dir}/hostname`,
    HostsPath: `${d.containers.networkFilesDir(r)}/hosts`,
    LogPath: d.containers.logPath(r.id),
    Name: `/${r.name}`,
    RestartCount: s.RestartCount,
    Driver: d.snapshotterName === 'overlay' ? 'overlayfs' : d.snapshotterName,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hc,
    GraphDriver: { Data: null, Name: d.snapshotterName === 'overlay' ? 'overlayfs' : d.snapshotterName },
    ...(size ?? {}),
    Mounts: mountsJSON(r),
    Config: { ...CONFIG_ZERO, ...r.config.Config },
    NetworkSettings: withoutNewerFields(d.containers.networkSettings(r), version),
  };
  return out;
}

/**
 * Network settings as the asked API version defines them: `DNSNames` on each endpoint came in 1.44. (A copy: the
 * service's object is not changed.)
 */
export function withoutNewerFields<T extends { Networks: Record<string, object> }>(settings: T, version: string): T {
  if (versionAtLeast(version, '1.44')) return settings;
  const Networks: Record<string, object> = {};
  for (const [name, e] of Object.entries(settings.Networks)) {
    const { DNSNames: _, ...rest } = e as { DNSNames?: unknown };
    Networks[name] = rest;
  }
  return { ...settings, Networks };
}
