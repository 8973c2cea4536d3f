import { readFileSync, existsSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import { API_VERSION, MIN_API_VERSION } from '../api/index.ts';
import type {
  IndexInfo,
  RegistryServiceConfig,
  SystemInfo as SystemInfoJSON,
  SystemVersion,
} from '../engine-api/system.ts';
import type { DaemonConfig } from './config.ts';
import type { Engine } from './engine.ts';
import { probeFailure } from './runtimes.ts';

export const BERTH_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
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
  readonly #engine: Engine;
  /** Warnings about listeners anyone who reaches them may use (listen.ts). */
  readonly #exposure: string[];
  readonly #started = new Date();
  constructor(config: DaemonConfig, engine: Engine, exposure: string[] = []) {
    this.#config = config;
    this.#engine = engine;
    this.#exposure = exposure;
  }

  version(): SystemVersion {
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

  async info(): Promise<SystemInfoJSON> {
    const c = this.#config;
    const e = this.#engine;
    const images = new Set(e.images.list().map((i) => i.configDigest)).size;
    const all = e.containers.list();
    const count = (s: string[]) => all.filter((r) => s.includes(r.state.Status)).length;
    // dockerd's form (`path`, `runtimeArgs`): a runtime run through runtime-ns shows it as the program run.
    const runtimes: Record<string, { path: string; runtimeArgs?: string[] }> = {};
    for (const p of e.runtimes.probes)
      if (p.ok) runtimes[p.name] = p.wrapper ? { path: p.wrapper, runtimeArgs: [p.path] } : { path: p.path };
    const warnings = e.runtimes.probes.filter((p) => !p.ok).map((p) => `WARNING: ${probeFailure(p)}`);
    const net = e.networks.backendInfo();
    warnings.push(...net.warnings, ...this.#exposure);
    return {
      ID: e.engineId,
      Containers: all.length,
      ContainersRunning: count(['running', 'restarting']),
      ContainersPaused: count(['paused']),
      ContainersStopped: count(['created', 'exited', 'dead', 'removing']),
      Images: images,
      Driver: c.snapshotter === 'overlay' ? 'overlayfs' : 'copy',
      DriverStatus: [['driver-type', 'berth snapshotter']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      KernelMemory: false,
      KernelMemoryTCP: false,
      BridgeNfIptables: sysctlOn('/proc/sys/net/bridge/bridge-nf-call-iptables'),
      BridgeNfIp6tables: sysctlOn('/proc/sys/net/bridge/bridge-nf-call-ip6tables'),
      IPv4Forwarding: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1',
      Debug: c.logLevel === 'debug',
      NFd: 0,
      OomKillDisable: false,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      // conmon writes k8s-file on disk; the API serves logs as the json-file driver does (see containers handler).
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: cgroupVersion(),
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: osPrettyName(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: ARCH[process.arch] ?? process.arch,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: registryInfo(c),
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
      Runtimes: runtimes,
      DefaultRuntime: e.runtimes.defaultRuntime,
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'catatonit',
      SecurityOptions: ['name=seccomp,profile=builtin'],
      GenericResources: null,
      // Berth has no containerd; the runtime and init are the host's packages (no pinned commits to expect).
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      Warnings: warnings,
      ProductLicense: 'Apache-2.0',
      BerthStartedAt: this.#started.toISOString(),
      BerthNetwork: { Backend: net.backend, FirewallChains: net.chains },
    };
  }
}

/** A boolean sysctl read from /proc; false when the file is missing (module not loaded). */
function sysctlOn(path: string): boolean {
  try {
    return readFileSync(path, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** `RegistryConfig` of /info as dockerd shows it; Berth's per-registry mirrors appear in each IndexConfigs entry. */
function registryInfo(c: DaemonConfig): RegistryServiceConfig {
  const cidrs = ['127.0.0.0/8', ...c.insecureRegistries.filter((r) => r.includes('/'))];
  const hubMirrors = Array.isArray(c.registryMirrors) ? c.registryMirrors : (c.registryMirrors['docker.io'] ?? []);
  const index: Record<string, IndexInfo> = {
    'docker.io': { Name: 'docker.io', Mirrors: hubMirrors, Secure: true, Official: true },
  };
  for (const host of c.insecureRegistries.filter((r) => !r.includes('/')))
    index[host] = { Name: host, Mirrors: [], Secure: false, Official: false };
  if (!Array.isArray(c.registryMirrors)) {
    for (const [host, mirrors] of Object.entries(c.registryMirrors)) {
      if (host === 'docker.io') continue;
      index[host] = { Name: host, Mirrors: mirrors, Secure: index[host]?.Secure ?? true, Official: false };
    }
  }
  return {
    AllowNondistributableArtifactsCIDRs: [],
    AllowNondistributableArtifactsHostnames: [],
    InsecureRegistryCIDRs: cidrs,
    IndexConfigs: index,
    Mirrors: hubMirrors,
  };
}
