/**
 * The part of the OCI runtime spec (config.json, runtime-spec v1.0.2) that Berth writes. Field names are the
 * spec's JSON names. See https://github.com/opencontainers/runtime-spec/blob/v1.0.2/config.md.
 */

/** The runtime-spec version written into every config.json: what runc 1.1 and crun 1.8 are built against. */
export const OCI_VERSION = '1.0.2-dev';

export interface RuntimeSpec {
  ociVersion: string;
  process: SpecProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts: SpecMountEntry[];
  annotations?: Record<string, string>;
  linux: SpecLinux;
}

export interface SpecProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: SpecCapabilities;
  rlimits?: SpecRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
}

export interface SpecCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable?: string[];
  ambient?: string[];
}

/**
 * An rlimit. Values are numbers, except "unlimited" (RLIM_INFINITY, 2^64-1), which no JS number holds exactly:
 * it is the bigint `RLIM_INFINITY`, and `serializeSpec` writes it as its exact digits.
 */
export interface SpecRlimit {
  type: string;
  hard: number | bigint;
  soft: number | bigint;
}

export interface SpecMountEntry {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface SpecLinux {
  namespaces: { type: NamespaceType; path?: string }[];
  devices?: SpecDevice[];
  cgroupsPath?: string;
  resources?: SpecResources;
  rootfsPropagation?: string;
  seccomp?: SpecSeccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface SpecDevice {
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface SpecDeviceCgroup {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

export interface SpecResources {
  devices?: SpecDeviceCgroup[];
  memory?: { limit?: number; reservation?: number; swap?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

export type SeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type SeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

export interface SpecSyscallRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface SpecSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SpecSyscallRule[];
}

/** RLIM_INFINITY: the rlimit value meaning "no limit". */
export const RLIM_INFINITY = 18446744073709551615n;

/**
 * The config.json text for a spec: compact JSON, with bigints (RLIM_INFINITY) written as their exact digits. Without a
 * bigint the spec goes through V8's JSON.stringify alone (~25 µs for a default container's 9 KB); a replacer function,
 * called back for each of its ~1,500 values, and the indentation made it ~0.7 ms and 18 KB on the path of every start.
 */
export function serializeSpec(spec: RuntimeSpec): string {
  try {
    return JSON.stringify(spec);
  } catch (err) {
    // "Do not know how to serialize a BigInt": the rare spec with an unlimited rlimit.
    if (!(err instanceof TypeError)) throw err;
    return JSON.stringify(spec, (_key, value: unknown) =>
      typeof value === 'bigint' ? rawJSON(value.toString()) : value,
    );
  }
}

/** `JSON.rawJSON` (in Node 24; not yet in TypeScript's lib): a value JSON.stringify writes verbatim. */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
