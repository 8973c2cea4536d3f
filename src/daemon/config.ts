import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
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
  configFile?: string;
}

export const DEFAULTS: DaemonConfig = {
  hosts: ['unix:///run/berth/berth.sock'],
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  logLevel: 'info',
  snapshotter: 'overlay',
  defaultRuntime: 'runc',
  tagHistoryDepth: 10,
  seedBusybox: true,
  busyboxPath: '/bin/busybox',
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
  -l, --log-level string     Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
      --snapshotter string   Snapshotter: "overlay" or "copy" (default "overlay")
      --no-seed              Do not create busybox:latest on first start
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
};

export type ParsedArgs = { kind: 'run'; config: DaemonConfig } | { kind: 'help' } | { kind: 'version' };

function need(args: string[], i: number, flag: string): string {
  const v = args[i + 1];
  if (v === undefined) throw new InvalidArgumentError(`flag needs an argument: ${flag}`);
  return v;
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
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InvalidArgumentError(`config file ${path} must hold a JSON object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = FILE_KEYS[k];
    if (!key) throw new InvalidArgumentError(`config file ${path}: unknown option "${k}"`);
    out[key] = v;
  }
  return out as Partial<DaemonConfig>;
}

function validate(c: DaemonConfig): void {
  if (!LEVELS.includes(c.logLevel)) throw new InvalidArgumentError(`invalid log level "${c.logLevel}": use one of ${LEVELS.join(', ')}`);
  if (c.snapshotter !== 'overlay' && c.snapshotter !== 'copy') throw new InvalidArgumentError(`invalid snapshotter "${c.snapshotter}": use "overlay" or "copy"`);
  if (!Array.isArray(c.hosts) || c.hosts.length === 0) throw new InvalidArgumentError('at least one host is needed');
  for (const h of c.hosts) parseHost(h);
  for (const [name, p] of [['data-root', c.dataRoot], ['exec-root', c.execRoot]] as const) {
    if (typeof p !== 'string' || !isAbsolute(p)) throw new InvalidArgumentError(`${name} must be an absolute path, not "${String(p)}"`);
  }
  if (!Number.isInteger(c.tagHistoryDepth) || c.tagHistoryDepth < 1) throw new InvalidArgumentError(`tag-history-depth must be a positive integer, not "${c.tagHistoryDepth}"`);
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
