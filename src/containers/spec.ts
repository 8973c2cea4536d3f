/**
 * What a container runs, as the runtime takes it: a pure function of the container's record and of what start
 * resolved on the host (its mounted root, user, volumes, network namespace, devices). Create calls it to validate
 * the record before anything exists, start calls it to build `config.json`, so the two cannot disagree.
 */
import {
  type DeviceInput,
  type HostFacts,
  MASKED_PATHS,
  type MountInput,
  type NetworkMode,
  type Propagation,
  READONLY_PATHS,
  type SpecInput,
} from '../runtime/index.ts';
import type { HostConfig } from '../engine-api/containers.ts';
import type { Row } from './model.ts';
import { resourcesInput } from './resources.ts';
import { logPolicy } from './logdriver.ts';
import { parseSecurityOpts } from './security.ts';
import type { ResolvedUser } from './users.ts';
import { type JoinedNamespaces, namespaceInput } from './namespaces.ts';

/** What start finds out on the host before it builds the spec. */
export interface Resolved {
  /** The container's root filesystem, mounted. */
  rootfs: string;
  /** `Config.User` and `--group-add` against the image's /etc/passwd and /etc/group. */
  user: ResolvedUser;
  /** The host directory of each named volume the container mounts, by name (acquired for this run). */
  volumes: ReadonlyMap<string, string>;
  /** Host files bound at /etc/hosts, /etc/hostname and /etc/resolv.conf (unless a mount of the user's is there). */
  etc: { hosts: string; hostname: string; resolvConf: string };
  /** The network namespace: the host's, an empty one, or one the network service made (or another container's). */
  network: NetworkMode;
  /** `--device` nodes with their numbers (see `deviceInput`). */
  devices: DeviceInput[];
  /** The host's init binary for `--init`, when one is installed. */
  init?: string | undefined;
  host: HostFacts;
  /** The container's directory (where a shareable /dev/shm is mounted). */
  dir?: string;
  /** The processes of the containers whose IPC and PID namespaces it joins (`--ipc/--pid container:X`). */
  joined?: JoinedNamespaces;
  /** The environment its legacy links give it (`--link`), before its own. */
  linkEnv?: readonly string[];
}

const ETC_FILES = [
  ['hosts', '/etc/hosts'],
  ['hostname', '/etc/hostname'],
  ['resolvConf', '/etc/resolv.conf'],
] as const;

/** The spec builder's input for a container (see `buildSpec`). Throws InvalidArgumentError for a bad option. */
export function specInput(r: Row, res: Resolved): SpecInput {
  const c = r.config.Config;
  const hc = r.hostConfig;
  const security = parseSecurityOpts(hc.SecurityOpt ?? []);
  const env = [...(res.linkEnv ?? []), ...(c.Env ?? [])];
  const ns = namespaceInput(hc, res.joined ?? {}, res.dir ?? '/');
  return {
    id: r.id,
    rootfs: res.rootfs,
    readonlyRootfs: hc.ReadonlyRootfs ?? false,
    process: {
      args: [r.config.Path, ...r.config.Args],
      env: env.some((e) => e.startsWith('HOME=')) ? [...env] : [...env, `HOME=${res.user.home}`],
      cwd: c.WorkingDir || '/',
      terminal: c.Tty ?? false,
      ...(hc.ConsoleSize && hc.ConsoleSize[0] > 0
        ? { consoleSize: { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } }
        : {}),
      user: { uid: res.user.uid, gid: res.user.gid, additionalGids: res.user.additionalGids },
      noNewPrivileges: security.noNewPrivileges,
      ...(hc.OomScoreAdj ? { oomScoreAdj: hc.OomScoreAdj } : {}),
    },
    hostname: hc.NetworkMode === 'host' || hc.UTSMode === 'host' ? '' : (c.Hostname ?? ''),
    ...(c.Domainname ? { domainname: c.Domainname } : {}),
    mounts: [...mountInputs(r, res), ...ns.mounts],
    ...(hc.ShmSize ? { shmSize: hc.ShmSize } : {}),
    ...(ns.noShm ? { noShm: true } : {}),
    resources: resourcesInput(hc),
    capAdd: hc.CapAdd ?? [],
    capDrop: hc.CapDrop ?? [],
    privileged: hc.Privileged ?? false,
    ...systemPaths(hc),
    seccomp: security.seccomp,
    devices: res.devices,
    sysctls: hc.Sysctls ?? {},
    ulimits: (hc.Ulimits ?? []).map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard })),
    namespaces: { network: res.network, ...ns.namespaces },
    cgroupsPath: `/berth/${r.id}`,
    ...(hc.Init && res.init ? { init: res.init } : {}),
    annotations: { 'org.opencontainers.image.ref.name': r.imageRef, 'berth.container.name': r.name },
    host: res.host,
  };
}

/**
 * The paths masked and made read-only in the container, as `HostConfig` lists them: those the client gave (`[]`
 * with `--security-opt systempaths=unconfined`), else Docker's defaults; none when privileged (nulls in inspect).
 */
export function systemPaths(hc: HostConfig): { maskedPaths?: readonly string[]; readonlyPaths?: readonly string[] } {
  if (hc.Privileged) return {};
  return { maskedPaths: hc.MaskedPaths ?? MASKED_PATHS, readonlyPaths: hc.ReadonlyPaths ?? READONLY_PATHS };
}

/** The container's mounts in its own order (volumes at their acquired directories), then the /etc files. */
function mountInputs(r: Row, res: Resolved): MountInput[] {
  const out: MountInput[] = [];
  for (const m of r.config.Mounts) {
    if (m.Type === 'tmpfs') {
      out.push({
        type: 'tmpfs',
        destination: m.Destination,
        options: m.TmpfsOptions ?? [],
        ...(m.RW ? {} : { readonly: true }),
      });
      continue;
    }
    const source = m.Type === 'volume' ? res.volumes.get(m.Name!) : m.Source;
    if (source === undefined) throw new TypeError(`volume ${m.Name} of container ${r.id} was not acquired`);
    out.push({
      type: 'bind',
      source,
      destination: m.Destination,
      ...(m.RW ? {} : { readonly: true }),
      ...(m.Propagation && m.Propagation !== 'rprivate' ? { propagation: m.Propagation as Propagation } : {}),
    });
  }
  for (const [key, dest] of ETC_FILES)
    if (!out.some((m) => m.destination === dest))
      out.push({
        type: 'bind',
        source: res.etc[key],
        destination: dest,
        ...(r.hostConfig.ReadonlyRootfs ? { readonly: true } : {}),
      });
  return out;
}

/** How the runtime creates the container under conmon (the caller adds the bundle). */
export interface RuntimeOptions {
  terminal: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  /** Where conmon writes the log; absent with the `none` log driver. */
  logPath?: string;
  /** `--log-opt max-size`: bytes after which conmon starts the log afresh. */
  logSizeMax?: number;
}

/** The runtime's options for a container whose log goes to `logPath` (unless its log driver is `none`). */
export function runtimeOptions(r: Row, logPath: string): RuntimeOptions {
  const c = r.config.Config;
  const log = logPolicy(r.hostConfig);
  return {
    terminal: c.Tty ?? false,
    stdin: c.OpenStdin ?? false,
    stdinOnce: c.StdinOnce ?? true,
    ...(log.driver === 'none' ? {} : { logPath }),
    ...(log.maxSize ? { logSizeMax: log.maxSize } : {}),
  };
}

/**
 * Create's check: everything `specInput` and `runtimeOptions` refuse is refused before the container exists. The
 * host's parts (root, user, volumes, namespace, devices) stand in with neutral values: start resolves them.
 */
export function validateSpec(r: Row, host: HostFacts): void {
  const volumes = new Map(r.config.Mounts.filter((m) => m.Type === 'volume').map((m) => [m.Name!, m.Source]));
  specInput(r, {
    rootfs: '/',
    user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
    volumes,
    etc: { hosts: '/etc/hosts', hostname: '/etc/hostname', resolvConf: '/etc/resolv.conf' },
    network: 'none',
    devices: [],
    host,
  });
  runtimeOptions(r, '/dev/null');
}
