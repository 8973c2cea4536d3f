import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_THREADS } from '../snapshots/index.ts';
import { InvalidArgumentError } from '../util/errors.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** berthd's settings: defaults, then the config file (JSON, daemon.json-style keys), then flags. */
export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  logLevel: LogLevel;
  /** 'overlay' (default) or 'copy' (the plain reference snapshotter). */
  snapshotter: 'overlay' | 'copy';
  defaultRuntime: string;
  /** Versions of each tag kept from GC and prune. */
  tagHistoryDepth: number;
  /** Create busybox:latest from Debian's busybox-static on first start when no image exists. */
  seedBusybox: boolean;
  busyboxPath: string;
  /** Registries reached over plain HTTP (or HTTPS without verification): `host[:port]` or CIDRs. 127.0.0.0/8 always, as Docker. */
  insecureRegistries: string[];
  /**
   * Mirrors tried before a registry, in order. A list mirrors Docker Hub (daemon.json's meaning); Berth also
   * takes an object `{ "registry-host[:port]": ["https://mirror", ...] }` to mirror any registry.
   */
  registryMirrors: string[] | Record<string, string[]>;
  /** Per-registry TLS material: `<certs-dir>/<host[:port]>/ca.crt`, `client.cert`, `client.key`. */
  certsDir: string;
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  /** Threads doing layers' file work, shared by the layers unpacking at once (Berth's own key). */
  unpackThreads: number;
  /** A registry connection not made in this time fails (ms; the registry client's default 10 s). */
  registryConnectTimeoutMs?: number;
  /** A registry response silent this long fails (ms; default 60 s): a hung blob does not hang a pull. */
  registryIdleTimeoutMs?: number;
  /** The default bridge's device (Docker's `--bridge`). */
  bridge: string;
  /**
   * The default bridge's gateway/prefix (Docker's `--bip`; a network address such as `10.203.7.0/24` means its
   * first host). 10.65.0.0/16 keeps clear of Docker's 172.17.0.0/16 and Podman's 10.88.0.0/16 on the same host.
   */
  bip: string;
  /** Host address a published port binds when it names none (Docker's `--ip`). */
  defaultBindAddress: string;
  /** Pools user networks get subnets from (Docker's `default-address-pools`). */
  defaultAddressPools: { base: string; size: number }[];
  /** Who makes bridges, veths, firewall rules and DNS: 'berth' (its own, default) or 'netavark'. */
  networkBackend: 'berth' | 'netavark';
  /** A containers-policy.json file enforced on pull, create and run; none accepts anything. */
  signaturePolicy?: string;
  /** containers-registries.d(5) directory: where GPG signatures are kept (lookaside stores). */
  registriesD: string;
  /** Days after which the vulnerability database is reported stale. */
  scanDbMaxAgeDays: number;
  /**
   * TLS on TCP listeners (dockerd's `--tls`). Undefined means not said: a TCP listener then needs `tlsVerify`, and
   * plain TCP is served only when this is explicitly false.
   */
  tls?: boolean;
  /** Mutual TLS on TCP listeners: clients must show a certificate signed by `tlsCaCert`. Implies `tls`. */
  tlsVerify: boolean;
  tlsCaCert: string;
  tlsCert: string;
  tlsKey: string;
  /**
   * The group that owns the unix socket (mode 0660), so its members reach the API without root. Undefined: the
   * `berth` group when it exists, else root's.
   */
  group?: string;
  configFile?: string;
}

export const DEFAULTS: DaemonConfig = {
  hosts: ['unix:///run/berth/berth.sock'],
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  logLevel: 'info',
  snapshotter: 'overlay',
  defaultRuntime: 'crun',
  tagHistoryDepth: 10,
  seedBusybox: true,
  busyboxPath: '/bin/busybox',
  insecureRegistries: [],
  registryMirrors: [],
  certsDir: '/etc/berth/certs.d',
  maxConcurrentDownloads: 3,
  maxConcurrentUploads: 5,
  // the snapshotter's own default (half the CPUs, 1 to 4; src/snapshots/pool.ts, DEFAULT_THREADS: why)
  unpackThreads: DEFAULT_THREADS.appliers,
  bridge: 'berth0',
  bip: '10.65.0.1/16',
  defaultBindAddress: '0.0.0.0',
  defaultAddressPools: [{ base: '10.66.0.0/15', size: 24 }],
  networkBackend: 'berth',
  registriesD: '/etc/containers/registries.d',
  scanDbMaxAgeDays: 7,
  tlsVerify: false,
  tlsCaCert: '/etc/berth/tls/ca.pem',
  tlsCert: '/etc/berth/tls/cert.pem',
  tlsKey: '/etc/berth/tls/key.pem',
};

export const USAGE = `Usage:	berthd [OPTIONS]

A container engine: the Docker Engine API over a unix socket, OCI underneath.

Options:
      --config-file string   Daemon configuration file (JSON)
      --data-root string     Root directory of persistent state (default "/var/lib/berth")
      --exec-root string     Root directory for execution state files (default "/run/berth")
  -h, --help                 Print usage
  -H, --host list            Daemon socket(s) to listen on: unix://PATH or tcp://ADDR:PORT
                             (default "unix:///run/berth/berth.sock")
  -G, --group string         Group of the unix socket (default "berth" when that group exists)
      --tls                  Serve TCP listeners over TLS (implied by --tlsverify); --tls=false allows plain TCP
      --tlsverify            Serve TCP listeners over TLS and require a client certificate signed by the CA
      --tlscacert string     CA clients' certificates must be signed by (default "/etc/berth/tls/ca.pem")
      --tlscert string       Server certificate (default "/etc/berth/tls/cert.pem")
      --tlskey string        Server key (default "/etc/berth/tls/key.pem")
  -b, --bridge string        Default bridge device (default "berth0")
      --bip string           Default bridge gateway address and prefix (default "10.65.0.1/16")
      --ip string            Default host address of published ports (default "0.0.0.0")
      --insecure-registry list
                             Registry reached over plain HTTP: host[:port] or CIDR (127.0.0.0/8 always)
  -l, --log-level string     Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
      --snapshotter string   Snapshotter: "overlay" or "copy" (default "overlay")
      --network-backend string
                             Bridge networks by "berth" (its own) or "netavark" (default "berth")
      --no-seed              Do not create busybox:latest on first start
      --signature-policy string
                             containers-policy.json enforced on pull, create and run (default: accept anything)
      --registries-d string  registries.d directory of GPG lookaside stores (default "/etc/containers/registries.d")
  -v, --version              Print version information and quit
`;

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'fatal'];

/** Keys accepted in the config file, with their daemon.json spelling. */
const FILE_KEYS: Record<string, keyof DaemonConfig> = {
  hosts: 'hosts',
  'data-root': 'dataRoot',
  'exec-root': 'execRoot',
  'log-level': 'logLevel',
  snapshotter: 'snapshotter',
  'default-runtime': 'defaultRuntime',
  'tag-history-depth': 'tagHistoryDepth',
  'seed-busybox': 'seedBusybox',
  'busybox-path': 'busyboxPath',
  'insecure-registries': 'insecureRegistries',
  'registry-mirrors': 'registryMirrors',
  'certs-dir': 'certsDir',
  'max-concurrent-downloads': 'maxConcurrentDownloads',
  'max-concurrent-uploads': 'maxConcurrentUploads',
  'unpack-threads': 'unpackThreads',
  'registry-connect-timeout-ms': 'registryConnectTimeoutMs',
  'registry-idle-timeout-ms': 'registryIdleTimeoutMs',
  bridge: 'bridge',
  bip: 'bip',
  'default-bridge-subnet': 'bip',
  ip: 'defaultBindAddress',
  'default-bind-address': 'defaultBindAddress',
  'default-address-pools': 'defaultAddressPools',
  'network-backend': 'networkBackend',
  'signature-policy': 'signaturePolicy',
  'registries-d': 'registriesD',
  'scan-db-max-age-days': 'scanDbMaxAgeDays',
  tls: 'tls',
  tlsverify: 'tlsVerify',
  tlscacert: 'tlsCaCert',
  tlscert: 'tlsCert',
  tlskey: 'tlsKey',
  group: 'group',
};

export type ParsedArgs = { kind: 'run'; config: DaemonConfig } | { kind: 'help' } | { kind: 'version' };

function need(args: string[], i: number, flag: string): string {
  const v = args[i + 1];
  if (v === undefined) throw new InvalidArgumentError(`flag needs an argument: ${flag}`);
  return v;
}

/** A boolean flag: `--tls` alone is true, `--tls=false` false. */
function boolFlag(flag: string, inline: string | undefined): boolean {
  if (inline === undefined || inline === 'true' || inline === '1') return true;
  if (inline === 'false' || inline === '0') return false;
  throw new InvalidArgumentError(`invalid boolean value "${inline}" for ${flag}`);
}

/** Parses berthd's command line (and the config file it names). */
export function parseArgs(argv: string[], cwd = process.cwd()): ParsedArgs {
  const flags: Partial<DaemonConfig> = {};
  const hosts: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let inline: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const value = () => {
      if (inline !== undefined) return inline;
      const v = need(argv, i, a);
      i++;
      return v;
    };
    switch (a) {
      case '-h':
      case '--help':
        return { kind: 'help' };
      case '-v':
      case '--version':
        return { kind: 'version' };
      case '-H':
      case '--host':
        hosts.push(value());
        break;
      case '--data-root':
        flags.dataRoot = resolve(cwd, value());
        break;
      case '--exec-root':
        flags.execRoot = resolve(cwd, value());
        break;
      case '--config-file':
        flags.configFile = resolve(cwd, value());
        break;
      case '-l':
      case '--log-level':
        flags.logLevel = value() as LogLevel;
        break;
      case '--snapshotter':
        flags.snapshotter = value() as DaemonConfig['snapshotter'];
        break;
      case '--no-seed':
        flags.seedBusybox = false;
        break;
      case '--signature-policy':
        flags.signaturePolicy = value();
        break;
      case '--registries-d':
        flags.registriesD = value();
        break;
      case '-b':
      case '--bridge':
        flags.bridge = value();
        break;
      case '--bip':
        flags.bip = value();
        break;
      case '--ip':
      case '--default-bind-address':
        flags.defaultBindAddress = value();
        break;
      case '--network-backend':
        flags.networkBackend = value() as DaemonConfig['networkBackend'];
        break;
      case '--tls':
        flags.tls = boolFlag(a, inline);
        break;
      case '--tlsverify':
        flags.tlsVerify = boolFlag(a, inline);
        break;
      case '--tlscacert':
        flags.tlsCaCert = resolve(cwd, value());
        break;
      case '--tlscert':
        flags.tlsCert = resolve(cwd, value());
        break;
      case '--tlskey':
        flags.tlsKey = resolve(cwd, value());
        break;
      case '-G':
      case '--group':
        flags.group = value();
        break;
      case '--insecure-registry':
        (flags.insecureRegistries ??= []).push(value());
        break;
      default:
        throw new InvalidArgumentError(`unknown flag: ${a}`);
    }
  }
  if (hosts.length) flags.hosts = hosts;
  const fromFile = flags.configFile ? readConfigFile(flags.configFile) : {};
  const config: DaemonConfig = { ...DEFAULTS, ...fromFile, ...flags };
  validate(config);
  return { kind: 'run', config };
}

export function readConfigFile(path: string): Partial<DaemonConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    throw new InvalidArgumentError(`config file ${path} must hold a JSON object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = FILE_KEYS[k];
    if (!key) throw new InvalidArgumentError(`config file ${path}: unknown option "${k}"`);
    out[key] = v;
  }
  return out as Partial<DaemonConfig>;
}

function validate(c: DaemonConfig): void {
  if (!LEVELS.includes(c.logLevel))
    throw new InvalidArgumentError(`invalid log level "${c.logLevel}": use one of ${LEVELS.join(', ')}`);
  if (c.snapshotter !== 'overlay' && c.snapshotter !== 'copy')
    throw new InvalidArgumentError(`invalid snapshotter "${c.snapshotter}": use "overlay" or "copy"`);
  if (!Array.isArray(c.hosts) || c.hosts.length === 0) throw new InvalidArgumentError('at least one host is needed');
  for (const h of c.hosts) parseHost(h);
  for (const [name, p] of [
    ['data-root', c.dataRoot],
    ['exec-root', c.execRoot],
  ] as const) {
    if (typeof p !== 'string' || !isAbsolute(p))
      throw new InvalidArgumentError(`${name} must be an absolute path, not "${String(p)}"`);
  }
  if (!Number.isInteger(c.tagHistoryDepth) || c.tagHistoryDepth < 1)
    throw new InvalidArgumentError(`tag-history-depth must be a positive integer, not "${c.tagHistoryDepth}"`);
  for (const [name, n] of [
    ['max-concurrent-downloads', c.maxConcurrentDownloads],
    ['max-concurrent-uploads', c.maxConcurrentUploads],
    ['unpack-threads', c.unpackThreads],
    ['registry-connect-timeout-ms', c.registryConnectTimeoutMs ?? 1],
    ['registry-idle-timeout-ms', c.registryIdleTimeoutMs ?? 1],
  ] as const) {
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a positive integer, not "${String(n)}"`);
  }
  if (
    !Array.isArray(c.insecureRegistries) ||
    c.insecureRegistries.some((r) => typeof r !== 'string' || r === '' || r.includes('://'))
  ) {
    throw new InvalidArgumentError('insecure-registries must be a list of host[:port] or CIDR strings (no scheme)');
  }
  const mirrorLists = Array.isArray(c.registryMirrors)
    ? [c.registryMirrors]
    : typeof c.registryMirrors === 'object' && c.registryMirrors !== null
      ? Object.values(c.registryMirrors)
      : undefined;
  if (mirrorLists === undefined)
    throw new InvalidArgumentError(
      'registry-mirrors must be a list of URLs, or an object of registry host → list of URLs',
    );
  for (const list of mirrorLists) {
    if (!Array.isArray(list))
      throw new InvalidArgumentError('registry-mirrors: each registry needs a list of mirror URLs');
    for (const m of list) {
      if (typeof m !== 'string' || !/^https?:\/\/[^/]+/.test(m))
        throw new InvalidArgumentError(`registry-mirrors: invalid mirror "${String(m)}": use http(s)://HOST[:PORT]`);
    }
  }
  if (typeof c.bridge !== 'string' || !/^[a-zA-Z0-9_.-]{1,15}$/.test(c.bridge))
    throw new InvalidArgumentError(`invalid bridge name "${String(c.bridge)}": 1 to 15 characters of [a-zA-Z0-9_.-]`);
  if (typeof c.bip !== 'string' || !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c.bip))
    throw new InvalidArgumentError(
      `invalid bip "${String(c.bip)}": use an IPv4 address with a prefix length, 10.65.0.1/16`,
    );
  if (typeof c.defaultBindAddress !== 'string' || !isIP(c.defaultBindAddress))
    throw new InvalidArgumentError(`invalid default bind address "${String(c.defaultBindAddress)}"`);
  if (
    !Array.isArray(c.defaultAddressPools) ||
    c.defaultAddressPools.some((p) => typeof p?.base !== 'string' || !Number.isInteger(p.size))
  ) {
    throw new InvalidArgumentError('default-address-pools must be a list of {"base": "CIDR", "size": prefix length}');
  }
  if (c.networkBackend !== 'berth' && c.networkBackend !== 'netavark')
    throw new InvalidArgumentError(`invalid network backend "${String(c.networkBackend)}": use "berth" or "netavark"`);
  for (const [name, v] of [
    ['tls', c.tls ?? false],
    ['tlsverify', c.tlsVerify],
  ] as const) {
    if (typeof v !== 'boolean') throw new InvalidArgumentError(`${name} must be true or false, not "${String(v)}"`);
  }
  for (const [name, p] of [
    ['tlscacert', c.tlsCaCert],
    ['tlscert', c.tlsCert],
    ['tlskey', c.tlsKey],
  ] as const) {
    if (typeof p !== 'string' || !isAbsolute(p))
      throw new InvalidArgumentError(`${name} must be an absolute path, not "${String(p)}"`);
  }
  if (c.group !== undefined && (typeof c.group !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(c.group)))
    throw new InvalidArgumentError(`invalid group "${String(c.group)}"`);
  if (c.tlsVerify && c.tls === false)
    throw new InvalidArgumentError('--tlsverify needs TLS: it cannot go with --tls=false');
  // The API is root on this host: a TCP listener without client certificates is served only when asked plainly.
  const tcp = c.hosts.filter((h) => h.startsWith('tcp://'));
  if (tcp.length > 0 && !c.tlsVerify && c.tls === undefined)
    throw new InvalidArgumentError(
      `refusing to serve the API on ${tcp.join(', ')} without TLS: whoever reaches the port is root on this host. ` +
        'Use --tlsverify with --tlscacert, --tlscert and --tlskey (mutual TLS), or say --tls=false to serve plain TCP anyway',
    );
  if (typeof c.certsDir !== 'string' || !isAbsolute(c.certsDir))
    throw new InvalidArgumentError(`certs-dir must be an absolute path, not "${String(c.certsDir)}"`);
  for (const [name, p] of [
    ['signature-policy', c.signaturePolicy ?? '/'],
    ['registries-d', c.registriesD],
  ] as const) {
    if (typeof p !== 'string' || !isAbsolute(p))
      throw new InvalidArgumentError(`${name} must be an absolute path, not "${String(p)}"`);
  }
  if (!Number.isInteger(c.scanDbMaxAgeDays) || c.scanDbMaxAgeDays < 1)
    throw new InvalidArgumentError(
      `scan-db-max-age-days must be a positive integer, not "${String(c.scanDbMaxAgeDays)}"`,
    );
}

export type Listen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseHost(h: string): Listen {
  if (h.startsWith('unix://')) {
    const path = h.slice('unix://'.length);
    if (!isAbsolute(path)) throw new InvalidArgumentError(`invalid host "${h}": the socket path must be absolute`);
    return { kind: 'unix', path };
  }
  if (h.startsWith('tcp://')) {
    const m = /^tcp:\/\/(\[[^\]]+\]|[^:]*):(\d+)$/.exec(h);
    if (!m) throw new InvalidArgumentError(`invalid host "${h}": use tcp://ADDRESS:PORT`);
    return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) };
  }
  throw new InvalidArgumentError(`invalid host "${h}": use unix://PATH or tcp://ADDRESS:PORT`);
}
