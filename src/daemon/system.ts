import { readFileSync, existsSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import { API_VERSION, MIN_API_VERSION } from '../api/index.ts';
import type { ImageService } from '../images/index.ts';
import type { DaemonConfig } from './config.ts';

export const BERTH_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

function osPrettyName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

export function cgroupVersion(): '1' | '2' {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
}

/** Bodies of `GET /version` and `GET /info`. */
export class SystemInfo {
  readonly #config: DaemonConfig;
  readonly #images: ImageService;
  readonly #id: string;
  readonly #started = new Date();
  constructor(config: DaemonConfig, images: ImageService, engineId: string) {
    this.#config = config;
    this.#images = images;
    this.#id = engineId;
  }

  version(): Record<string, unknown> {
    const details = {
      ApiVersion: API_VERSION,
      Arch: GOARCH[process.arch] ?? process.arch,
      BuildTime: '',
      Experimental: 'false',
      GitCommit: '',
      GoVersion: `node${process.versions.node}`,
      KernelVersion: release(),
      MinAPIVersion: MIN_API_VERSION,
      Os: 'linux',
    };
    return {
      Platform: { Name: 'Berth Engine' },
      Components: [{ Name: 'Engine', Version: BERTH_VERSION, Details: details }],
      Version: BERTH_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: details.GoVersion,
      Os: 'linux',
      Arch: details.Arch,
      KernelVersion: details.KernelVersion,
      BuildTime: '',
    };
  }

  async info(): Promise<Record<string, unknown>> {
    const c = this.#config;
    const images = new Set(this.#images.list().map((i) => i.configDigest)).size;
    return {
      ID: this.#id,
      Containers: 0,
      ContainersRunning: 0,
      ContainersPaused: 0,
      ContainersStopped: 0,
      Images: images,
      Driver: c.snapshotter === 'overlay' ? 'overlayfs' : 'copy',
      DriverStatus: [['driver-type', 'berth snapshotter']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['k8s-file'] },
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1',
      Debug: c.logLevel === 'debug',
      NFd: 0,
      OomKillDisable: false,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'k8s-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: cgroupVersion(),
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: osPrettyName(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: ARCH[process.arch] ?? process.arch,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
      NCPU: cpus().length,
      MemTotal: totalmem(),
      DockerRootDir: c.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: BERTH_VERSION,
      Runtimes: { runc: { path: 'runc' }, crun: { path: 'crun' } },
      DefaultRuntime: c.defaultRuntime,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'catatonit',
      SecurityOptions: ['name=seccomp,profile=builtin'],
      Warnings: [],
      ProductLicense: 'Apache-2.0',
      BerthStartedAt: this.#started.toISOString(),
    };
  }
}
