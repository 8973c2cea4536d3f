import { bool, type FlagSpec, int, list, str } from '../flags.ts';
import { parseGoDuration, ramInBytes } from '../../util/units.ts';
import { memSwapBytes, parseCPUs } from './numbers.ts';
import { parseMount } from './mountspecs.ts';
import { parseUlimit, validateAttach, validateEnv, validateLabel, validateSysctl } from './values.ts';

/**
 * The flags of `run` and `create` (docker/cli `container/opts.go` `addFlags`), with docker's names, help
 * texts and value types. Values that docker checks while parsing flags are checked here too, so a bad one
 * is a flag error (exit 125 with the usage hint); the rest are checked when the request is built.
 */

/** A flag value that a parser must accept; the value itself is kept as given. */
function checked(parse: (v: string) => unknown): (v: string) => string {
  return (v) => {
    parse(v);
    return v;
  };
}

const env = (v: string): string => validateEnv(v, (k) => process.env[k]);
const size = checked((v) => ramInBytes(v));
const swap = checked((v) => memSwapBytes(v));
const cpus = checked((v) => parseCPUs(v));
const duration = checked((v) => parseGoDuration(v));
const ulimit = checked((v) => parseUlimit(v));
const mount = checked((v) => parseMount(v, process.cwd()));
const uint16 = (v: string): string => {
  if (!/^\d+$/.test(v)) throw new RangeError(`strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);
  if (Number(v) > 65535) throw new RangeError(`strconv.ParseUint: parsing ${JSON.stringify(v)}: value out of range`);
  return v;
};
const uint64 = (v: string): string => {
  if (!/^\d+$/.test(v)) throw new RangeError(`strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);
  return v;
};
const int64 = (v: string): string => {
  if (!/^[+-]?\d+$/.test(v)) throw new RangeError(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  return v;
};

const bytes = (name: string, usage: string, extra: Partial<FlagSpec> = {}): FlagSpec =>
  str(name, usage, { valueName: 'bytes', validate: size, ...extra });
const dur = (name: string, usage: string): FlagSpec => str(name, usage, { valueName: 'duration', validate: duration });

/** `addFlags`: everything that goes into Config and HostConfig. */
export const CONTAINER_FLAGS: readonly FlagSpec[] = [
  list('attach', 'Attach to STDIN, STDOUT or STDERR', { short: 'a', validate: validateAttach }),
  list('device-cgroup-rule', 'Add a rule to the cgroup allowed devices list'),
  list('device', 'Add a host device to the container'),
  str('gpus', "GPU devices to add to the container ('all' to pass all GPUs)", { valueName: 'gpu-request' }),
  list('env', 'Set environment variables', { short: 'e', validate: env }),
  list('env-file', 'Read in a file of environment variables'),
  str('entrypoint', 'Overwrite the default ENTRYPOINT of the image'),
  list('group-add', 'Add additional groups to join'),
  str('hostname', 'Container host name', { short: 'h' }),
  str('domainname', 'Container NIS domain name'),
  bool('interactive', 'Keep STDIN open even if not attached', { short: 'i' }),
  list('label', 'Set meta data on a container', { short: 'l', validate: validateLabel }),
  list('label-file', 'Read in a line delimited file of labels'),
  bool('read-only', "Mount the container's root filesystem as read only"),
  str('restart', 'Restart policy to apply when a container exits', { defaultValue: 'no' }),
  str('stop-signal', 'Signal to stop the container'),
  int('stop-timeout', 'Timeout (in seconds) to stop a container'),
  list('sysctl', 'Sysctl options', { valueName: 'map', validate: validateSysctl, defaultText: 'map[]' }),
  bool('tty', 'Allocate a pseudo-TTY', { short: 't' }),
  list('ulimit', 'Ulimit options', { valueName: 'ulimit', validate: ulimit, defaultText: '[]' }),
  str('user', 'Username or UID (format: <name|uid>[:<group|gid>])', { short: 'u' }),
  str('workdir', 'Working directory inside the container', { short: 'w' }),
  bool('rm', 'Automatically remove the container and its associated anonymous volumes when it exits'),
  list('cap-add', 'Add Linux capabilities'),
  list('cap-drop', 'Drop Linux capabilities'),
  bool('privileged', 'Give extended privileges to this container'),
  list('security-opt', 'Security Options'),
  str('userns', 'User namespace to use'),
  str(
    'cgroupns',
    `Cgroup namespace to use (host|private)
'host':    Run the container in the Docker host's cgroup namespace
'private': Run the container in its own private cgroup namespace
'':        Use the cgroup namespace as configured by the
           default-cgroupns-mode option on the daemon (default)`,
  ),
  list('add-host', 'Add a custom host-to-IP mapping (host:ip)'),
  list('dns', 'Set custom DNS servers'),
  list('dns-option', 'Set DNS options'),
  list('dns-opt', 'Set DNS options', { hidden: true }),
  list('dns-search', 'Set custom DNS search domains'),
  list('expose', 'Expose a port or a range of ports'),
  str('ip', 'IPv4 address (e.g., 172.30.100.104)'),
  str('ip6', 'IPv6 address (e.g., 2001:db8::33)'),
  list('link', 'Add link to another container'),
  list('link-local-ip', 'Container IPv4/IPv6 link-local addresses'),
  str('mac-address', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)'),
  list('publish', "Publish a container's port(s) to the host", { short: 'p' }),
  bool('publish-all', 'Publish all exposed ports to random ports', { short: 'P' }),
  list('network', 'Connect a container to a network', { valueName: 'network' }),
  list('net', 'Connect a container to a network', { valueName: 'network', hidden: true }),
  list('network-alias', 'Add network-scoped alias for the container'),
  list('net-alias', 'Add network-scoped alias for the container', { hidden: true }),
  str('log-driver', 'Logging driver for the container'),
  str('volume-driver', 'Optional volume driver for the container'),
  list('log-opt', 'Log driver options'),
  list('storage-opt', 'Storage driver options for the container'),
  list('tmpfs', 'Mount a tmpfs directory'),
  list('volumes-from', 'Mount volumes from the specified container(s)'),
  list('volume', 'Bind mount a volume', { short: 'v' }),
  list('mount', 'Attach a filesystem mount to the container', { valueName: 'mount', validate: mount }),
  str('health-cmd', 'Command to run to check health'),
  dur('health-interval', 'Time between running the check (ms|s|m|h) (default 0s)'),
  int('health-retries', 'Consecutive failures needed to report unhealthy'),
  dur('health-timeout', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)'),
  dur(
    'health-start-period',
    'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)',
  ),
  dur('health-start-interval', 'Time between running the check during the start period (ms|s|m|h) (default 0s)'),
  bool('no-healthcheck', 'Disable any container-specified HEALTHCHECK'),
  str('blkio-weight', 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', {
    valueName: 'uint16',
    validate: uint16,
  }),
  list('blkio-weight-device', 'Block IO weight (relative device weight)', { defaultText: '[]' }),
  str('cidfile', 'Write the container ID to the file'),
  str('cpuset-cpus', 'CPUs in which to allow execution (0-3, 0,1)'),
  str('cpuset-mems', 'MEMs in which to allow execution (0-3, 0,1)'),
  str('cpu-period', 'Limit CPU CFS (Completely Fair Scheduler) period', { valueName: 'int', validate: int64 }),
  str('cpu-quota', 'Limit CPU CFS (Completely Fair Scheduler) quota', { valueName: 'int', validate: int64 }),
  str('cpu-rt-period', 'Limit CPU real-time period in microseconds', { valueName: 'int', validate: int64 }),
  str('cpu-rt-runtime', 'Limit CPU real-time runtime in microseconds', { valueName: 'int', validate: int64 }),
  str('cpu-shares', 'CPU shares (relative weight)', { short: 'c', valueName: 'int', validate: int64 }),
  str('cpus', 'Number of CPUs', { valueName: 'decimal', validate: cpus }),
  list('device-read-bps', 'Limit read rate (bytes per second) from a device', { defaultText: '[]' }),
  list('device-read-iops', 'Limit read rate (IO per second) from a device', { defaultText: '[]' }),
  list('device-write-bps', 'Limit write rate (bytes per second) to a device', { defaultText: '[]' }),
  list('device-write-iops', 'Limit write rate (IO per second) to a device', { defaultText: '[]' }),
  bytes('kernel-memory', 'Kernel memory limit'),
  bytes('memory', 'Memory limit', { short: 'm' }),
  bytes('memory-reservation', 'Memory soft limit'),
  str('memory-swap', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", {
    valueName: 'bytes',
    validate: swap,
  }),
  str('memory-swappiness', 'Tune container memory swappiness (0 to 100)', {
    valueName: 'int',
    validate: int64,
    defaultValue: '-1',
    kind: 'int',
  }),
  bool('oom-kill-disable', 'Disable OOM Killer'),
  int('oom-score-adj', "Tune host's OOM preferences (-1000 to 1000)"),
  str('pids-limit', 'Tune container pids limit (set -1 for unlimited)', { valueName: 'int', validate: int64 }),
  str('cgroup-parent', 'Optional parent cgroup for the container'),
  str('ipc', 'IPC mode to use'),
  str('isolation', 'Container isolation technology'),
  str('pid', 'PID namespace to use'),
  bytes('shm-size', 'Size of /dev/shm'),
  str('uts', 'UTS namespace to use'),
  str('runtime', 'Runtime to use for this container'),
  bool('init', 'Run an init inside the container that forwards signals and reaps processes'),
  list('annotation', 'Add an annotation to the container (passed through to the OCI runtime)', {
    valueName: 'map',
    defaultText: 'map[]',
  }),
  str('io-maxbandwidth', 'Maximum IO bandwidth limit for the system drive (Windows only)', {
    valueName: 'bytes',
    validate: size,
    hidden: true,
  }),
  str('io-maxiops', 'Maximum IOps limit for the system drive (Windows only)', {
    valueName: 'uint',
    validate: uint64,
    hidden: true,
  }),
];

const PLATFORM: FlagSpec = str('platform', 'Set platform if server is multi-platform capable');
const PULL = (verb: string): FlagSpec =>
  str('pull', `Pull image before ${verb} ("always", "missing", "never")`, { defaultValue: 'missing' });
/** run and create take `-h` for the host name, so their help flag has no short form. */
const HELP: FlagSpec = bool('help', 'Print usage');
const TRUST: FlagSpec = bool('disable-content-trust', 'Skip image verification', { defaultValue: true });

export const RUN_FLAGS: readonly FlagSpec[] = [
  bool('detach', 'Run container in background and print container ID', { short: 'd' }),
  bool('sig-proxy', 'Proxy received signals to the process', { defaultValue: true }),
  str('name', 'Assign a name to the container'),
  str('detach-keys', 'Override the key sequence for detaching a container'),
  PULL('running'),
  bool('quiet', 'Suppress the pull output', { short: 'q' }),
  HELP,
  PLATFORM,
  TRUST,
  ...CONTAINER_FLAGS,
];

export const CREATE_FLAGS: readonly FlagSpec[] = [
  str('name', 'Assign a name to the container'),
  PULL('creating'),
  bool('quiet', 'Suppress the pull output', { short: 'q' }),
  HELP,
  PLATFORM,
  TRUST,
  ...CONTAINER_FLAGS,
];

/** `update`'s flags (docker/cli `container/update.go`). */
export const UPDATE_FLAGS: readonly FlagSpec[] = [
  str('blkio-weight', 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', {
    valueName: 'uint16',
    validate: uint16,
  }),
  str('cpu-period', 'Limit CPU CFS (Completely Fair Scheduler) period', { valueName: 'int', validate: int64 }),
  str('cpu-quota', 'Limit CPU CFS (Completely Fair Scheduler) quota', { valueName: 'int', validate: int64 }),
  str('cpu-rt-period', 'Limit the CPU real-time period in microseconds', { valueName: 'int', validate: int64 }),
  str('cpu-rt-runtime', 'Limit the CPU real-time runtime in microseconds', { valueName: 'int', validate: int64 }),
  str('cpuset-cpus', 'CPUs in which to allow execution (0-3, 0,1)'),
  str('cpuset-mems', 'MEMs in which to allow execution (0-3, 0,1)'),
  str('cpu-shares', 'CPU shares (relative weight)', { short: 'c', valueName: 'int', validate: int64 }),
  bytes('memory', 'Memory limit', { short: 'm' }),
  bytes('memory-reservation', 'Memory soft limit'),
  str('memory-swap', 'Swap limit equal to memory plus swap: -1 to enable unlimited swap', {
    valueName: 'bytes',
    validate: swap,
  }),
  bytes('kernel-memory', 'Kernel memory limit (deprecated)', { hidden: true }),
  str('restart', 'Restart policy to apply when a container exits'),
  str('pids-limit', 'Tune container pids limit (set -1 for unlimited)', { valueName: 'int', validate: int64 }),
  str('cpus', 'Number of CPUs', { valueName: 'decimal', validate: cpus }),
];
